// The watch at low traffic, against the pretend host: with no real request at all, its own
// requests through a proxy that logs as nginx does are what it judges; under real traffic
// they stop, and a window ends early once the verdict is certain. The proxy here answers the
// health path 200 and every page with `pages[color]`, as a release whose health check passes
// while its pages fail.
import { appendFileSync, mkdirSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import type { Color } from '../../lib/config.ts'
import { readHistory } from '../../lib/history.ts'
import { BLUE_TO_GREEN, blueLive, type Harness, harness } from './world.ts'

let h: Harness
let proxy: Server | undefined
let writer: NodeJS.Timeout | undefined
afterEach(async () => {
  clearInterval(writer)
  proxy?.closeAllConnections()
  proxy?.close()
  await h?.close()
})

/** A proxy that routes by calmswap's upstream file and logs each request while `$calmswap_log` is 1. */
async function loggingProxy(pages: Record<Color, number>) {
  const seen: string[] = []
  const ports = { blue: 0, green: 0 }
  let config: Harness['config'] | undefined
  let exec: Harness['exec'] | undefined
  proxy = createServer((req, res) => {
    const uri = req.url ?? '/'
    seen.push(uri)
    const text = (config && exec?.files.get(config.proxy.upstreamFile)) ?? ''
    const port = Number(/server 127\.0\.0\.1:(\d+);/.exec(text)?.[1])
    const color = (['blue', 'green'] as const).find((c) => ports[c] === port) ?? 'blue'
    const status = config && uri === config.health.path ? 200 : pages[color]
    if (config && text.includes('$calmswap_log { default "1"; }')) {
      mkdirSync(dirname(config.watch.log), { recursive: true })
      appendFileSync(
        config.watch.log,
        `${JSON.stringify({ msec: Date.now() / 1000, status, upstream_addr: `127.0.0.1:${port}`, upstream_status: String(status), request_uri: uri })}\n`,
      )
    }
    res.writeHead(status, { 'x-calmswap-upstream': `127.0.0.1:${port}` }).end(color)
  })
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    seen,
    attach(x: Harness) {
      config = x.config
      exec = x.exec
      Object.assign(ports, x.config.ports)
    },
  }
}

const env = (url: string, more: Record<string, string> = {}) => ({
  CALMSWAP_PROXY_URL: url,
  CALMSWAP_WATCH_MIN_REQUESTS: '20',
  CALMSWAP_WATCH_PROBE_EVERY: '100ms',
  ...more,
})

describe('the watch at no real traffic', { timeout: 20_000 }, () => {
  it('a release whose pages all answer 500 while its health passes is rolled back on its own requests', async () => {
    const p = await loggingProxy({ blue: 200, green: 500 })
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: env(p.url, { CALMSWAP_WATCH: '1m' }) })
    p.attach(h)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back; blue serves as before/)
    const [entry] = readHistory(h.config.stateDir)
    expect(entry).toMatchObject({ result: 'rolled-back', watch: [{ phase: 'watch', verdict: 'bad' }] })
    expect(entry!.error).toMatch(/the watch rolls green back: 20 of 20 of the watch's own requests \(100%\) answered 5xx/)
    // Not one of them counted as real traffic.
    expect(entry!.watch![0]!.counts.green.requests).toBe(0)
    expect(entry!.watch![0]!.probes!.green).toMatchObject({ requests: 20, errors: 20 })
  })

  it('a good release is judged on its own requests, not kept as too-few-requests; never the health path', async () => {
    const p = await loggingProxy({ blue: 200, green: 200 })
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: env(p.url, { CALMSWAP_WATCH: '3s', CALMSWAP_WATCH_PROBE: '/, /shop/?page=2' }) })
    p.attach(h)
    await deploy(h.ctx)
    expect(h.plan()).toEqual([...BLUE_TO_GREEN, 'write', 'reload'])
    const w = readHistory(h.config.stateDir)[0]!.watch![0]!
    expect(w).toMatchObject({ verdict: 'ok', counts: { green: { requests: 0 } } })
    expect(w.probes!.green.requests).toBeGreaterThanOrEqual(20)
    expect(w.probes!.green.errors).toBe(0)
    const probes = p.seen.filter((u) => u.includes('calmswap-probe='))
    expect(new Set(probes.map((u) => u.replace(/[?&]calmswap-probe=[0-9a-f]+$/, '')))).toEqual(new Set(['/', '/shop/?page=2']))
    // Only calmswap's own check after the switch asks the health path.
    expect(p.seen.filter((u) => u.startsWith(h.config.health.path)).every((u) => u === h.config.health.path)).toBe(true)
  })

  it('CALMSWAP_WATCH_PROBE empty: no requests of its own, kept as too-few-requests as before', async () => {
    const p = await loggingProxy({ blue: 200, green: 500 })
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: env(p.url, { CALMSWAP_WATCH: '1500ms', CALMSWAP_WATCH_PROBE: '' }) })
    p.attach(h)
    await deploy(h.ctx)
    expect(readHistory(h.config.stateDir)[0]!.watch![0]).toMatchObject({ verdict: 'too-few-requests' })
    expect(p.seen.some((u) => u.includes('calmswap-probe='))).toBe(false)
  })
})

