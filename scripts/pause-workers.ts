#!/usr/bin/env -S npx tsx
// Step 1: free the CPU before the new release starts. Workers and beat get SIGTERM (Celery's
// warm shutdown: no new tasks, in-flight ones finish, reserved ones go back to the queue),
// or, with CALMSWAP_PAUSE_MODE=pause, workers are frozen. Containers stay for an instant resume.
import type { Color } from '../lib/config.ts'
import { kill, pauseContainers, waitExit } from '../lib/compose.ts'
import type { Ctx } from '../lib/context.ts'
import { CommandError, must } from '../lib/exec.ts'
import { isMain, run } from '../lib/cli.ts'
import { colorArg } from './switch.ts'

export async function pauseWorkers(ctx: Ctx, color: Color | null): Promise<void> {
  const c = ctx.config
  if (!color) return ctx.ui.detail('  first deploy: no old workers to pause')
  const inv = await ctx.inventory()
  const workers = inv.running(color, c.roles.workers)
  // Singletons are always stopped, never frozen: a frozen beat, thawed later, would tick beside the new one.
  const singletons = inv.running(color, c.roles.singletons)
  if (!workers.length && !singletons.length) return ctx.ui.detail(`  no running workers or singletons in ${color}`)
  const names = (services: readonly string[]) => inv.runningContainers(color, services).map((x) => x.name)
  if (c.pauseMode === 'pause') {
    if (workers.length) await must(ctx.exec, pauseContainers(c, names(workers)))
    if (singletons.length) await send(ctx, names(singletons))
  } else {
    // SIGTERM and go on: Celery stops taking tasks at once and finishes the ones in
    // flight while the new web boots. Waiting here for the last task would only delay
    // the switch; awaitStopped() waits (and kills after the grace) before anything
    // needs them gone: the new workers and beat, or a rollback.
    await send(ctx, names([...workers, ...singletons]))
  }
  const signalledAt = new Date().toISOString()
  ctx.state.update((x) => (x.journal ? { ...x, journal: { ...x.journal, signalledAt } } : x))
  ctx.ui.detail(`  ${c.pauseMode === 'pause' ? `froze ${workers.join(', ') || 'no workers'}, ` : ''}sent SIGTERM to ${(c.pauseMode === 'pause' ? singletons : [...workers, ...singletons]).join(', ')} of ${color}`)
}

/** A signal to containers; one that exited since the inventory was read is where it was headed. */
async function send(ctx: Ctx, names: readonly string[], sig = 'SIGTERM'): Promise<void> {
  const cmd = kill(ctx.config, names, sig)
  const r = await ctx.exec.run(cmd)
  const errors = r.stderr.split('\n').filter((l) => l.trim())
  if (r.code !== 0 && !(errors.length && errors.every((l) => /is not running/.test(l)))) throw new CommandError(cmd, r)
}

/**
 * Waits until a color's workers and singletons that were told to stop have exited, for
 * what is left of CALMSWAP_STOP_GRACE since the SIGTERM, then kills the rest. It never
 * sends a second SIGTERM: Celery reads that as "shut down cold" and abandons its tasks.
 * Frozen workers are left frozen.
 */
export async function awaitStopped(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  const rest = [...c.roles.workers, ...c.roles.singletons]
  const inv = await ctx.inventory(true)
  const stopping = inv.running(color, rest).filter((s) => c.pauseMode === 'stop' || c.roles.singletons.includes(s))
  if (!stopping.length) return
  const since = Date.parse(ctx.state.load().journal?.signalledAt ?? '')
  const left = c.stopGraceS * 1000 - (Number.isNaN(since) ? 0 : Date.now() - since)
  const ids = inv.runningContainers(color, stopping).map((x) => x.id)
  if (left > 0) await ctx.exec.run(waitExit(c, ids, left))
  if (ctx.exec.dryRun) return
  const still = (await ctx.inventory(true)).runningContainers(color, stopping)
  if (!still.length) return
  await send(ctx, still.map((x) => x.name), 'SIGKILL')
  for (const k of still) {
    ctx.ui.warn(`${k.name} did not finish within CALMSWAP_STOP_GRACE=${c.stopGraceS}s and was killed; its unacknowledged task returns to the queue after the broker's visibility timeout`)
  }
}

if (isMain(import.meta.url, 'pause-workers')) {
  void run(
    {
      name: 'pause-workers',
      summary: "stop (or freeze) one color's workers and singletons to free the CPU",
      usage: 'pause-workers [--color blue|green]   (default: the live color)',
      options: { color: { type: 'string' } },
      dryRun: true,
    },
    async (ctx, { flags }) => pauseWorkers(ctx, colorArg(flags.color, ctx.state.load().live)),
  )
}
