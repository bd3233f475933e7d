#!/usr/bin/env -S npx tsx
// up-core: start only a color's web and core services; its workers wait for the switch.
import { colorArg, isMain, run } from '../lib/cli.ts'
import { otherColor } from '../lib/config.ts'
import { startCore } from '../lib/deploy.ts'

if (isMain(import.meta.url, 'up-core')) {
  void run(
    {
      name: 'up-core',
      summary: "start a color's web and core services (not its workers)",
      usage: 'up-core [--color blue|green]   (default: the color that is not live)',
      options: { color: { type: 'string' } },
      dryRun: true,
      lock: 'up-core',
    },
    async (ctx, { flags }) => {
      const live = ctx.state.load().live
      await startCore(ctx, colorArg(flags.color, live ? otherColor(live) : 'blue'))
    },
  )
}
