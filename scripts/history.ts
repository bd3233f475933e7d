#!/usr/bin/env -S npx tsx
// Every deploy, rollback and cleanup: when, who, which colors, release, images, step times, result.
import type { Ctx } from '../lib/context.ts'
import type { HistoryEntry } from '../lib/state.ts'
import { fmtMs } from '../lib/ui.ts'
import { isMain, run } from '../lib/cli.ts'

export function formatHistory(entries: readonly HistoryEntry[]): string {
  if (!entries.length) return '(no history yet)'
  return entries
    .map((e) => {
      const steps = e.steps.map((s) => `${s.step} ${fmtMs(s.ms)}${s.ok ? '' : ' ✗'}`).join(', ')
      return [
        `${e.at}  ${e.op.padEnd(8)} ${(e.from ?? '-').padEnd(5)} → ${(e.to ?? '-').padEnd(5)}  ${(e.release ?? '-').padEnd(12)} ${e.result.padEnd(11)} ${fmtMs(e.ms).padStart(6)}  ${e.user}`,
        steps ? `    steps: ${steps}` : '',
        e.images && Object.keys(e.images).length ? `    images: ${Object.entries(e.images).map(([k, v]) => `${k}=${v.replace(/^sha256:/, '').slice(0, 12)}`).join(' ')}` : '',
        e.error ? `    error: ${e.error.split('\n')[0]}` : '',
      ]
        .filter(Boolean)
        .join('\n')
    })
    .join('\n')
}

export const history = (ctx: Ctx, last = 20) => ctx.state.history().slice(-last)

if (isMain(import.meta.url, 'history')) {
  void run(
    { name: 'history', jsonIsData: true, summary: 'what deploys, rollbacks and cleanups did', usage: 'history [--last N] [--json]', options: { last: { type: 'string' } } },
    async (ctx, { flags }) => {
      const entries = history(ctx, flags.last ? Number(flags.last) : 20)
      ctx.ui.data(flags.json ? entries.map((e) => JSON.stringify(e)).join('\n') || '' : formatHistory(entries))
    },
  )
}
