// The package as a new user gets it: `npm pack`'s tarball installed into a repo that holds
// nothing of calmswap's but the Django example's compose file and app, then README's "your
// own repo" path through the installed command (init, doctor, a dry run, two deploys that
// switch colors, rollback, cleanup) and through the shipped Makefile fragment; and the
// installed command on Debian 12's own nodejs (18.19 at first, 18.20 since), in a container with no other Node.
import { execFileSync, type SpawnSyncReturns, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { DJANGO_DIR, ROOT, type Stack, useStack } from './harness.ts'

const NODE18_IMAGE = process.env.CALMSWAP_NODE18_IMAGE ?? 'calmswap-node18:bookworm'
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
const work = mkdtempSync(join(tmpdir(), 'calmswap-pkg-'))
const repo = join(work, 'myshop')
let stack: Stack

useStack(import.meta.url, (s) => (stack = s), {
  bootstrap: false,
  stack: {
    composeFile: join(repo, 'compose.yml'),
    beatService: 'celerybeat',
    env: (prefix, stateDir) => ({
      APP_NETWORK: `${prefix}-net`,
      POSTGRES_VOLUME: `${prefix}_postgres_data`,
      REDIS_VOLUME: `${prefix}_redis_data`,
      CALMSWAP_PROXY_LOG_DIR: join(stateDir, 'proxy-log'),
    }),
  },
})

/** Settings that belong to this throwaway stack (prefix, ports, state folder); the roles come from the repo's calmswap.json. */
const env = (extra: Record<string, string | undefined> = {}) => stack.scriptEnv({ CALMSWAP_COMPOSE_FILE: undefined, ...extra })
const sh = (cmd: string, args: string[], extra: Record<string, string | undefined> = {}, timeout = 150_000): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd: repo, env: env(extra), encoding: 'utf8', timeout })
const npx = (args: string[], extra: Record<string, string | undefined> = {}) => sh('npx', ['--no-install', 'calmswap', ...args], extra)
const live = () => JSON.parse(npx(['status', '--json']).stdout).live as string

beforeAll(() => {
  // prepack builds dist/ first: the tarball is what `npm publish` would send.
  const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 }).trim().split('\n').at(-1)!
  cpSync(join(DJANGO_DIR, 'compose.yml'), join(repo, 'compose.yml'))
  for (const d of ['app', 'nginx', '.envs']) cpSync(join(DJANGO_DIR, d), join(repo, d), { recursive: true })
  writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'myshop', private: true }))
  // No dependencies in the package: the install needs no registry.
  execFileSync('npm', ['install', '--save-dev', '--offline', '--no-audit', '--no-fund', join(work, tgz)], { cwd: repo, stdio: 'pipe', timeout: 120_000 })
}, 300_000)

afterAll(() => rmSync(work, { recursive: true, force: true }))

