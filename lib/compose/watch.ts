// After the switch the new color is judged on what it does, not on its health check: its
// answers in the proxy's own JSON log (the share of 5xx, by upstream) and its containers
// (exits, OOM kills, unhealthy) through one Docker events stream. A bad verdict fails the
// step, and the deploy rolls back as for any failed step, while the old web still runs.
// Cheap on purpose: the log's new bytes are read once a second from an offset, the events
// come over one long request, and no docker process is started per sample.
import { closeSync, constants, fchmodSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readSync, type Stats } from 'node:fs'
import { dirname } from 'node:path'
import { containerEvents } from '../builders/reads.ts'
import { COLORS, type Color, type Config, fmtDuration, otherColor } from '../config.ts'
import type { Ctx } from '../context.ts'
import { sleep } from '../deadlines.ts'
import { StepError } from '../errors.ts'
import { keepPrivate } from '../files.ts'
import type { HistoryEntry } from '../history.ts'
import { isHealthRequest, normalPath } from '../http-path.ts'
import type { Counts, PhaseReport, Tally, Verdict } from '../phase-report.ts'
import type { LoggedRequest } from '../proxy/driver.ts'
import { proxyDriver } from '../proxy/index.ts'
import type { WatchState } from '../state.ts'
import { fmtMs } from '../ui.ts'
import { isProbe, type Probes, probeToken, probing, startProbes } from './watch-probes.ts'

export { type Counts, formatReport, type PhaseReport, type Tally, type Verdict } from '../phase-report.ts'

// ---------------------------------------------------------------- the proxy's log

// Each proxy's log line is read by its driver (lib/proxy/); nginx's reader keeps its old names here.
export type { LoggedRequest } from '../proxy/driver.ts'
export { parseNginxLine } from '../proxy/nginx.ts'

export const emptyTally = (): Tally => ({ blue: { requests: 0, errors: 0, answered: 0, failed: 0 }, green: { requests: 0, errors: 0, answered: 0, failed: 0 } })

export { isHealthRequest, normalPath }

/**
 * Adds one request. The health request is left out: it passes by construction (that is the
 * whole problem), and calmswap's own checks through the proxy would dilute the share. Only
 * that request: with a health path of "/" or "/healthz", "/about" and "/healthz-dashboard/"
 * are judged.
 */
export function countRequest(t: Tally, r: LoggedRequest, c: Pick<Config, 'ports' | 'health'>): void {
  if (isHealthRequest(r.uri, c.health.path)) return
  const colorOf = (port: number | null) => COLORS.find((col) => c.ports[col] === port)
  for (const tr of r.tries) {
    const col = colorOf(tr.port)
    if (!col) continue
    t[col].requests++
    if (tr.status >= 500) t[col].errors++
  }
  const last = colorOf(r.tries.at(-1)?.port ?? null)
  if (last) {
    t[last].answered++
    if (r.status >= 500) t[last].failed++
  }
}

const { O_RDONLY, O_WRONLY, O_NOFOLLOW, O_NONBLOCK } = constants

/**
 * The longest line kept: nginx takes a request line of up to 8 KB (large_client_header_buffers),
 * and JSON escaping makes a byte at most six. A longer one is dropped, up to its newline, so a
 * log without newlines cannot grow what calmswap holds.
 */
export const MAX_LINE = 64 * 1024

const kindOf = (s: Stats) =>
  s.isSymbolicLink()
    ? 'a symbolic link'
    : s.isDirectory()
      ? 'a folder'
      : s.isFIFO()
        ? 'a FIFO'
        : s.isSocket()
          ? 'a socket'
          : s.isCharacterDevice() || s.isBlockDevice()
            ? 'a device'
            : 'not a regular file'

/**
 * Opens the proxy's log as the container that writes it may have left it: a link is not
 * followed, a FIFO does not block, and only a regular file is kept. The lstat first keeps
 * calmswap from opening a device or a FIFO at all; the fstat checks the descriptor itself,
 * whatever was swapped in between. Null when nothing is there; a string says why what is
 * there is not read.
 */