describe('under real traffic', { timeout: 20_000 }, () => {
  it('the probes stop once real traffic can be judged, and the window ends early once the verdict is certain', async () => {
    const p = await loggingProxy({ blue: 200, green: 200 })
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: env(p.url, { CALMSWAP_WATCH: '6s' }) })
    p.attach(h)
    // 100 clean requests a second to green from the switch on, as nginx logs them.
    const file = h.config.watch.log
    writer = setInterval(() => {
      if (!h.exec.files.get(h.config.proxy.upstreamFile)?.includes('$calmswap_log { default "1"; }')) return
      const line = JSON.stringify({ msec: Date.now() / 1000, status: 200, upstream_addr: `127.0.0.1:${h.config.ports.green}`, upstream_status: '200', request_uri: '/shop/' })
      mkdirSync(dirname(file), { recursive: true })
      appendFileSync(file, `${Array(10).fill(line).join('\n')}\n`)
    }, 100)
    await deploy(h.ctx)
    const w = readHistory(h.config.stateDir)[0]!.watch![0]!
    expect(w).toMatchObject({ verdict: 'ok', reason: expect.stringMatching(/^ended early, .* into its window: 99% sure green's 5xx share is under the line$/) })
    expect(w.windowMs).toBeLessThan(6000)
    expect(w.counts.green.requests).toBeGreaterThanOrEqual(127)
    // Probes until the log's first read showed enough real requests (the log is read once a
    // second: ten at most at this pace), not one every 100 ms for the whole watch.
    expect(w.probes!.green.requests).toBeLessThanOrEqual(12)
  })

  it('a share near the limit keeps the window open to its end', async () => {
    const p = await loggingProxy({ blue: 200, green: 200 })
    h = await harness({ state: { live: 'blue' }, setup: blueLive, env: env(p.url, { CALMSWAP_WATCH: '2s', CALMSWAP_WATCH_PROBE: '' }) })
    p.attach(h)
    const file = h.config.watch.log
    let i = 0
    writer = setInterval(() => {
      if (!h.exec.files.get(h.config.proxy.upstreamFile)?.includes('$calmswap_log { default "1"; }')) return
      // 1 in 25 answers 500: under the 5% limit, but 200 requests cannot make that certain.
      const lines = Array.from({ length: 10 }, () => {
        const status = i++ % 25 === 0 ? 500 : 200
        return JSON.stringify({ msec: Date.now() / 1000, status, upstream_addr: `127.0.0.1:${h.config.ports.green}`, upstream_status: String(status), request_uri: '/shop/' })
      })
      mkdirSync(dirname(file), { recursive: true })
      appendFileSync(file, `${lines.join('\n')}\n`)
    }, 100)
    await deploy(h.ctx)
    const w = readHistory(h.config.stateDir)[0]!.watch![0]!
    expect(w.verdict).toBe('ok')
    expect(w.reason).toBeUndefined()
  })
})
