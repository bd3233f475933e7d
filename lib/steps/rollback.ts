// rollback: traffic back to the previous color, its workers resumed, the new color stopped.

import type { Step } from '../cli.ts'
import { rollback } from '../rollback.ts'
import { swarmRollback } from '../swarm.ts'

export const step: Step = {
  spec: {
    name: 'rollback',
    summary: 'send traffic back to the previous color and resume its workers',
    usage: 'rollback [--dry-run]',
    dryRun: true,
    swarm: true,
  },
  main: async (ctx) => (ctx.config.engine === 'swarm' ? swarmRollback(ctx) : rollback(ctx)),
}
