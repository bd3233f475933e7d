// up-rest: once the other color's workers have stopped, start this color's singletons, then workers.

import { colorArg, type Step } from '../cli.ts'
import { startRest } from '../compose/workers.ts'

export const step: Step = {
  spec: {
    name: 'up-rest',
    summary: "start a color's workers and singletons, after the other color's have stopped",
    usage: 'up-rest [--color blue|green] [--dry-run]   (default: the live color)',
    options: { color: { type: 'string' } },
    dryRun: true,
    lock: 'up-rest',
  },
  main: async (ctx, { flags }) => startRest(ctx, colorArg(flags.color, ctx.state.load().live)),
}
