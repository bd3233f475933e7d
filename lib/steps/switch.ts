// switch: point the proxy at a color, then ask the proxy itself whether that color answers.

import { colorArg, type Step } from '../cli.ts'
import { switchTo } from '../compose/traffic.ts'
import { otherColor } from '../config.ts'

export const step: Step = {
  spec: {
    name: 'switch',
    summary: 'point the proxy at a color (nginx -t, then a graceful reload)',
    usage: 'switch --color blue|green [--backup] [--dry-run]',
    options: { color: { type: 'string' }, backup: { type: 'boolean' } },
    dryRun: true,
    lock: 'switch',
  },
  main: async (ctx, { flags }) => {
    const color = colorArg(flags.color, null)
    await switchTo(ctx, color, flags.backup ? otherColor(color) : null)
  },
}
