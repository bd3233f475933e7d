// A release that is already broken: the live color's workers in every state Docker reports,
// and new workers that crash-loop after their start.
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { blueLive, type Harness, harness } from './world.ts'

let h: Harness
afterEach(() => h?.close())

describe('the live color is broken', () => {
  it('a worker in a restart loop is stopped, not paused, and the fix deploys', async () => {
    h = await harness({ state: { live: 'blue' }, setup: (w) => (blueLive(w), w.set('app-blue', 'worker', 'restarting')) })
    await deploy(h.ctx)
    expect(h.plan().slice(2, 4)).toEqual(['stop app-blue-worker-1', 'kill SIGTERM app-blue-beat-1'])
    expect(h.plan()).not.toContain('pause app-blue-worker-1')
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', journal: null })
    expect(h.out.join('')).toMatch(/stopped app-blue-worker-1 \(restarting in a loop: nothing to finish\)/)
  })
  it('a beat in a restart loop is stopped too', async () => {
    h = await harness({ state: { live: 'blue' }, setup: (w) => (blueLive(w), w.set('app-blue', 'beat', 'restarting')) })
    await deploy(h.ctx)
    expect(h.plan().slice(2, 4)).toEqual(['stop app-blue-beat-1', 'pause app-blue-worker-1'])
    expect(h.ctx.state.load().live).toBe('green')
  })
  it.each(['exited', 'created'] as const)('a %s worker has nothing to free', async (state) => {
    h = await harness({ state: { live: 'blue' }, setup: (w) => (blueLive(w), w.set('app-blue', 'worker', state)) })
    await deploy(h.ctx)
    expect(h.plan().filter((p) => p.includes('app-blue-worker-1'))).toEqual([])
    expect(h.out.join('')).toMatch(new RegExp(`app-blue-worker-1 already ${state}`))
  })
  it('a worker frozen already is kept frozen while the web boots, then drained and stopped', async () => {
    h = await harness({ state: { live: 'blue' }, setup: (w) => (blueLive(w), w.set('app-blue', 'worker', 'paused')) })
    await deploy(h.ctx)
    const plan = h.plan()
    expect(plan).not.toContain('pause app-blue-worker-1')
    expect(plan.indexOf('unpause app-blue-worker-1')).toBeGreaterThan(plan.indexOf('green up web'))
    expect(plan).toContain('kill SIGTERM app-blue-worker-1')
    expect(h.world.state('app-blue', 'worker')).toBe('exited')
  })
  it('a worker that falls into a restart loop between the look and the pause is stopped', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    let once = true
    h.world.failOn = (a) => {
      if (a[1] === 'pause' && once) {
        once = false
        h.world.set('app-blue', 'worker', 'restarting')
        return 1
      }
      return undefined
    }
    await deploy(h.ctx)
    expect(h.plan().slice(2, 5)).toEqual(['pause app-blue-worker-1', 'stop app-blue-worker-1', 'kill SIGTERM app-blue-beat-1'])
    expect(h.ctx.state.load().live).toBe('green')
  })
})

describe('the new workers crash-loop', () => {
  it('the deploy is not done: it rolls back, and blue serves with its workers', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: { CALMSWAP_STAY_UP: '200ms' } })
    h.world.crashLoop.add('app-green-worker')
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.out.join('')).toMatch(/the new green workers do not stay up: app-green-worker-1 is restarting/)
    expect([h.world.state('app-blue', 'worker'), h.world.state('app-blue', 'beat'), h.world.state('app-green', 'worker')]).toEqual(['running', 'running', 'exited'])
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', journal: null })
  })
  it('workers that stay up pass', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: { CALMSWAP_STAY_UP: '200ms' } })
    await deploy(h.ctx)
    expect(h.ctx.state.load().live).toBe('green')
    expect(h.exec.calls.filter((c) => c.argv[1] === 'inspect' && c.argv[3]!.includes('RestartCount') && c.argv.includes('app-green-worker-1'))).toHaveLength(2)
  })
})

describe('the new web crashes after the switch', () => {
  it('and Docker restarts it: verify sees the restart, the deploy rolls back to blue', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive })
    // Running again, answering health checks, but not the process that passed them.
    h.world.failOn = (a) => void (/nginx -s reload/.test(a.at(-1)!) && h.world.restarts.set('app-green-web-1', 1))
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    expect(h.out.join('')).toMatch(/the new green web did not stay up after the switch: app-green-web-1 restarted 1 time\(s\)/)
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', journal: null })
  })
  it('a web that stays up is asked about twice: as traffic moves to it, and after the workers started', async () => {
    h = await harness({ state: { live: 'blue' }, setup: blueLive })
    await deploy(h.ctx)
    const looks = h.exec.calls.filter((c) => c.argv[1] === 'inspect' && c.argv[3]!.includes('RestartCount') && c.argv.includes('app-green-web-1'))
    expect(looks).toHaveLength(2)
  })
})
