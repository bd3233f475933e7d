// The registry `calmswap <step>` picks from holds every script, under the script's name.
import { readdirSync, readFileSync } from 'node:fs'
import { afterEach, describe, expect, test, vi } from 'vitest'
import { dispatch, STEPS, version } from '../../lib/steps/index.ts'

const scripts = readdirSync(new URL('../../scripts/', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'calmswap.ts')
  .map((f) => f.replace(/\.ts$/, ''))

function capture() {
  const out: string[] = []
  const err: string[] = []
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0)
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => err.push(String(s)) > 0)
  return { out, err }
}

afterEach(() => {
  vi.restoreAllMocks()
  process.exitCode = 0
})

describe('calmswap: one command, every step a subcommand', () => {
  test('every script is a step of the same name, and every step a script', async () => {
    expect(Object.keys(STEPS).sort()).toEqual([...scripts].sort())
    for (const [name, get] of Object.entries(STEPS)) expect((await get()).spec.name).toBe(name)
  })

  test('each script runs its own step module', () => {
    for (const s of scripts) expect(readFileSync(new URL(`../../scripts/${s}.ts`, import.meta.url), 'utf8')).toContain(`import('../lib/steps/${s}.ts')`)
  })

  test('--help lists every step with its summary', async () => {
    const { out } = capture()
    expect(await dispatch(['--help'])).toBe(0)
    for (const [name, get] of Object.entries(STEPS)) expect(out.join('')).toContain(`  ${name.padEnd(14)} ${(await get()).spec.summary}\n`)
  })

  test("--version is package.json's", async () => {
    const { out } = capture()
    expect(await dispatch(['--version'])).toBe(0)
    expect(out.join('')).toBe(`${JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version}\n`)
    expect(version()).toBe(out.join('').trim())
  })

  test('a step runs with the rest of argv: its own --help', async () => {
    const { out } = capture()
    expect(await dispatch(['health', '--help'])).toBe(0)
    expect(out.join('')).toMatch(/^health: wait until a color's web passes its health check\n\nUsage: health /)
  })

  test('an unknown command, or none, is a usage error (exit 2)', async () => {
    const { err } = capture()
    expect(await dispatch(['deplyo'])).toBe(2)
    expect(err.join('')).toBe('calmswap: unknown command "deplyo"; did you mean deploy?\nTry: calmswap --help\n')
    expect(await dispatch([])).toBe(2)
    expect(await dispatch(['toString'])).toBe(2)
  })
})
