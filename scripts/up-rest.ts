#!/usr/bin/env -S npx tsx
// up-rest: once the other color's workers have stopped, start this color's singletons, then workers.

import { colorArg, isMain, run } from '../lib/cli.ts'
import { startRest } from '../lib/compose/workers.ts'

if (isMain(import.meta.url, 'up-rest')) {
  void run(
    {
      name: 'up-rest',
      summary: "start a color's workers and singletons, after the other color's have stopped",
      usage: 'up-rest [--color blue|green] [--dry-run]   (default: the live color)',
      options: { color: { type: 'string' } },
      dryRun: true,
      lock: 'up-rest',
    },
    async (ctx, { flags }) => startRest(ctx, colorArg(flags.color, ctx.state.load().live)),
  )
}
