// health: wait until a color's web passes its check (read-only: takes no lock).

import { colorArg, idleColor, type Step } from '../cli.ts'
import { checkHealth } from '../compose/health.ts'

export const step: Step = {
  spec: {
    name: 'health',
    summary: "wait until a color's web passes its health check",
    usage: 'health [--color blue|green] [--dry-run]   (default: the color that is not live)',
    options: { color: { type: 'string' } },
    dryRun: true,
  },
  main: async (ctx, { flags }) => checkHealth(ctx, colorArg(flags.color, idleColor(ctx))),
}
