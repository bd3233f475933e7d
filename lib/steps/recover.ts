// recover: after a power cut or a daemon restart, finish or undo what was cut short and put
// every container where the live color wants it. Safe to run at every boot.

import type { Step } from '../cli.ts'
import { ENGINES } from '../engines.ts'

export const step: Step = {
  spec: {
    engines: ENGINES,
    name: 'recover',
    summary: 'after a reboot: finish or undo an interrupted operation, one color serving, one set of workers, one beat',
    usage: 'recover [--dry-run] [--json]',
    dryRun: true,
    notes: 'Run at boot after Docker (provision/calmswap-recover.service), or by hand; `status` says when it is needed.',
  },
  main: async (ctx) => {
    const r = await ctx.engine.recover(ctx)
    ctx.ui.event('recovered', { action: r.action, changes: r.changes })
  },
}
