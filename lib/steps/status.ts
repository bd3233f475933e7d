// status: live color, containers, CPU pressure and the lock (read-only).

import type { Step } from '../cli.ts'
import { ENGINES } from '../engines.ts'

export const step: Step = {
  spec: { name: 'status', engines: ENGINES, jsonIsData: true, summary: 'live color, containers, CPU pressure and the lock', usage: 'status [--json]' },
  main: async (ctx, { flags }) => {
    ctx.ui.data(await ctx.engine.status(ctx, Boolean(flags.json)))
  },
}
