// history.jsonl: one line per deploy, rollback and cleanup (when, who, colors, release,
// images, step times, result). Each operation records its own step timings here as it runs.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Color } from './config.ts'
import { Interrupted } from './errors.ts'
import { appendLine, readOwnFile } from './files.ts'
import { formatReport, type PhaseReport } from './phase-report.ts'
import type { Op } from './state.ts'
import { fmtMs, type Timing, type Ui } from './ui.ts'
import { safe, whoami } from './whoami.ts'

export interface HistoryEntry {
  readonly op: Op
  readonly at: string
  readonly user: string
  readonly host: string
  readonly from: Color | null
  readonly to: Color | null
  readonly release: string | null
  readonly images?: Record<string, string>
  /** What each canary step and the watch saw, and their verdicts. */
  readonly watch?: readonly PhaseReport[]
  readonly steps: readonly Timing[]
  /**
   * The gap in task processing: from the old workers' freeze to a new worker's first task
   * (`to: 'task'`, its CALMSWAP_TASK_LOG line), or to its ready line when it took none by the
   * end of its check (`to: 'ready-log'`: nothing waited), or at least to its start when neither
   * showed (`to: 'start'`).
   */
  readonly gap?: WorkerGap
  /** This calmswap process's own cost: peak RSS and CPU time (process.resourceUsage()). */
  readonly usage?: Usage
  readonly result: 'ok' | 'failed' | 'rolled-back' | 'interrupted'
  readonly error?: string
  readonly ms: number
}

export interface WorkerGap {
  readonly ms: number
  readonly to: 'task' | 'ready-log' | 'start'
  /**
   * When the old workers, thawed to drain, were seen running tasks within the gap: the longest
   * stretch in which no worker is known to have run one, at most (see workerGap).
   */
  readonly noTaskMs?: number
}

export interface Usage {
  readonly maxRssMb: number
  readonly cpuS: number
  readonly userS: number
  readonly systemS: number
}

/** What this process has cost so far: its peak RSS and its CPU time, user and system. */
export function usage(): Usage {
  const u = process.resourceUsage()
  const r = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d
  return { maxRssMb: r(u.maxRSS / 1024, 1), cpuS: r((u.userCPUTime + u.systemCPUTime) / 1e6, 3), userS: r(u.userCPUTime / 1e6, 3), systemS: r(u.systemCPUTime / 1e6, 3) }
}

const GAP_END: Record<WorkerGap['to'], string> = { task: 'first task of a new worker', 'ready-log': 'first new worker ready', start: 'new workers started' }

const fmtGap = (g: WorkerGap) =>
  g.noTaskMs !== undefined && g.noTaskMs < g.ms
    ? `no task run for at most ${fmtMs(g.noTaskMs)} (old workers frozen → ${GAP_END[g.to] ?? g.to}: ${fmtMs(g.ms)}, the old ones seen running tasks in between)`
    : `no worker consuming for ${g.to === 'start' ? 'at least ' : ''}${fmtMs(g.ms)} (old workers frozen → ${GAP_END[g.to] ?? g.to})`

/** What recording an operation needs of a step's context: its output, whether it is a dry run, where history goes. */
export interface OpLogCtx {
  readonly ui: Ui
  readonly exec: { readonly dryRun: boolean }
  readonly config: { readonly stateDir: string }
}

export const historyFile = (stateDir: string) => join(stateDir, 'history.jsonl')

