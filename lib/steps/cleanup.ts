// cleanup: the operator's last word, removing the old color once the new release looks right.

import type { Step } from '../cli.ts'
import { ENGINES } from '../engines.ts'

export const step: Step = {
  spec: {
    engines: ENGINES,
    name: 'cleanup',
    summary: 'remove the old color after you checked the site',
    usage: 'cleanup [--yes] [--dry-run]',
    options: { yes: { type: 'boolean', short: 'y' } },
    dryRun: true,
    notes: 'Asks before removing when on a terminal; elsewhere --yes is required. In swarm mode there is no old color: nothing to do.',
  },
  main: async (ctx, { flags }) => void (await ctx.engine.cleanup(ctx, { yes: Boolean(flags.yes) })),
}
