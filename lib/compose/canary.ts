// A canary release: before the full switch, the new web gets a share of the requests
// (nginx upstream weights), step by step, each step held and judged like the watch. One
// set of workers throughout: the old color's, thawed for the canary, run every task either
// web enqueues; the new workers start only at promotion, after the switch, as in any deploy.
import { stopContainers } from '../builders/containers.ts'
import { type Color, fmtDuration } from '../config.ts'
import type { Ctx } from '../context.ts'
import { Interrupted, StepError } from '../errors.ts'
import { names } from '../inventory.ts'
import { workersSignalled } from '../state.ts'
import { switchTraffic } from './traffic.ts'
import { formatReport, observe, openLog, type PhaseReport, resetLog } from './watch.ts'
import { freezeWorkers, resumeRest } from './workers.ts'

/**
 * The canary step, between the health check and the switch. A step judged bad throws, and
 * the deploy rolls back: traffic all back to the old web, which served all along. After the
 * last step the old workers are frozen and its beat stopped again, exactly as before a
 * switch, so the switch and up-rest that follow run as in every deploy.
 */
export async function canary(ctx: Ctx, from: Color | null, to: Color, reports: PhaseReport[]): Promise<void> {
  const c = ctx.config
  const oldWeb = from ? (await ctx.inventory()).runningServices(from, c.roles.web) : []
  if (!from || !oldWeb.length) return ctx.ui.detail('  no old web runs to share the traffic with: straight to the switch')
  // The old workers were frozen (and its beat stopped) for the new web's boot; the canary
  // can last minutes, and the tasks both webs enqueue must run meanwhile. A new beat that a
  // run cut short started before the canary was configured stops first: never two beats.
  const early = (await ctx.inventory(true)).aliveContainers(to, c.roles.singletons)
  if (early.length) await ctx.must(stopContainers(c, names(early), c.stopGraceS))
  await resumeRest(ctx, from, workersSignalled(ctx.journal.current))
  ctx.journal.resumed()
  resetLog(ctx)
  const tail = ctx.exec.dryRun ? null : openLog(ctx)
  try {
    for (const share of c.canary.steps) {
      ctx.checkpoint()
      await switchTraffic(ctx, to, from, { share, log: true })
      ctx.ui.detail(
        `  ${share}% of requests → ${to}, the rest → ${from}${c.canary.sticky.by === 'off' ? '' : ` (sticky by ${c.canary.sticky.by === 'ip' ? 'client address' : `cookie ${c.canary.sticky.name}`})`}`,
      )
      if (ctx.exec.dryRun) {
        ctx.ui.detail(`  would hold ${fmtDuration(c.canary.holdMs)} and judge ${to} as the watch does`)
        continue
      }
      const r = await observe(ctx, { phase: `canary ${share}%`, color: to, share, services: c.roles.web, baseline: 'live' }, c.canary.holdMs, tail)
      reports.push(r)
      if (r.verdict === 'stopped') throw new Interrupted(String(ctx.signal.reason ?? 'signal'))
      if (r.verdict === 'bad') throw new StepError(`the canary at ${share}% rolls ${to} back: ${r.reason}`)
      if (r.verdict === 'too-few-requests') ctx.ui.warn(`too few requests reached ${to} at ${share}% to judge its 5xx share (${formatReport(r)}); going on`)
      else ctx.ui.detail(`  ${formatReport(r)}`)
    }
  } finally {
    tail?.close()
  }
  // Promotion.
  await freezeWorkers(ctx, from)
}
