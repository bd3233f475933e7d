// up-core: start only a color's web and core services; its workers wait for the switch.

import { colorArg, idleColor, type Step } from '../cli.ts'
import { startCore } from '../compose/steps.ts'

export const step: Step = {
  spec: {
    name: 'up-core',
    summary: "start a color's web and core services (not its workers)",
    usage: 'up-core [--color blue|green]   (default: the color that is not live)',
    options: { color: { type: 'string' } },
    dryRun: true,
    lock: 'up-core',
  },
  main: async (ctx, { flags }) => startCore(ctx, colorArg(flags.color, idleColor(ctx))),
}
