// Bookkeeping shared by deploy, rollback and cleanup: the history line each one leaves,
// and the report of an operation that a crash or a kill cut short.
import type { Color } from './config.ts'
import type { Ctx } from './context.ts'
import { Interrupted } from './errors.ts'
import { acquireLock } from './lock.ts'
import type { HistoryEntry, Op, State } from './state.ts'
import { whoami } from './state.ts'

export interface OpRecord {
  readonly op: Op
  readonly from: Color | null
  readonly to: Color | null
  readonly t0: number
  readonly at: string
  release?: string
  images?: Record<string, string>
}

export function startOp(ctx: Ctx, op: Op, from: Color | null, to: Color | null): OpRecord {
  ctx.ui.event('op-start', { op, from, to })
  return { op, from, to, t0: performance.now(), at: new Date().toISOString() }
}

export function finishOp(ctx: Ctx, r: OpRecord, result: HistoryEntry['result'], error?: Error): void {
  const ms = Math.round(performance.now() - r.t0)
  const entry: HistoryEntry = {
    op: r.op,
    at: r.at,
    user: whoami(),
    host: whoami().split('@')[1] ?? '',
    from: r.from,
    to: r.to,
    release: r.release ?? null,
    images: r.images,
    steps: ctx.ui.timings.map((t) => ({ step: t.step, ms: Math.round(t.ms), ok: t.ok })),
    result: error instanceof Interrupted && result !== 'ok' ? 'interrupted' : result,
    error: error?.message,
    ms,
  }
  ctx.state.appendHistory(entry)
  ctx.ui.event('op-end', { op: r.op, result: entry.result, ms })
}

/** Runs an operation and leaves its history line: ok, or failed with the error, which it rethrows. */
export async function recordOp<T>(ctx: Ctx, op: Op, from: Color | null, to: Color | null, fn: () => Promise<T>): Promise<T> {
  const r = startOp(ctx, op, from, to)
  try {
    const value = await fn()
    finishOp(ctx, r, 'ok')
    return value
  } catch (e) {
    finishOp(ctx, r, 'failed', e as Error)
    throw e
  }
}

/** Tells the operator, once, what an earlier run left unfinished. */
export function reportInterrupted(ctx: Ctx, s: State): void {
  const j = s.journal
  if (!j) return
  const last = j.done.at(-1)
  ctx.ui.warn(
    `an earlier ${j.op} ${j.from ?? 'nothing'} → ${j.to} (pid ${j.pid}, started ${j.startedAt}) was interrupted ${last ? `after step "${last}"` : 'before its first step finished'}; continuing from there`,
  )
}

/** Runs an operation under the lock, saying so when it took over a dead holder's lock. */
export async function withLock<T>(ctx: Ctx, op: Op, fn: () => Promise<T>): Promise<T> {
  const lock = acquireLock(ctx.config.stateDir, op)
  try {
    if (lock.tookOver) ctx.ui.warn(`took over the lock of a ${lock.tookOver.op} (pid ${lock.tookOver.pid}) that is no longer running`)
    return await fn()
  } finally {
    lock.release()
  }
}
