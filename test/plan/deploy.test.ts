import { existsSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { cleanup } from '../../lib/compose/cleanup.ts'
import { deploy } from '../../lib/compose/deploy.ts'
import { rollback } from '../../lib/compose/rollback.ts'
import { ConfigError, LockedError } from '../../lib/errors.ts'
import { readHistory } from '../../lib/history.ts'
import { lockPath } from '../../lib/lock.ts'
import { dryRun } from './dry-run.ts'
import { holdLock } from './hold-lock.ts'
import { BEAT_LANE, BLUE_TO_GREEN, BOOT_GREEN, blueLive, composeArgs, DRAIN_BLUE, type Harness, harness } from './world.ts'

let h: Harness
afterEach(() => h?.close())

describe('deploy plan', () => {
  it('first deploy bootstraps shared, then blue, then the switch', async () => {
    h = await harness()
    await deploy(h.ctx)
    expect(h.plan()).toEqual([
      'blue build web worker beat',
      'pin blue',
      'write',
      'shared up redis proxy',
      'blue up web',
      'blue create beat worker',
      'write',
      'reload',
      'start app-blue-beat-1',
      'start app-blue-worker-1',
    ])
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', previous: null, journal: null, release: 'r2' })
  })

  it('blue → green: build first, old workers frozen and beat stopped, web alone, switch with blue as backup, old workers stopped, then new ones', async () => {
    h = await harness({ state: { live: 'blue', release: 'r1' }, setup: blueLive })
    await deploy(h.ctx)
    expect(h.plan()).toEqual(BLUE_TO_GREEN)
    expect([...h.exec.files.values()].at(-1)).toMatch(new RegExp(`server 127.0.0.1:${h.config.ports.green};\\n  server 127.0.0.1:${h.config.ports.blue} backup;`))
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', previous: 'blue', release: 'r2', previousRelease: 'r1' })
  })

  it('the new worker starts beside beat, not after its boot: consuming resumes right after the switch', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_CPU_CALM: '100', CALMSWAP_CPU_WAIT: '5s' } })
    h.world.cpu = { beat: [95, 60, 3] }
    await deploy(h.ctx)
    const seen = h.exec.calls
      .map((c) => (['stats', 'start'].includes(c.argv[1]!) ? c.argv.slice(1, 2).join(' ') : composeArgs(c.argv).slice(0, 2).join(' ')))
      .filter((x) => /^(stats|start|up)/.test(x))
    // Only the web's boot is waited for; no look at beat's CPU holds the worker back.
    expect(seen).toEqual(['up -d', 'stats', 'up --no-start', 'start', 'start'])
    expect(h.exec.calls.filter((c) => c.argv[1] === 'stats').map((c) => c.argv.slice(5))).toEqual([['id-app-green-web-1']])
  })

  it('the workers are created once the new web has finished booting, not beside its boot', async () => {
    const env = { CALMSWAP_CPU_CALM: '100', CALMSWAP_CPU_WAIT: '5s', CALMSWAP_HEALTH_INTERVAL: '100ms', CALMSWAP_HEALTH_DEADLINE: '5s' }
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env })
    h.world.cpu = { web: [90, 45, 4] }
    h.world.booting.green = 10
    await deploy(h.ctx)
    const seen = h.exec.calls.map((c) => (c.argv[1] === 'stats' ? `stats ${c.argv[5]}` : composeArgs(c.argv).slice(0, 2).join(' '))).filter((x) => /^(stats|up)/.test(x))
    expect(seen.slice(0, 5)).toEqual(['up -d', 'stats id-app-green-web-1', 'stats id-app-green-web-1', 'stats id-app-green-web-1', 'up --no-start'])
    expect(h.out.join('')).toMatch(/web booted after \d+ms \(4% of a CPU\): creating beat, worker/)
  })

  it('a web still busy when its health check fails: nothing is created, blue resumes', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: { CALMSWAP_CPU_CALM: '100', CALMSWAP_CPU_WAIT: '1m' } })
    h.world.cpu = { web: [99] }
    h.world.webStatus.green = 500
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.plan()).not.toContain('green create beat worker')
    // Nor drained: the frozen worker is thawed, at once.
    expect(h.plan()).not.toContain('quiesce app-blue-worker-1')
    expect(h.plan()).toContain('unpause app-blue-worker-1')
    expect(h.world.state('app-blue', 'worker')).toBe('running')
  })

  it('pause mode freezes workers but stops beat, and leaves the workers frozen after the switch', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_PAUSE_MODE: 'pause' } })
    await deploy(h.ctx)
    expect(h.plan().slice(2, 4)).toEqual(['pause app-blue-worker-1', 'kill SIGTERM app-blue-beat-1'])
    expect(h.plan()).not.toContain('kill SIGTERM app-blue-worker-1')
    expect(h.world.state('app-blue', 'worker')).toBe('paused')
  })

  it('stop mode: the frozen workers drain once the new web has booted, before the switch; the new worker starts only after the old one said it stopped consuming', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    await deploy(h.ctx)
    const plan = h.plan()
    const at = (x: string) => plan.indexOf(x)
    // Thawed, asked to stop consuming (lib/celery.ts), then SIGTERM: beside the health check.
    expect(plan.slice(at('unpause app-blue-worker-1'), at('unpause app-blue-worker-1') + 3)).toEqual([
      'unpause app-blue-worker-1',
      'quiesce app-blue-worker-1',
      'kill SIGTERM app-blue-worker-1',
    ])
    expect(at('unpause app-blue-worker-1')).toBeGreaterThan(at('green create beat worker'))
    expect(at('kill SIGTERM app-blue-worker-1')).toBeLessThan(at('reload'))
    // The new worker consumes beside the old one's warm shutdown, never before the quiesce.
    expect(at('reload')).toBeLessThan(at('start app-green-worker-1'))
    expect(at('quiesce app-blue-worker-1')).toBeLessThan(at('start app-green-worker-1'))
    expect(at('start app-green-worker-1')).toBeLessThan(at('docker wait id-app-blue-worker-1'))
    expect(h.world.state('app-blue', 'worker')).toBe('exited')
  })

  it('CALMSWAP_DRAIN=after-switch: the old workers stay frozen through the health check and drain after the switch; the new worker starts after the quiesce, beside the warm shutdown', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_DRAIN: 'after-switch' } })
    await deploy(h.ctx)
    const plan = h.plan()
    const at = (x: string) => plan.indexOf(x)
    expect(at('unpause app-blue-worker-1')).toBeGreaterThan(at('reload'))
    expect(plan.slice(at('unpause app-blue-worker-1'), at('unpause app-blue-worker-1') + 3)).toEqual([
      'unpause app-blue-worker-1',
      'quiesce app-blue-worker-1',
      'kill SIGTERM app-blue-worker-1',
    ])
    expect(at('quiesce app-blue-worker-1')).toBeLessThan(at('start app-green-worker-1'))
    expect(at('start app-green-worker-1')).toBeLessThan(at('docker wait id-app-blue-worker-1'))
    expect(h.world.state('app-blue', 'worker')).toBe('exited')
  })

  it('CALMSWAP_DRAIN=after-switch: a failed health check thaws the frozen workers, never starts them again', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: { CALMSWAP_DRAIN: 'after-switch' } })
    h.world.webStatus.green = 500
    await expect(deploy(h.ctx)).rejects.toThrow(/failed and was rolled back; blue serves as before/)
    const plan = h.plan()
    expect(plan).toContain('unpause app-blue-worker-1')
    expect(plan).not.toContain('start app-blue-worker-1 app-blue-beat-1')
    expect(plan).not.toContain('quiesce app-blue-worker-1')
    expect(plan).not.toContain('kill SIGTERM app-blue-worker-1')
    expect(h.world.state('app-blue', 'worker')).toBe('running')
  })

  it('the new beat starts once the web booted and the old beat is gone, before the switch and before the old worker’s exit is awaited', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    await deploy(h.ctx)
    const plan = h.plan()
    const at = (x: string) => plan.indexOf(x)
    expect(at('docker wait id-app-blue-beat-1')).toBeGreaterThan(at('green create beat worker'))
    expect(at('start app-green-beat-1')).toBeGreaterThan(at('docker wait id-app-blue-beat-1'))
    expect(at('start app-green-beat-1')).toBeLessThan(at('reload'))
    expect(at('start app-green-beat-1')).toBeLessThan(at('docker wait id-app-blue-worker-1'))
    expect(plan.filter((x) => x.startsWith('docker wait'))).toEqual(['docker wait id-app-blue-beat-1', 'docker wait id-app-blue-worker-1'])
  })

  it('CALMSWAP_BEAT_START=switch: the new beat starts only as traffic switches; a failed check never started it', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_BEAT_START: 'switch' } })
    await deploy(h.ctx)
    const plan = h.plan()
    expect(plan.indexOf('start app-green-beat-1')).toBeGreaterThan(plan.indexOf('write'))
    expect(plan.indexOf('start app-green-beat-1')).toBeLessThan(plan.indexOf('docker wait id-app-blue-worker-1'))
    await h.close()
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: { CALMSWAP_BEAT_START: 'switch' } })
    h.world.webStatus.green = 500
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.plan().filter((x) => x.includes('green-beat') || x.includes('green stop beat'))).toEqual([])
  })

  it('a new beat that restarts in a loop after its start, before the switch: no switch, rolled back', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    h.world.crashLoop.add('app-green-beat')
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.out.join('')).toMatch(/the new app-green-beat-1 is restarting, 1 restart\(s\) \(exit code 1\) since its start, before the switch/)
    expect(h.plan()).not.toContain('reload')
    expect(h.world.state('app-blue', 'beat')).toBe('running')
  })

  it('a worker that cannot say it stopped consuming (no quiesce) is waited for before a new one starts', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_QUIESCE: 'off' } })
    await deploy(h.ctx)
    const plan = h.plan()
    expect(plan.indexOf('docker wait id-app-blue-worker-1')).toBeLessThan(plan.indexOf('start app-green-worker-1'))
    expect(plan.indexOf('start app-green-beat-1')).toBeLessThan(plan.indexOf('start app-green-worker-1'))
  })

  it('waits for the old workers no longer than the grace, never signalling twice', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STOP_GRACE: '90s' } })
    await deploy(h.ctx)
    const wait = h.exec.calls.find((c) => c.argv[1] === 'wait')!
    expect(wait.timeoutMs).toBeGreaterThan(80_000)
    expect(wait.timeoutMs).toBeLessThanOrEqual(90_000)
    expect(
      h
        .plan()
        .flatMap((p) => (p.startsWith('kill SIGTERM') ? p.split(' ').slice(2) : []))
        .sort(),
    ).toEqual(['app-blue-beat-1', 'app-blue-worker-1'])
  })

  it('kills workers that outlive the grace, and says so', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STOP_GRACE: '1s' } })
    h.world.hang = true
    await deploy(h.ctx)
    const plan = h.plan()
    expect(plan).toEqual(expect.arrayContaining(['kill SIGKILL app-blue-beat-1', 'kill SIGKILL app-blue-worker-1']))
    // Its quiesce had no time left within the grace: not known to have stopped consuming.
    expect(plan.indexOf('kill SIGKILL app-blue-worker-1')).toBeLessThan(plan.indexOf('start app-green-worker-1'))
    expect(h.out.join('')).toMatch(/app-blue-worker-1 was still running \d+s after its SIGTERM \(CALMSWAP_STOP_GRACE=1s\) and was killed/)
  })

  it('a failing create of the workers, while the web boots, rolls back before any switch', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    h.world.failOn = (a) => (a.includes('--no-start') ? 1 : undefined)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.plan()).not.toContain('reload')
    expect(h.world.state('app-blue', 'worker')).toBe('running')
  })

  it('nginx -t rejecting the new upstream: no reload, the old upstream file back, rolled back', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    h.world.failOn = (a) => (a[1] === 'exec' && /nginx -s reload/.test(a.at(-1)!) ? 65 : undefined)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back/)
    expect(h.out.join('')).toMatch(/nginx -t rejected the new upstream; the old one is back in place, nothing was reloaded/)
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', upstream: { color: 'blue', port: 1 } })
  })

  it('a switch that fails while the new beat still waits for the old one to exit: the new beat is never started', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    h.world.slowStop = 1500
    h.world.failOn = (a) => (a[1] === 'exec' && /nginx -s reload/.test(a.at(-1)!) ? 65 : undefined)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back/)
    expect(h.plan()).toContain('docker wait id-app-blue-beat-1')
    expect(h.plan()).not.toContain('start app-green-beat-1')
  })

  it('a reload that fails for another reason says so, and rolls back', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    h.world.failOn = (a) => (a[1] === 'exec' && /nginx -s reload/.test(a.at(-1)!) ? 1 : undefined)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back/)
    expect(h.out.join('')).toMatch(/reloading the proxy failed: command failed \(exit 1\)/)
  })

  it('a failed health check rolls back before any switch', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    h.world.webStatus.green = 500
    await expect(deploy(h.ctx)).rejects.toThrow(/failed and was rolled back; blue serves as before/)
    // The web booted before its check failed: the old worker had drained and the new beat
    // started; the new beat stops before the old worker and beat start again.
    expect(h.plan()).toEqual([
      ...BOOT_GREEN,
      ...DRAIN_BLUE,
      ...BEAT_LANE,
      'green stop beat',
      'docker wait id-app-blue-worker-1',
      'start app-blue-worker-1 app-blue-beat-1',
      'green stop web',
    ])
    expect(h.world.state('app-blue', 'worker')).toBe('running')
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', journal: null })
    expect(h.out.join('')).toMatch(/status 500, expected 200/)
  })

  it('a docker failure after the switch switches back, then resumes blue', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    h.world.failOn = (a) => (a[1] === 'start' && a.includes('app-green-worker-1') ? 1 : undefined)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back/)
    expect(h.plan()).toEqual([
      ...BLUE_TO_GREEN.slice(0, -1),
      // The failed start: back to blue, once beat's lane has ended too.
      'write',
      'reload',
      'green stop beat',
      'docker wait id-app-blue-worker-1',
      'start app-blue-worker-1 app-blue-beat-1',
      'green stop web',
    ])
    expect([...h.exec.files.values()].at(-1)).toContain(`server 127.0.0.1:${h.config.ports.blue};`)
    expect(h.world.state('app-blue', 'beat')).toBe('running')
  })

  it('reads the compose file once, as the new color and release run it, and the build reuses that read', async () => {
    const configReads = (h: Harness) => h.exec.calls.filter((c) => c.argv[1] === 'compose' && composeArgs(c.argv)[0] === 'config')
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    await deploy(h.ctx)
    expect(configReads(h).map((c) => [c.argv[c.argv.indexOf('-p') + 1], c.env?.CALMSWAP_RELEASE])).toEqual([['app-green', 'r2']])
    await h.close()
    // A first deploy with no release set: no state names the color and release (the plan may
    // have to ask Docker, for a running color to adopt); read again as the build will use it.
    h = await harness({ env: { CALMSWAP_RELEASE: '' } })
    await deploy(h.ctx)
    expect(configReads(h).map((c) => c.env?.CALMSWAP_RELEASE)).toEqual([undefined, expect.stringMatching(/./)])
  })

  it('refuses to start while another operation holds the lock, and runs nothing', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    const held = await holdLock(h.config.stateDir)
    try {
      await expect(deploy(h.ctx)).rejects.toThrow(LockedError)
      expect(h.exec.calls).toEqual([])
    } finally {
      held.release()
    }
  })

  it('a compose file that breaks the contract stops it before any change', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    h.world.model.services.db = { image: 'postgres:16' }
    await expect(deploy(h.ctx)).rejects.toThrow(ConfigError)
    expect(h.plan()).toEqual([])
  })

  it('an unreachable daemon stops it before any change', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    h.world.failOn = (a) => (a[1] === 'version' ? 1 : undefined)
    await expect(deploy(h.ctx)).rejects.toThrow(/cannot reach the Docker daemon.*Nothing was changed/)
    expect(h.plan()).toEqual([])
  })

  it('continues an interrupted deploy from its journal', async () => {
    const journal = { op: 'deploy', from: 'blue', to: 'green', release: 'r2', startedAt: 'then', pid: 1, done: ['build', 'shared', 'pause-workers', 'up-core'] } as const
    h = await harness({
      state: { live: 'blue', journal },
      setup: (w) => {
        blueLive(w)
        w.set('app-blue', 'worker', 'exited')
        w.set('app-blue', 'beat', 'exited')
        w.set('app-green', 'web', 'running')
      },
    })
    await deploy(h.ctx)
    expect(h.plan()).toEqual(['green create beat worker', 'start app-green-beat-1', 'write', 'reload', 'start app-green-worker-1'])
    expect(h.out.join('')).toMatch(/earlier deploy blue → green .* was interrupted after step "up-core"/)
  })

  it('Ctrl-C during a deploy rolls back', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    const ac = new AbortController()
    const ctx = h.ctx.withSignal(ac.signal)
    h.world.failOn = (a) => (a.includes('up') && a.includes('web') ? (ac.abort('SIGINT'), undefined) : undefined)
    await expect(deploy(ctx)).rejects.toThrow(/rolled back/)
    expect(h.world.state('app-blue', 'worker')).toBe('running')
    expect(h.world.state('app-green', 'web')).toBe('exited')
    expect(readHistory(h.config.stateDir).at(-1)?.result).toBe('interrupted')
  })

  it('--dry-run changes nothing and prints the plan', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    const { printed, ctx, reads } = dryRun(h)
    await deploy(ctx)
    expect(reads.calls.every((c) => !c.mutates)).toBe(true)
    expect(printed.some((l) => l.startsWith('write ') && l.includes('upstream.conf'))).toBe(true)
    expect(h.ctx.state.load().live).toBe('blue')
    expect(existsSync(lockPath(h.config.stateDir))).toBe(false)
  })
})

