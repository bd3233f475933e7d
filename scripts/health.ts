#!/usr/bin/env -S npx tsx
// health: wait until a color's web passes its check (read-only: takes no lock).

import { colorArg, idleColor, isMain, run } from '../lib/cli.ts'
import { checkHealth } from '../lib/compose/health.ts'

if (isMain(import.meta.url, 'health')) {
  void run(
    {
      name: 'health',
      summary: "wait until a color's web passes its health check",
      usage: 'health [--color blue|green] [--dry-run]   (default: the color that is not live)',
      options: { color: { type: 'string' } },
      dryRun: true,
    },
    async (ctx, { flags }) => checkHealth(ctx, colorArg(flags.color, idleColor(ctx))),
  )
}
