// What every operation that changes the host does around its own work: it takes the lock
// (a dry run touches nothing, not even the lock), and it tells the operator what an earlier
// run left unfinished.
import type { Ctx } from './context.ts'
import type { OpLog } from './history.ts'
import { lockedMessage, lockHeld, readLock, withLock } from './lock.ts'

/**
 * Runs `fn` as operation `op`: under the state folder's lock for a real run; for a dry run
 * without it, saying so when another operation holds it.
 */
export async function runOp<T>(ctx: Ctx, op: string, fn: () => Promise<T>): Promise<T> {
  if (ctx.exec.dryRun) {
    if (lockHeld(ctx.config.stateDir)) ctx.ui.warn(lockedMessage(readLock(ctx.config.stateDir), 'A dry run goes on: it changes nothing.'))
    return fn()
  }
  return withLock(ctx.config.stateDir, op, (m) => ctx.ui.warn(m), fn)
}

/** What either engine's journal says of an operation under way. */
export interface RunJournal {
  readonly op: string
  readonly startedAt: string
  readonly pid: number
  readonly done: readonly string[]
  readonly current?: string
}

/** Where each step's progress goes: compose's state.json, or swarm.json. */
export interface StepJournal {
  markCurrent(step: string): void
  markDone(step: string): void
}

/**
 * Tells the operator, once, what an earlier run left unfinished, and whether this run
 * continues it. `what`: the colors (compose) or the release (swarm).
 */
export function reportInterrupted<J extends RunJournal & { readonly from?: string | null; readonly to?: string }>(
  ctx: Ctx,
  j: J,
  continuing: boolean,
  what = `${j.from ?? 'nothing'} → ${j.to}`,
): void {
  const last = j.done.at(-1)
  ctx.ui.warn(
    `an earlier ${j.op} ${what} (pid ${j.pid}, started ${j.startedAt}) was interrupted ${last ? `after step "${last}"` : 'before its first step finished'}${j.current ? ` (during "${j.current}")` : ''}${continuing ? '; continuing from there' : ''}`,
  )
}

/** Runs the steps in order, skipping those an interrupted run finished; each one journaled. */
export async function runSteps<S extends string>(
  ctx: Ctx,
  op: OpLog,
  order: readonly S[],
  steps: Record<S, () => Promise<unknown>>,
  done: ReadonlySet<string>,
  journal: StepJournal = ctx.journal,
): Promise<void> {
  for (const name of order) {
    if (done.has(name)) {
      ctx.ui.detail(`  ${name}: already done by the interrupted run`)
      continue
    }
    ctx.checkpoint()
    journal.markCurrent(name)
    await op.step(name, steps[name])
    journal.markDone(name)
  }
}
