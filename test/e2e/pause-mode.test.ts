// CALMSWAP_PAUSE_MODE=pause: the old workers are frozen (cgroup freezer), beat is stopped,
// a rollback thaws them, and cleanup thaws them before removing them.
import { describe, expect, test } from 'vitest'
import { describeLoad, type Stack, useStack, waitFor } from './harness.ts'

let stack: Stack
const pause = { CALMSWAP_PAUSE_MODE: 'pause' }

useStack(import.meta.url, (s) => (stack = s))

describe.sequential('pause mode', () => {
  test('deploy freezes the old worker and stops the old beat', async () => {
    const load = stack.load({ rps: 20 })
    const r = await stack.run('deploy', [], pause)
    const stats = await load.stop()
    expect(r.code, r.stderr).toBe(0)
    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'paused', beat: 'exited' })
    expect(await stack.states('green')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
  })

  test('rollback thaws the frozen worker and starts the old beat after the new one stopped', async () => {
    const beats = stack.sampleBeats()
    const r = await stack.run('rollback', [], pause)
    const samples = await beats.stop()
    expect(r.code, r.stderr).toBe(0)
    expect(Math.max(...samples.map((s) => s.beats.length))).toBeLessThanOrEqual(1)
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
    expect(await stack.servingColor()).toBe('blue')
    // The thawed worker works: what the web enqueues gets executed.
    for (let i = 0; i < 3; i++) await stack.get('/')
    await waitFor('the thawed worker to drain the queue', async () => Number(await stack.redis('LLEN', 'celery')) === 0, 60_000)
  })

  test('cleanup thaws frozen workers before it removes their color', async () => {
    // Blue is live again after the rollback, so this deploy goes to green and freezes blue.
    expect((await stack.run('deploy', [], pause)).code).toBe(0)
    expect((await stack.states('blue')).worker).toBe('paused')
    const r = await stack.run('cleanup', ['--yes', '--json'], pause)
    expect(r.code, r.stderr).toBe(0)
    const verbs = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((e) => e.type === 'command' && ['unpause', 'compose'].includes(e.argv[1]))
      .map((e) => (e.argv[1] === 'compose' ? e.argv[e.argv.lastIndexOf('-f') + 2] : `${e.argv[1]} ${e.argv.slice(2).join(' ')}`))
    expect(verbs).toEqual([`unpause ${stack.container('blue', 'worker')}`, 'down'])
    expect(await stack.containers('blue')).toEqual([])
    expect(await stack.servingColor()).toBe('green')
  })
})
