// The live color, the journal of the operation in progress, and the history log.
// Every write is atomic (write, fsync, rename): a crash leaves the old state or the new.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { hostname, userInfo } from 'node:os'
import type { Color } from './config.ts'
import { writeFileAtomic } from './exec.ts'

export type Op = 'deploy' | 'rollback' | 'cleanup'

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
  /** When pause-workers sent SIGTERM: the stop grace counts from here. */
  readonly signalledAt?: string
}

/** Whether the old color's workers may have been told to stop (and so need waiting for before a restart). */
export const workersSignalled = (j: Journal | null | undefined) => Boolean(j && (j.done.includes('pause-workers') || j.current === 'pause-workers'))

export interface Upstream {
  readonly color: Color
  readonly port: number
  readonly backup: number | null
}

export interface State {
  readonly version: 1
  readonly live: Color | null
  readonly previous: Color | null
  readonly release: string | null
  readonly previousRelease: string | null
  readonly upstream: Upstream | null
  readonly journal: Journal | null
  readonly updatedAt: string | null
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

export interface HistoryEntry {
  readonly op: Op
  readonly at: string
  readonly user: string
  readonly host: string
  readonly from: Color | null
  readonly to: Color | null
  readonly release: string | null
  readonly images?: Record<string, string>
  readonly steps: readonly { step: string; ms: number; ok: boolean }[]
  readonly result: 'ok' | 'failed' | 'rolled-back' | 'interrupted'
  readonly error?: string
  readonly ms: number
}

export class StateError extends Error {
  name = 'StateError'
}

export const whoami = () => `${safe(() => userInfo().username, 'unknown')}@${hostname()}`
function safe<T>(f: () => T, d: T): T {
  try {
    return f()
  } catch {
    return d
  }
}

export class StateStore {
  readonly file: string
  readonly historyFile: string
  /** --dry-run reads state but never writes it. */
  constructor(
    readonly dir: string,
    readonly readOnly = false,
  ) {
    this.file = join(dir, 'state.json')
    this.historyFile = join(dir, 'history.jsonl')
  }

  load(): State {
    if (!existsSync(this.file)) return EMPTY_STATE
    let parsed: Partial<State>
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8'))
    } catch (e) {
      throw new StateError(`state file ${this.file} is not valid JSON (${(e as Error).message}); restore it or delete it to start over`)
    }
    return { ...EMPTY_STATE, ...parsed }
  }

  save(next: State): State {
    const s = { ...next, updatedAt: new Date().toISOString() }
    if (this.readOnly) return s
    try {
      writeFileAtomic(this.file, `${JSON.stringify(s, null, 2)}\n`)
    } catch (e) {
      throw new StateError(`cannot write state file ${this.file}: ${(e as Error).message}`)
    }
    return s
  }

  update(f: (s: State) => State): State {
    return this.save(f(this.load()))
  }

  /**
   * Proves the state folder takes a write before anything on the host is touched:
   * an unwritable folder or a full disk must stop a deploy, not strand it halfway.
   */
  probeWritable(): void {
    if (this.readOnly) return
    const probe = join(this.dir, `.probe-${process.pid}`)
    try {
      mkdirSync(this.dir, { recursive: true })
      writeFileSync(probe, 'x'.repeat(4096))
      rmSync(probe)
    } catch (e) {
      try {
        rmSync(probe, { force: true })
      } catch {}
      const code = (e as NodeJS.ErrnoException).code
      const why = code === 'ENOSPC' ? 'the disk is full' : code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? 'it is not writable' : (e as Error).message
      throw new StateError(`state folder ${this.dir} cannot be written: ${why}. Nothing was changed. Fix it or set CALMSWAP_STATE_DIR.`)
    }
  }

  appendHistory(entry: HistoryEntry): void {
    if (this.readOnly) return
    try {
      mkdirSync(this.dir, { recursive: true })
      appendFileSync(this.historyFile, `${JSON.stringify(entry)}\n`)
    } catch {
      // History is a record, not a safety net: losing a line must not fail a deploy that worked.
    }
  }

  history(): HistoryEntry[] {
    if (!existsSync(this.historyFile)) return []
    return readFileSync(this.historyFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as HistoryEntry]
        } catch {
          return []
        }
      })
  }
}
