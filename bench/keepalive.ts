// make bench-keepalive: POSTs on kept-alive connections across switches. Browsers and load
// balancers keep connections open; nginx's graceful reload closes the idle ones, and a
// request sent on one as it closes fails, which no client retries for a POST. Persistent
// connections (undici Clients, keep-alive, no retries) send POSTs through the proxy while
// the example stack is deployed and rolled back, and every failure is counted by phase.
//
// On loopback a closing connection's FIN reaches the client at once, and the race has no time
// to happen; `--rtt` puts a relay in between that delays every byte and every close by half
// of it each way, as a real network does.
//
//   node --import tsx bench/keepalive.ts [--cycles 5] [--rps 40] [--connections 16] [--rtt 50] [--switch reload|flag] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Client } from 'undici'
import { isMain } from '../lib/main.ts'
import { ROOT, Stack } from '../test/e2e/stack.ts'
import { ensureDockerLock } from './lock.ts'

const USAGE = `make bench-keepalive [ARGS="--cycles 5 --rps 40 --connections 16 --out DIR"]

  --cycles N        deploy + rollback pairs (each deploy: the switch and the end of its watch; each rollback: one switch)
  --rps N           POSTs per second, spread over the connections
  --connections N   kept-alive connections to the proxy
  --switch MODE     CALMSWAP_NGINX_SWITCH of the stack: reload (default) or flag
  --rtt MS          round trip between the clients and the proxy, through a delaying relay (default 0: direct)
  --out DIR         where results.json goes (default bench/out/keepalive)

Holds /tmp/calmswap-docker.lock. Loopback ports from E2E_PORTS (default 19000-19999).`

const t0 = Date.now()

/**
 * A TCP relay on loopback that holds every chunk, every end and every reset for `oneWayMs`
 * in each direction: a network with a round trip of twice that.
 */
export async function delayingRelay(target: number, oneWayMs: number): Promise<{ url: string; close(): void }> {
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (d) => setTimeout(() => to.writable && to.write(d), oneWayMs))
    from.on('end', () => setTimeout(() => to.end(), oneWayMs))
    from.on('error', () => setTimeout(() => to.resetAndDestroy(), oneWayMs))
  }
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ port: target, host: '127.0.0.1', allowHalfOpen: true })
    forward(client, upstream)
    forward(upstream, client)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() }
}
const log = (m: string) => process.stderr.write(`[bench-keepalive ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${m}\n`)

export interface KeepAliveStats {
  sent: number
  ok: number
  /** Answers other than 2xx, by status. */
  statuses: Record<string, number>
  /** No answer at all, by error code: what a client that does not retry a POST shows its user. */
  errors: Record<string, number>
  /** New connections the pool had to open: each one after the first `connections` replaced one the proxy closed. */
  connects: number
  samples: string[]
}

