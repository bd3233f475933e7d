// After a daemon restart (a power cut): Docker's restart policies bring back what ran, and
// frozen containers come back running. recover, and the next deploy or rollback, finish the job.
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { composeEngine } from '../../lib/compose/engine.ts'
import { status } from '../../lib/compose/status.ts'
import { renderUpstream, switchTraffic } from '../../lib/compose/traffic.ts'
import { SHARED, writeFileAtomic } from '../../lib/files.ts'
import { blueLive, type Harness, harness, type World } from './world.ts'

const recover = (ctx: Parameters<typeof composeEngine.recover>[0]) => composeEngine.recover(ctx)

let h: Harness
afterEach(() => h?.close())

const journal = (done: string[], extra: object = {}) => ({ op: 'deploy', from: 'blue', to: 'green', release: 'r2', startedAt: 'then', pid: 1, done, ...extra }) as const
/** What a restart during the health step leaves: blue's frozen worker running again, its beat (SIGTERM'd) down, green's web back. */
const restartedDuringHealth = (w: World) => {
  blueLive(w)
  w.set('app-blue', 'beat', 'exited')
  w.set('app-green', 'web', 'running')
}
const signalled = { signalledAt: new Date(Date.now() - 60_000).toISOString(), signalled: ['app-blue-beat-1'], frozen: ['app-blue-worker-1'] }

/** A deploy blue → green cut by a restart during up-rest, after the switch: green serves, its workers created. */
const cutDuringUpRest = (more: (w: World) => void = () => {}) =>
  harness({
    state: (c) => ({
      live: 'blue',
      upstream: { color: 'green', port: c.ports.green, backup: c.ports.blue },
      journal: journal(['build', 'shared', 'jobs', 'pause-workers', 'up-core', 'health', 'switch'], { current: 'up-rest', ...signalled }),
    }),
    setup: (w) => {
      restartedDuringHealth(w)
      w.set('app-green', 'worker', 'created')
      w.set('app-green', 'beat', 'created')
      more(w)
    },
  })

