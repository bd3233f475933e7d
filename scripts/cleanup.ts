#!/usr/bin/env -S npx tsx
// The operator's last word: remove the old color once the new release looks right.
import { createInterface } from 'node:readline/promises'
import { down } from '../lib/compose.ts'
import type { Ctx } from '../lib/context.ts'
import { must } from '../lib/exec.ts'
import { UsageError } from '../lib/errors.ts'
import { switchTraffic } from '../lib/traffic.ts'
import { isMain, run } from '../lib/cli.ts'
import { recordOp, reportInterrupted, withLock } from '../lib/op.ts'
import { thaw } from './pause-workers.ts'

export interface CleanupOptions {
  readonly yes?: boolean
  readonly confirm?: (question: string) => Promise<boolean>
}

async function askTty(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim())
  } finally {
    rl.close()
  }
}

export async function cleanup(ctx: Ctx, o: CleanupOptions = {}): Promise<boolean> {
  const c = ctx.config
  return withLock(ctx, 'cleanup', async () => {
    const s = ctx.state.load()
    if (s.journal && s.journal.op !== 'cleanup') {
      reportInterrupted(ctx, s)
      throw new UsageError(`a ${s.journal.op} was interrupted; run ${s.journal.op} to finish it before cleanup`)
    }
    const old = s.journal?.op === 'cleanup' ? s.journal.from : s.previous
    if (!s.live) throw new UsageError('nothing is deployed yet')
    const inv = await ctx.inventory()
    if (!old || old === s.live || !inv.exists(old)) {
      ctx.ui.info(`nothing to clean: only ${s.live} exists`)
      if (s.previous) ctx.state.update((x) => ({ ...x, previous: null }))
      return false
    }
    if (!o.yes && !ctx.exec.dryRun) {
      const confirm = o.confirm ?? (process.stdin.isTTY ? askTty : null)
      if (!confirm) throw new UsageError(`cleanup removes ${c.prefix}-${old}; not on a terminal, so pass --yes to confirm`)
      if (!(await confirm(`Remove ${c.prefix}-${old} (release ${s.previousRelease ?? '?'})? ${s.live} keeps serving.`))) {
        ctx.ui.info('kept it; nothing changed')
        return false
      }
    }
    await recordOp(ctx, 'cleanup', old, s.live, async () => {
      // The old web is the proxy's backup: take it out of the upstream before removing it.
      if (s.upstream?.backup) await ctx.ui.step('drop backup upstream', () => switchTraffic(ctx, s.live!, null).then(() => undefined))
      await ctx.ui.step(`remove ${c.prefix}-${old}`, async () => {
        // Frozen workers cannot act on SIGTERM: thaw them so their warm shutdown hands
        // reserved tasks back to the queue instead of leaving them to the visibility timeout.
        await thaw(ctx, await ctx.inventory(), old, c.roles.workers)
        await must(ctx.exec, { ...down(c, old), timeoutMs: (c.stopGraceS + 120) * 1000 })
      })
      ctx.state.update((x) => ({ ...x, previous: null, previousRelease: null, journal: null }))
    })
    ctx.ui.ok(`${c.prefix}-${old} removed; ${s.live} keeps serving`)
    return true
  })
}

if (isMain(import.meta.url, 'cleanup')) {
  void run(
    {
      name: 'cleanup',
      summary: 'remove the old color after you checked the site',
      usage: 'cleanup [--yes] [--dry-run]',
      options: { yes: { type: 'boolean', short: 'y' } },
      dryRun: true,
      notes: 'Asks before removing when on a terminal; elsewhere --yes is required.',
    },
    async (ctx, { flags }) => {
      await cleanup(ctx, { yes: Boolean(flags.yes) })
    },
  )
}
