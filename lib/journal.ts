// The journal of the operation in progress, inside state.json: which steps are done, which
// one runs, when the old workers were signalled, what was frozen. A run that dies leaves it
// behind; the next run reads it to continue or to undo. One API, one writer.
import type { Color } from './config.ts'
import type { JobState, Journal, Op, StateStore, WatchState } from './state.ts'

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