function openLogFile(path: string, flags: number): { fd: number; st: Stats } | null | string {
  const refuse = (what: string) => `the proxy log ${path} is ${what}`
  try {
    const l = lstatSync(path)
    if (!l.isFile()) return refuse(kindOf(l))
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    return `the proxy log ${path} cannot be read (${code ?? (e as Error).message})`
  }
  let fd: number
  try {
    fd = openSync(path, flags | O_NOFOLLOW | O_NONBLOCK)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return null
    if (code === 'ELOOP') return refuse('a symbolic link')
    if (code === 'EISDIR') return refuse('a folder')
    if (code === 'ENXIO') return refuse('a FIFO')
    return `the proxy log ${path} cannot be ${flags & O_WRONLY ? 'written' : 'read'} (${code ?? (e as Error).message})`
  }
  const st = fstatSync(fd)
  if (st.isFile()) return { fd, st }
  closeSync(fd)
  return refuse(kindOf(st))
}

/**
 * What stands at the log's path, without opening it (doctor only reads): null when nothing
 * does, '' for a regular file, else why the watch would not read it.
 */
export function logProblem(path: string): string | null {
  try {
    const l = lstatSync(path)
    return l.isFile() ? '' : `the proxy log ${path} is ${kindOf(l)}`
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? null : `the proxy log ${path} cannot be read (${code ?? (e as Error).message})`
  }
}

/**
 * The proxy's log from an offset, a second at a time: only the bytes added since the last
 * read. Survives the file being emptied (copytruncate, calmswap itself) and replaced (a
 * rename by logrotate), and a file that appears only later (a proxy started since). The
 * proxy's container writes that folder: a link, a FIFO, a folder or an unreadable file in
 * the log's place ends the reading for good (`problem` says why, `onLost` is told once), and
 * the watch judges the containers alone. It never throws and never blocks.
 */
export class LogTail {
  private fd: number | null = null
  private ino = -1
  private dev = -1
  private offset = 0
  private partial: Buffer[] = []
  private partialBytes = 0
  /** Inside a line longer than MAX_LINE: dropped up to its newline. */
  private skipping = false
  /** Why the log is not read any more; null while it is, or while it does not exist yet. */
  problem: string | null = null
  /** Told once when the log turns unreadable after the tail was made. */
  onLost: ((why: string) => void) | null = null