/** POSTs at `rps` over `connections` kept-alive connections, in turn, no retries; stop() waits for those in flight. */
export function keepAlivePosts(url: string, o: { rps: number; connections: number; timeoutMs?: number }) {
  if (!/^http:\/\/127\.0\.0\.1:\d+$/.test(url)) throw new Error(`keep-alive load only targets 127.0.0.1: ${url}`)
  const timeoutMs = o.timeoutMs ?? 10_000
  // One client per connection, used in turn, so every connection carries requests and sits idle
  // between them, as a browser's does (a pool would keep most of its connections unused). Kept
  // alive far longer than any switch takes: the client never closes a connection first.
  const clients = Array.from(
    { length: o.connections },
    () => new Client(url, { pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000, connect: { timeout: timeoutMs } }),
  )
  const s: KeepAliveStats = { sent: 0, ok: 0, statuses: {}, errors: {}, connects: 0, samples: [] }
  for (const c of clients) c.on('connect', () => s.connects++)
  const at0 = Date.now()
  const inflight = new Set<Promise<void>>()
  const one = async () => {
    const client = clients[s.sent++ % clients.length]!
    try {
      const res = await client.request({
        method: 'POST',
        path: '/',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'calmswap-bench-keepalive' },
        body: 'note=kept-alive',
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      })
      await res.body.text()
      if (res.statusCode >= 200 && res.statusCode < 300) s.ok++
      else s.statuses[res.statusCode] = (s.statuses[res.statusCode] ?? 0) + 1
    } catch (e) {
      const err = e as Error & { code?: string; cause?: { code?: string } }
      const code = err.cause?.code ?? err.code ?? err.name
      s.errors[code] = (s.errors[code] ?? 0) + 1
      if (s.samples.length < 10) s.samples.push(`+${Date.now() - at0}ms ${code}: ${err.message}`)
    }
  }
  const timer = setInterval(() => {
    const p = one().finally(() => inflight.delete(p))
    inflight.add(p)
  }, 1000 / o.rps)
  return {
    stats: s,
    /** The failures so far (answered or not), for a phase's count. */
    failed: () => [...Object.values(s.statuses), ...Object.values(s.errors)].reduce((a, b) => a + b, 0),
    async stop(): Promise<KeepAliveStats> {
      clearInterval(timer)
      await Promise.all([...inflight])
      await Promise.all(clients.map((c) => c.close()))
      return s
    },
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      cycles: { type: 'string' },
      rps: { type: 'string' },
      connections: { type: 'string' },
      rtt: { type: 'string' },
      switch: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const cycles = Number(values.cycles ?? 5)
  const rps = Number(values.rps ?? 40)
  const connections = Number(values.connections ?? 16)
  const rtt = Number(values.rtt ?? 0)
  const nginxSwitch = values.switch ?? 'reload'
  const out = resolve(ROOT, values.out ?? 'bench/out/keepalive')
  await ensureDockerLock(log)
  mkdirSync(out, { recursive: true })
  const stack = await Stack.create('keepalive-bench', { env: () => ({ CALMSWAP_RELEASE: 'e2e-keepalive', CALMSWAP_NGINX_SWITCH: nginxSwitch }) })
  const rows: { op: string; code: number; sent: number; failed: number; connects: number }[] = []
  let total: KeepAliveStats | undefined
  let relay: Awaited<ReturnType<typeof delayingRelay>> | null = null
  try {
    await stack.bootstrap()
    relay = rtt > 0 ? await delayingRelay(Number(new URL(stack.proxyUrl).port), rtt / 2) : null
    log(`stack ${stack.prefix} up; ${rps} POST/s over ${connections} kept-alive connections${relay ? `, ${rtt} ms round trip` : ''}`)
    const load = keepAlivePosts(relay?.url ?? stack.proxyUrl, { rps, connections })
    await new Promise((r) => setTimeout(r, 3000))
    for (let i = 0; i < cycles; i++) {
      for (const [op, args, env] of [
        ['deploy', ['--json'], { CALMSWAP_WATCH: '5s' }],
        ['rollback', ['--json'], {}],
      ] as const) {
        const before = { sent: load.stats.sent, failed: load.failed(), connects: load.stats.connects }
        const r = await stack.run(op, [...args], env)
        // Requests sent during the operation, and the ones still in flight a second later.
        await new Promise((res) => setTimeout(res, 1000))
        rows.push({ op, code: r.code ?? -1, sent: load.stats.sent - before.sent, failed: load.failed() - before.failed, connects: load.stats.connects - before.connects })
        log(
          `${op} ${i + 1}/${cycles}: exit ${r.code}; ${rows.at(-1)!.failed} of ${rows.at(-1)!.sent} POSTs failed, ${rows.at(-1)!.connects} connections reopened${r.code ? `\n${r.stderr.slice(-600)}` : ''}`,
        )
      }
    }
    total = await load.stop()
    log(
      `total: ${total.sent - total.ok} of ${total.sent} POSTs failed ${JSON.stringify({ statuses: total.statuses, errors: total.errors })}; ${total.connects} connections opened${total.samples.length ? `\n  ${total.samples.join('\n  ')}` : ''}`,
    )
  } finally {
    relay?.close()
    await stack.teardown()
  }
  writeFileSync(join(out, 'results.json'), `${JSON.stringify({ at: new Date().toISOString(), rps, connections, rttMs: rtt, nginxSwitch, cycles, rows, total }, null, 2)}\n`)
  return total && total.sent === total.ok ? 0 : 1
}

if (isMain(import.meta.url)) {
  main().then(
    (code) => (process.exitCode = code),
    (e) => {
      process.stderr.write(`${(e as Error).stack}\n`)
      process.exitCode = 1
    },
  )
}
