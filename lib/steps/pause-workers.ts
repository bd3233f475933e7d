// pause-workers: freeze one color's workers and stop its singletons, to free the CPU.

import { colorArg, type Step } from '../cli.ts'
import { freezeWorkers } from '../compose/workers.ts'

export const step: Step = {
  spec: {
    name: 'pause-workers',
    summary: "freeze one color's workers and stop its singletons, to free the CPU",
    usage: 'pause-workers [--color blue|green]   (default: the live color)',
    options: { color: { type: 'string' } },
    dryRun: true,
    lock: 'pause-workers',
  },
  main: async (ctx, { flags }) => freezeWorkers(ctx, colorArg(flags.color, ctx.state.load().live)),
}
