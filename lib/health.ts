// A retrying HTTP check: polled from t=0 with backoff, a per-try timeout, an overall
// deadline and N consecutive passes. No fixed sleep: a web that boots in 2s switches at 2s.
import type { Agent } from 'undici'

// Loaded on the first probe, not at start: undici is most of the bundle, and a deploy's
// first seconds (before the old workers stop) are the ones to keep short.
const undici = () => import('undici')

export interface ProbeOptions {
  readonly host?: string
  readonly status: number
  readonly body?: string
  readonly timeoutMs: number
  readonly dispatcher?: Agent
}

export interface ProbeResult {
  readonly ok: boolean
  readonly status?: number
  readonly error?: string
  readonly headers?: Record<string, string | string[] | undefined>
  readonly ms: number
}

export async function probe(url: string, o: ProbeOptions): Promise<ProbeResult> {
  const t0 = performance.now()
  const headers: Record<string, string> = { 'user-agent': 'calmswap-health', connection: 'close' }
  if (o.host) headers.host = o.host
  try {
    const { request } = await undici()
    const res = await request(url, {
      headers,
      dispatcher: o.dispatcher,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      signal: AbortSignal.timeout(o.timeoutMs),
    })
    const text = await res.body.text()
    const ms = performance.now() - t0
    if (res.statusCode !== o.status) return { ok: false, status: res.statusCode, error: `status ${res.statusCode}, expected ${o.status}`, headers: res.headers, ms }
    if (o.body && !new RegExp(o.body).test(text)) return { ok: false, status: res.statusCode, error: `body does not match /${o.body}/`, headers: res.headers, ms }
    return { ok: true, status: res.statusCode, headers: res.headers, ms }
  } catch (e) {
    const err = e as Error & { code?: string; cause?: { code?: string } }
    const code = err.cause?.code ?? err.code
    const why = err.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' ? `no answer within ${o.timeoutMs}ms` : code === 'ECONNREFUSED' ? 'connection refused' : (code ?? err.message)
    return { ok: false, error: why, ms: performance.now() - t0 }
  }
}

export interface WaitOptions extends ProbeOptions {
  readonly deadlineMs: number
  /** Longest pause between tries; backoff starts at firstDelayMs and doubles. */
  readonly intervalMs: number
  readonly firstDelayMs?: number
  /** Pause between consecutive passes (50 ms): they confirm a web that answers, not a boot. */
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

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve()
    const t = setTimeout(done, ms)
    function done() {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })

export async function waitHealthy(url: string, o: WaitOptions): Promise<WaitResult> {
  const t0 = performance.now()
  const first = o.firstDelayMs ?? 100
  // Our own agent: closed at the end, so a hung server cannot keep the process alive.
  const dispatcher = o.dispatcher ?? new (await undici()).Agent({ connect: { timeout: o.timeoutMs } })
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
      const result = await probe(url, { ...o, dispatcher, timeoutMs: Math.min(o.timeoutMs, left) })
      let reason = result.ok ? undefined : result.error
      if (result.ok && o.extra) reason = (await o.extra(result)) ?? undefined
      passes = reason === undefined ? passes + 1 : 0
      last = { attempt, passes, result, elapsedMs: performance.now() - t0, reason }
      o.onTry?.(last)
      if (passes >= o.passes) return { ok: true, tries: attempt, elapsedMs: performance.now() - t0, last }
      // Passes come quickly one after another; failures back off up to the interval.
      const wait = passes > 0 ? (o.passGapMs ?? 50) : delay
      delay = Math.min(delay * 2, o.intervalMs)
      await sleep(Math.min(wait, o.deadlineMs - (performance.now() - t0)), o.signal)
    }
    return { ok: false, tries: attempt, elapsedMs: performance.now() - t0, last }
  } finally {
    if (!o.dispatcher) await dispatcher.destroy().catch(() => {})
  }
}
