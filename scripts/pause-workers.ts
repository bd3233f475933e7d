#!/usr/bin/env -S npx tsx
// pause-workers: freeze one color's workers and stop its singletons, to free the CPU.

import { colorArg, isMain, run } from '../lib/cli.ts'
import { freezeWorkers } from '../lib/compose/workers.ts'

if (isMain(import.meta.url, 'pause-workers')) {
  void run(
    {
      name: 'pause-workers',
      summary: "freeze one color's workers and stop its singletons, to free the CPU",
      usage: 'pause-workers [--color blue|green]   (default: the live color)',
      options: { color: { type: 'string' } },
      dryRun: true,
      lock: 'pause-workers',
    },
    async (ctx, { flags }) => freezeWorkers(ctx, colorArg(flags.color, ctx.state.load().live)),
  )
}
