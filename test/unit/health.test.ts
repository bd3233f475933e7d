import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { probe, waitHealthy } from '../../lib/health.ts'

// A local server whose behaviour each test scripts: one answer per request, in order.
let server: Server
let url = ''
let script: (n: number, host?: string) => { status: number; body?: string } | 'hang' | 'close' = () => ({ status: 200 })
let hits = 0

beforeAll(async () => {
  server = createServer((req, res) => {
    const a = script(hits++, req.headers.host)
    if (a === 'hang') return
    if (a === 'close') return req.socket.destroy()
    res.writeHead(a.status).end(a.body ?? 'ok')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health/`
})
afterAll(() => {
  server.closeAllConnections()
  server.close()
})
const use = (s: typeof script) => {
  hits = 0
  script = s
}
const fast = { status: 200, timeoutMs: 300, deadlineMs: 3000, intervalMs: 50, firstDelayMs: 10, passes: 3 }

describe('probe', () => {
  it('passes on the expected status', async () => (use(() => ({ status: 200 })), expect((await probe(url, fast)).ok).toBe(true)))
  it('fails on another status', async () => (use(() => ({ status: 500 })), expect((await probe(url, fast)).error).toBe('status 500, expected 200')))
  it('checks the body', async () => (use(() => ({ status: 200, body: 'db down' })), expect((await probe(url, { ...fast, body: '^ok' })).error).toMatch(/body does not match/)))
  it('sends the Host header (ALLOWED_HOSTS)', async () => {
    use((_, host) => ({ status: host === 'shop.example' ? 200 : 400 }))
    expect((await probe(url, { ...fast, host: 'shop.example' })).ok).toBe(true)
  })
  it('times out a hung server', async () => (use(() => 'hang'), expect((await probe(url, fast)).error).toBe('no answer within 300ms')))
  it('reports a refused connection', async () => expect((await probe('http://127.0.0.1:9/', fast)).error).toBe('connection refused'))
})

describe('waitHealthy', () => {
  it('succeeds once the server comes up', async () => {
    use((n) => (n < 4 ? { status: 503 } : { status: 200 }))
    const r = await waitHealthy(url, fast)
    expect([r.ok, r.tries]).toEqual([true, 7])
  })
  it('needs consecutive passes: a flapping server never passes', async () => {
    use((n) => ({ status: n % 2 ? 500 : 200 }))
    const passes: number[] = []
    const r = await waitHealthy(url, { ...fast, deadlineMs: 800, onTry: (t) => passes.push(t.passes) })
    expect([r.ok, Math.max(...passes)]).toEqual([false, 1])
  })
  it('gives up at the deadline', async () => {
    use(() => 'hang')
    const r = await waitHealthy(url, { ...fast, deadlineMs: 700 })
    expect(r.ok).toBe(false)
    expect(r.last?.reason).toMatch(/^no answer within \d+ms$/)
  })
  it('an extra check can veto a pass', async () => {
    use(() => ({ status: 200 }))
    const r = await waitHealthy(url, { ...fast, deadlineMs: 500, extra: async () => 'docker says starting' })
    expect([r.ok, r.last?.reason]).toEqual([false, 'docker says starting'])
  })
  it('stops when aborted', async () => {
    use(() => ({ status: 500 }))
    const ac = new AbortController()
    setTimeout(() => ac.abort(), 100)
    const r = await waitHealthy(url, { ...fast, deadlineMs: 10_000, signal: ac.signal })
    expect(r.ok).toBe(false)
    expect(r.tries).toBeLessThan(20)
  })
  it('backs off between failures, up to the interval', async () => {
    use(() => ({ status: 500 }))
    const times: number[] = []
    await waitHealthy(url, { ...fast, firstDelayMs: 10, intervalMs: 80, deadlineMs: 600, onTry: (t) => times.push(t.elapsedMs) })
    const gaps = times.slice(1).map((t, i) => t - times[i]!)
    expect(gaps[0]!).toBeLessThan(gaps.at(-1)!)
  })
})
