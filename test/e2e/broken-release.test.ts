// A release that is already broken, and a new release whose workers die as they start.
import { describe, expect, test } from 'vitest'
import { beatPeak, describeLoad, type Stack, useStack, waitFor } from './harness.ts'

let stack: Stack

useStack(import.meta.url, (s) => (stack = s))

describe.sequential('broken releases', () => {
  test('new workers that crash-loop after their start: the deploy is not "live", it rolls back', async () => {
    const load = stack.load({ rps: 15 })
    const beats = stack.sampleBeats()
    const r = await stack.run('deploy', [], { APP_FAULT: 'worker-exit' })
    const stats = await load.stop()
    const peak = beatPeak(await beats.stop())
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toMatch(/the new green workers do not stay up: \S+-green-worker-1 (is restarting|is exited|restarted)/)
    expect(r.stderr).toMatch(/rolled back; blue serves as before/)
    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(peak.max).toBeLessThanOrEqual(1)
    expect(await stack.servingColor()).toBe('blue')
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
    expect((await stack.containers('green')).filter((c) => c.state === 'running' || c.state === 'restarting')).toEqual([])
  })

  test('a live color whose worker crash-loops: the deploy of the fix stops it and goes live', async () => {
    // The broken release goes live when nobody checks its workers.
    const broken = await stack.run('deploy', [], { APP_FAULT: 'worker-exit', CALMSWAP_STAY_UP: '0' })
    expect(broken.code, broken.stderr).toBe(0)
    await waitFor('the live worker to crash-loop', async () => (await stack.states('green')).worker === 'restarting', 30_000, 200)

    const load = stack.load({ rps: 15 })
    const r = await stack.run('deploy')
    const stats = await load.stop()
    expect(r.code, r.stderr).toBe(0)
    // A restart loop flips between restarting and a moment of running: caught restarting it is
    // stopped at once; caught running it is frozen like any worker and drained after the switch.
    expect(r.stderr).toMatch(/stopped \S+-green-worker-1 \(restarting in a loop: nothing to finish\)|froze \S+-green-worker-1 until they drain/)
    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(await stack.servingColor()).toBe('blue')
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
    expect((await stack.states('green')).worker).toBe('exited')
    // The fix's worker runs what the web enqueues.
    const executed = await stack.counter('executed')
    await stack.get('/')
    await waitFor('the fixed worker to run a task', async () => (await stack.counter('executed')) > executed, 30_000)
  })
})