describe('recover after a daemon restart', () => {
  it('during the health step: rolls back, restarts blue beat, waits for nobody (the running worker was never told to stop)', async () => {
    h = await harness({
      state: {
        live: 'blue',
        upstream: { color: 'blue', port: 1, backup: null },
        journal: journal(['build', 'shared', 'jobs', 'pause-workers', 'up-core'], { current: 'health', ...signalled }),
      },
      setup: restartedDuringHealth,
    })
    const r = await recover(h.ctx)
    expect(r.action).toBe('rolled back')
    expect(h.plan()).toEqual(['start app-blue-beat-1', 'green stop web'])
    expect(h.exec.calls.some((c) => c.argv[1] === 'wait')).toBe(false)
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', journal: null })
  })

  it('after the switch: finishes the deploy; the old worker the restart brought back is told to stop now', async () => {
    h = await cutDuringUpRest()
    const r = await recover(h.ctx)
    expect(r.action).toBe('finished the deploy')
    const plan = h.plan()
    expect(plan).toContain('kill SIGTERM app-blue-worker-1')
    expect(plan.indexOf('kill SIGTERM app-blue-worker-1')).toBeLessThan(plan.indexOf('start app-green-worker-1'))
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', journal: null })
    expect([h.world.state('app-blue', 'worker'), h.world.state('app-green', 'beat')]).toEqual(['exited', 'running'])
  })

  it('pause mode, after a finished deploy: the old workers that came back running are frozen again', async () => {
    h = await harness({
      state: (c) => ({ live: 'green', previous: 'blue', upstream: { color: 'green', port: c.ports.green, backup: null } }),
      env: { CALMSWAP_PAUSE_MODE: 'pause' },
      setup: (w) => {
        blueLive(w)
        w.set('app-blue', 'beat', 'exited')
        for (const s of ['web', 'worker', 'beat']) w.set('app-green', s, 'running')
      },
    })
    expect((await status(h.ctx)).problems).toEqual(["blue's worker should be frozen (pause mode) but run"])
    const r = await recover(h.ctx)
    expect(r.changes).toEqual(['blue: froze app-blue-worker-1 again (pause mode: frozen until cleanup)'])
    expect(h.world.state('app-blue', 'worker')).toBe('paused')
    expect((await status(h.ctx)).problems).toEqual([])
  })

  it('two beats and both worker sets: the old ones are stopped', async () => {
    h = await harness({
      state: (c) => ({ live: 'green', previous: 'blue', upstream: { color: 'green', port: c.ports.green, backup: null } }),
      setup: (w) => {
        blueLive(w)
        for (const s of ['web', 'worker', 'beat']) w.set('app-green', s, 'running')
      },
    })
    expect((await status(h.ctx)).problems).toEqual(['beat run in both colors', 'workers of both colors run (blue: worker)'])
    await recover(h.ctx)
    expect(h.plan()).toEqual(['quiesce app-blue-worker-1', 'stop app-blue-beat-1 app-blue-worker-1'])
    expect((await status(h.ctx)).problems).toEqual([])
  })

  it('a host where nothing came back: the live color and the shared services are started', async () => {
    h = await harness({
      state: (c) => ({ live: 'green', previous: 'blue', upstream: { color: 'green', port: c.ports.green, backup: null } }),
      setup: (w) => {
        for (const s of ['redis', 'proxy']) w.set('app-shared', s, 'exited')
        for (const s of ['web', 'worker', 'beat']) w.set('app-green', s, 'exited')
      },
    })
    const before = await status(h.ctx)
    expect(before.problems).toEqual(['redis of app-shared is not running', 'proxy of app-shared is not running', 'the live color green does not run web'])
    await recover(h.ctx)
    expect(h.plan()).toEqual(['shared up redis proxy', 'start app-green-web-1 app-green-worker-1 app-green-beat-1'])
  })

  it('all well: nothing to do', async () => {
    h = await harness({ state: (c) => ({ live: 'blue', upstream: { color: 'blue', port: c.ports.blue, backup: null } }), setup: blueLive })
    expect(await recover(h.ctx)).toEqual({ action: 'reconciled', changes: [] })
    expect(h.plan()).toEqual([])
  })
})

describe('the next deploy finishes the job too', () => {
  it('a deploy cut by a restart during health continues, stopping the worker the restart brought back', async () => {
    h = await harness({
      state: { live: 'blue', journal: journal(['build', 'shared', 'jobs', 'pause-workers', 'up-core'], { current: 'health', ...signalled }) },
      setup: restartedDuringHealth,
    })
    await deploy(h.ctx)
    expect(h.plan()).toContain('kill SIGTERM app-blue-worker-1')
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', journal: null })
    expect([h.world.state('app-blue', 'worker'), h.world.state('app-blue', 'beat'), h.world.state('app-green', 'worker')]).toEqual(['exited', 'exited', 'running'])
  })
})

describe('a deploy finished after a reboot', () => {
  it('is not rolled back for web restarts from before it went on (a web that crash-looped at boot until its database was up)', async () => {
    h = await cutDuringUpRest((w) => w.restarts.set('app-green-web-1', 2))
    expect((await recover(h.ctx)).action).toBe('finished the deploy')
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', journal: null })
  })
})

describe('recover says a color serves only once it does', () => {
  it('a web still booting after the restart is waited for', async () => {
    h = await harness({ state: (c) => ({ live: 'blue', upstream: { color: 'blue', port: c.ports.blue, backup: null } }), setup: blueLive })
    h.world.booting.blue = 3
    await recover(h.ctx)
    expect(h.world.booting.blue).toBe(0)
    expect(h.out.join('')).toMatch(/blue serves; nothing to change/)
  })
  it('a web that never answers: exit 1, not "serves"', async () => {
    h = await harness({ state: (c) => ({ live: 'blue', upstream: { color: 'blue', port: c.ports.blue, backup: null } }), setup: blueLive })
    h.world.webStatus.blue = 502
    await expect(recover(h.ctx)).rejects.toThrow(/blue web is not healthy/)
    expect(h.out.join('')).not.toMatch(/blue serves/)
  })
})

