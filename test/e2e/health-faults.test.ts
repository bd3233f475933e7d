// Releases whose web is broken (APP_FAULT) must never take the traffic: the deploy fails
// with exit 1, rolls back on its own, and blue serves on as if nothing happened.
import { describe, expect, test } from 'vitest'
import { beatPeak, describeLoad, events, type LoadStats, type RunResult, type Stack, stepResults, useStack } from './harness.ts'

let stack: Stack

useStack(import.meta.url, (s) => (stack = s))

/** A deploy to green with `env`, under 20 req/s of load and with the beat sampler on. */
async function brokenDeploy(env: Record<string, string>): Promise<{ r: RunResult; stats: LoadStats }> {
  expect(stack.state()).toMatchObject({ live: 'blue', journal: null })
  const load = stack.load({ rps: 20 })
  const sampler = stack.sampleBeats()
  const r = await stack.run('deploy', ['--json'], env)
  const samples = await sampler.stop()
  const stats = await load.stop()
  const { doubled } = beatPeak(samples)
  expect(doubled, 'two beats ran at once').toEqual([])
  return { r, stats }
}

/** What every failed deploy must leave: blue serves with its workers, green is stopped. */
async function expectRolledBackToBlue(r: RunResult, stats: LoadStats) {
  expect(r.code, r.stderr).toBe(1)
  expect(r.stderr).toMatch(/deploy of e2e to green failed and was rolled back; blue serves as before/)
  expect(events(r).find((e) => e.type === 'op-end')).toMatchObject({ op: 'deploy', result: 'rolled-back' })
  expect(stats.failed, describeLoad(stats)).toBe(0)
  expect(stats.ok).toBeGreaterThan(0)

  expect(await stack.servingColor()).toBe('blue')
  expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
  const green = await stack.containers('green')
  expect(
    green.filter((c) => c.state === 'running' || c.state === 'paused'),
    'green is stopped',
  ).toEqual([])
  expect(stack.state()).toMatchObject({ live: 'blue', previous: 'green', journal: null, upstream: { color: 'blue', backup: null } })
  expect(await stack.runningBeats()).toEqual([stack.project('blue')])
}

describe.sequential('health faults', () => {
  test('a release whose health check answers 500 is rolled back and blue keeps serving', async () => {
    const { r, stats } = await brokenDeploy({ APP_FAULT: 'health500', CALMSWAP_HEALTH_DEADLINE: '6s' })
    await expectRolledBackToBlue(r, stats)
    expect(stepResults(r)).toMatchObject({ 'up-core': true, health: false })
    expect(stepResults(r)).not.toHaveProperty('switch')
    expect(r.stderr).toMatch(/status 500, expected 200/)
    // Nothing of green ever got traffic.
    expect(Object.keys(stats.colors)).toEqual(['blue'])
  })

  test('a release whose health check hangs fails on the per-try timeout and is rolled back', async () => {
    const { r, stats } = await brokenDeploy({ APP_FAULT: 'hang', CALMSWAP_HEALTH_TIMEOUT: '1s', CALMSWAP_HEALTH_DEADLINE: '6s' })
    await expectRolledBackToBlue(r, stats)
    expect(stepResults(r)).toMatchObject({ health: false })
    expect(r.stderr).toMatch(/no answer within \d+ms/)
    expect(Object.keys(stats.colors)).toEqual(['blue'])
  })

  test('a release whose web exits at once fails fast on the exited (or restarting) container, not the deadline', async () => {
    // A long deadline: only the exited-container watch can end the wait early.
    const { r, stats } = await brokenDeploy({ APP_FAULT: 'refuse', CALMSWAP_HEALTH_DEADLINE: '120s' })
    await expectRolledBackToBlue(r, stats)
    expect(stepResults(r)).toMatchObject({ health: false })
    // With a restart policy the container is caught exited or between two restarts.
    expect(r.stderr).toMatch(new RegExp(`${stack.container('green', 'web')} (exited: Exited|is in a restart loop: Restarting) \\(1\\)`))
    // The rollback shows why: the last log lines of the failed web.
    expect(r.stderr).toMatch(/APP_FAULT=refuse: exiting before listening/)
    expect(Object.keys(stats.colors)).toEqual(['blue'])
  })

  test('a release whose health check flaps never gets consecutive passes and is rolled back', async () => {
    const { r, stats } = await brokenDeploy({ APP_FAULT: 'flap', CALMSWAP_HEALTH_DEADLINE: '6s' })
    await expectRolledBackToBlue(r, stats)
    expect(stepResults(r)).toMatchObject({ health: false })
    // It did pass now and then: it is the consecutive-passes rule that refused it.
    const tries = events(r).filter((e) => e.type === 'health-try')
    expect(tries.some((t) => t.ok)).toBe(true)
    expect(tries.some((t) => !t.ok)).toBe(true)
    expect(Object.keys(stats.colors)).toEqual(['blue'])
  })

  test('a web that dies right after the switch is caught by the final verify and rolled back', async () => {
    // die:2 exits 2s after the first health check passes: after the switch, before verify ends.
    const { r, stats } = await brokenDeploy({ APP_FAULT: 'die:2' })
    expect(stepResults(r), r.stderr).toMatchObject({ health: true, switch: true, verify: false })
    const ev = events(r)
    const firstPass = Date.parse(ev.find((e) => e.type === 'health-try' && e.ok)!.at)
    const switched = Date.parse(ev.find((e) => e.type === 'step-end' && e.step === 'switch')!.at)
    console.log(`die:2 margins: switch ended ${firstPass + 2000 - switched}ms before the web died`)
    // nginx retried the dead web's requests on blue, the backup: no request failed.
    await expectRolledBackToBlue(r, stats)
    // Green did serve for a moment, so the rollback switched traffic back.
    expect(Object.keys(stats.colors).sort()).toEqual(['blue', 'green'])
    expect(events(r).some((e) => e.type === 'step-start' && e.step === 'switch back to blue')).toBe(true)
    // Its restart policy may have brought it back by then: caught by its restart count, or
    // by the proxy answering from blue.
    expect(r.stderr).toMatch(/green web did not stay up after the switch|the proxy does not serve green/)
    expect((await stack.containers('green')).filter((c) => c.service === 'web' && c.state === 'running')).toEqual([])
  })

  test('after all those failures a good release still deploys', async () => {
    const r = await stack.run('deploy')
    expect(r.code, r.stderr).toBe(0)
    expect(await stack.servingColor()).toBe('green')
    expect(await stack.states('green')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
  })
})