  constructor(
    readonly path: string,
    fromStart: boolean,
  ) {
    try {
      if (this.reopen() && !fromStart) this.offset = fstatSync(this.fd!).size
    } catch (e) {
      this.lose(`the proxy log ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
    }
  }

  get found(): boolean {
    return this.fd !== null && this.problem === null
  }

  /** The bytes of an unfinished line it holds: never more than MAX_LINE. */
  get pending(): number {
    return this.partialBytes
  }

  private lose(why: string): void {
    this.close()
    if (this.problem) return
    this.problem = why
    this.onLost?.(why)
  }

  private reopen(): boolean {
    this.close()
    const r = openLogFile(this.path, O_RDONLY)
    if (r === null) return false
    if (typeof r === 'string') {
      this.lose(r)
      return false
    }
    this.fd = r.fd
    this.ino = r.st.ino
    this.dev = r.st.dev
    this.offset = 0
    this.dropPartial(false)
    return true
  }

  /** The complete lines added since the last call; at most `maxBytes` of them at a time. */
  read(maxBytes = 8 << 20): string[] {
    if (this.problem) return []
    try {
      if (this.fd === null && !this.reopen()) return []
      const out: string[] = []
      let replaced = false
      try {
        const s = lstatSync(this.path)
        replaced = s.ino !== this.ino || s.dev !== this.dev
      } catch {}
      out.push(...this.drain(maxBytes))
      if (replaced && this.reopen()) out.push(...this.drain(maxBytes))
      return out
    } catch (e) {
      this.lose(`the proxy log ${this.path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
      return []
    }
  }

  private dropPartial(skipping: boolean): void {
    this.partial = []
    this.partialBytes = 0
    this.skipping = skipping
  }

  private drain(maxBytes: number): string[] {
    const size = fstatSync(this.fd!).size
    if (size < this.offset) {
      this.offset = 0
      this.dropPartial(false)
    }
    const n = Math.min(size - this.offset, maxBytes)
    if (n <= 0) return []
    const buf = Buffer.alloc(n)
    const got = readSync(this.fd!, buf, 0, n, this.offset)
    this.offset += got
    const out: string[] = []
    let from = 0
    for (let nl = buf.indexOf(10, from); nl !== -1 && nl < got; nl = buf.indexOf(10, from)) {
      const piece = buf.subarray(from, nl)
      if (!this.skipping && this.partialBytes + piece.length <= MAX_LINE) {
        const line = (this.partialBytes ? Buffer.concat([...this.partial, piece]) : piece).toString('utf8')
        if (line) out.push(line)
      }
      this.dropPartial(false)
      from = nl + 1
    }
    const rest = buf.subarray(from, got)
    if (this.skipping || !rest.length) return out
    if (this.partialBytes + rest.length > MAX_LINE) this.dropPartial(true)
    else {
      // A copy: the read buffer can be megabytes; the unfinished line is at most MAX_LINE.
      this.partial.push(Buffer.from(rest))
      this.partialBytes += rest.length
    }
    return out
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd)
    this.fd = null
  }
}

/** Logs resetLog emptied since it last ran: only those are read from their start. */
const emptied = new Set<string>()

/**
 * Empties calmswap's own proxy log just before a watch starts reading it: the file holds
 * one rollout's requests at most. A log the operator named (CALMSWAP_PROXY_LOG) is theirs
 * and is only ever read. The folder is private (nginx's master opens the file as root, and
 * its workers inherit the descriptor: nothing else need write there); only the descriptor
 * checked to be a regular file is truncated. No file yet counts as empty: nginx creates it.
 */
export function resetLog(ctx: Ctx): void {
  const w = ctx.config.watch
  if (!w.logOwned || ctx.exec.dryRun) return
  emptied.delete(w.log)
  try {
    mkdirSync(dirname(w.log), { recursive: true, mode: 0o700 })
    // One Docker made for the bind mount (the proxy started before calmswap made it) is 0755.
    keepPrivate(dirname(w.log))
    const r = openLogFile(w.log, O_WRONLY)
    if (r === null) emptied.add(w.log)
    if (!r || typeof r === 'string') return
    try {
      ftruncateSync(r.fd, 0)
      // Request URIs are the users' data: nginx creates the file 0644.
      if (r.st.mode & 0o077) fchmodSync(r.fd, 0o600)
      emptied.add(w.log)
    } finally {
      closeSync(r.fd)
    }
  } catch {}
}

/**
 * calmswap's own log is read from its start when it was emptied at the switch; another one,
 * or one it could not empty, from its end. What makes it unreadable later is said once.
 */
export function openLog(ctx: Ctx): LogTail {
  const w = ctx.config.watch
  const t = new LogTail(w.log, w.logOwned && emptied.has(w.log))
  t.onLost = (why) => ctx.ui.warn(`${why} (README: Proxy): the watch judges the containers only from now on`)
  return t
}

// ---------------------------------------------------------------- the judgement

export interface Limits {
  readonly max5xxPct: number
  readonly minRequests: number
}

/**
 * Lower bound of the Wilson score interval for k successes out of n; z = 2.576 is 99%. The
 * watch asks again every second, and each look is another chance for noise to cross the
 * line: 99% per look keeps a good release with half the limit's 5xx share from ever being
 * rolled back (test/unit/watch.test.ts runs it a thousand times).
 */
export function wilsonLower(k: number, n: number, z = 2.576): number {
  if (n <= 0) return 0
  const p = k / n
  const z2 = z * z
  return Math.max(0, (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n))
}

/** Upper bound of the same interval: the share k of n is at most this, 99% sure. */
export function wilsonUpper(k: number, n: number, z = 2.576): number {
  if (n <= 0) return 1
  return 1 - wilsonLower(n - k, n, z)
}

export interface Judgement {
  /** Enough requests to judge. */
  readonly judged: boolean
  readonly bad: boolean
  /** Enough requests to say, 99% sure, that the share is under the line: the window may end early. */
  readonly good: boolean
  readonly pct: number
  /** The share of 5xx it has at least, 99% sure. */
  readonly lowPct: number
  /** ... and at most. */
  readonly highPct: number
  /** The line a bad share is above: the limit, or the old color's share at most when that is higher. */
  readonly linePct: number
}

/** The old color's share of 5xx, where the same log has enough of its requests to tell. */
export type Baseline = Pick<Counts, 'requests' | 'errors'> & { readonly color: Color }

/**
 * Bad when, over at least `minRequests`, the 5xx share is above the limit with 99%
 * confidence: a few errors of a good release (a dropped keepalive connection, one bad
 * input) do not get it rolled back; a release failing a fifth of its requests is caught
 * within a few dozen. Against a baseline (the old color's requests, `minRequests` of them
 * or more) the line is the old share at its highest (99%) when that is above the limit: a
 * release that keeps yesterday's 5xx share is not worse than what it replaces, and rolling
 * back would not help. Good, for an early end, when the share is under the limit (or the
 * old share at its lowest) with the same confidence.
 */
export function judge(c: Pick<Counts, 'requests' | 'errors'>, l: Limits, baseline?: Baseline | null): Judgement {
  const pct = c.requests ? (100 * c.errors) / c.requests : 0
  const lowPct = 100 * wilsonLower(c.errors, c.requests)
  const highPct = 100 * wilsonUpper(c.errors, c.requests)
  const base = baseline && baseline.requests >= l.minRequests ? baseline : null
  const linePct = base ? Math.max(l.max5xxPct, 100 * wilsonUpper(base.errors, base.requests)) : l.max5xxPct
  const goodLine = base ? Math.max(l.max5xxPct, 100 * wilsonLower(base.errors, base.requests)) : l.max5xxPct
  const judged = c.requests >= l.minRequests
  return { judged, bad: judged && lowPct > linePct, good: judged && highPct < goodLine, pct, lowPct, highPct, linePct }
}

const pct = (v: number) => `${v < 10 ? v.toFixed(1) : v.toFixed(0)}%`

export function describeErrors(c: Pick<Counts, 'requests' | 'errors'>, l: Limits, baseline?: Baseline | null, what = 'requests'): string {
  const j = judge(c, l, baseline)
  const head = `${c.errors} of ${c.requests} ${what} (${pct(j.pct)}) answered 5xx`
  if (j.linePct > l.max5xxPct && baseline)
    return `${head}, above the ${l.max5xxPct}% limit and ${baseline.color}'s share before it (${baseline.errors} of ${baseline.requests} requests, at most ${pct(j.linePct)}), 99% sure it is at least ${pct(j.lowPct)}`
  return `${head}, above the ${l.max5xxPct}% limit (99% sure it is at least ${pct(j.lowPct)})`
}

/** What the real requests and the watch's own probes say together. */
export interface Assessment {
  /** Why the color is bad, or null. */
  readonly bad: string | null
  /** 99% sure the share is fine: one of the two is under the line, and the other has no 5xx. */
  readonly good: boolean
  /** Either has enough requests to judge. */
  readonly judged: boolean
}

/**
 * Real requests and probes are judged apart: probes to `/` that pass must not dilute real
 * failures at checkout, and a real request that carried the probe marker is judged with the
 * probes, never left out. The old color's baseline applies to real traffic; the probes have
 * their own in a canary, where both colors get them.
 */
export function assess(
  real: Pick<Counts, 'requests' | 'errors'>,
  probes: Pick<Counts, 'requests' | 'errors'>,
  l: Limits,
  baseline?: { real?: Baseline | null; probes?: Baseline | null },
): Assessment {
  const r = judge(real, l, baseline?.real)
  const p = judge(probes, l, baseline?.probes)
  const bad = r.bad ? describeErrors(real, l, baseline?.real) : p.bad ? describeErrors(probes, l, baseline?.probes, "of the watch's own requests") : null
  const good = (r.good && probes.errors === 0) || (p.good && real.errors === 0)
  return { bad, good: !bad && good, judged: r.judged || p.judged }
}

/**
 * What a Docker event of a watched container says is wrong with it; null when nothing is.
 * A restart policy brings a crashed container back, but its `die` came first. A container
 * Docker was told to stop (a `kill` event first: docker stop, a recreate) did not crash;
 * `killed` remembers those across events.
 */
export function containerTrouble(line: string, services: readonly string[], killed: Set<string> = new Set()): string | null {
  let e: { Type?: string; Action?: string; Actor?: { ID?: string; Attributes?: Record<string, string> } }
  try {
    e = JSON.parse(line)
  } catch {
    return null
  }
  const a = e.Actor?.Attributes ?? {}
  if (e.Type !== 'container' || !services.includes(a['com.docker.compose.service'] ?? '')) return null
  const name = a.name ?? a['com.docker.compose.service'] ?? '?'
  const id = e.Actor?.ID ?? name
  if (e.Action === 'kill') killed.add(id)
  if (e.Action === 'die') return killed.has(id) ? null : `${name} exited (code ${a.exitCode ?? '?'})`
  if (e.Action === 'oom') return `${name} had a process killed for lack of memory (OOM)`
  if (e.Action === 'health_status: unhealthy') return `${name} turned unhealthy`
  return null
}

// ---------------------------------------------------------------- watching

export interface Phase {
  readonly phase: string
  readonly color: Color
  readonly share: number
  /** Services of the color whose containers must not die meanwhile. */
  readonly services: readonly string[]
  /**
   * What the color's 5xx share is held against besides the limit: the other color's requests
   * in the same phase ("live", a canary step, where both serve), or its last watch's.
   */
  readonly baseline?: Baseline | 'live' | null
}

const TICK_MS = 1000
/** A watch's end: its verdict, and why when the verdict alone does not say. */
type Outcome = { v: Verdict; reason?: string }
/** A window ends early on a good verdict only after this part of it: a worker that dies on its first tasks still gets caught. */
const EARLY_END_AFTER = 1 / 4
/**
 * How often `status` gets fresh numbers through the state file: each write is an fsync,
 * which was the largest part of the watch's CPU at one every 5 s.
 */
const RECORD_EVERY_MS = 15_000
/** The events stream of a watch whose end is not known yet asks this far ahead; the watch ends it. */
const HORIZON_MS = 3_600_000

/**
 * Follows the color's container events from `sinceS` to `untilS`, reconnecting when the
 * stream breaks before (a daemon restart); events seen twice only repeat a verdict.
 */
async function followEvents(ctx: Ctx, color: Color, sinceS: number, untilS: () => number, onLine: (line: string) => void, signal: AbortSignal): Promise<void> {
  const stream = ctx.exec.stream?.bind(ctx.exec)
  if (!stream) return ctx.ui.warn('this executor cannot follow Docker events: the watch judges the proxy log only')
  let since = sinceS
  for (let broken = 0; !signal.aborted && Date.now() / 1000 < untilS() - 0.05; broken++) {
    const r = await stream(containerEvents(ctx.config, color, since, untilS()), onLine, signal)
    if (signal.aborted || Date.now() / 1000 >= untilS() - 0.05) return
    if (broken === 0) ctx.ui.warn(`the Docker events stream ended early (${(r.stderr || `exit ${r.code}`).trim()}): following it again`)
    since = Date.now() / 1000 - 2
    await sleep(Math.min(5000, 500 * 2 ** broken), signal)
  }
}

/**
 * Watches one color from the moment it gets traffic: reads the proxy's log each second and
 * judges the color's share of 5xx, and goes bad at once when one of its containers dies.
 * It runs until the window `endIn` sets is over (for the watch, set once the new workers
 * run), a bad verdict, or Ctrl-C (verdict "stopped"; the caller decides what that means).
 * `failed` aborts on a bad verdict, for the steps still running beside it.
 */
export class Watch {
  readonly result: Promise<PhaseReport>
  private readonly bad = new AbortController()
  private readonly done = new AbortController()
  private readonly counts = emptyTally()
  private readonly probes = emptyTally()
  private readonly token = probeToken()
  private prober: Probes | null = null
  private readonly killed = new Set<string>()
  private t0 = 0
  private windowAt = 0
  private cpu0 = process.cpuUsage()
  private until = Number.POSITIVE_INFINITY
  private trouble: string | null = null
  private tail: LogTail | null = null
  private resolve: (r: PhaseReport) => void = () => {}
  private tick: () => void = () => {}
  /** The spinner's line, once `ui.wait` hands it over. */
  private show: (text: string) => void = () => {}
  private recordedAt = 0
  private started = false
  private halted = false
  private failure: StepError | null = null
  private last: NodeJS.Timeout | undefined

