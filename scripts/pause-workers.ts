#!/usr/bin/env -S npx tsx
// Step 1: free the CPU before the new release starts. Workers get SIGTERM and the grace
// period (Celery's warm shutdown finishes in-flight tasks and hands reserved ones back),
// or, with CALMSWAP_PAUSE_MODE=pause, a cgroup freeze. Containers stay for an instant resume.
import type { Color } from '../lib/config.ts'
import { pause, stop } from '../lib/compose.ts'
import type { Ctx } from '../lib/context.ts'
import { must } from '../lib/exec.ts'
import { isMain, run } from '../lib/cli.ts'
import { colorArg } from './switch.ts'

export async function pauseWorkers(ctx: Ctx, color: Color | null): Promise<void> {
  const c = ctx.config
  if (!color) return ctx.ui.detail('  first deploy: no old workers to pause')
  const inv = await ctx.inventory()
  const workers = inv.running(color, c.roles.workers)
  // Singletons are always stopped, never frozen: a frozen beat, thawed later, would tick beside the new one.
  const singletons = inv.running(color, c.roles.singletons)
  const grace = { timeoutMs: (c.stopGraceS + 60) * 1000 }
  if (c.pauseMode === 'pause') {
    if (singletons.length) await must(ctx.exec, { ...stop(c, color, singletons), ...grace })
    if (workers.length) await must(ctx.exec, pause(c, color, workers))
  } else if (workers.length || singletons.length) {
    await must(ctx.exec, { ...stop(c, color, [...workers, ...singletons]), ...grace })
  }
  if (!workers.length && !singletons.length) return ctx.ui.detail(`  no running workers or singletons in ${color}`)
  ctx.ui.detail(`  ${c.pauseMode === 'pause' ? 'froze' : 'stopped'} ${[...workers, ...singletons].join(', ')} of ${color}`)
  if (c.pauseMode === 'stop' && !ctx.exec.dryRun) {
    const killed = (await ctx.inventory()).of(color, [...workers, ...singletons]).filter((x) => /Exited \(137\)/.test(x.status))
    for (const k of killed) {
      ctx.ui.warn(`${k.name} did not finish within CALMSWAP_STOP_GRACE=${c.stopGraceS}s and was killed; its unacknowledged task returns to the queue after the broker's visibility timeout`)
    }
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
