// Issue 13, the canary: nginx weights send a share of the requests to the new web, step by
// step, each judged like the watch. A bad release costs about the canary's share of the
// requests during its step; a good one is promoted, with one set of workers all along:
// the old color's run every task either web enqueues until the promotion, none lost.
import { request } from 'undici'
import { describe, expect, test } from 'vitest'
import { beatPeak, describeLoad, events, type RunResult, type Stack, sleep, stepResults, useStack, waitFor } from './harness.ts'

let stack: Stack

// Its own image tag: the other e2e files build `e2e` from the same compose file.
useStack(import.meta.url, (s) => (stack = s), { stack: { env: () => ({ CALMSWAP_RELEASE: 'e2e-watch' }) } })

const at = (r: RunResult, type: string, step: string) => Date.parse(events(r).find((e) => e.type === type && e.step === step)?.at ?? '')

/** The color that answers a GET through the proxy carrying cookie `sid`. */
async function colorFor(sid: string): Promise<string> {
  const res = await request(`${stack.proxyUrl}/health/`, { headers: { connection: 'close', cookie: `sid=${sid}` } })
  await res.body.text()
  return String(res.headers['x-deploy-color'])
}

/** Waits until every task is run (the queue and the unacknowledged set are empty); returns the counters. */
async function drained(): Promise<Record<string, number>> {
  await waitFor(
    'the queue to drain',
    async () =>
      Number(await stack.redis('LLEN', 'celery')) === 0 &&
      Number(await stack.redis('HLEN', 'unacked')) === 0 &&
      (await stack.counter('executed')) >= (await stack.counter('enqueued')),
    60_000,
    500,
  )
  const keys = ['enqueued', 'executed', 'enqueued:blue', 'enqueued:green', 'ran:blue:blue', 'ran:blue:green', 'ran:green:blue', 'ran:green:green']
  return Object.fromEntries(await Promise.all(keys.map(async (k) => [k, Number((await stack.redis('GET', `calmswap:${k}`)) || 0)])))
}

const minus = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.keys(a).map((k) => [k, a[k]! - (b[k] ?? 0)]))

describe.sequential('canary', () => {
  test('a bad release at 10% costs about 10% of the requests during its step, and is rolled back', async () => {
    const load = stack.load({ rps: 20 })
    const sampler = stack.sampleBeats()
    const r = await stack.run('deploy', ['--json'], {
      APP_FAULT: 'fail:100',
      CALMSWAP_WARMUP: '',
      CALMSWAP_CANARY: '10%',
      CALMSWAP_CANARY_HOLD: '60s',
      CALMSWAP_WATCH_MIN_REQUESTS: '10',
    })
    const { doubled } = beatPeak(await sampler.stop())
    const stats = await load.stop()
    expect(doubled, 'two beats ran at once').toEqual([])
    expect(r.code, r.stderr).toBe(1)
    expect(stepResults(r)).toMatchObject({ health: true, canary: false, 'rollback to blue': true })
    expect(stepResults(r)).not.toHaveProperty('switch')
    expect(r.stderr).toMatch(/the canary at 10% rolls green back: \d+ of \d+ requests \(100%\) answered 5xx/)
    expect(await stack.servingColor()).toBe('blue')
    expect(await stack.states('blue')).toEqual({ web: 'running', worker: 'running', beat: 'running' })
    // Green's workers were created for the promotion, never started.
    expect((await stack.containers('green')).filter((c) => c.state === 'running')).toEqual([])
    expect(stats.errors, describeLoad(stats)).toEqual({})

    const step = stats.log.filter((x) => x.t >= at(r, 'step-start', 'canary') && x.t <= at(r, 'step-end', 'rollback to blue'))
    const failedInStep = step.filter((x) => x.status >= 500).length
    const share = failedInStep / step.length
    console.log(
      `fail:100 at a 10% canary: ${stats.failed} failed of ${stats.sent} requests during the deploy; ${failedInStep} of the ${step.length} sent during the canary step and its rollback (${(100 * share).toFixed(1)}%), over ${at(r, 'step-end', 'rollback to blue') - at(r, 'step-start', 'canary')} ms`,
    )
    expect(stats.failed).toBe(failedInStep)
    expect(failedInStep).toBeGreaterThan(0)
    expect(share).toBeLessThan(0.2)
  })

  test('a good release goes 10%, 50%, then all: one set of workers runs the tasks of both webs, none lost; clients stick to a color by cookie', async () => {
    const before = await drained()
    const load = stack.load({ rps: 20 })
    const sampler = stack.sampleBeats()
    const bg = stack.spawn('deploy', ['--json'], { CALMSWAP_CANARY: '10%,50%', CALMSWAP_CANARY_HOLD: '12s', CALMSWAP_CANARY_STICKY: 'cookie:sid', CALMSWAP_WATCH: '10s' })
    await bg.waitForStderr(/50% of requests → green/)
    // nginx's old workers, on the 10% upstream without the hash, still take new connections for a moment after the reload.
    await sleep(2000)
    // Sticky: one client stays on its color; many clients spread over both.
    const alice = new Set<string>()
    for (let i = 0; i < 10; i++) alice.add(await colorFor('alice'))
    const crowd = new Set<string>()
    for (let i = 0; i < 16; i++) crowd.add(await colorFor(`client-${i}`))
    const r = await bg.done
    const { doubled, max } = beatPeak(await sampler.stop())
    const stats = await load.stop()
    expect(r.code, r.stderr).toBe(0)
    expect(doubled, 'two beats ran at once').toEqual([])
    expect(max).toBe(1)
    expect(alice.size, 'one client, one color').toBe(1)
    expect([...crowd].sort()).toEqual(['blue', 'green'])
    expect(stats.failed, describeLoad(stats)).toBe(0)
    expect(await stack.servingColor()).toBe('green')
    expect(await stack.states('green')).toEqual({ web: 'running', worker: 'running', beat: 'running' })

    // The shares the load saw in each step.
    const steps = events(r).filter((e) => e.type === 'watch-tick')
    const first = stats.log.filter((x) => x.t >= at(r, 'step-start', 'canary') && x.t < Date.parse(steps.find((e) => e.phase === 'canary 50%')?.at ?? ''))
    const greenShare = first.filter((x) => x.color === 'green').length / first.length
    console.log(`canary 10%: green answered ${(100 * greenShare).toFixed(1)}% of ${first.length} requests during the first step`)
    expect(greenShare).toBeGreaterThan(0.02)
    expect(greenShare).toBeLessThan(0.25)

    // Both webs enqueued; blue's workers ran green's tasks during the canary; none lost.
    const d = minus(await drained(), before)
    console.log(`canary tasks: ${JSON.stringify(d)}`)
    expect(d['enqueued:green']).toBeGreaterThan(0)
    expect(d['enqueued:blue']).toBeGreaterThan(0)
    expect(d['ran:green:blue'], 'tasks of the canary web run by the old workers').toBeGreaterThan(0)
    expect(d.executed).toBe(d.enqueued)
    expect(d['ran:blue:blue']! + d['ran:blue:green']!).toBe(d['enqueued:blue'])
    expect(d['ran:green:blue']! + d['ran:green:green']!).toBe(d['enqueued:green'])
  })
})