  constructor(
    private readonly ctx: Ctx,
    readonly p: Phase,
    /** The window `status` shows before `endIn` sets the real one. */
    private readonly expectMs: number,
  ) {
    this.result = new Promise((resolve) => (this.resolve = resolve))
  }

  /** Aborted when the verdict turns bad, with the failure as its reason. */
  get failed(): AbortSignal {
    return this.bad.signal
  }

  /** The verdict's error, once it was bad. */
  get error(): StepError | null {
    return this.failure
  }

  get isStarted(): boolean {
    return this.started
  }

  /** Starts judging now. */
  start(tail: LogTail | null): this {
    if (this.started) return this
    this.started = true
    this.tail = tail
    this.t0 = Date.now()
    const c = this.ctx.config
    const events = this.followContainers()
    if (tail && !tail.found) this.ctx.ui.warn(`${tail.problem ?? `no proxy log at ${c.watch.log}`} (README: Proxy): judging ${this.p.color}'s containers only`)
    // Only while real traffic is too scarce to judge: under load they would add nothing but work.
    if (probing(c) && !this.ctx.exec.dryRun)
      this.prober = startProbes(c, this.token, { signal: this.done.signal, wanted: () => this.counts[this.p.color].requests < this.limits().minRequests })
    this.recordedAt = Date.now()
    this.record()
    const ended = new Promise<Outcome>((end) => {
      this.tick = () => {
        if (this.done.signal.aborted) return
        const verdict = this.sample()
        if (!verdict) return
        this.done.abort()
        end(verdict)
      }
    })
    this.tickUntil(ended, events)
    this.tick()
    return this
  }

