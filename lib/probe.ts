// A retrying HTTP check polled from t=0 with backoff, a per-try timeout, an overall deadline
// and N consecutive passes (no fixed sleep: a web that boots in 2 s switches at 2 s). Plain
// HTTP: it needs no step context, so the proxy switch and the health step both stand on it.
import type { Worker } from 'node:worker_threads'
import type { Config } from './config.ts'
import { sleep } from './deadlines.ts'
import { exchange, type HttpHead } from './http1.ts'

/** What a check reads of a body: enough for any health page, never a whole download. */
const BODY_LIMIT = 4096

/**
 * Matches a regex in a worker thread, which is ended when a match takes longer than its
 * deadline: a pattern that backtracks without bound (`^(a+)+$`) cannot freeze calmswap.
 * One worker serves every match of a wait.
 */
class BoundedRegex {
  private worker: Worker | null = null
  constructor(readonly pattern: string) {}

  private start(Worker: typeof import('node:worker_threads').Worker): Worker {
    const code = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ p, t }) => parentPort.postMessage(new RegExp(p).test(t)))`
    const w = new Worker(code, { eval: true })
    w.unref()
    return w
  }

  /** true or false, or 'timeout' when the match ran past `timeoutMs` (the worker is then ended). */
  async test(text: string, timeoutMs: number): Promise<boolean | 'timeout'> {
    // Loaded on the first match: a check without a body pattern (and `status`) never pays for it.
    const { Worker } = await import('node:worker_threads')
    const w = (this.worker ??= this.start(Worker))
    return new Promise((resolve) => {
      const done = (v: boolean | 'timeout') => {
        clearTimeout(timer)
        w.off('message', onMessage)
        w.off('error', onError)
        resolve(v)
      }
      const onMessage = (m: boolean) => done(m)
      const onError = () => {
        this.worker = null
        done(false)
      }
      const timer = setTimeout(() => {
        this.worker = null
        void w.terminate()
        done('timeout')
      }, timeoutMs)
      w.on('message', onMessage)
      w.once('error', onError)
      w.postMessage({ p: this.pattern, t: text })
    })
  }

  async close(): Promise<void> {
    await this.worker?.terminate()
    this.worker = null
  }
}

export interface ProbeOptions {
  /** Ends a try in flight (Ctrl-C), besides its own timeout. */
  readonly signal?: AbortSignal
  readonly host?: string
  readonly status: number
  readonly body?: string | BoundedRegex
  readonly timeoutMs: number
}

export interface ProbeResult {
  readonly ok: boolean
  readonly status?: number
  readonly error?: string
  /** A failure that will not go away by asking again (a body regex that cannot finish). */
  readonly fatal?: boolean
  readonly headers?: Record<string, string | string[] | undefined>
  readonly ms: number
}

/**
 * One GET on a connection of its own (`connection: close`: each try must reach the web
 * afresh), through lib/http1.ts: not undici (its load and llhttp WebAssembly parser cost a
 * deploy about 22 MB of RSS), nor node:http (0.6 MB more for each `health`), for one small
 * GET a few times a second. The body is read only when `wanted`, at most `limit` bytes: then
 * the connection is dropped.
 */
async function get(url: string, headers: Record<string, string>, signal: AbortSignal, wanted: (status: number) => boolean, limit: number): Promise<HttpHead & { body: string }> {
  const u = new URL(url)
  if (u.protocol !== 'http:') throw Object.assign(new Error(`${u.protocol} is not http:`), { code: 'ERR_INVALID_PROTOCOL' })
  const chunks: Buffer[] = []
  let size = 0
  const head = await exchange(
    { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(u.port || 80), method: 'GET', path: `${u.pathname}${u.search}`, headers, signal },
    {
      head: (h) => wanted(h.status),
      data: (c) => {
        chunks.push(c)
        size += c.length
        return size < limit
      },
    },
  )
  return { ...head, body: Buffer.concat(chunks).subarray(0, limit).toString('utf8') }
}

export async function probe(url: string, o: ProbeOptions): Promise<ProbeResult> {
  const t0 = performance.now()
  const headers: Record<string, string> = { 'user-agent': 'calmswap-health', connection: 'close' }
  if (o.host) headers.host = o.host
  // A plain timer, held until the try ends (AbortSignal.timeout can be collected before it fires).
  const stop = new AbortController()
  const timer = setTimeout(() => stop.abort(new DOMException('timeout', 'TimeoutError')), o.timeoutMs)
  const onAbort = () => stop.abort(o.signal?.reason)
  o.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    // The timer covers the connect, the headers and the body: one deadline per try.
    // The answer is already wrong, or no pattern asks for it: none of its body is read.
    const res = await get(url, headers, stop.signal, (s) => s === o.status && !!o.body, BODY_LIMIT)
    const { status, headers: h, body: text } = res
    if (status !== o.status) return { ok: false, status: status, error: `status ${status}, expected ${o.status}`, headers: h, ms: performance.now() - t0 }
    if (!o.body) return { ok: true, status: status, headers: h, ms: performance.now() - t0 }
    const pattern = typeof o.body === 'string' ? o.body : o.body.pattern
    const matcher = typeof o.body === 'string' ? new BoundedRegex(o.body) : o.body
    const left = Math.max(50, o.timeoutMs - (performance.now() - t0))
    const hit = await matcher.test(text, left).finally(() => (typeof o.body === 'string' ? matcher.close() : undefined))
    const ms = performance.now() - t0
    if (hit === 'timeout') {
      return {
        ok: false,
        fatal: true,
        status: status,
        error: `matching the body against /${pattern}/ took more than ${Math.round(left)}ms: the pattern backtracks without bound; simplify CALMSWAP_HEALTH_BODY`,
        headers: h,
        ms,
      }
    }
    if (!hit) return { ok: false, status: status, error: `body does not match /${pattern}/`, headers: h, ms }
    return { ok: true, status: status, headers: h, ms }
  } catch (e) {
    const err = e as Error & { code?: string; cause?: { code?: string } }
    const code = err.cause?.code ?? err.code
    const timedOut = (stop.signal.aborted && !o.signal?.aborted) || err.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT'
    const why = timedOut ? `no answer within ${o.timeoutMs}ms` : o.signal?.aborted ? 'interrupted' : code === 'ECONNREFUSED' ? 'connection refused' : (code ?? err.message)
    return { ok: false, error: why, ms: performance.now() - t0 }
  } finally {
    clearTimeout(timer)
    o.signal?.removeEventListener('abort', onAbort)
  }
}

export interface WaitOptions extends Omit<ProbeOptions, 'body'> {
  readonly body?: string
  readonly deadlineMs: number
  /** Longest pause between tries; backoff starts at firstDelayMs and doubles. */
  readonly intervalMs: number
  readonly firstDelayMs?: number
  /** Pause between consecutive passes: short, they confirm a web that answers, not a boot. */
  readonly passGapMs?: number
  readonly passes: number
  readonly signal?: AbortSignal
  /** Extra condition checked after a passing probe (docker healthcheck, color header). */
  readonly extra?: (r: ProbeResult) => Promise<string | null>
  readonly onTry?: (t: TryReport) => void
}

export interface TryReport {
  readonly attempt: number
  readonly passes: number
  readonly result: ProbeResult
  readonly elapsedMs: number
  readonly reason?: string
}

export interface WaitResult {
  readonly ok: boolean
  readonly tries: number
  readonly elapsedMs: number
  readonly last?: TryReport
}

export async function waitHealthy(url: string, o: WaitOptions): Promise<WaitResult> {
  const t0 = performance.now()
  const first = o.firstDelayMs ?? 100
  const body = o.body ? new BoundedRegex(o.body) : undefined
  let delay = first
  let passes = 0
  let attempt = 0
  let last: TryReport | undefined
  try {
    while (!o.signal?.aborted) {
      const elapsed = performance.now() - t0
      const left = Math.floor(o.deadlineMs - elapsed)
      // A try with a sliver of time left can only time out: its verdict would be noise.
      if (left < Math.min(o.timeoutMs, 50)) break
      attempt++
      const result = await probe(url, { ...o, body, timeoutMs: Math.min(o.timeoutMs, left) })
      let reason = result.ok ? undefined : result.error
      if (result.ok && o.extra) reason = (await o.extra(result)) ?? undefined
      passes = reason === undefined ? passes + 1 : 0
      last = { attempt, passes, result, elapsedMs: performance.now() - t0, reason }
      o.onTry?.(last)
      if (passes >= o.passes) return { ok: true, tries: attempt, elapsedMs: performance.now() - t0, last }
      if (result.fatal) break
      // Passes come quickly one after another; failures back off up to the interval.
      const wait = passes > 0 ? (o.passGapMs ?? 50) : delay
      delay = Math.min(delay * 2, o.intervalMs)
      await sleep(Math.min(wait, o.deadlineMs - (performance.now() - t0)), o.signal)
    }
    return { ok: false, tries: attempt, elapsedMs: performance.now() - t0, last }
  } finally {
    await body?.close()
  }
}

/** The health check as the settings describe it: what every wait for a healthy web starts from. */
export const checkOptions = (c: Config): Pick<WaitOptions, 'host' | 'status' | 'body' | 'timeoutMs' | 'deadlineMs' | 'intervalMs' | 'passes'> => ({
  host: c.health.host,
  status: c.health.status,
  body: c.health.body,
  timeoutMs: c.health.timeoutMs,
  deadlineMs: c.health.deadlineMs,
  intervalMs: c.health.intervalMs,
  passes: c.health.passes,
})
