// status: live color, containers, CPU pressure and the lock (read-only).

import type { Step } from '../cli.ts'
import { formatStatus, status } from '../status.ts'
import { formatSwarmStatus, swarmStatus } from '../swarm-report.ts'

export const step: Step = {
  spec: { name: 'status', jsonIsData: true, summary: 'live color, containers, CPU pressure and the lock', usage: 'status [--json]', swarm: true },
  main: async (ctx, { flags }) => {
    if (ctx.config.engine === 'swarm') {
      const s = await swarmStatus(ctx)
      return ctx.ui.data(flags.json ? JSON.stringify(s, null, 2) : formatSwarmStatus(s))
    }
    const r = await status(ctx)
    const paint = (p: string, t: string) => (p === 'blue' ? ctx.ui.c.blue(t) : p === 'green' ? ctx.ui.c.green(t) : t)
    ctx.ui.data(flags.json ? JSON.stringify(r, null, 2) : formatStatus(r, paint))
  },
}
