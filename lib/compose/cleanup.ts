// The operator's last word: remove the old color once the new release looks right.

import { down } from '../builders/compose.ts'
import { pinFile, projectName } from '../config.ts'
import type { Ctx } from '../context.ts'
import { UsageError } from '../errors.ts'
import { recorded } from '../history.ts'
import { names } from '../inventory.ts'
import { reportInterrupted, runOp } from '../operation.ts'
import { switchTraffic } from './traffic.ts'
import { quiesce, thaw } from './workers.ts'

export interface CleanupOptions {
  readonly yes?: boolean
  readonly confirm?: (question: string) => Promise<boolean>
}

async function askTty(question: string): Promise<boolean> {
  // Loaded for the prompt alone: a build that bundles this module (status's) does not pay for it.
  const { createInterface } = await import('node:readline/promises')
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim())
  } finally {
    rl.close()
  }
}

/** Removes the previous color, after asking; true when it did. */
export async function cleanup(ctx: Ctx, o: CleanupOptions = {}): Promise<boolean> {
  const c = ctx.config
  return runOp(ctx, 'cleanup', async () => {
    const s = ctx.state.load()
    if (s.journal && s.journal.op !== 'cleanup') {
      reportInterrupted(ctx, s.journal, false)
      throw new UsageError(`a ${s.journal.op} was interrupted; run ${s.journal.op} to finish it before cleanup`)
    }
    const old = s.journal?.op === 'cleanup' ? s.journal.from : s.previous
    if (!s.live) throw new UsageError('nothing is deployed yet')
    const inv = await ctx.inventory()
    if (!old || old === s.live || !inv.hasProject(old)) {
      ctx.ui.info(`nothing to clean: only ${s.live} exists`)
      if (s.previous) ctx.state.forgetPrevious()
      return false
    }
    if (!o.yes && !ctx.exec.dryRun) {
      const confirm = o.confirm ?? (process.stdin.isTTY ? askTty : null)
      if (!confirm) throw new UsageError(`cleanup removes ${projectName(c, old)}; not on a terminal, so pass --yes to confirm`)
      if (!(await confirm(`Remove ${projectName(c, old)} (release ${s.previousRelease ?? '?'})? ${s.live} keeps serving.`))) {
        ctx.ui.info('kept it; nothing changed')
        return false
      }
    }
    const live = s.live
    await recorded(ctx, 'cleanup', old, live, async (op) => {
      ctx.journal.begin('cleanup', old, live, s.release ?? '')
      // The old web is the proxy's backup: take it out of the upstream before removing it.
      if (s.upstream?.backup) await op.step('drop backup upstream', () => switchTraffic(ctx, live, null))
      await op.step(`remove ${projectName(c, old)}`, async () => {
        // Frozen workers cannot act on SIGTERM: thaw them so their warm shutdown hands
        // reserved tasks back to the queue instead of leaving them to the visibility timeout.
        await thaw(ctx, old, c.roles.workers)
        await quiesce(ctx, names((await ctx.inventory()).runningContainers(old, c.roles.workers)))
        await ctx.must(down(c, old))
      })
      // Its containers are gone: its images are no longer pinned, only kept as a release.
      ctx.state.unpinned(old)
      await ctx.exec.removeFile(pinFile(c, old))
      ctx.state.forgetPrevious()
    })
    ctx.ui.ok(`${projectName(c, old)} removed; ${live} keeps serving`)
    return true
  })
}
