// history: every deploy, rollback and cleanup: when, who, which colors, release, images, step times, result.

import type { Step } from '../cli.ts'
import { UsageError } from '../errors.ts'
import { formatHistory, readHistory } from '../history.ts'

export const step: Step = {
  spec: {
    anyEngine: true,
    name: 'history',
    jsonIsData: true,
    summary: 'what deploys, rollbacks and cleanups did',
    usage: 'history [--last N] [--json]',
    options: { last: { type: 'string' } },
  },
  main: async (ctx, { flags }) => {
    const last = flags.last === undefined ? 20 : Number(flags.last)
    if (!Number.isInteger(last) || last < 1) throw new UsageError(`--last must be a whole number above 0, not ${JSON.stringify(flags.last)}`)
    const entries = readHistory(ctx.config.stateDir).slice(-last)
    ctx.ui.data(flags.json ? entries.map((e) => JSON.stringify(e)).join('\n') : formatHistory(entries))
  },
}
