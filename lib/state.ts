// The live color and the operation in progress, in <stateDir>/state.json. Every change is
// one named transition below, written atomically (lib/files.ts). A file calmswap did not
// write the way it writes is refused with a clear message, never trusted as it is.
import { join } from 'node:path'
import { COLORS, type Color, RELEASE_LABEL } from './config.ts'
import { JsonFile } from './files.ts'

export type Op = 'deploy' | 'rollback' | 'cleanup' | 'adopt'
const OPS: readonly Op[] = ['deploy', 'rollback', 'cleanup', 'adopt']

export interface Journal {
  readonly op: Op
  /** The color that served before; null on the very first deploy. */
  readonly from: Color | null
  readonly to: Color
  readonly release: string
  readonly startedAt: string
  readonly pid: number
  /** Steps finished so far, in order: the next run continues after the last. */
  readonly done: readonly string[]
  /** The step under way when the journal was last written. */
  readonly current?: string
  /** When the old color's workers or singletons were last sent SIGTERM: the stop grace counts from here. */
  readonly signalledAt?: string
  /** The containers this operation sent SIGTERM, to tell them from ones a daemon restart brought back. */
  readonly signalled?: readonly string[]
  /** adopt: the plain project's proxy service, which an undo must start again. */
  readonly proxyFrom?: string
  /** adopt: the upstream file as it was before (null: none), which an undo gives back to a proxy that reads it. */
  readonly upstreamBefore?: string | null
  /** Release jobs of this deploy: started and not seen to end ("running"), "done" or "failed". */
  readonly jobs?: Readonly<Record<string, JobState>>
  /** When the old color's workers and singletons were resumed to run beside a canary: nothing of it is stopping until the next signalledAt. */
  readonly resumedAt?: string
  /** The watch (or canary step) under way, for `status` in another process. */
  readonly watch?: WatchState
}

/** What a watch in progress has seen so far: written when it starts and every few seconds. */
export interface WatchState {
  /** "watch", or "canary 10%". */
  readonly phase: string
  readonly color: Color
  readonly since: string
  readonly until: string
  /** Requests the new color answered, and how many of them with a 5xx. */
  readonly requests: number
  readonly errors: number
}

export type JobState = 'running' | 'done' | 'failed'

export interface Upstream {
  readonly color: Color
  readonly port: number
  readonly backup: number | null
  /** A canary: `color` gets this share (%) of the requests, the `backup` port the rest, both as primaries. */
  readonly share?: number
}

/** The images a color was deployed with: service → the calmswap tag that pins it. */
export interface ColorRelease {
  readonly release: string
  readonly images: Readonly<Record<string, string>>
}

/** A release whose images are kept, so that it can be deployed again. */
export interface KeptRelease {
  readonly release: string
  readonly at: string
  /** service → calmswap's own tag, the reference the compose file named, and the image id. */
  readonly images: Readonly<Record<string, { readonly tag: string; readonly ref: string; readonly id: string }>>
}

export interface State {
  readonly version: 1
  readonly live: Color | null
  readonly previous: Color | null
  readonly release: string | null
  readonly previousRelease: string | null
  readonly upstream: Upstream | null
  /**
   * A switch under way: written before the upstream file, cleared with the record of the
   * switch. Left behind, it says the file may name this instead of `upstream`.
   */
  readonly switching?: Upstream
  readonly journal: Journal | null
  readonly updatedAt: string | null
  readonly colors?: Readonly<Partial<Record<Color, ColorRelease>>>
  /** Oldest first. */
  readonly releases?: readonly KeptRelease[]
}

export const EMPTY_STATE: State = {
  version: 1,
  live: null,
  previous: null,
  release: null,
  previousRelease: null,
  upstream: null,
  journal: null,
  updatedAt: null,
}

// ---------------------------------------------------------------- validation

