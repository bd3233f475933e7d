#!/usr/bin/env -S npx tsx
// Rollback, from any point of a failed deploy or after a successful one while the old
// color exists: traffic back to the old color, the new singletons stopped before the old
// ones resume (never two beats), the old workers resumed, the new color stopped.
import type { Color } from '../lib/config.ts'
import { coloredServices } from '../lib/config.ts'
import { logs, start, stop } from '../lib/compose.ts'
import type { Ctx } from '../lib/context.ts'
import { must } from '../lib/exec.ts'
import { StepError } from '../lib/errors.ts'
import { workersSignalled, type State } from '../lib/state.ts'
import { switchTraffic, verifyThroughProxy } from '../lib/traffic.ts'
import { isMain, run } from '../lib/cli.ts'
import { health } from './health.ts'
import { awaitStopped, thaw } from './pause-workers.ts'
import { recordOp, reportInterrupted, withLock } from '../lib/op.ts'

export interface RollbackPlan {
  /** The color to go back to; null when the failed deploy was the first one. */
  readonly good: Color | null
  readonly bad: Color
  /** The good color's workers were sent SIGTERM by pause-workers: wait for them to exit before starting them. */
  readonly signalled?: boolean
}

/** What a rollback started now would do, from the journal or the live/previous colors. */
export function rollbackPlan(s: State): RollbackPlan {
  const j = s.journal
  if (j?.op === 'deploy') return { good: j.from, bad: j.to, signalled: workersSignalled(j) }
  if (j?.op === 'rollback') return { good: j.to, bad: j.from!, signalled: true }
  if (j?.op === 'cleanup') throw new StepError(`a cleanup of ${j.from} was interrupted; run cleanup to finish it first`)
  if (!s.live) throw new StepError('nothing is deployed yet: there is nothing to roll back')
  if (!s.previous) throw new StepError(`nothing to roll back to: ${s.live} is live and no previous color is kept (cleanup removed it)`)
  return { good: s.previous, bad: s.live }
}

/**
 * The rollback itself. Runs to the end even after Ctrl-C: stopping halfway is what would
 * leave the host with no color serving.
 */
export async function rollbackTo(ctx0: Ctx, plan: RollbackPlan, reason?: Error): Promise<void> {
  const ctx: Ctx = { ...ctx0, signal: new AbortController().signal, checkpoint() {} }
  const c = ctx.config
  const { good, bad } = plan
  const grace = { timeoutMs: (c.stopGraceS + 60) * 1000 }
  // The host matters more than the record: a state folder that stopped taking writes
  // (disk full) must not stop the rollback itself.
  const record = (f: (s: State) => State) => {
    try {
      ctx.state.update(f)
    } catch (e) {
      ctx.ui.warn(`could not record the rollback in the state file: ${(e as Error).message}`)
    }
  }
  record((s) => ({ ...s, journal: { op: 'rollback', from: bad, to: good ?? bad, release: s.journal?.release ?? s.release ?? '', startedAt: new Date().toISOString(), pid: process.pid, done: [] } }))

  if (good) {
    let inv = await ctx.inventory(true)
    const webs = [...c.roles.web, ...c.roles.core]
    if (!inv.exists(good)) throw new StepError(`cannot roll back: ${good} has no containers left (cleanup removed it). Deploy a fixed release instead.`)
    const down = webs.filter((s) => !inv.running(good, [s]).length)
    if (down.length) {
      if (!(await thaw(ctx, inv, good, down)).length) await must(ctx.exec, { ...start(c, good, down), timeoutMs: 300_000 })
      await health(ctx, good)
    }
    const upstream = ctx.state.load().upstream
    if (upstream?.color !== good || upstream.backup !== null) {
      await ctx.ui.step(`switch back to ${good}`, async () => {
        await switchTraffic(ctx, good, null)
        await verifyThroughProxy(ctx, good)
      })
    }
    // The new workers and singletons go first: no second beat, and no two sets of
    // workers competing for the CPU while the old ones come back.
    const rest = [...c.roles.workers, ...c.roles.singletons]
    inv = await ctx.inventory()
    const badRest = inv.services(bad, rest, ['running', 'restarting', 'paused'])
    await thaw(ctx, inv, bad, badRest)
    if (badRest.length) await must(ctx.exec, { ...stop(c, bad, badRest), ...grace })
    // Workers told to stop may still be finishing their last task: a `start` now would
    // find them running, do nothing, and then see them exit.
    if (plan.signalled) await awaitStopped(ctx, good)
    inv = await ctx.inventory()
    const frozen = inv.paused(good, rest)
    const stopped = inv.stopped(good, rest)
    await thaw(ctx, inv, good, frozen)
    if (stopped.length) await must(ctx.exec, { ...start(c, good, stopped), timeoutMs: 300_000 })
    ctx.ui.detail(`  ${good} workers resumed: ${[...frozen, ...stopped].join(', ') || 'none needed'}`)
  }

  const inv = await ctx.inventory()
  const badRunning = inv.services(bad, coloredServices(c), ['running', 'restarting', 'paused'])
  await thaw(ctx, inv, bad, badRunning)
  if (badRunning.length) await must(ctx.exec, { ...stop(c, bad, badRunning), ...grace })

  if (reason && c.logTail > 0 && !ctx.exec.dryRun) {
    const r = await ctx.exec.run(logs(c, bad, c.roles.web))
    const text = (r.stdout + r.stderr).trim()
    if (text) {
      ctx.ui.warn(`last ${c.logTail} log lines of ${bad} web:`)
      ctx.ui.detail(text)
    }
  }
  record((s) => ({
    ...s,
    live: good,
    previous: bad,
    release: good === s.live ? s.release : s.previousRelease,
    previousRelease: good === s.live ? (s.journal?.release ?? s.previousRelease) : s.release,
    journal: null,
  }))
}

export async function rollback(ctx: Ctx): Promise<void> {
  return withLock(ctx, 'rollback', async () => {
    const s = ctx.state.load()
    reportInterrupted(ctx, s)
    const plan = rollbackPlan(s)
    await recordOp(ctx, 'rollback', plan.bad, plan.good, () => ctx.ui.step(`rollback ${plan.bad} → ${plan.good ?? 'nothing'}`, () => rollbackTo(ctx, plan)))
    ctx.ui.ok(plan.good ? `${plan.good} serves again; ${plan.bad} is stopped (remove it with cleanup)` : `${plan.bad} stopped`)
  })
}

if (isMain(import.meta.url, 'rollback')) {
  void run(
    {
      name: 'rollback',
      summary: 'send traffic back to the previous color and resume its workers',
      usage: 'rollback [--dry-run]',
      dryRun: true,
    },
    async (ctx) => rollback(ctx),
  )
}

