#!/usr/bin/env -S npx tsx
// rollback: traffic back to the previous color, its workers resumed, the new color stopped.

import { isMain, run } from '../lib/cli.ts'

if (isMain(import.meta.url, 'rollback')) {
  void run(
    {
      name: 'rollback',
      summary: 'send traffic back to the previous color and resume its workers',
      usage: 'rollback [--dry-run]',
      dryRun: true,
    },
    async (ctx) => ctx.engine.rollback(ctx),
  )
}