  /** Ticks each second and at Ctrl-C until the verdict, then finishes. */
  private tickUntil(ended: Promise<Outcome>, events: Promise<void>): void {
    const timer = setInterval(() => this.tick(), TICK_MS)
    const onAbort = () => this.tick()
    this.ctx.signal.addEventListener('abort', onAbort, { once: true })
    // The spinner, if any, moves once a tick: nothing here wakes more often than once a second.
    void this.ctx.ui.wait(
      `watching ${this.p.color} (${this.p.phase})`,
      (u) => {
        this.show = u
        return ended
      },
      TICK_MS,
    )
    void ended.then(async (v) => {
      clearInterval(timer)
      clearTimeout(this.last)
      this.ctx.signal.removeEventListener('abort', onAbort)
      await this.finish(v, events)
    })
  }

  private limits(): Limits {
    return { max5xxPct: this.ctx.config.watch.max5xxPct, minRequests: this.ctx.config.watch.minRequests }
  }

  /** The color's container events, until the window's end once `endIn` knows it. */
  private followContainers(): Promise<void> {
    return followEvents(
      this.ctx,
      this.p.color,
      this.t0 / 1000,
      () => (Number.isFinite(this.until) ? this.until : this.t0 + HORIZON_MS) / 1000,
      (l) => this.onTrouble(containerTrouble(l, this.p.services, this.killed)),
      this.done.signal,
    )
  }

