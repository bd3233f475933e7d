// Health: a retrying HTTP check polled from t=0 with backoff, a per-try timeout, an overall
// deadline and N consecutive passes (no fixed sleep: a web that boots in 2 s switches at 2 s),
// and the health step of a color, which adds the container's own Docker healthcheck and
// gives up at once when the container exits.
import { Worker } from 'node:worker_threads'
import type { Agent } from 'undici'
import { healthStatus, runState } from './commands.ts'
import type { Color, Config } from './config.ts'
import type { Ctx } from './context.ts'
import { anySignal, sleep } from './deadlines.ts'
import { StepError } from './errors.ts'
import { names, notStayingUp, parseRunState, type RunState } from './inventory.ts'

// Loaded on the first probe, not at start: undici is most of the bundle, and a deploy's
// first seconds (before the old workers stop) are the ones to keep short. undici is
// CommonJS: in the built chunks its exports are the module's default export only.
const undici = () => import('undici').then((m) => ('Agent' in m ? m : (m as unknown as { default: typeof m }).default))

export const LOOPBACK = '127.0.0.1'

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

  private start(): Worker {
    const code = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', ({ p, t }) => parentPort.postMessage(new RegExp(p).test(t)))`
    const w = new Worker(code, { eval: true })
    w.unref()
    return w
  }

  /** true or false, or 'timeout' when the match ran past `timeoutMs` (the worker is then ended). */
  test(text: string, timeoutMs: number): Promise<boolean | 'timeout'> {
    const w = (this.worker ??= this.start())
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
  readonly dispatcher?: Agent
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

type Body = AsyncIterable<Buffer> & { destroy(): unknown; on(ev: 'error', f: () => void): unknown }

/** Drops a body unread (the connection with it): its abort is expected, not an error. */
function discard(body: Body): void {
  body.on('error', () => {})
  body.destroy()
}

/** Reads at most `limit` bytes of a body, then drops the connection. */
async function readCapped(body: Body, limit: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    chunks.push(chunk)
    size += chunk.length
    if (size >= limit) break
  }
  discard(body)
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8')
}

