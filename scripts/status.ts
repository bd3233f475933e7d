#!/usr/bin/env -S npx tsx
// status: live color, containers, CPU pressure and the lock (read-only).

import { isMain, run } from '../lib/cli.ts'

if (isMain(import.meta.url, 'status')) {
  void run({ name: 'status', jsonIsData: true, summary: 'live color, containers, CPU pressure and the lock', usage: 'status [--json]' }, async (ctx, { flags }) => {
    ctx.ui.data(await ctx.engine.status(ctx, Boolean(flags.json)))
  })
}