  private baseline() {
    const other = otherColor(this.p.color)
    return this.p.baseline === 'live' ? { real: { color: other, ...this.counts[other] }, probes: { color: other, ...this.probes[other] } } : { real: this.p.baseline ?? null }
  }

  /** One tick: the log's new lines counted, the progress shown and recorded, and the verdict once there is one. */
  private sample(): Outcome | null {
    const c = this.ctx.config
    const driver = proxyDriver(c)
    for (const line of this.tail?.read() ?? []) {
      const r = driver.parse(line, c.ports)
      if (r) countRequest(isProbe(r.uri, this.token) ? this.probes : this.counts, r, c)
    }
    const j = assess(this.counts[this.p.color], this.probes[this.p.color], this.limits(), this.baseline())
    const now = Date.now()
    if (this.ctx.ui.interactive) this.showProgress(now)
    if (this.ctx.ui.json) this.ctx.ui.event('watch-tick', { phase: this.p.phase, color: this.p.color, ms: now - this.t0, counts: this.counts, probes: this.probes })
    if (now - this.recordedAt >= RECORD_EVERY_MS) {
      this.record()
      this.recordedAt = now
    }
    return this.verdict(j, now)
  }

  private showProgress(now: number): void {
    const mine = this.counts[this.p.color]
    const left = Number.isFinite(this.until) ? `${Math.max(0, Math.ceil((this.until - now) / 1000))}s left, ` : ''
    const own = this.probes[this.p.color]
    this.show(`watching ${this.p.color} (${this.p.phase}): ${left}${mine.requests} requests, ${mine.errors} 5xx${own.requests ? `; own ${own.requests}, ${own.errors} 5xx` : ''}`)
  }

