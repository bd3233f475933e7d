#!/usr/bin/env -S npx tsx
// switch: point the proxy at a color, then ask the proxy itself whether that color answers.

import { colorArg, isMain, run } from '../lib/cli.ts'
import { switchTo } from '../lib/compose/traffic.ts'
import { otherColor } from '../lib/config.ts'

if (isMain(import.meta.url, 'switch')) {
  void run(
    {
      name: 'switch',
      summary: 'point the proxy at a color (nginx -t, then a graceful reload)',
      usage: 'switch --color blue|green [--backup] [--dry-run]',
      options: { color: { type: 'string' }, backup: { type: 'boolean' } },
      dryRun: true,
      lock: 'switch',
    },
    async (ctx, { flags }) => {
      const color = colorArg(flags.color, null)
      await switchTo(ctx, color, flags.backup ? otherColor(color) : null)
    },
  )
}
