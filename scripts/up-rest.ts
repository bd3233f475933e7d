#!/usr/bin/env -S npx tsx
// Step 5: after traffic switched, once nothing of the other color's workers runs: the new
// singletons first, then each worker service, each stage on a calm CPU.
import type { Color } from '../lib/config.ts'
import { otherColor } from '../lib/config.ts'
import { create, startContainers, up } from '../lib/compose.ts'
import type { Ctx } from '../lib/context.ts'
import { must } from '../lib/exec.ts'
import { calmBefore, cpuSettled, settleAfter } from '../lib/pressure.ts'
import { isMain, run } from '../lib/cli.ts'
import { colorArg } from './switch.ts'
import { awaitStopped, stopFrozen } from './pause-workers.ts'

export async function upRest(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  const { workers, singletons } = c.roles
  // Never two singletons, never two sets of workers: whatever the other color was told to
  // stop has exited (or is killed after the grace) before anything here starts. In stop
  // mode that includes the workers frozen so far; in pause mode they stay frozen.
  if (c.pauseMode === 'stop') await stopFrozen(ctx, otherColor(color))
  await awaitStopped(ctx, otherColor(color))
  // Singletons first, and alone: beat boots while no new worker is busy yet, and is done
  // booting before the first worker starts. Started together, beat's boot competed with the
  // backlog the worker picks up at once: the largest stall after the switch in `make bench`.
  // Then the worker services one at a time, each on a calm CPU.
  const stages = [singletons, ...workers.map((w) => [w])].filter((s) => s.length)
  for (const [i, stage] of stages.entries()) {
    await calmBefore(ctx, `up ${stage.join(' ')}`)
    ctx.checkpoint()
    // Made by prepareRest while the web booted: a start is all that is left.
    const made = (await ctx.inventory()).of(color, stage)
    const ready = stage.every((s) => made.some((x) => x.service === s)) && made.every((x) => x.state === 'created')
    await must(ctx.exec, ready ? startContainers(c, made.map((x) => x.name)) : { ...up(c, color, stage), timeoutMs: 600_000 })
    // The last stage has no one to boot beside; a worker with a backlog never settles.
    if (i < stages.length - 1 && stage === singletons) {
      const started = (await ctx.inventory(true)).runningContainers(color, stage).map((x) => x.id)
      await settleAfter(ctx, stage.join(' '), started)
    }
  }
}

/**
 * While the new web boots: creates (does not start) the color's workers and singletons.
 * Loading the project and creating containers is most of what `compose up` costs; done
 * here it overlaps a wait instead of running after the switch beside the backlog. It first
 * lets the web finish booting (its CPU settles), so the creates do not slow the boot they
 * wait for, and stops waiting once `webReady` has the health check's answer: passed,
 * create at once; failed, create nothing, the rollback is next.
 */
export async function prepareRest(ctx: Ctx, color: Color, webReady?: Promise<boolean>): Promise<void> {
  const { workers, singletons, web } = ctx.config.roles
  if (!workers.length && !singletons.length) return
  if (webReady) {
    const answered = new AbortController()
    const outcome = webReady.finally(() => answered.abort())
    const booting = (await ctx.inventory()).runningContainers(color, web).map((x) => x.id)
    const settled = cpuSettled(ctx, booting, answered.signal)
    const first = await Promise.race([settled.then(() => null), outcome])
    if (first === false) return
    const s = await Promise.race([settled, null])
    if (s) ctx.ui.detail(`  ${s.settled ? 'web booted' : 'web still busy'} after ${Math.round(s.waitedMs)}ms (${s.cpu.toFixed(0)}% of a CPU): creating ${[...singletons, ...workers].join(', ')}`)
  }
  await must(ctx.exec, { ...create(ctx.config, color, [...singletons, ...workers]), timeoutMs: 600_000 })
}

if (isMain(import.meta.url, 'up-rest')) {
  void run(
    {
      name: 'up-rest',
      summary: "start a color's workers and singletons",
      usage: 'up-rest [--color blue|green]   (default: the live color)',
      options: { color: { type: 'string' } },
      dryRun: true,
    },
    async (ctx, { flags }) => upRest(ctx, colorArg(flags.color, ctx.state.load().live)!),
  )
}
