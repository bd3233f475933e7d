// Kept-alive POSTs for the e2e tests of the proxy (issue 21): what a browser does, which a
// proxy's reload or replacement must not break. bench/keepalive.ts measures it at length.
import { Client } from 'undici'
import { expect } from 'vitest'
import { describeLoad, type LoadStats } from './harness.ts'

/**
 * POSTs at `rps` over `connections` kept-alive connections, used in turn, never retried: a
 * browser's. A POST fails when it gets no answer or a 502-504 (the proxy found no web); the
 * example app answers POST with 501, which counts as answered.
 */
export function keepAlivePosts(url: string, rps: number, connections: number) {
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error(`kept-alive load only targets 127.0.0.1: ${url}`)
  const clients = Array.from({ length: connections }, () => new Client(url, { pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000 }))
  const s = { sent: 0, failed: 0, errors: {} as Record<string, number>, connects: 0 }
  for (const c of clients) c.on('connect', () => s.connects++)
  const inflight = new Set<Promise<void>>()
  let i = 0
  const timer = setInterval(() => {
    const c = clients[i++ % connections]!
    s.sent++
    const p = c
      .request({ path: '/', method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, headersTimeout: 10_000, bodyTimeout: 10_000 })
      .then(async (r) => {
        await r.body.text()
        if (r.statusCode >= 502 && r.statusCode <= 504) {
          s.failed++
          s.errors[String(r.statusCode)] = (s.errors[String(r.statusCode)] ?? 0) + 1
        }
      })
      .catch((e: NodeJS.ErrnoException) => {
        s.failed++
        s.errors[e.code ?? e.name] = (s.errors[e.code ?? e.name] ?? 0) + 1
      })
      .finally(() => inflight.delete(p))
    inflight.add(p)
  }, 1000 / rps)
  return {
    async stop() {
      clearInterval(timer)
      await Promise.all(inflight)
      await Promise.all(clients.map((c) => c.close()))
      return s
    },
  }
}

/**
 * What a proxy's reload guarantees: every request that got an answer got it from a web (no
 * 502-504 for want of an upstream). It does not guarantee an answer to every request: a Caddy
 * 2.6 reload opens new SO_REUSEPORT listeners and closes the old ones, and the kernel resets a
 * connection still queued on a closing one; nginx closes idle kept-alive connections at a
 * reload, and a POST sent on one as it closes fails. Those are connection resets, printed by
 * the tests and counted by bench/proxy-reload.ts (make bench-proxy); never an answer from nowhere.
 */
export function expectOnlyReloadResets(stats: LoadStats, posts: { errors: Record<string, number> }) {
  expect(
    Object.keys(stats.statuses).filter((code) => !code.startsWith('2')),
    describeLoad(stats),
  ).toEqual([])
  for (const e of [...Object.keys(stats.errors), ...Object.keys(posts.errors)]) expect(['ECONNRESET', 'UND_ERR_SOCKET'], describeLoad(stats)).toContain(e)
}