describe('rollback plan', () => {
  const greenLive = { live: 'green', previous: 'blue', upstream: { color: 'green', port: 1, backup: 2 } } as const
  const afterDeploy = (w: Parameters<typeof blueLive>[0]) => {
    blueLive(w)
    w.set('app-blue', 'worker', 'exited')
    w.set('app-blue', 'beat', 'exited')
    for (const s of ['web', 'worker', 'beat']) w.set('app-green', s, 'running')
  }

  it('switches back, stops the new workers and beat before the old ones start, then the new web', async () => {
    h = await harness({ state: greenLive, setup: afterDeploy })
    await rollback(h.ctx)
    expect(h.plan()).toEqual(['write', 'reload', 'quiesce app-green-worker-1', 'green stop worker beat', 'start app-blue-worker-1 app-blue-beat-1', 'green stop web'])
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', previous: 'green' })
    expect(readHistory(h.config.stateDir).at(-1)).toMatchObject({ op: 'rollback', from: 'green', to: 'blue', result: 'ok' })
  })

  it('thaws frozen workers instead of starting them', async () => {
    h = await harness({ state: greenLive, setup: (w) => (afterDeploy(w), w.set('app-blue', 'worker', 'paused')) })
    await rollback(h.ctx)
    expect(h.plan()).toContain('unpause app-blue-worker-1')
    expect(h.plan()).toContain('start app-blue-beat-1')
  })

  it('refuses when there is nothing to go back to', async () => {
    h = await harness({ state: { live: 'green', previous: null }, setup: afterDeploy })
    await expect(rollback(h.ctx)).rejects.toThrow(/nothing to roll back to/)
    expect(h.plan()).toEqual([])
  })
})

