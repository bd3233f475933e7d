// After a power cut or a daemon restart: bring the host back to what the state says. Docker's
// restart policies bring back whatever was running, and nothing that was frozen stays frozen:
// an old color's frozen workers come back running beside the new ones, and a half-started
// release comes back beside the live one. `recover` finishes or undoes an operation that was
// cut short, and otherwise puts each container where the live color wants it. Run it at boot
// (provision/calmswap-recover.service) or by hand; the next deploy or rollback does the same.

import { up } from '../builders/compose.ts'
import { pauseContainers, stopContainers } from '../builders/containers.ts'
import { type Color, otherColor, projectName } from '../config.ts'
import type { Ctx } from '../context.ts'
import { names } from '../inventory.ts'
import { runOp } from '../operation.ts'
import { adopt, undoAdopt } from './adopt.ts'
import { cleanup } from './cleanup.ts'
import { deploy } from './deploy.ts'
import { checkHealth } from './health.ts'
import { rollback } from './rollback.ts'
import { switchTraffic, verifyThroughProxy } from './traffic.ts'
import { quiesce, startStopped, thaw } from './workers.ts'

export interface RecoverResult {
  readonly action: 'nothing deployed' | 'finished the deploy' | 'rolled back' | 'finished the cleanup' | 'finished the adoption' | 'undid the adoption' | 'reconciled'
  readonly changes: readonly string[]
}

export async function recover(ctx: Ctx): Promise<RecoverResult> {
  return runOp(ctx, 'recover', async () => {
    const s = ctx.state.load()
    const j = s.journal
    if (j?.op === 'deploy' && j.done.includes('switch')) {
      ctx.ui.info(`a deploy ${j.from ?? 'nothing'} → ${j.to} was cut short after traffic switched: finishing it`)
      await deploy(ctx)
      return { action: 'finished the deploy', changes: [] }
    }
    if (j?.op === 'deploy' || j?.op === 'rollback') {
      ctx.ui.info(`a ${j.op} ${j.from ?? 'nothing'} → ${j.to} was cut short${j.op === 'deploy' ? ' before traffic switched' : ''}: rolling back`)
      await rollback(ctx)
      return { action: 'rolled back', changes: [] }
    }
    if (j?.op === 'adopt') {
      if (j.done.includes('proxy')) {
        ctx.ui.info('an adoption was cut short after the proxy handed over: finishing it')
        await adopt(ctx)
        return { action: 'finished the adoption', changes: [] }
      }
      ctx.ui.info('an adoption was cut short before the proxy handed over: undoing it')
      await undoAdopt(ctx)
      return { action: 'undid the adoption', changes: [] }
    }
    if (j?.op === 'cleanup') {
      ctx.ui.info(`a cleanup of ${j.from} was cut short: finishing it`)
      await cleanup(ctx, { yes: true })
      return { action: 'finished the cleanup', changes: [] }
    }
    if (!s.live) return { action: 'nothing deployed', changes: [] }
    const changes = await reconcile(ctx, s.live)
    // After a boot the web may still be starting: "serves" is said once it does, through the proxy.
    await checkHealth(ctx, s.live)
    await verifyThroughProxy(ctx, s.live)
    ctx.ui.ok(changes.length ? `${s.live} serves; ${changes.join('; ')}` : `${s.live} serves; nothing to change`)
    return { action: 'reconciled', changes }
  })
}

/**
 * The live color runs whole, the shared services run, the proxy points at the live color,
 * and nothing of the other color's workers and singletons runs (in pause mode its workers
 * are frozen again, as they were). The other color's web may run: it is the proxy's backup.
 */
async function reconcile(ctx: Ctx, live: Color): Promise<string[]> {
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
  if (upstream && upstream.color !== live) {
    const backup = inv.runningServices(other, c.roles.web).length ? other : null
    await switchTraffic(ctx, live, backup)
    done.push(`proxy pointed back at ${live}`)
  }
  return done
}
