#!/usr/bin/env -S npx tsx
// proxy: apply a changed proxy config (validate, then a graceful reload) and a changed proxy
// image (the new container beside the old one, then the old one retired), without a gap.

import { isMain, run } from '../lib/cli.ts'
import { changeProxy } from '../lib/compose/proxy.ts'

if (isMain(import.meta.url, 'proxy')) {
  void run(
    {
      name: 'proxy',
      summary: "apply the proxy's changed config (validate, graceful reload) or image (new container beside the old one)",
      usage: 'proxy [--replace] [--dry-run]',
      options: { replace: { type: 'boolean' } },
      notes: 'A changed image of the proxy service is found by itself; --replace starts a new container even when the image is the same.',
      dryRun: true,
      lock: 'proxy',
    },
    async (ctx, { flags }) => {
      await changeProxy(ctx, { replace: Boolean(flags.replace) })
    },
  )
}