describe('cleanup plan', () => {
  it('drops the backup upstream, then removes the old color', async () => {
    h = await harness({
      state: { live: 'green', previous: 'blue', upstream: { color: 'green', port: 1, backup: 2 } },
      setup: (w) => {
        blueLive(w)
        w.set('app-green', 'web', 'running')
      },
    })
    expect(await cleanup(h.ctx, { yes: true })).toBe(true)
    expect(h.plan()).toEqual(['write', 'reload', 'quiesce app-blue-worker-1', 'blue down', 'rm pins/blue.yml'])
    expect([...h.exec.files.values()].at(-1)).not.toContain('backup')
    expect(h.ctx.state.load().previous).toBeNull()
  })

  it('thaws frozen workers first so their warm shutdown can run', async () => {
    h = await harness({ state: { live: 'green', previous: 'blue' }, setup: (w) => (blueLive(w), w.set('app-blue', 'worker', 'paused')) })
    await cleanup(h.ctx, { yes: true })
    expect(h.plan()).toEqual(['unpause app-blue-worker-1', 'quiesce app-blue-worker-1', 'blue down', 'rm pins/blue.yml'])
  })

  it('a failing down is recorded in the history as failed, with its error', async () => {
    h = await harness({ state: { live: 'green', previous: 'blue' }, setup: blueLive })
    h.world.failOn = (a) => (a.includes('down') ? 1 : undefined)
    await expect(cleanup(h.ctx, { yes: true })).rejects.toThrow(/simulated failure/)
    expect(readHistory(h.config.stateDir).at(-1)).toMatchObject({ op: 'cleanup', from: 'blue', to: 'green', result: 'failed', error: expect.stringMatching(/down/) })
    expect(h.ctx.state.load().previous).toBe('blue')
  })

  it('asks, and a "no" changes nothing', async () => {
    h = await harness({ state: { live: 'green', previous: 'blue' }, setup: blueLive })
    expect(await cleanup(h.ctx, { confirm: async () => false })).toBe(false)
    expect(h.plan()).toEqual([])
  })
})

describe('lost state', () => {
  it('adopts the color that serves instead of recreating it under traffic', async () => {
    h = await harness({ setup: blueLive })
    await deploy(h.ctx)
    expect(h.plan().slice(2, 4)).toEqual(['pause app-blue-worker-1', 'kill SIGTERM app-blue-beat-1'])
    expect(h.plan()).toContain('green up web')
    expect(h.out.join('')).toMatch(/adopting blue as the live color/)
  })
  it('refuses when both colors serve and nothing says which is live', async () => {
    h = await harness({ setup: (w) => (blueLive(w), w.set('app-green', 'web', 'running')) })
    await expect(deploy(h.ctx)).rejects.toThrow(/cannot tell which is live/)
    expect(h.plan()).toEqual([])
  })
})
