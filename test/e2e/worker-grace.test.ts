// A worker busy beyond CALMSWAP_STOP_GRACE is killed, and the deploy goes on; with
// acks_late the task it held is not lost: the broker hands it out again once the
// visibility timeout has passed, and the new color's worker runs it.
import { describe, expect, test } from 'vitest'
import { docker, type Stack, useStack, waitFor } from './harness.ts'

let stack: Stack

useStack(import.meta.url, (s) => (stack = s))

describe.sequential('worker grace', () => {
  test('a worker killed after its stop grace loses no task: the new worker runs it after the visibility timeout', async () => {
    const executed = await stack.counter('executed')
    // 20 s of CPU: far beyond a 2 s grace.
    const q = await docker(['exec', stack.container('blue', 'worker'), 'python3', '-c', 'from tasks import burn; burn.delay(20000)'])
    expect(q.code, q.stderr).toBe(0)
    // The blue worker took it: kombu keeps a delivered, unacknowledged message in "unacked".
    await waitFor('the burn task to be reserved by the blue worker', async () => Number(await stack.redis('HLEN', 'unacked')) >= 1, 20_000)

    // No warm-up: its GETs of / would enqueue tasks that the executed counter below would count.
    const r = await stack.run('deploy', [], { CALMSWAP_STOP_GRACE: '2s', VISIBILITY_TIMEOUT: '10', CALMSWAP_WARMUP: '' })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(new RegExp(`${stack.container('blue', 'worker')} was still running \\d+s after its SIGTERM \\(CALMSWAP_STOP_GRACE=2s\\) and was killed`))
    const blueWorker = (await stack.containers('blue')).find((c) => c.service === 'worker')!
    expect(blueWorker.status).toMatch(/Exited \(137\)/)
    // /health/ enqueues nothing, so the executed counter below counts the burn task alone.
    expect(await stack.servingColor(5, '/health/')).toBe('green')

    // Not lost: it comes back and green's worker finishes it. kombu 5.2.4 (the base image's)
    // looks for expired messages about 10 s after a consumer starts and then only every
    // ~100 s; with VISIBILITY_TIMEOUT=10 the first look already finds it. 180 s covers both.
    const t0 = Date.now()
    await waitFor('the killed burn task to be executed again', async () => (await stack.counter('executed')) >= executed + 1, 180_000, 1_000)
    console.log(`worker-grace: the killed task finished ${Math.round((Date.now() - t0) / 1000)}s after the deploy ended`)
    await waitFor('nothing left unacknowledged', async () => Number(await stack.redis('HLEN', 'unacked')) === 0, 10_000)
    expect(await stack.counter('executed')).toBe(executed + 1)
  })
})