  /** The first of: stopped by the deploy, a container's trouble, a bad share, Ctrl-C, the window's end, an early good end. */
  private verdict(j: Assessment, now: number): Outcome | null {
    const into = `${fmtMs(now - this.t0)} into the ${this.p.phase}`
    if (this.halted) return { v: 'stopped', reason: 'the deploy stopped' }
    if (this.trouble) return { v: 'bad', reason: `${this.trouble} ${into}` }
    if (j.bad) return { v: 'bad', reason: `${j.bad}, ${into}` }
    if (this.ctx.signal.aborted) return { v: 'stopped', reason: `stopped by ${String(this.ctx.signal.reason ?? 'a signal')} after ${fmtMs(now - this.t0)}` }
    if (now >= this.until) return { v: j.judged || !this.tail?.found ? 'ok' : 'too-few-requests' }
    if (j.good && this.windowAt && now - this.windowAt >= (this.until - this.windowAt) * EARLY_END_AFTER)
      return { v: 'ok', reason: `ended early, ${fmtMs(now - this.windowAt)} into its window: 99% sure ${this.p.color}'s 5xx share is under the line` }
    return null
  }

  private async finish(v: Outcome, events: Promise<void>): Promise<void> {
    await this.prober?.stop()
    if (v.v === 'bad') {
      this.failure = new StepError(`the ${this.p.phase} rolls ${this.p.color} back: ${v.reason}`)
      this.bad.abort(this.failure)
    }
    await events
    this.record(true)
    this.resolve(this.report(v))
  }

  private report(v: Outcome): PhaseReport {
    const cpu = this.windowAt ? process.cpuUsage(this.cpu0) : { user: 0, system: 0 }
    return {
      phase: this.p.phase,
      color: this.p.color,
      share: this.p.share,
      verdict: v.v,
      ...(v.reason ? { reason: v.reason } : {}),
      ms: Date.now() - this.t0,
      windowMs: this.windowAt ? Date.now() - this.windowAt : 0,
      counts: this.counts,
      probes: this.probes,
      log: Boolean(this.tail?.found),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    }
  }

  /**
   * The window ends `ms` from now; meanwhile every one of `services` must run. Their deaths
   * since the start came as events; this read catches one that died before the stream began.
   */
  async endIn(ms: number): Promise<void> {
    this.windowAt = Date.now()
    this.cpu0 = process.cpuUsage()
    this.until = this.windowAt + ms
    this.last = setTimeout(() => this.tick(), ms)
    this.record()
    const inv = await this.ctx
      .uninterruptible()
      .inventory(true)
      .catch(() => null)
    for (const x of inv?.containers(this.p.color, this.p.services) ?? []) if (x.state !== 'running' && !this.killed.has(x.id)) this.onTrouble(`${x.name} is ${x.state}`)
    this.tick()
  }

  /** Ends the watch where it is (a step beside it failed): verdict "stopped". */
  stop(): void {
    if (!this.started) return
    this.halted = true
    this.tick()
  }

  private onTrouble(why: string | null): void {
    if (!why || this.trouble) return
    this.trouble = why
    this.tick()
  }

