#!/usr/bin/env -S npx tsx
// Step 5: after traffic switched, start the new color's workers one service at a time,
// each after CPU pressure settles, then its singletons, once none runs in the other color.
import type { Color } from '../lib/config.ts'
import { otherColor } from '../lib/config.ts'
import { up } from '../lib/compose.ts'
import type { Ctx } from '../lib/context.ts'
import { must } from '../lib/exec.ts'
import { calmBefore } from '../lib/pressure.ts'
import { isMain, run } from '../lib/cli.ts'
import { colorArg } from './switch.ts'
import { awaitStopped } from './pause-workers.ts'

export async function upRest(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  const { workers, singletons } = c.roles
  // Never two singletons, never two sets of workers: whatever the other color was told to
  // stop has exited (or is killed after the grace) before anything here starts.
  await awaitStopped(ctx, otherColor(color))
  // One compose call per worker service, so each starts on a calm CPU; singletons ride
  // along with the last one (they are light), saving a compose call.
  const batches = workers.length ? workers.map((w) => [w]) : [[]]
  batches[batches.length - 1]!.push(...singletons)
  for (const batch of batches) {
    if (!batch.length) continue
    await calmBefore(ctx, `up ${batch.join(' ')}`)
    ctx.checkpoint()
    await must(ctx.exec, { ...up(c, color, batch), timeoutMs: 600_000 })
  }
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
