import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { probe, waitHealthy } from '../../lib/probe.ts'

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

describe('hostile answers', () => {
  it('a body regex that backtracks without bound cannot freeze calmswap', async () => {
    use(() => ({ status: 200, body: `${'a'.repeat(40)}!` }))
    const t0 = Date.now()
    const r = await probe(url, { ...fast, timeoutMs: 500, body: '^(a+)+$' })
    expect(Date.now() - t0).toBeLessThan(3_000)
    expect([r.ok, r.fatal]).toEqual([false, true])
    expect(r.error).toMatch(/backtracks without bound; simplify CALMSWAP_HEALTH_BODY/)
  })
  it('and the wait gives up on it at once, not at the deadline', async () => {
    use(() => ({ status: 200, body: `${'a'.repeat(40)}!` }))
    const r = await waitHealthy(url, { ...fast, timeoutMs: 300, deadlineMs: 20_000, body: '^(a+)+$' })
    expect([r.ok, r.tries]).toEqual([false, 1])
  })
  it('a body regex still matches normal bodies', async () => (
    use(() => ({ status: 200, body: '{"ok": true}' })), expect((await probe(url, { ...fast, body: '"ok": true' })).ok).toBe(true)
  ))
})

describe('an endless or huge body is never read whole', () => {
  // A server that streams as long as the client reads, counting what it could send.
  const endless = async (status: number) => {
    let sent = 0
    const s = createServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'text/plain' })
      const chunk = Buffer.alloc(64 * 1024, 'a')
      const pump = () => {
        while (sent < 1024 ** 3 && res.write(chunk)) sent += chunk.length
        if (sent < 1024 ** 3) res.once('drain', pump)
        else res.end()
      }
      res.on('close', () => res.removeAllListeners('drain'))
      pump()
    })
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
    return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/health/`, sent: () => sent, close: () => (s.closeAllConnections(), s.close()) }
  }
  it('a 1 GB health page: a few KB are read for the regex, then the connection is dropped', async () => {
    const e = await endless(200)
    try {
      const r = await probe(e.url, { ...fast, timeoutMs: 2000, body: '^a+$' })
      expect(r.ok).toBe(true)
      await new Promise((res) => setTimeout(res, 200))
      // What the kernel buffers on both ends, not a gigabyte.
      expect(e.sent()).toBeLessThan(16 * 1024 ** 2)
    } finally {
      e.close()
    }
  })
  it('a wrong status: none of the body is read', async () => {
    const e = await endless(500)
    try {
      const r = await probe(e.url, { ...fast, timeoutMs: 2000, body: 'x' })
      expect(r.error).toBe('status 500, expected 200')
      await new Promise((res) => setTimeout(res, 200))
      expect(e.sent()).toBeLessThan(16 * 1024 ** 2)
    } finally {
      e.close()
    }
  })
})
