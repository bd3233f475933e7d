#!/usr/bin/env -S npx tsx
// Step 1: free the CPU before the new release starts. Workers are frozen (cgroup freezer:
// at once, nothing lost, thawed in an instant by a rollback); singletons get SIGTERM, as a
// frozen beat thawed later would tick beside the new one. In stop mode (the default) the
// frozen workers are thawed and get SIGTERM once traffic has switched (stopFrozen, from up-rest):
// Celery's warm shutdown then finishes the task in flight and hands reserved ones back.
import type { Color } from '../lib/config.ts'
import { kill, pauseContainers, unpauseContainers, waitExit, type Project } from '../lib/compose.ts'
import type { Inventory } from '../lib/inventory.ts'
import type { Ctx } from '../lib/context.ts'
import { CommandError, must } from '../lib/exec.ts'
import { isMain, run } from '../lib/cli.ts'
import { colorArg } from './switch.ts'

export async function pauseWorkers(ctx: Ctx, color: Color | null): Promise<void> {
  const c = ctx.config
  if (!color) return ctx.ui.detail('  first deploy: no old workers to pause')
  const inv = await ctx.inventory()
  const workers = inv.running(color, c.roles.workers)
  const singletons = inv.running(color, c.roles.singletons)
  if (!workers.length && !singletons.length) return ctx.ui.detail(`  no running workers or singletons in ${color}`)
  const names = (services: readonly string[]) => inv.runningContainers(color, services).map((x) => x.name)
  // Frozen rather than sent SIGTERM now: a warm shutdown runs the task in flight to its end
  // and then tears the container down, all beside the new web's boot. (Measured in `make
  // bench`: the largest part of stop mode's stall before the switch.)
  if (workers.length) await must(ctx.exec, pauseContainers(c, names(workers)))
  if (singletons.length) await send(ctx, names(singletons))
  markSignalled(ctx)
  const until = c.pauseMode === 'stop' ? 'until the switch' : 'until cleanup'
  ctx.ui.detail(`  ${workers.length ? `froze ${workers.join(', ')} ${until}` : 'no workers'}; ${singletons.length ? `sent SIGTERM to ${singletons.join(', ')}` : 'no singletons'} (${color})`)
}

/**
 * Stop mode, once traffic has switched: the workers pause-workers froze are thawed, then get
 * SIGTERM; awaitStopped() waits for their warm shutdown. Thawed first, not signalled frozen:
 * Docker would deliver the signal and resume the processes, but keep calling the container
 * paused, so nothing would wait for it to exit.
 */
export async function stopFrozen(ctx: Ctx, color: Color): Promise<void> {
  const names = await thaw(ctx, await ctx.inventory(true), color, ctx.config.roles.workers)
  if (!names.length) return
  await send(ctx, names)
  markSignalled(ctx)
  ctx.ui.detail(`  thawed ${names.join(', ')} and sent SIGTERM: warm shutdown`)
}

/** Thaws whatever of these services' containers is frozen; returns their names. */
export async function thaw(ctx: Ctx, inv: Inventory, p: Project, services: readonly string[]): Promise<string[]> {
  const names = inv.pausedNames(p, services)
  if (names.length) await must(ctx.exec, { ...unpauseContainers(ctx.config, names), timeoutMs: 300_000 })
  return names
}

/** The grace of CALMSWAP_STOP_GRACE counts from here. */
function markSignalled(ctx: Ctx) {
  const signalledAt = new Date().toISOString()
  ctx.state.update((x) => (x.journal ? { ...x, journal: { ...x.journal, signalledAt } } : x))
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
 * what is left of CALMSWAP_STOP_GRACE since the last SIGTERM, then kills the rest. It never
 * sends a second SIGTERM: Celery reads that as "shut down cold" and abandons its tasks.
 * Frozen workers are left frozen: they were not told to stop.
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
      summary: "freeze one color's workers and stop its singletons, to free the CPU",
      usage: 'pause-workers [--color blue|green]   (default: the live color)',
      options: { color: { type: 'string' } },
      dryRun: true,
    },
    async (ctx, { flags }) => pauseWorkers(ctx, colorArg(flags.color, ctx.state.load().live)),
  )
}