describe('a power cut inside the switch: the upstream file written, state.json not yet', () => {
  /** A deploy blue → green cut during its switch: the file nginx reads names green, the record blue. */
  const cutInSwitch = (more: object = {}) =>
    harness({
      state: (c) => ({
        live: 'blue',
        upstream: { color: 'blue', port: c.ports.blue, backup: null },
        journal: journal(['build', 'shared', 'jobs', 'pause-workers', 'up-core', 'health'], { current: 'switch', ...signalled }),
        ...more,
      }),
      setup: (w, c) => {
        restartedDuringHealth(w)
        writeFileAtomic(c.proxy.upstreamFile, renderUpstream(c, 'green', 'blue'), SHARED)
      },
    })

  it('a switch journals its intent before it writes the file, and clears it with the record', async () => {
    h = await harness({ state: (c) => ({ live: 'blue', upstream: { color: 'blue', port: c.ports.blue, backup: null } }), setup: blueLive })
    const seen: unknown[] = []
    const write = h.exec.writeFile.bind(h.exec)
    h.exec.writeFile = async (path, content) => {
      if (path === h.config.proxy.upstreamFile) seen.push(h.ctx.state.load().switching?.color)
      return write(path, content)
    }
    await switchTraffic(h.ctx, 'green', 'blue')
    expect(seen).toEqual(['green'])
    expect(h.ctx.state.load()).toMatchObject({ upstream: { color: 'green' } })
    expect(h.ctx.state.load().switching).toBeUndefined()
  })

  it('status shows the file and the record apart', async () => {
    h = await cutInSwitch()
    expect((await status(h.ctx)).problems).toContain(`the upstream file ${h.config.proxy.upstreamFile} sends traffic to green, but the state records blue`)
  })

  it('recover rolls back and writes the upstream for blue again, reloading the proxy', async () => {
    h = await cutInSwitch()
    expect((await recover(h.ctx)).action).toBe('rolled back')
    const plan = h.plan()
    expect(plan).toEqual(['write', 'reload', 'start app-blue-beat-1', 'green stop web'])
    expect(h.out.join('')).toMatch(/the state records the proxy on blue, but the upstream file \S+ sends traffic to green: writing it for blue again/)
    expect(h.exec.files.get(h.config.proxy.upstreamFile)).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${h.config.ports.blue};`))
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', journal: null, upstream: { color: 'blue' } })
    expect(h.ctx.state.load().switching).toBeUndefined()
  })

  it('the journaled intent alone (a file calmswap cannot read back) is enough to write the upstream again', async () => {
    h = await harness({
      state: (c) => ({
        live: 'blue',
        upstream: { color: 'blue', port: c.ports.blue, backup: null },
        switching: { color: 'green', port: c.ports.green, backup: c.ports.blue },
        journal: journal(['build', 'shared', 'jobs', 'pause-workers', 'up-core', 'health'], { current: 'switch', ...signalled }),
      }),
      setup: restartedDuringHealth,
    })
    expect((await status(h.ctx)).problems).toContain('a switch to green was cut short: the upstream file may name it')
    await recover(h.ctx)
    expect(h.plan()).toContain('reload')
    expect(h.ctx.state.load().switching).toBeUndefined()
  })

  it('after a finished operation too: recover points the file back at the live color', async () => {
    h = await harness({
      state: (c) => ({ live: 'blue', upstream: { color: 'blue', port: c.ports.blue, backup: null } }),
      setup: (w, c) => {
        blueLive(w)
        writeFileAtomic(c.proxy.upstreamFile, renderUpstream(c, 'green', null), SHARED)
      },
    })
    const r = await recover(h.ctx)
    expect(r.changes).toEqual([`proxy pointed back at blue (the upstream file ${h.config.proxy.upstreamFile} sends traffic to green)`])
    expect(h.plan()).toEqual(['write', 'reload'])
    expect(h.exec.files.get(h.config.proxy.upstreamFile)).toMatch(new RegExp(`server 127\\.0\\.0\\.1:${h.config.ports.blue};`))
  })
})
