// --dry-run prints every change of the real run, in order: each case runs the dry run and
// then the real run on the same pretend host and state, and compares the two lists.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { run } from '../../lib/cli.ts'
import { adopt } from '../../lib/compose/adopt.ts'
import { cleanup } from '../../lib/compose/cleanup.ts'
import { deploy } from '../../lib/compose/deploy.ts'
import { rollback } from '../../lib/compose/rollback.ts'
import type { Ctx } from '../../lib/context.ts'
import { lockPath } from '../../lib/lock.ts'
import { Ui } from '../../lib/ui.ts'
import { dryRun, recordedChanges } from './dry-run.ts'
import { RecordingExecutor } from './recording.ts'
import { blueLive, type Harness, harness, type World } from './world.ts'

let h: Harness
afterEach(() => h?.close())

const afterDeploy = (w: World) => {
  blueLive(w)
  w.set('app-blue', 'worker', 'exited')
  w.set('app-blue', 'beat', 'exited')
  for (const s of ['web', 'worker', 'beat']) w.set('app-green', s, 'running')
}
const greenLive = { live: 'green', previous: 'blue', upstream: { color: 'green', port: 1, backup: 2 } } as const
const interrupted = {
  op: 'deploy',
  from: 'blue',
  to: 'green',
  release: 'r2',
  startedAt: 'then',
  pid: 1,
  done: ['build', 'shared', 'pause-workers', 'up-core'],
  frozen: ['app-blue-worker-1'],
} as const

const cases: [string, Parameters<typeof harness>[0], (ctx: Ctx) => Promise<unknown>][] = [
  ['first deploy', {}, deploy],
  ['blue → green, stop mode', { state: { live: 'blue' }, setup: blueLive }, deploy],
  [
    'blue → green with release jobs',
    {
      state: { live: 'blue' },
      setup: (w) => (blueLive(w), (w.model.services.migrate = { image: 'app' })),
      env: { CALMSWAP_JOBS: 'migrate' },
    },
    deploy,
  ],
  ['blue → green, pause mode', { state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_PAUSE_MODE: 'pause' } }, deploy],
  // The dry run skips the watch and the holds, not what they change: the proxy's logging on and off, the weights.
  ['blue → green with a watch', { state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_WATCH: '1s' } }, deploy],
  [
    'blue → green through a canary, then a watch',
    { state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_CANARY: '10%,50%', CALMSWAP_CANARY_HOLD: '1s', CALMSWAP_WATCH: '1s', CALMSWAP_CANARY_STICKY: 'ip' } },
    deploy,
  ],
  ['a canary in pause mode', { state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_CANARY: '20%', CALMSWAP_CANARY_HOLD: '1s', CALMSWAP_PAUSE_MODE: 'pause' } }, deploy],
  [
    'a deploy continued from its journal',
    {
      state: { live: 'blue', journal: interrupted },
      setup: (w) => (blueLive(w), w.set('app-blue', 'worker', 'paused'), w.set('app-blue', 'beat', 'exited'), w.set('app-green', 'web', 'running')),
    },
    deploy,
  ],
  [
    'adopt a plain project in place',
    {
      setup: (w) => {
        for (const s of ['redis', 'nginx', 'web', 'worker', 'beat']) w.set('myproj', s, 'running')
      },
      env: { CALMSWAP_SHARED_PROJECT: 'myproj' },
    },
    (ctx) => adopt(ctx, { proxyFrom: 'nginx' }),
  ],
  ['rollback after a deploy', { state: greenLive, setup: afterDeploy }, rollback],
  [
    'cleanup',
    {
      state: { live: 'green', previous: 'blue', upstream: { color: 'green', port: 1, backup: 2 } },
      setup: (w) => (blueLive(w), w.set('app-blue', 'worker', 'paused'), w.set('app-green', 'web', 'running')),
    },
    (ctx) => cleanup(ctx, { yes: true }),
  ],
]

describe('--dry-run prints what the real run does', () => {
  it.each(cases)('%s', async (_name, setup, op) => {
    h = await harness(setup)
    const dry = dryRun(h)
    await op(dry.ctx)
    const planned = dry.changes()
    h.exec.events.length = 0
    await op(h.ctx)
    // The workers' create runs beside the health check and the switch (healthAndCreate), and
    // the new beat's start (the old beat waited for, then the start) beside the check: where
    // they land among them is up to timing, in either run. Everything else is in one order.
    const beside = (l: string) => l.includes(' up --no-start ') || (/^docker (wait|start) /.test(l) && l.includes('-beat-1') && !l.includes('worker'))
    const recorded = recordedChanges(h)
    expect(planned.filter((l) => !beside(l))).toEqual(recorded.filter((l) => !beside(l)))
    expect(planned.filter(beside)).toEqual(recorded.filter(beside))
    expect(planned.length).toBeGreaterThan(0)
  })
})

describe('a dry run touches nothing', () => {
  const env = (h: Harness, stateDir: string) => ({
    CALMSWAP_PREFIX: 'app',
    CALMSWAP_COMPOSE_FILE: h.config.composeFile,
    CALMSWAP_STATE_DIR: stateDir,
    CALMSWAP_BLUE_PORT: String(h.config.ports.blue),
    CALMSWAP_GREEN_PORT: String(h.config.ports.green),
    CALMSWAP_CPU_CALM: '0',
    CALMSWAP_RELEASE: 'r2',
  })
  const quiet = () => new Ui({ err: { write: () => true } as unknown as NodeJS.WritableStream, out: { write: () => true } as unknown as NodeJS.WritableStream })

  it('no state folder is created, no lock taken', async () => {
    h = await harness({ setup: blueLive })
    const stateDir = join(mkdtempSync(join(tmpdir(), 'calmswap-dry-')), 'state')
    const code = await run({ name: 'deploy', summary: '', usage: '', dryRun: true }, (ctx) => deploy(ctx), {
      argv: ['--dry-run'],
      env: env(h, stateDir),
      executor: new RecordingExecutor(h.world.respond),
      ui: quiet(),
    })
    expect(code).toBe(0)
    expect(existsSync(stateDir)).toBe(false)
  })
  it("a dead holder's lock note is left as it is", async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    const stateDir = mkdtempSync(join(tmpdir(), 'calmswap-dry-'))
    const note = JSON.stringify({ op: 'deploy', pid: 999_999_999, host: hostname(), who: 'gone', since: 'then' })
    writeFileSync(lockPath(stateDir), note)
    const code = await run({ name: 'deploy', summary: '', usage: '', dryRun: true }, (ctx) => deploy(ctx), {
      argv: ['--dry-run'],
      env: env(h, stateDir),
      executor: new RecordingExecutor(h.world.respond),
      ui: quiet(),
    })
    expect(code).toBe(0)
    expect(readdirSync(stateDir)).toEqual(['lock'])
    expect(readFileSync(lockPath(stateDir), 'utf8')).toBe(note)
  })
})
