// Steady traffic through the proxy: an open loop (a request every 1/rate s whether the last
// one answered or not, as real visitors do), a fresh connection each (a keep-alive client
// would count nginx's graceful close on reload as an error a browser silently retries).
// Bounded by count and time: it stops by itself even if nobody calls stop().
import { request } from 'node:http'
import { now } from './samplers.ts'

export interface Sample {
  /** When the request was sent, on the bench clock (ms). */
  readonly t: number
  readonly ms: number
  readonly status: number
  readonly error?: string
  /** Which web answered, from nginx's X-Calmswap-Upstream (the last address tried). */
  readonly upstreamPort?: number
}

export const failed = (s: Sample) => s.error !== undefined || s.status < 200 || s.status > 299

export interface LoadOptions {
  /** 127.0.0.1 unless given: the swarm lab's proxy is at a node's address (10.77.0.1). */
  readonly host?: string
  readonly port: number
  readonly rate: number
  readonly maxSeconds: number
  readonly timeoutMs?: number
  readonly maxInFlight?: number
}

export interface Load {
  readonly samples: Sample[]
  /** Stops sending and waits for requests in flight. */
  stop(): Promise<void>
}

function get(host: string, port: number, timeoutMs: number): Promise<Omit<Sample, 't'>> {
  const t0 = now()
  return new Promise((resolve) => {
    const done = (r: Omit<Sample, 't' | 'ms'>) => resolve({ ...r, ms: now() - t0 })
    const req = request({ host, port, path: '/', agent: false, headers: { connection: 'close', 'user-agent': 'calmswap-bench' }, timeout: timeoutMs }, (res) => {
      res.resume()
      res.on('end', () => {
        const port = Number(
          String(res.headers['x-calmswap-upstream'] ?? '')
            .split(',')
            .at(-1)
            ?.trim()
            .split(':')
            .at(-1),
        )
        done({ status: res.statusCode ?? 0, upstreamPort: Number.isFinite(port) && port > 0 ? port : undefined })
      })
      res.on('error', (e) => done({ status: res.statusCode ?? 0, error: e.message }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)))
    req.on('error', (e: NodeJS.ErrnoException) => done({ status: 0, error: e.code ?? e.message }))
    req.end()
  })
}

export function startLoad(o: LoadOptions): Load {
  const samples: Sample[] = []
  const period = 1000 / o.rate
  const maxCount = Math.ceil(o.rate * o.maxSeconds)
  const maxInFlight = o.maxInFlight ?? 200
  const inFlight = new Set<Promise<void>>()
  const t0 = now()
  let sent = 0
  let stopped = false
  let timer: NodeJS.Timeout | undefined

  const fire = () => {
    if (stopped) return
    const t = now()
    if (sent >= maxCount || t - t0 > o.maxSeconds * 1000) return void (stopped = true)
    sent++
    if (inFlight.size >= maxInFlight) {
      samples.push({ t, ms: 0, status: 0, error: 'client: too many requests in flight' })
    } else {
      const p = get(o.host ?? '127.0.0.1', o.port, o.timeoutMs ?? 10_000).then((r) => void samples.push({ t, ...r }))
      inFlight.add(p)
      void p.finally(() => inFlight.delete(p))
    }
    // Scheduled against the start time, so timer drift does not lower the rate.
    timer = setTimeout(fire, Math.max(0, t0 + sent * period - now()))
  }
  fire()

  return {
    samples,
    async stop() {
      stopped = true
      clearTimeout(timer)
      await Promise.all([...inFlight])
      samples.sort((a, b) => a.t - b.t)
    },
  }
}