export async function probe(url: string, o: ProbeOptions): Promise<ProbeResult> {
  const t0 = performance.now()
  const headers: Record<string, string> = { 'user-agent': 'calmswap-health', connection: 'close' }
  if (o.host) headers.host = o.host
  // Loaded before the try's clock starts: the first load is not the web's time to answer.
  const { request } = await undici()
  // A plain timer, held until the try ends (AbortSignal.timeout can be collected before it fires).
  const stop = new AbortController()
  const timer = setTimeout(() => stop.abort(new DOMException('timeout', 'TimeoutError')), o.timeoutMs)
  const onAbort = () => stop.abort(o.signal?.reason)
  o.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    const res = await request(url, {
      headers,
      dispatcher: o.dispatcher,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      signal: stop.signal,
    })
    const h = res.headers
    if (res.statusCode !== o.status) {
      // The answer is already wrong: none of its body is read.
      discard(res.body)
      return { ok: false, status: res.statusCode, error: `status ${res.statusCode}, expected ${o.status}`, headers: h, ms: performance.now() - t0 }
    }
    if (!o.body) {
      discard(res.body)
      return { ok: true, status: res.statusCode, headers: h, ms: performance.now() - t0 }
    }
    const text = await readCapped(res.body, BODY_LIMIT)
    const pattern = typeof o.body === 'string' ? o.body : o.body.pattern
    const matcher = typeof o.body === 'string' ? new BoundedRegex(o.body) : o.body
    const left = Math.max(50, o.timeoutMs - (performance.now() - t0))
    const hit = await matcher.test(text, left).finally(() => (typeof o.body === 'string' ? matcher.close() : undefined))
    const ms = performance.now() - t0
    if (hit === 'timeout') {
      return {
        ok: false,
        fatal: true,
        status: res.statusCode,
        error: `matching the body against /${pattern}/ took more than ${Math.round(left)}ms: the pattern backtracks without bound; simplify CALMSWAP_HEALTH_BODY`,
        headers: h,
        ms,
      }
    }
    if (!hit) return { ok: false, status: res.statusCode, error: `body does not match /${pattern}/`, headers: h, ms }
    return { ok: true, status: res.statusCode, headers: h, ms }
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
  // Our own agent: closed at the end, so a hung server cannot keep the process alive.
  const dispatcher = o.dispatcher ?? new (await undici()).Agent({ connect: { timeout: o.timeoutMs } })
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
      const result = await probe(url, { ...o, body, dispatcher, timeoutMs: Math.min(o.timeoutMs, left) })
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
    if (!o.dispatcher) await dispatcher.destroy().catch(() => {})
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

const healthUrl = (ctx: Ctx, color: Color) => `http://${LOOPBACK}:${ctx.config.ports[color]}${ctx.config.health.path}`

/**
 * The health step: waits until a color's web passes its check, its Docker healthcheck too
 * when it has one. Gives up at once when the container exits. A dry run prints the check.
 */
export async function checkHealth(ctx: Ctx, color: Color): Promise<WaitResult | null> {
  const c = ctx.config
  const url = healthUrl(ctx, color)
  if (ctx.exec.dryRun) {
    ctx.ui.data(`poll ${url} until ${c.health.passes} consecutive ${c.health.status}s (try timeout ${c.health.timeoutMs}ms, deadline ${c.health.deadlineMs}ms)`)
    return null
  }
  const webs = (await ctx.inventory()).containers(color, c.roles.web)
  const withHealthcheck = new Set(webs.map((w) => w.id))
  // A container that exited, or that a restart policy keeps restarting, will not start
  // answering: stop waiting at once.
  const gone = new AbortController()
  // One look at a time, the next 2 s after the last ended: a slow daemon gets no pile of listings.
  let watch: NodeJS.Timeout | undefined
  const look = async () => {
    const now = (await ctx.inventory(true).catch(() => null))?.containers(color, c.roles.web) ?? []
    const dead = now.find((x) => x.state === 'exited' || x.state === 'dead' || x.state === 'restarting')
    if (dead) gone.abort(`${dead.name} ${dead.state === 'restarting' ? 'is in a restart loop' : 'exited'}: ${dead.status}`)
    else if (!gone.signal.aborted) watch = setTimeout(look, 2000)
  }
  watch = setTimeout(look, 2000)
  try {
    const r = await ctx.ui.wait(`waiting for ${url}`, (update) =>
      waitHealthy(url, {
        ...checkOptions(c),
        signal: anySignal([ctx.signal, gone.signal]),
        extra: async () => {
          for (const w of webs) {
            if (!withHealthcheck.has(w.id)) continue
            const h = (await ctx.run(healthStatus(c, w.id))).stdout.trim()
            // No healthcheck defined: never ask docker again for this container.
            if (!h) withHealthcheck.delete(w.id)
            else if (h !== 'healthy') return `docker healthcheck of ${w.name} is ${h}`
          }
          return null
        },
        onTry: (t) => {
          update(`${url}: try ${t.attempt}, ${t.reason ?? 'pass'} (${t.passes}/${c.health.passes} passes)`)
          ctx.ui.event('health-try', { url, attempt: t.attempt, ok: !t.reason, reason: t.reason, ms: Math.round(t.result.ms) })
        },
      }),
    )
    ctx.checkpoint()
    if (!r.ok) {
      const why = gone.signal.aborted ? String(gone.signal.reason) : (r.last?.reason ?? 'no answer')
      throw new StepError(`${color} web is not healthy at ${url} after ${(r.elapsedMs / 1000).toFixed(1)}s and ${r.tries} tries: ${why}`)
    }
    ctx.ui.detail(`  healthy after ${r.tries} tries, ${(r.elapsedMs / 1000).toFixed(1)}s`)
    return r
  } finally {
    gone.abort('done')
    clearTimeout(watch)
  }
}

/** The run state (restart count, start time) of a color's web containers; none in a dry run. */
export async function webRunState(ctx: Ctx, color: Color): Promise<RunState[]> {
  const webs = names((await ctx.inventory(true)).containers(color, ctx.config.roles.web))
  if (ctx.exec.dryRun || !webs.length) return []
  return parseRunState((await ctx.run(runState(ctx.config, webs))).stdout)
}

/**
 * The new web must still be the process it was at `before` (taken as traffic moved to it). A
 * restart policy brings a crashed web back within a second, and the fresh process answers
 * health checks again until it crashes anew: only its restart count and start time tell.
 */
export async function confirmWebUp(ctx: Ctx, color: Color, before: readonly RunState[]): Promise<void> {
  if (!before.length) return
  const now = new Map((await webRunState(ctx, color)).map((x) => [x.name, x]))
  const wrong = before.map((b) => notStayingUp(b, now.get(b.name))).filter(Boolean)
  if (wrong.length) throw new StepError(`the new ${color} web did not stay up after the switch: ${wrong.join('; ')}`)
}
