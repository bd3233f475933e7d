// adopt: a plain project taken over in place. Its databases are never touched; its workers
// are frozen and its beat stopped before blue's web starts; the proxy hands over; only then
// do its workers stop and blue's start. A failure brings the plain project back as it ran.
import { afterEach, describe, expect, it } from 'vitest'
import { adopt } from '../../lib/compose/adopt.ts'
import { composeEngine } from '../../lib/compose/engine.ts'
import { startRest } from '../../lib/compose/workers.ts'
import { SHARED, writeFileAtomic } from '../../lib/files.ts'
import { type Harness, harness, type World } from './world.ts'

const recover = (ctx: Parameters<typeof composeEngine.recover>[0]) => composeEngine.recover(ctx)

let h: Harness
afterEach(() => h?.close())

const env = { CALMSWAP_SHARED_PROJECT: 'myproj' }
/** The plain project: its Redis, its own nginx, its app. */
const plain = (w: World) => {
  for (const s of ['redis', 'nginx', 'web', 'worker', 'beat']) w.set('myproj', s, 'running')
}

describe('adopt', () => {
  it('freezes the plain workers, starts blue, hands the port over, then stops the plain workers and starts blue’s', async () => {
    h = await harness({ setup: plain, env })
    await adopt(h.ctx, { proxyFrom: 'nginx' })
    const plan = h.plan()
    expect(plan).not.toContain('myproj up redis')
    expect(plan.slice(0, 5)).toEqual(['blue build web worker beat', 'pin blue', 'pause myproj-worker-1', 'kill SIGTERM myproj-beat-1', 'blue up web'])
    const at = (p: string) => plan.indexOf(p)
    expect(at('kill SIGQUIT myproj-nginx-1')).toBeGreaterThan(at('myproj create proxy'))
    expect(at('start myproj-proxy-1')).toBeGreaterThan(at('kill SIGQUIT myproj-nginx-1'))
    expect(at('unpause myproj-worker-1')).toBeGreaterThan(at('start myproj-proxy-1'))
    expect(at('kill SIGTERM myproj-worker-1')).toBeLessThan(at('start app-blue-worker-1'))
    expect(plan.at(-1)).toBe('stop myproj-web-1')
    expect(h.world.state('myproj', 'nginx')).toBe('exited')
    expect(h.world.state('myproj', 'redis')).toBe('running')
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', journal: null, upstream: { color: 'blue', port: h.config.ports.blue, backup: null } })
  })

  it('a blue web that fails its check: the plain project runs on, as it did', async () => {
    h = await harness({ setup: plain, env })
    h.world.webStatus.blue = 500
    await expect(adopt(h.ctx, { proxyFrom: 'nginx' })).rejects.toThrow(/failed and was undone: its own app serves as before/)
    expect(['web', 'worker', 'beat', 'nginx'].map((s) => h.world.state('myproj', s))).toEqual(['running', 'running', 'running', 'running'])
    expect(h.world.state('app-blue', 'web')).toBe('exited')
    expect(h.ctx.state.load()).toMatchObject({ live: null, journal: null })
  })

  it('a failure after the hand-over: the plain nginx takes the port back', async () => {
    h = await harness({ setup: plain, env })
    h.world.failOn = (a) => (a[1] === 'start' && a.includes('app-blue-worker-1') ? 1 : undefined)
    await expect(adopt(h.ctx, { proxyFrom: 'nginx' })).rejects.toThrow(/undone/)
    expect([h.world.state('myproj', 'proxy'), h.world.state('myproj', 'nginx')]).toEqual(['exited', 'running'])
    expect(['worker', 'beat'].map((s) => h.world.state('myproj', s))).toEqual(['running', 'running'])
    expect(h.world.state('app-blue', 'beat')).toBe('exited')
  })

  describe('a plain nginx named `proxy` that reads the upstream file (no --proxy-from)', () => {
    /** Its own upstream file, naming the plain web's port. */
    const PLAIN_UPSTREAM = 'upstream app_web {\n  server 127.0.0.1:18080;\n}\n'
    const plainProxy = (w: World) => {
      for (const s of ['redis', 'proxy', 'web', 'worker', 'beat']) w.set('myproj', s, 'running')
    }
    const lastUpstream = () =>
      h.exec.events
        .filter((e) => 'write' in e && e.write === h.config.proxy.upstreamFile)
        .map((e) => ('write' in e ? e.content : ''))
        .at(-1)

    it('a failure after the hand-over gives the proxy its upstream file back: the plain app really serves', async () => {
      h = await harness({ setup: (w, c) => (plainProxy(w), writeFileAtomic(c.proxy.upstreamFile, PLAIN_UPSTREAM, SHARED)), env })
      h.world.failOn = (a) => (a[1] === 'start' && a.includes('app-blue-worker-1') ? 1 : undefined)
      await expect(adopt(h.ctx)).rejects.toThrow(/failed and was undone: its own app serves as before/)
      expect(lastUpstream()).toBe(PLAIN_UPSTREAM)
      const plan = h.plan()
      expect(plan.lastIndexOf('reload')).toBeGreaterThan(plan.lastIndexOf('write'))
      expect(['proxy', 'web', 'worker', 'beat'].map((s) => h.world.state('myproj', s))).toEqual(['running', 'running', 'running', 'running'])
      expect(h.world.state('app-blue', 'web')).toBe('exited')
      expect(h.ctx.state.load()).toMatchObject({ live: null, journal: null, upstream: null })
    })

    it('recover of an adoption cut inside its proxy step gives the file back too', async () => {
      const journal = {
        op: 'adopt',
        from: null,
        to: 'blue',
        release: 'r2',
        startedAt: 'then',
        pid: 1,
        proxyFrom: 'proxy',
        done: ['build', 'jobs', 'pause-workers', 'up-core', 'health'],
        current: 'proxy',
        upstreamBefore: PLAIN_UPSTREAM,
      } as const
      h = await harness({
        setup: (w, c) => {
          plainProxy(w)
          w.set('myproj', 'worker', 'paused')
          w.set('myproj', 'beat', 'exited')
          w.set('app-blue', 'web', 'running')
          // The hand-over had written blue's upstream when the power went.
          writeFileAtomic(c.proxy.upstreamFile, `upstream app_web {\n  server 127.0.0.1:${c.ports.blue};\n}\n`, SHARED)
        },
        env,
        state: { journal },
      })
      expect((await recover(h.ctx)).action).toBe('undid the adoption')
      expect(lastUpstream()).toBe(PLAIN_UPSTREAM)
      expect(h.plan().slice(0, 2)).toEqual(['write', 'reload'])
    })

    it('with no upstream file before it to give back, the failure says nothing serves instead of "as before"', async () => {
      h = await harness({ setup: plainProxy, env })
      h.world.failOn = (a) => (a[1] === 'start' && a.includes('app-blue-worker-1') ? 1 : undefined)
      const e = await adopt(h.ctx).catch((x: Error) => x)
      expect(String(e)).toMatch(/undone, but the proxy \("proxy", recreated with calmswap's definition\) had no upstream file before the adoption/)
      expect(String(e)).not.toMatch(/serves as before/)
    })
  })

  it('an adoption cut short before the hand-over is undone by recover, with the proxy it named', async () => {
    const journal = { op: 'adopt', from: null, to: 'blue', release: 'r2', startedAt: 'then', pid: 1, done: ['build', 'jobs', 'pause-workers'], proxyFrom: 'nginx' } as const
    h = await harness({ setup: (w) => (plain(w), w.set('myproj', 'worker', 'paused'), w.set('myproj', 'beat', 'exited')), env, state: { journal } })
    expect((await recover(h.ctx)).action).toBe('undid the adoption')
    expect(['worker', 'beat', 'nginx'].map((s) => h.world.state('myproj', s))).toEqual(['running', 'running', 'running'])
  })

  it('refuses without CALMSWAP_SHARED_PROJECT, and when nothing runs to adopt', async () => {
    h = await harness({ setup: plain })
    await expect(adopt(h.ctx)).rejects.toThrow(/set CALMSWAP_SHARED_PROJECT/)
    await h.close()
    h = await harness({ env })
    await expect(adopt(h.ctx)).rejects.toThrow(/runs no web: nothing to adopt/)
    expect(h.plan()).toEqual([])
  })
})

describe('a step script run on its own', () => {
  it('up-rest with no journal tells the other color’s workers to stop before it waits for them', async () => {
    h = await harness({
      state: { live: 'green' },
      setup: (w) => {
        for (const s of ['web', 'worker', 'beat']) w.set('app-blue', s, 'running')
        w.set('app-green', 'web', 'running')
      },
    })
    await startRest(h.ctx, 'green')
    const plan = h.plan()
    // Beat and the worker each in their own lane: each is told, then waited for, then replaced.
    for (const s of ['beat', 'worker']) {
      expect(plan.indexOf(`kill SIGTERM app-blue-${s}-1`)).toBeGreaterThanOrEqual(0)
      expect(plan.indexOf(`kill SIGTERM app-blue-${s}-1`)).toBeLessThan(plan.indexOf(`docker wait id-app-blue-${s}-1`))
      expect(plan.indexOf(`docker wait id-app-blue-${s}-1`)).toBeLessThan(plan.indexOf(`green up ${s}`))
    }
  })
})
