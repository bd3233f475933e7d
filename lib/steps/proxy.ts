// proxy: apply a changed proxy config (validate, then a graceful reload) and a changed proxy
// image (the new container beside the old one, then the old one retired), without a gap.

import type { Step } from '../cli.ts'
import { changeProxy } from '../compose/proxy.ts'

export const step: Step = {
  spec: {
    name: 'proxy',
    summary: "apply the proxy's changed config (validate, graceful reload) or image (new container beside the old one)",
    usage: 'proxy [--replace] [--dry-run]',
    options: { replace: { type: 'boolean' } },
    notes: 'A changed image of the proxy service is found by itself; --replace starts a new container even when the image is the same.',
    dryRun: true,
    lock: 'proxy',
  },
  main: async (ctx, { flags }) => {
    await changeProxy(ctx, { replace: Boolean(flags.replace) })
  },
}