const isColor = (v: unknown): v is Color => COLORS.includes(v as Color)
const colorOrNull = (v: unknown) => v === null || isColor(v)
const stringOrNull = (v: unknown) => v === null || typeof v === 'string'
const port = (v: unknown) => Number.isInteger(v) && (v as number) > 0 && (v as number) < 65536
const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string')
// Each field is checked for what it is used as, not only for its type: a label lands in the
// pins file (YAML) and in Docker tags, names go into argv and YAML keys, times are parsed.
/** A release label, as CALMSWAP_RELEASE allows it. */
const label = (v: unknown) => typeof v === 'string' && RELEASE_LABEL.test(v)
const labelOrNull = (v: unknown) => v === null || label(v)
/** Text only shown: one line, no control characters. */
const line = (v: unknown) => typeof v === 'string' && !/[\x00-\x1f\x7f-\x9f]/.test(v)
const time = (v: unknown) => typeof v === 'string' && line(v) && !Number.isNaN(Date.parse(v))
/** A Compose service or container name. */
const name = (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v)
const names = (v: unknown) => Array.isArray(v) && v.every(name)
/** An image reference Docker takes (registry:port/path:tag@digest). */
const imageRef = (v: unknown) => typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$/.test(v)
const imageId = (v: unknown) => v === '' || (typeof v === 'string' && /^sha256:[A-Za-z0-9]+$/.test(v))
const record = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
/** service → what `ok` accepts, with every key a service name. */
const byService = (v: unknown, ok: (x: unknown) => boolean) => record(v) && Object.entries(v).every(([k, x]) => name(k) && ok(x))

/** Every way a journal is not one calmswap could have written; empty when it is fine. */
export function journalProblems(j: unknown): string[] {
  if (j === null) return []
  if (!j || typeof j !== 'object' || Array.isArray(j)) return ['"journal" must be an object or null']
  const x = j as Record<string, unknown>
  const p: string[] = []
  if (!OPS.includes(x.op as Op)) p.push(`"journal.op" is ${JSON.stringify(x.op)}, expected one of ${OPS.join(', ')}`)
  if (!colorOrNull(x.from)) p.push(`"journal.from" is ${JSON.stringify(x.from)}, expected blue, green or null`)
  if (!isColor(x.to)) p.push(`"journal.to" is ${JSON.stringify(x.to)}, expected blue or green`)
  // A deploy whose target is the color it came from would recreate the live web under traffic.
  if (isColor(x.to) && x.from === x.to && x.op === 'deploy') p.push(`"journal.from" and "journal.to" are both ${x.to}: a deploy always goes from one color to the other`)
  if (!label(x.release)) p.push(`"journal.release" is ${JSON.stringify(x.release)}, expected a release label (letters, digits and . _ : + -)`)
  if (!line(x.startedAt)) p.push('"journal.startedAt" must be a time')
  if (!Number.isInteger(x.pid) || (x.pid as number) < 0) p.push('"journal.pid" must be a whole number')
  if (!strings(x.done) || !(x.done as string[]).every(line)) p.push('"journal.done" must be a list of step names')
  if (x.current !== undefined && !line(x.current)) p.push('"journal.current" must be a step name')
  if (x.signalledAt !== undefined && !time(x.signalledAt)) p.push('"journal.signalledAt" must be a time')
  if (x.signalled !== undefined && !names(x.signalled)) p.push('"journal.signalled" must be a list of container names')
  if (x.proxyFrom !== undefined && !name(x.proxyFrom)) p.push('"journal.proxyFrom" must be a service name')
  if (x.upstreamBefore !== undefined && !stringOrNull(x.upstreamBefore)) p.push('"journal.upstreamBefore" must be the text of a file or null')
  const jobs = x.jobs as Record<string, unknown> | undefined
  if (jobs !== undefined && (typeof jobs !== 'object' || jobs === null || Object.values(jobs).some((v) => !['running', 'done', 'failed'].includes(v as string)))) {
    p.push('"journal.jobs" must map job names to running, done or failed')
  }
  if (x.resumedAt !== undefined && !time(x.resumedAt)) p.push('"journal.resumedAt" must be a time')
  const w = x.watch as Record<string, unknown> | undefined
  if (
    w !== undefined &&
    (!w ||
      typeof w.phase !== 'string' ||
      !isColor(w.color) ||
      typeof w.since !== 'string' ||
      typeof w.until !== 'string' ||
      !Number.isInteger(w.requests) ||
      !Number.isInteger(w.errors))
  )
    p.push('"journal.watch" must be {"phase", "color", "since", "until", "requests", "errors"}')
  return p
}

