// Rollback, from any point of a failed deploy or after a successful one while the old color
// exists: traffic back to the old color, the new singletons stopped before the old ones
// resume (never two beats), the old workers resumed, the new color stopped.
import { logs, stop } from '../builders/compose.ts'
import { type Color, coloredServices } from '../config.ts'
import type { Ctx } from '../context.ts'
import { StepError, UsageError } from '../errors.ts'
import { recorded } from '../history.ts'
import { names } from '../inventory.ts'
import { reportInterrupted, runOp } from '../operation.ts'
import type { State } from '../state.ts'
import { workersSignalled } from '../state.ts'
import { sanitize } from '../ui.ts'
import { checkHealth } from './health.ts'
import { switchTraffic, verifyThroughProxy } from './traffic.ts'
import { quiesce, restServices, resumeRest, startStopped, thaw } from './workers.ts'

export interface RollbackPlan {
  /** The color to go back to; null when the failed deploy was the first one. */
  readonly good: Color | null
  readonly bad: Color
}

/** What a rollback started now would do, from the journal or the live/previous colors. */
function rollbackPlan(s: State): RollbackPlan {
  const j = s.journal
  if (j?.op === 'deploy') return { good: j.from, bad: j.to }
  if (j?.op === 'rollback') return { good: j.to === j.from ? null : j.to, bad: j.from! }
  if (j?.op === 'cleanup') throw new UsageError(`a cleanup of ${j.from} was interrupted; run cleanup to finish it first`)
  if (j?.op === 'adopt') throw new UsageError('an adoption was interrupted; run adopt to finish it, or recover to undo it')
  if (!s.live) throw new UsageError('nothing is deployed yet: there is nothing to roll back')
  if (!s.previous) throw new UsageError(`nothing to roll back to: ${s.live} is live and no previous color is kept (cleanup removed it)`)
  return { good: s.previous, bad: s.live }
}

/** The services that take tasks or ticks: what never runs in two colors at once. */

/** The good color's web (and core) runs and answers; thawed or started when it does not. */
async function bringBackWeb(ctx: Ctx, good: Color): Promise<void> {
  const c = ctx.config
  const inv = await ctx.inventory(true)
  if (!inv.hasProject(good)) throw new StepError(`cannot roll back: ${good} has no containers left (cleanup removed it). Deploy a fixed release instead.`)
  const down = [...c.roles.web, ...c.roles.core].filter((s) => !inv.runningServices(good, [s]).length)
  if (!down.length) return
  await thaw(ctx, good, down)
  await startStopped(ctx, good, down)
  await checkHealth(ctx, good)
}

/** The new color's workers and singletons stop first: no second beat, no two sets of workers. */
async function stopServices(ctx: Ctx, color: Color, services: readonly string[]): Promise<void> {
  const inv = await ctx.inventory()
  const live = inv.servicesIn(color, services, ['running', 'restarting', 'paused'])
  await thaw(ctx, color, live)
  const consuming = names(
    (await ctx.inventory()).containersIn(
      color,
      ctx.config.roles.workers.filter((w) => live.includes(w)),
      ['running'],
    ),
  )
  // Their grace starts with this stop, whatever the journal says of the other color's.
  await quiesce(ctx, consuming, ctx.config.stopGraceS * 1000)
  if (live.length) await ctx.must(stop(ctx.config, color, live))
}

/** The last log lines of the failed color's web, made safe for a terminal. */
async function printLogs(ctx: Ctx, bad: Color): Promise<void> {
  const c = ctx.config
  if (c.logTail <= 0 || ctx.exec.dryRun) return
  const r = await ctx.run(logs(c, bad, c.roles.web))
  const text = sanitize(r.stdout + r.stderr).trim()
  if (!text) return
  ctx.ui.warn(`last ${c.logTail} log lines of ${bad} web:`)
  ctx.ui.detail(text)
}

/**
 * The rollback itself. Runs to the end even after Ctrl-C: stopping halfway is what would
 * leave the host with no color serving.
 */
export async function rollbackTo(ctx0: Ctx, plan: RollbackPlan, reason?: Error): Promise<void> {
  const ctx = ctx0.uninterruptible()
  const { good, bad } = plan
  const before = ctx.journal.current
  const signalled = workersSignalled(before)
  // The host matters more than the record: a state folder that stopped taking writes (disk
  // full) must not stop the rollback itself.
  const record = (what: string, f: () => void) => {
    try {
      f()
    } catch (e) {
      ctx.ui.warn(`could not record ${what} in the state file: ${(e as Error).message}`)
    }
  }
  record('the rollback', () => {
    if (before?.op !== 'rollback') {
      // The grace of workers signalled by the deploy keeps counting from their SIGTERM.
      ctx.journal.replace({
        op: 'rollback',
        from: bad,
        to: good ?? bad,
        release: before?.release ?? ctx.state.load().release ?? '',
        ...(before?.signalledAt ? { signalledAt: before.signalledAt, signalled: before.signalled ?? [] } : {}),
      })
    }
  })

  if (good) {
    await bringBackWeb(ctx, good)
    const upstream = ctx.state.load().upstream
    if (upstream?.color !== good || upstream.backup !== null) {
      await ctx.ui.step(`switch back to ${good}`, async () => {
        await switchTraffic(ctx, good, null)
        await verifyThroughProxy(ctx, good)
      })
    }
    await stopServices(ctx, bad, restServices(ctx))
    await resumeRest(ctx, good, signalled || before?.op === 'rollback')
  }
  await stopServices(ctx, bad, coloredServices(ctx.config))
  if (reason) await printLogs(ctx, bad)
  record('the rollback', () => ctx.state.rolledBack(good, bad))
}

/** The rollback operation: traffic back to the previous color, from any state calmswap can be in. */
export async function rollback(ctx: Ctx): Promise<void> {
  return runOp(ctx, 'rollback', async () => {
    const s = ctx.state.load()
    if (s.journal) reportInterrupted(ctx, s.journal, false)
    const plan = rollbackPlan(s)
    await recorded(ctx, 'rollback', plan.bad, plan.good, (op) => op.step(`rollback ${plan.bad} → ${plan.good ?? 'nothing'}`, () => rollbackTo(ctx, plan)))
    ctx.ui.ok(plan.good ? `${plan.good} serves again; ${plan.bad} is stopped (remove it with cleanup)` : `${plan.bad} stopped`)
  })
}
