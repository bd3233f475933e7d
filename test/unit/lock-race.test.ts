// When a dead holder's lock is taken over by several processes at once, exactly one wins,
// whether a racer names the state folder by its path or through a symbolic link to it.
// Run many times: a race is proven by repetition, not by one lucky pass.
import { spawn } from 'node:child_process'
import { mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { beforeAll, describe, expect, it } from 'vitest'
import { lockPath } from '../../lib/lock.ts'

const TRIALS = 40
const RACERS = 6
let racer: string

beforeAll(async () => {
  // One small bundle, so each racer is a plain node start, not a TypeScript compile.
  const dir = mkdtempSync(join(tmpdir(), 'calmswap-race-'))
  racer = join(dir, 'racer.mjs')
  writeFileSync(
    join(dir, 'racer.ts'),
    `import { acquireLock } from ${JSON.stringify(fileURLToPath(new URL('../../lib/lock.ts', import.meta.url)))}
const [stateDir, go] = process.argv.slice(2)
// All racers wait for the same instant, so that they really race.
await new Promise((r) => setTimeout(r, Math.max(0, Number(go) - Date.now())))
const tried = Date.now()
try {
  const l = await acquireLock(stateDir, 'deploy')
  const from = Date.now()
  // Held for a while: a second holder would overlap with this one.
  await new Promise((r) => setTimeout(r, 300))
  const to = Date.now()
  l.release()
  console.log(JSON.stringify({ won: true, tried, from, to }))
} catch (e) {
  console.log(e.name === 'LockedError' ? JSON.stringify({ won: false, tried }) : 'error ' + e.message)
}`,
  )
  await build({ entryPoints: [join(dir, 'racer.ts')], outfile: racer, bundle: true, platform: 'node', format: 'esm', logLevel: 'error' })
}, 60_000)

interface Outcome {
  readonly won: boolean
  readonly tried: number
  readonly from?: number
  readonly to?: number
}

const race = (stateDir: string, go: number) =>
  new Promise<string>((resolve) => {
    const p = spawn(process.execPath, [racer, stateDir, String(go)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout!.on('data', (d: Buffer) => (out += d))
    p.on('close', () => resolve(out.trim()))
  })

describe('lock takeover race', () => {
  it(`${RACERS} processes (half through a symbolic link) take over a dead holder's lock at once, ${TRIALS} times: never two holders at a time`, async () => {
    let raced = 0
    for (let t = 0; t < TRIALS; t++) {
      const d = mkdtempSync(join(tmpdir(), 'calmswap-race-state-'))
      // A dead holder's note: the state a crashed deploy leaves.
      writeFileSync(lockPath(d), JSON.stringify({ op: 'deploy', pid: 999_999_999, host: hostname(), who: 'gone', since: new Date().toISOString() }))
      const alias = `${d}-alias`
      symlinkSync(d, alias)
      const go = Date.now() + 400
      const results = await Promise.all(Array.from({ length: RACERS }, (_, i) => race(i % 2 ? alias : d, go)))
      expect(
        results.filter((r) => r.startsWith('error')),
        results.join(','),
      ).toEqual([])
      const outcomes = results.map((r) => JSON.parse(r) as Outcome)
      const held = outcomes.filter((o) => o.won).sort((a, b) => a.from! - b.from!)
      expect(held.length).toBeGreaterThan(0)
      // A racer slowed down past the first holder's release takes the lock after it, legally:
      // what must never happen is two holding it at the same time.
      for (let i = 1; i < held.length; i++) expect(held[i]!.from!, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(held[i - 1]!.to!)
      // A real race: every racer tried while the first holder held it.
      if (outcomes.every((o) => o.tried < held[0]!.to!)) raced++
    }
    // Most trials must be real races, or this test proves nothing.
    expect(raced).toBeGreaterThan(TRIALS * 0.7)
  }, 180_000)
})
