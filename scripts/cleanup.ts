#!/usr/bin/env -S npx tsx
// cleanup: the operator's last word, removing the old color once the new release looks right.

import { isMain, run } from '../lib/cli.ts'

if (isMain(import.meta.url, 'cleanup')) {
  void run(
    {
      name: 'cleanup',
      summary: 'remove the old color after you checked the site',
      usage: 'cleanup [--yes] [--dry-run]',
      options: { yes: { type: 'boolean', short: 'y' } },
      dryRun: true,
      notes: 'Asks before removing when on a terminal; elsewhere --yes is required. In swarm mode there is no old color: nothing to do.',
    },
    async (ctx, { flags }) => void (await ctx.engine.cleanup(ctx, { yes: Boolean(flags.yes) })),
  )
}
