#!/usr/bin/env -S npx tsx
// Step 4: point the proxy at a color, then ask the proxy itself whether that color answers.
import type { Color } from '../lib/config.ts'
import { COLORS, otherColor } from '../lib/config.ts'
import type { Ctx } from '../lib/context.ts'
import { UsageError } from '../lib/errors.ts'
import { switchTraffic, verifyThroughProxy } from '../lib/traffic.ts'
import { isMain, run } from '../lib/cli.ts'

export function colorArg(given: unknown, fallback: Color | null): Color {
  if (given === undefined) {
    if (!fallback) throw new UsageError('no color given and none is live yet: pass --color blue or --color green')
    return fallback
  }
  if (!COLORS.includes(given as Color)) throw new UsageError(`--color must be blue or green, not ${JSON.stringify(given)}`)
  return given as Color
}

/** Switches to `color`, keeping `backup` (still running) as nginx's fallback. */
export async function switchTo(ctx: Ctx, color: Color, backup: Color | null): Promise<void> {
  const up = await switchTraffic(ctx, color, backup)
  ctx.ui.detail(`  proxy → ${color} (127.0.0.1:${up.port}${up.backup ? `, backup :${up.backup}` : ''})`)
  await verifyThroughProxy(ctx, color)
}

if (isMain(import.meta.url, 'switch')) {
  void run(
    {
      name: 'switch',
      summary: 'point the proxy at a color (nginx -t, then a graceful reload)',
      usage: 'switch --color blue|green [--backup]',
      options: { color: { type: 'string' }, backup: { type: 'boolean' } },
      dryRun: true,
    },
    async (ctx, { flags }) => {
      const color = colorArg(flags.color, null)
      await switchTo(ctx, color, flags.backup ? otherColor(color) : null)
    },
  )
}
