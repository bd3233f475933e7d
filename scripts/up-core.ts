#!/usr/bin/env -S npx tsx
// Step 2: start only the new color's web (and other core services). Workers wait until
// traffic has switched, so the box never runs two sets of them.
import type { Color } from '../lib/config.ts'
import { otherColor } from '../lib/config.ts'
import { up } from '../lib/compose.ts'
import type { Ctx } from '../lib/context.ts'
import { must } from '../lib/exec.ts'
import { calmBefore } from '../lib/pressure.ts'
import { isMain, run } from '../lib/cli.ts'
import { colorArg } from './switch.ts'

export async function upCore(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  await calmBefore(ctx, 'up-core')
  ctx.checkpoint()
  await must(ctx.exec, { ...up(c, color, [...c.roles.web, ...c.roles.core]), timeoutMs: 600_000 })
}

if (isMain(import.meta.url, 'up-core')) {
  void run(
    {
      name: 'up-core',
      summary: "start a color's web and core services (not its workers)",
      usage: 'up-core [--color blue|green]   (default: the color that is not live)',
      options: { color: { type: 'string' } },
      dryRun: true,
    },
    async (ctx, { flags }) => {
      const live = ctx.state.load().live
      await upCore(ctx, colorArg(flags.color, live ? otherColor(live) : 'blue')!)
    },
  )
}