export function readHistory(stateDir: string): HistoryEntry[] {
  const text = safe(() => readOwnFile(historyFile(stateDir)), null)
  if (!text) return []
  return text
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

/**
 * One operation being recorded: its steps run through `step()`, which prints them and keeps
 * their timings; `finish()` writes the history line.
 */
export class OpLog {
  readonly timings: Timing[] = []
  private readonly t0 = performance.now()
  private readonly at = new Date().toISOString()
  release: string | null = null
  images?: Record<string, string>
  watch?: PhaseReport[]
  gap?: WorkerGap

  constructor(
    private readonly ctx: OpLogCtx,
    readonly op: Op,
    readonly from: Color | null,
    readonly to: Color | null,
  ) {
    ctx.ui.event('op-start', { op, from, to })
  }

  /** Runs one named step: printed, timed and kept for the history line. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t = performance.now()
    try {
      const r = await this.ctx.ui.step(name, fn)
      this.timings.push({ step: name, ms: Math.round(performance.now() - t), ok: true })
      return r
    } catch (e) {
      this.timings.push({ step: name, ms: Math.round(performance.now() - t), ok: false })
      throw e
    }
  }

  finish(result: HistoryEntry['result'], error?: Error): void {
    const ms = Math.round(performance.now() - this.t0)
    const entry: HistoryEntry = {
      op: this.op,
      at: this.at,
      user: whoami(),
      host: hostname(),
      from: this.from,
      to: this.to,
      release: this.release,
      images: this.images,
      ...(this.watch?.length ? { watch: this.watch } : {}),
      steps: this.timings,
      ...(this.gap ? { gap: this.gap } : {}),
      usage: usage(),
      result: error instanceof Interrupted && result !== 'ok' ? 'interrupted' : result,
      error: error?.message,
      ms,
    }
    // History is a record, not a safety net: losing a line must not fail an operation that worked.
    if (!this.ctx.exec.dryRun) safe(() => appendLine(historyFile(this.ctx.config.stateDir), JSON.stringify(entry)), undefined)
    this.ctx.ui.event('op-end', { op: this.op, result: entry.result, ms, ...(entry.gap ? { gap: entry.gap } : {}), usage: entry.usage })
    this.ctx.ui.summary('step timings', this.timings)
    if (entry.gap) this.ctx.ui.detail(`  ${fmtGap(entry.gap)}`)
  }
}

/** Runs an operation and leaves its history line: ok, or failed with the error, which it rethrows. */
export async function recorded<T>(ctx: OpLogCtx, op: Op, from: Color | null, to: Color | null, fn: (r: OpLog) => Promise<T>): Promise<T> {
  const r = new OpLog(ctx, op, from, to)
  try {
    const value = await fn(r)
    r.finish('ok')
    return value
  } catch (e) {
    r.finish('failed', e as Error)
    throw e
  }
}

/** The last line of history alone, read from the end of the file (status needs no more). */
export function lastHistory(stateDir: string, tailBytes = 64 * 1024): HistoryEntry | null {
  return safe(() => {
    const fd = openSync(historyFile(stateDir), 'r')
    try {
      const size = fstatSync(fd).size
      const buf = Buffer.alloc(Math.min(size, tailBytes))
      readSync(fd, buf, 0, buf.length, size - buf.length)
      const line = buf.toString('utf8').trimEnd().split('\n').at(-1)
      return line ? (JSON.parse(line) as HistoryEntry) : null
    } finally {
      closeSync(fd)
    }
  }, null)
}

/** One line about an operation's cost: how long, the gap in task processing, calmswap's own RSS and CPU. */
export function formatCost(e: HistoryEntry): string {
  return [
    `${e.op} ${e.result} in ${fmtMs(e.ms)} at ${e.at}`,
    e.gap ? fmtGap(e.gap) : '',
    e.usage ? `calmswap ${e.usage.maxRssMb} MB peak RSS, ${e.usage.cpuS.toFixed(2)} CPU-s` : '',
  ]
    .filter(Boolean)
    .join('; ')
}

export function formatHistory(entries: readonly HistoryEntry[]): string {
  if (!entries.length) return '(no history yet)'
  return entries
    .map((e) => {
      const steps = e.steps.map((s) => `${s.step} ${fmtMs(s.ms)}${s.ok ? '' : ' ✗'}`).join(', ')
      return [
        `${e.at}  ${e.op.padEnd(8)} ${(e.from ?? '-').padEnd(5)} → ${(e.to ?? '-').padEnd(5)}  ${(e.release ?? '-').padEnd(12)} ${e.result.padEnd(11)} ${fmtMs(e.ms).padStart(6)}  ${e.user}`,
        steps ? `    steps: ${steps}` : '',
        e.images && Object.keys(e.images).length
          ? `    images: ${Object.entries(e.images)
              // An image ID (compose mode) or a reference with its digest (swarm mode), both short.
              .map(([k, v]) => `${k}=${/^sha256:/.test(v) ? v.slice(7, 19) : v.replace(/@sha256:([0-9a-f]{12})[0-9a-f]*$/, '@$1')}`)
              .join(' ')}`
          : '',
        e.gap ? `    workers: ${fmtGap(e.gap)}` : '',
        e.usage ? `    calmswap: ${e.usage.maxRssMb} MB peak RSS, ${e.usage.cpuS.toFixed(2)} CPU-s` : '',
        ...(e.watch ?? []).map((w) => `    ${formatReport(w)}`),
        e.error ? `    error: ${e.error.split('\n')[0]}` : '',
      ]
        .filter(Boolean)
        .join('\n')
    })
    .join('\n')
}