describe.sequential('the package in a repo of its own', () => {
  test('the installed package holds built code only, and answers --version and --help', () => {
    const installed = join(repo, 'node_modules/calmswap')
    expect(readdirSync(installed).sort()).toEqual(['LICENSE', 'README.md', 'calmswap.mk', 'dist', 'package.json'].sort())
    expect(readdirSync(join(installed, 'dist')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([])
    expect(existsSync(join(repo, 'node_modules/tsx'))).toBe(false)
    expect(npx(['--version']).stdout.trim()).toBe(pkg.version)
    const help = npx(['--help'])
    expect(help.status, help.stderr).toBe(0)
    for (const script of readdirSync(join(ROOT, 'scripts')).filter((f) => f !== 'calmswap.ts')) expect(help.stdout).toContain(`  ${script.replace(/\.ts$/, '')} `)
    const health = npx(['health', '--help'])
    expect(health.stdout).toMatch(/^health: wait until a color's web passes its health check/)
  })

  test('init proposes the roles from the compose file, writes calmswap.json, and will not overwrite it', () => {
    const dry = npx(['init', '--dry-run'])
    expect(dry.status, dry.stderr).toBe(0)
    expect(JSON.parse(dry.stdout)).toMatchObject({
      composeFile: 'compose.yml',
      web: ['django'],
      jobs: ['migrations'],
      workers: ['celeryworker'],
      singletons: ['celerybeat'],
      shared: expect.arrayContaining(['postgres', 'redis', 'proxy']),
    })
    expect(dry.stderr).toMatch(/django → web: publishes port 5000/)
    expect(existsSync(join(repo, 'calmswap.json'))).toBe(false)
    const r = npx(['init'])
    expect(r.status, r.stderr).toBe(0)
    expect(JSON.parse(readFileSync(join(repo, 'calmswap.json'), 'utf8'))).toEqual(JSON.parse(dry.stdout))
    const again = npx(['init'])
    expect(again.status).toBe(2)
    expect(again.stderr).toMatch(/calmswap\.json exists: --force overwrites it/)
  })

  test('doctor, then deploy --dry-run, which touches nothing', () => {
    const d = npx(['doctor'])
    expect(d.status, d.stdout + d.stderr).toBe(0)
    const r = npx(['deploy', '--dry-run'])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/docker compose -p \S+-blue .*up -d/)
    expect(existsSync(join(stack.stateDir, 'state.json'))).toBe(false)
  })

  test('two deploys switch colors, rollback goes back, cleanup removes the old color', async () => {
    for (const [release, color] of [
      ['p1', 'blue'],
      ['p2', 'green'],
    ] as const) {
      const r = npx(['deploy'], { CALMSWAP_RELEASE: release })
      expect(r.status, r.stderr).toBe(0)
      expect(live()).toBe(color)
      expect(await stack.servingColor(3, '/health/')).toBe(color)
    }
    const back = npx(['rollback'])
    expect(back.status, back.stderr).toBe(0)
    expect(live()).toBe('blue')
    expect(await stack.servingColor(3, '/health/')).toBe('blue')
    const clean = npx(['cleanup', '--yes'])
    expect(clean.status, clean.stderr).toBe(0)
    expect((await stack.containers('green')).filter((c) => c.state === 'running')).toEqual([])
  })

  test('the Makefile fragment: your own default target stays, make deploy and make status run the installed command', async () => {
    writeFileSync(join(repo, 'Makefile'), 'hello:\n\t@echo my own target\n\ninclude node_modules/calmswap/calmswap.mk\n')
    expect(sh('make', ['-s', '--no-print-directory']).stdout.trim()).toBe('my own target')
    const r = sh('make', ['--no-print-directory', 'deploy', 'ARGS=--verbose'], { CALMSWAP_RELEASE: 'p3' })
    expect(r.status, r.stderr).toBe(0)
    // Run from make test, MAKELEVEL is set: a sub-make would print 'Entering directory' on stdout.
    // status and health run their one-file CommonJS build, not the command (peak RSS: docs/benchmark.md, Lean).
    const plan = sh('make', ['-n', '--no-print-directory', 'status', 'health']).stdout
    for (const step of ['status', 'health']) expect(plan).toContain(`node ${join(repo, 'node_modules/calmswap/dist', `${step}.cjs`)}`)
    const s = sh('make', ['--no-print-directory', 'status', 'ARGS=--json'])
    expect(s.status, s.stderr).toBe(0)
    expect(JSON.parse(s.stdout).live).toBe('green')
    expect(await stack.servingColor(3, '/health/')).toBe('green')
  })

  test("Debian 12's own nodejs (18), no other Node: --version, --help, status and a dry run of the installed command", () => {
    const ours = Object.entries(env()).filter(([k]) => /^(CALMSWAP_|PROXY_PORT$|REDIS_PORT$|APP_NETWORK$|POSTGRES_VOLUME$|REDIS_VOLUME$|NO_COLOR$)/.test(k))
    const inNode18 = (args: string[], extra: Record<string, string> = {}) =>
      spawnSync(
        'docker',
        [
          'run',
          '--rm',
          '--network',
          'host',
          ...['-v', `${work}:${work}`, '-v', `${stack.stateDir}:${stack.stateDir}`, '-v', '/var/run/docker.sock:/var/run/docker.sock'],
          ...[
            '-v',
            `${process.env.DOCKER_CLI ?? '/usr/local/bin/docker'}:/usr/local/bin/docker:ro`,
            '-v',
            '/usr/local/lib/docker/cli-plugins:/usr/local/lib/docker/cli-plugins:ro',
          ],
          '-w',
          repo,
          ...[...ours, ...Object.entries(extra)].flatMap(([k, v]) => ['-e', `${k}=${v}`]),
          NODE18_IMAGE,
          ...args,
        ],
        { encoding: 'utf8', timeout: 120_000 },
      )
    const node = inNode18(['node', '--version'])
    expect(node.stdout.trim(), node.stderr).toMatch(/^v18\./)
    expect(inNode18(['sh', '-c', 'command -v npm || ls /usr/local/bin/node* 2>/dev/null || true']).stdout.trim()).toBe('')
    // The docker CLI and socket are the host's: status reads the stack the deploys above left.
    const version = inNode18(['node_modules/.bin/calmswap', '--version'])
    expect([version.status, version.stdout.trim()], version.stderr).toEqual([0, pkg.version])
    const help = inNode18(['node_modules/.bin/calmswap', '--help'])
    expect(help.status, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/^calmswap \S+: /)
    const status = inNode18(['node_modules/.bin/calmswap', 'status', '--json'])
    expect(status.status, status.stderr).toBe(0)
    expect(JSON.parse(status.stdout).live).toBe('green')
    // status and health are also one CommonJS file each, run by path (the Make targets' way).
    const alone = inNode18(['node', 'node_modules/calmswap/dist/status.cjs', '--json'])
    expect(alone.status, alone.stderr).toBe(0)
    expect(JSON.parse(alone.stdout).live).toBe('green')
    const health = inNode18(['node', 'node_modules/calmswap/dist/health.cjs', '--help'])
    expect([health.status, health.stdout], health.stderr).toEqual([0, expect.stringMatching(/^health: wait until a color's web passes its health check/)])
    const dry = inNode18(['node_modules/.bin/calmswap', 'deploy', '--dry-run'], { CALMSWAP_RELEASE: 'p4' })
    expect(dry.status, dry.stderr).toBe(0)
    expect(dry.stdout).toMatch(/docker compose -p \S+-blue .*up -d/)
  })
})
