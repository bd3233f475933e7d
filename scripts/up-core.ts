#!/usr/bin/env -S npx tsx
// up-core: start only a color's web and core services; its workers wait for the switch.

import { colorArg, idleColor, isMain, run } from '../lib/cli.ts'
import { startCore } from '../lib/compose/steps.ts'

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
    async (ctx, { flags }) => startCore(ctx, colorArg(flags.color, idleColor(ctx))),
  )
}