  /** What `status` in another process shows; cleared at the end. */
  private record(clear = false): void {
    const until = Number.isFinite(this.until) ? this.until : this.t0 + this.expectMs
    const mine = this.counts[this.p.color]
    // The window once it is known: `status` shows how much of it is left.
    const since = this.windowAt || this.t0
    const w: WatchState = { phase: this.p.phase, color: this.p.color, since: new Date(since).toISOString(), until: new Date(until).toISOString(), ...mine }
    try {
      this.ctx.journal.watching(clear ? undefined : { phase: w.phase, color: w.color, since: w.since, until: w.until, requests: w.requests, errors: w.errors })
    } catch {}
  }
}

/** The services a watch after the switch follows: a one-off job among CALMSWAP_CORE may exit. */
export const watchedServices = (c: Config) => [...c.roles.web, ...c.roles.workers, ...c.roles.singletons]

/**
 * The old color's baseline: its real requests in the last watch that judged it, when the
 * deploy that made it live kept it. Its requests now, after the switch, are only the new
 * color's failures retried on it as the backup: no measure of it.
 */
export function lastWatchOf(history: readonly HistoryEntry[], color: Color | null): Baseline | null {
  if (!color) return null
  for (const e of [...history].reverse()) {
    if (e.op !== 'deploy' || e.to !== color || e.result !== 'ok') continue
    const w = e.watch?.find((r) => r.phase === 'watch' && r.color === color)
    const c = w?.counts?.[color]
    return c && Number.isInteger(c.requests) && Number.isInteger(c.errors) ? { color, requests: c.requests, errors: c.errors } : null
  }
  return null
}

/** The watch of a deploy: created with it, started at the switch, its window set once the new workers run. */
export function newWatch(ctx: Ctx, to: Color, baseline: Baseline | null = null): Watch {
  return new Watch(ctx, { phase: 'watch', color: to, share: 100, services: watchedServices(ctx.config), baseline }, ctx.config.watch.ms)
}

/**
 * The watch step: once the new workers run and the old web is still warm, the new color
 * serves everything for CALMSWAP_WATCH more while it is judged; its traffic has been judged
 * since the switch. A bad verdict throws, and the deploy rolls back. Ctrl-C ends the watch
 * and keeps the release.
 */
export async function watchRelease(ctx: Ctx, to: Color, watch: Watch, reports: PhaseReport[]): Promise<void> {
  const c = ctx.config
  if (ctx.exec.dryRun) {
    ctx.ui.detail(
      `  would watch ${to} for ${fmtDuration(c.watch.ms)}: rolled back at a 5xx share above ${c.watch.max5xxPct}% (over ${c.watch.minRequests} requests or more), or when a container dies${probing(c) ? `; while real traffic is scarce it requests ${c.watch.probe.paths.join(', ')} itself, one every ${fmtDuration(c.watch.probe.everyMs)} at most` : ''}`,
    )
    return
  }
  ctx.ui.info(`watching ${to} for ${fmtDuration(c.watch.ms)}; Ctrl-C ends the watch and keeps the release`)
  // A deploy continued from its journal switched in an earlier run: judged from now.
  if (!watch.isStarted) watch.start(openLog(ctx))
  await watch.endIn(c.watch.ms)
  const r = await watch.result
  reports.push(r)
  if (watch.error) throw watch.error
  const mine = r.counts[to]
  const own = r.probes?.[to]
  const owned = own?.requests ? ` and ${own.requests} of its own (${own.errors} 5xx)` : ''
  if (r.verdict === 'stopped') ctx.ui.warn(`watch ${r.reason}: ${c.release} stays live on ${to}, not judged any further (${mine.requests} requests, ${mine.errors} 5xx so far)`)
  else if (r.verdict === 'too-few-requests')
    ctx.ui.warn(
      `only ${mine.requests} requests${owned} reached ${to} in ${fmtMs(r.ms)} (fewer than CALMSWAP_WATCH_MIN_REQUESTS=${c.watch.minRequests}): its 5xx share was not judged; its containers stayed up`,
    )
  else
    ctx.ui.ok(
      `watched ${to} for ${fmtMs(r.ms)} since the switch: ${r.log ? `${mine.requests} requests, ${mine.errors} 5xx${owned}` : 'no proxy log'}, containers stayed up (the watch used ${(r.cpuMs / 1000).toFixed(2)} CPU-s in its ${fmtMs(r.windowMs)} window)${r.reason ? `; ${r.reason}` : ''}`,
    )
}

/**
 * A canary step: `share` of the requests to `p.color` for `ms`, judged as the watch judges.
 * Resolves with its report; the caller acts on the verdict.
 */
export async function observe(ctx: Ctx, p: Phase, ms: number, tail: LogTail | null): Promise<PhaseReport> {
  const w = new Watch(ctx, p, ms).start(tail)
  await w.endIn(ms)
  return w.result
}
