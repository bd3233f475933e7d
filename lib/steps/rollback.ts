// rollback: traffic back to the previous color, its workers resumed, the new color stopped.

import type { Step } from '../cli.ts'
import { ENGINES } from '../engines.ts'

export const step: Step = {
  spec: {
    engines: ENGINES,
    name: 'rollback',
    summary: 'send traffic back to the previous color and resume its workers',
    usage: 'rollback [--dry-run]',
    dryRun: true,
  },
  main: async (ctx) => ctx.engine.rollback(ctx),
}
