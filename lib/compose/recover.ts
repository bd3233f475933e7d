// After a power cut or a daemon restart: bring the host back to what the state says. Docker's
// restart policies bring back whatever was running, and nothing that was frozen stays frozen:
// an old color's frozen workers come back running beside the new ones, and a half-started
// release comes back beside the live one. `recover` (lib/compose/engine.ts) finishes or undoes
// an operation that was cut short; when none was, this module puts each container where the
// live color wants it. Run it at boot (provision/calmswap-recover.service) or by hand; the
// next deploy or rollback does the same.

import { up } from '../builders/compose.ts'
import { pauseContainers, stopContainers } from '../builders/containers.ts'
import { type Color, otherColor, projectName } from '../config.ts'
import type { Ctx } from '../context.ts'
import { names } from '../inventory.ts'
import { checkHealth } from './health.ts'
import { switchTraffic, upstreamDoubt, verifyThroughProxy } from './traffic.ts'
import { quiesce, startStopped, thaw } from './workers.ts'

export interface RecoverResult {
  readonly action: 'nothing deployed' | 'finished the deploy' | 'rolled back' | 'finished the cleanup' | 'finished the adoption' | 'undid the adoption' | 'reconciled'
  readonly changes: readonly string[]
}

/** No operation was cut short: every container goes where the live color wants it, and the live color is checked through the proxy. */
export async function reconcile(ctx: Ctx): Promise<RecoverResult> {
  const live = ctx.state.load().live
  if (!live) return { action: 'nothing deployed', changes: [] }
  const changes = await placeContainers(ctx, live)
  // After a boot the web may still be starting: "serves" is said once it does, through the proxy.
  await checkHealth(ctx, live)
  await verifyThroughProxy(ctx, live)
  ctx.ui.ok(changes.length ? `${live} serves; ${changes.join('; ')}` : `${live} serves; nothing to change`)
  return { action: 'reconciled', changes }
}

/**
 * The live color runs whole, the shared services run, the proxy points at the live color,
 * and nothing of the other color's workers and singletons runs (in pause mode its workers
 * are frozen again, as they were). The other color's web may run: it is the proxy's backup.
 */
async function placeContainers(ctx: Ctx, live: Color): Promise<string[]> {
  const c = ctx.config
  const done: string[] = []
  let inv = await ctx.inventory(true)
  const shared = c.roles.shared.filter((s) => !inv.runningServices('shared', [s]).length)
  if (shared.length) {
    await ctx.must(up(c, 'shared', shared))
    done.push(`started ${shared.join(', ')} of ${projectName(c, 'shared')}`)
  }
  const all = [...c.roles.web, ...c.roles.core, ...c.roles.singletons, ...c.roles.workers]
  const thawed = await thaw(ctx, live, all)
  const started = await startStopped(ctx, live, all)
  if (thawed.length || started.length) done.push(`${live}: ${[...thawed.map((n) => `thawed ${n}`), ...started.map((n) => `started ${n}`)].join(', ')}`)

  const other = otherColor(live)
  inv = await ctx.inventory(true)
  const beats = inv.runningContainers(other, c.roles.singletons)
  const workers = inv.runningContainers(other, c.roles.workers)
  if (c.pauseMode === 'pause' && workers.length) {
    await ctx.must(pauseContainers(c, names(workers)))
    done.push(`${other}: froze ${names(workers).join(', ')} again (pause mode: frozen until cleanup)`)
  }
  const stop = [...beats, ...(c.pauseMode === 'stop' ? workers : [])]
  if (stop.length) {
    await quiesce(ctx, names(stop.filter((x) => c.roles.workers.includes(x.service))))
    await ctx.must(stopContainers(c, names(stop), c.stopGraceS))
    done.push(`${other}: stopped ${names(stop).join(', ')} (a daemon restart had started them)`)
  }

  const upstream = ctx.state.load().upstream
  // The file nginx reads is the truth about traffic; the record may lag it by a power cut.
  const doubt = upstreamDoubt(ctx, live)
  if ((upstream && upstream.color !== live) || doubt) {
    const backup = inv.runningServices(other, c.roles.web).length ? other : null
    await switchTraffic(ctx, live, backup)
    done.push(`proxy pointed back at ${live}${doubt ? ` (${doubt})` : ''}`)
  }
  return done
}
