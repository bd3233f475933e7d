#!/usr/bin/env -S npx tsx
// status: live color, containers, CPU pressure and the lock (read-only).

import { isMain, run } from '../lib/cli.ts'
import { formatStatus, status } from '../lib/status.ts'

if (isMain(import.meta.url, 'status')) {
  void run({ name: 'status', jsonIsData: true, summary: 'live color, containers, CPU pressure and the lock', usage: 'status [--json]' }, async (ctx, { flags }) => {
    const r = await status(ctx)
    const paint = (p: string, t: string) => (p === 'blue' ? ctx.ui.c.blue(t) : p === 'green' ? ctx.ui.c.green(t) : t)
    ctx.ui.data(flags.json ? JSON.stringify(r, null, 2) : formatStatus(r, paint))
  })
}