/** Every way a state file is not one calmswap could have written; empty when it is fine. */
export function stateProblems(s: unknown): string[] {
  if (!s || typeof s !== 'object' || Array.isArray(s)) return ['it must hold a JSON object']
  const x = s as Record<string, unknown>
  const p: string[] = []
  if (x.version !== undefined && x.version !== 1) p.push(`"version" is ${JSON.stringify(x.version)}; this calmswap reads version 1`)
  if (!colorOrNull(x.live ?? null)) p.push(`"live" is ${JSON.stringify(x.live)}, expected blue, green or null`)
  if (!colorOrNull(x.previous ?? null)) p.push(`"previous" is ${JSON.stringify(x.previous)}, expected blue, green or null`)
  if (isColor(x.live) && x.live === x.previous) p.push(`"live" and "previous" are both ${x.live}`)
  for (const k of ['release', 'previousRelease']) if (!labelOrNull(x[k] ?? null)) p.push(`"${k}" is ${JSON.stringify(x[k])}, expected a release label or null`)
  if (!stringOrNull(x.updatedAt ?? null) || !(x.updatedAt == null || line(x.updatedAt))) p.push('"updatedAt" must be a time or null')
  for (const k of ['upstream', 'switching'] as const) {
    const u = x[k] ?? null
    if (u === null) continue
    const up = u as Record<string, unknown>
    const share = up.share === undefined || (Number.isInteger(up.share) && (up.share as number) > 0 && (up.share as number) < 100)
    if (typeof u !== 'object' || !isColor(up.color) || !port(up.port) || !(up.backup === null || port(up.backup)) || !share) {
      p.push(`"${k}" is ${JSON.stringify(u)}, expected {"color": blue|green, "port": <port>, "backup": <port>|null}`)
    }
  }
  p.push(...journalProblems(x.journal ?? null))
  if (x.colors !== undefined) {
    const ok = record(x.colors) && Object.entries(x.colors).every(([k, v]) => isColor(k) && record(v) && label(v.release) && byService(v.images, imageRef))
    if (!ok) p.push('"colors" must map blue/green to {"release": <release label>, "images": {<service>: <image tag>}}')
  }
  if (x.releases !== undefined) {
    const image = (i: unknown) => record(i) && imageRef(i.tag) && imageRef(i.ref) && imageId(i.id)
    const ok = Array.isArray(x.releases) && x.releases.every((r) => record(r) && label(r.release) && line(r.at) && byService(r.images, image))
    if (!ok) p.push('"releases" must be a list of {"release": <release label>, "at": <time>, "images": {<service>: {"tag", "ref", "id"}}}')
  }
  return p
}

const sameTags = (a: KeptRelease, b: KeptRelease) => JSON.stringify(Object.values(a.images).map((i) => i.tag)) === JSON.stringify(Object.values(b.images).map((i) => i.tag))

// ---------------------------------------------------------------- the store

export class StateStore {
  private readonly record: JsonFile<State>

  constructor(
    readonly dir: string,
    readonly readOnly = false,
  ) {
    const file = join(dir, 'state.json')
    const deleted = 'delete it to start over (calmswap then adopts the color that runs)'
    this.record = new JsonFile(dir, file, readOnly, {
      empty: EMPTY_STATE,
      problems: stateProblems,
      name: `state file ${file}`,
      fixJson: `restore it, or ${deleted}`,
      fixShape: `Restore it, or ${deleted}.`,
    })
  }

  get file(): string {
    return this.record.file
  }

  load(): State {
    return this.record.load()
  }

  private save(next: State): State {
    return this.record.save(next)
  }

  private update(f: (s: State) => State): State {
    return this.save(f(this.load()))
  }

  // ---- the transitions: every change of state.json is one of these

  /** The upstream file is about to name `next`: what a power cut before recordUpstream leaves behind. */
  switching(next: Upstream): State {
    return this.update((s) => ({ ...s, switching: next }))
  }

  /** The proxy now sends traffic to `upstream`. */
  recordUpstream(upstream: Upstream): State {
    return this.update(({ switching: _, ...s }) => ({ ...s, upstream }))
  }

  /** The proxy reads an upstream file calmswap did not write again (an adoption undone): no color is routed. */
  upstreamGivenBack(): State {
    return this.update(({ switching: _, ...s }) => ({ ...s, upstream: null }))
  }

  /** A switch that did not happen (nginx -t refused it, the old file is back): nothing is under way. */
  switchUndone(): State {
    return this.update(({ switching: _, ...s }) => s)
  }

  /** No state, but a color serves: it becomes the live one, as it is. */
  adoptLive(live: Color, port: number): State {
    return this.update((s) => ({ ...s, live, upstream: s.upstream ?? { color: live, port, backup: null } }))
  }

  /** A deploy finished: `to` serves `release`, `from` is kept warm for a rollback. */
  deployed(from: Color | null, to: Color, release: string): State {
    return this.update((s) => ({ ...s, live: to, previous: from, release, previousRelease: s.release, journal: null }))
  }

  /** A rollback finished: `good` serves again, `bad` is stopped and kept for cleanup. */
  rolledBack(good: Color | null, bad: Color): State {
    return this.update((s) => ({
      ...s,
      live: good,
      previous: bad,
      release: good === s.live ? s.release : s.previousRelease,
      previousRelease: good === s.live ? (s.journal?.release ?? s.previousRelease) : s.release,
      journal: null,
    }))
  }

