// docs/your-own-repo.md's "Reuse": one script plus lib/ copied into an empty folder, with only the
// packages that page names, runs on its own. The install command is read from the page itself, so
// the two cannot drift apart.
import { execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { COMPOSE_FILE, ROOT } from './harness.ts'

const readme = readFileSync(join(ROOT, 'docs/your-own-repo.md'), 'utf8')
/** The line of the reuse section that installs what a copied script needs. */
const install = /<!-- copy-install -->\s*\n\s*```sh\n\s*(npm install [^\n]+)\n\s*```/.exec(readme)?.[1]

let dir: string
const tsx = (script: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(join(dir, 'node_modules/.bin/tsx'), [`scripts/${script}.ts`, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NO_COLOR: '1', CALMSWAP_COMPOSE_FILE: COMPOSE_FILE, CALMSWAP_STATE_DIR: join(dir, 'state'), ...env },
  })

describe('a script copied with lib/ runs on its own', () => {
  beforeAll(() => {
    expect(install, 'docs/your-own-repo.md names the install command in a <!-- copy-install --> block').toBeTruthy()
    dir = mkdtempSync(join(tmpdir(), 'calmswap-copy-'))
    for (const s of ['health', 'up-core']) cpSync(join(ROOT, 'scripts', `${s}.ts`), join(dir, 'scripts', `${s}.ts`))
    cpSync(join(ROOT, 'lib'), join(dir, 'lib'), { recursive: true })
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'copied', private: true, type: 'module' }))
    // The npm cache that `npm ci` filled serves the packages; the registry only when it lacks them.
    execFileSync('sh', ['-c', `${install} --prefer-offline --no-audit --no-fund --loglevel=error`], { cwd: dir, stdio: 'pipe', timeout: 240_000 })
  }, 300_000)

  test('--help', () => {
    const r = tsx('health', ['--help'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^health: wait until a color's web passes its health check/)
  })

  test('health --dry-run prints the check and touches nothing', () => {
    const r = tsx('health', ['--dry-run', '--color', 'green'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^poll http:\/\/127\.0\.0\.1:18002\/health\/ until 3 consecutive 200s/)
    expect(existsSync(join(dir, 'state'))).toBe(false)
  })

  test('up-core --dry-run prints the compose call', () => {
    const r = tsx('up-core', ['--dry-run', '--color', 'green'], { CALMSWAP_PREFIX: 'copied' })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/docker compose -p copied-green -f \S+compose\.yml up -d --no-deps --force-recreate --no-build web\n/)
    expect(existsSync(join(dir, 'state'))).toBe(false)
  })

  test('a bad setting is exit 2', () => {
    const r = tsx('health', ['--dry-run'], { CALMSWAP_HEALTH_PAHT: '/x' })
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(/unknown setting "CALMSWAP_HEALTH_PAHT"; did you mean CALMSWAP_HEALTH_PATH\?/)
  })
})