  /** The old color is gone (cleanup removed it, or it never existed). */
  forgetPrevious(): State {
    return this.update((s) => ({ ...s, previous: null, previousRelease: null, journal: null }))
  }

  /** A color now runs `release`, its images pinned; the release is kept (once) among the releases. */
  pinned(color: Color, pin: ColorRelease, record: KeptRelease): State {
    return this.update((s) => ({
      ...s,
      colors: { ...s.colors, [color]: pin },
      // The same label built again keeps its earlier images as a release of their own.
      releases: [...(s.releases ?? []).filter((r) => !(r.release === record.release && sameTags(r, record))), record],
    }))
  }

  /** A color's containers are gone: nothing is pinned to it. */
  unpinned(color: Color): State {
    return this.update((s) => {
      const colors = { ...s.colors }
      delete colors[color]
      return { ...s, colors }
    })
  }

  /** The releases whose images are still kept, after a prune. */
  keepReleases(releases: readonly KeptRelease[]): State {
    return this.update((s) => ({ ...s, releases }))
  }

  /** The journal's own writes: lib/journal.ts is the only caller. */
  writeJournal(f: (j: Journal | null) => Journal | null): State {
    return this.update((s) => ({ ...s, journal: f(s.journal) }))
  }
}

// ---------------------------------------------------------------- the journal
// The journal of the operation in progress, inside state.json: which steps are done, which
// one runs, when the old workers were signalled, what was frozen. A run that dies leaves it
// behind; the next run reads it to continue or to undo. One API, one writer.

export class JournalWriter {
  constructor(private readonly store: StateStore) {}

  /** The journal as it is now; null when no operation is in progress. */
  get current(): Journal | null {
    return this.store.load().journal
  }

  /**
   * Replaces whatever journal there is with a new one, in one write: a crash between an
   * end and a begin must not leave the host with neither.
   */
  replace(j: Omit<Journal, 'startedAt' | 'pid' | 'done'>): Journal {
    const next: Journal = { ...j, startedAt: new Date().toISOString(), pid: process.pid, done: [] }
    this.store.writeJournal(() => next)
    return next
  }

  /** Starts the journal of an operation; an existing one (the run being continued) is kept. */
  begin(op: Op, from: Color | null, to: Color, release: string): Journal {
    const now = this.current
    if (now && now.op === op) return now
    const j: Journal = { op, from, to, release, startedAt: new Date().toISOString(), pid: process.pid, done: [] }
    this.store.writeJournal(() => j)
    return j
  }

  markCurrent(step: string): void {
    this.store.writeJournal((j) => (j ? { ...j, current: step } : j))
  }

  markDone(step: string): void {
    this.store.writeJournal((j) => (j ? { ...j, done: [...j.done, step], current: undefined } : j))
  }

  /** These containers were sent SIGTERM (now, or at `signalledAt`): their grace starts. */
  signalled(names: readonly string[], signalledAt = new Date().toISOString()): void {
    this.store.writeJournal((j) => (j ? { ...j, signalledAt, signalled: [...new Set([...(j.signalled ?? []), ...names])] } : j))
  }

  /** A release job started, or ended one way or the other. */
  job(name: string, state: JobState): void {
    this.store.writeJournal((j) => (j ? { ...j, jobs: { ...j.jobs, [name]: state } } : j))
  }

  /** The old color's workers and singletons run again (beside a canary): none of them is stopping now. */
  resumed(): void {
    this.store.writeJournal((j) => (j ? { ...j, signalledAt: undefined, signalled: undefined, frozen: undefined, resumedAt: new Date().toISOString() } : j))
  }

  /** A watch started, saw more, or ended (undefined): what `status` shows meanwhile. */
  watching(watch: WatchState | undefined): void {
    this.store.writeJournal((j) => (j ? { ...j, watch } : j))
  }

  /** The operation ended, one way or the other; the state transition that follows says how. */
  finish(): void {
    this.store.writeJournal(() => null)
  }
}

/** Whether the old color's workers may have been told to stop (and so need waiting for before a restart). */
export const workersSignalled = (j: Journal | null | undefined) =>
  Boolean(j && (j.signalledAt || (!j.resumedAt && (j.done.includes('pause-workers') || j.current === 'pause-workers'))))

/** When the stop grace of the old color's workers started, in ms since the epoch; NaN when never. */
export const signalledAtMs = (j: Journal | null | undefined) => Date.parse(j?.signalledAt ?? '')
