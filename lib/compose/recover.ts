// After a power cut or a daemon restart: bring the host back to what the state says. Docker's
// restart policies bring back whatever was running, and nothing that was frozen stays frozen:
// an old color's frozen workers come back running beside the new ones, and a half-started
// release comes back beside the live one. `recover` finishes or undoes an operation that was cut
// short, through the engine's own operation (handed in, so this module imports none of them),
// and otherwise puts each container where the live color wants it. Run it at boot (provision/calmswap-recover.service) or by hand; the
// next deploy or rollback does the same.

import { up } from '../builders/compose.ts'
import { pauseContainers, stopContainers } from '../builders/containers.ts'
import { type Color, otherColor, projectName } from '../config.ts'
import type { Ctx } from '../context.ts'
import { StepError } from '../errors.ts'
import { names } from '../inventory.ts'
import { runOp } from '../operation.ts'
import { checkHealth } from './health.ts'
import { switchTraffic, upstreamDoubt, verifyThroughProxy } from './traffic.ts'
import { quiesce, startStopped, thaw } from './workers.ts'

export interface RecoverResult {
  readonly action: 'nothing deployed' | 'finished the deploy' | 'rolled back' | 'finished the cleanup' | 'finished the adoption' | 'undid the adoption' | 'reconciled'
  readonly changes: readonly string[]
}

/** The operations recover finishes or undoes: the engine's own (lib/compose/engine.ts), each loaded when called. */
export interface Resumable {
  deploy(ctx: Ctx): Promise<unknown>
  rollback(ctx: Ctx): Promise<unknown>
  cleanup(ctx: Ctx, o: { readonly yes: boolean }): Promise<unknown>
  adopt(ctx: Ctx): Promise<unknown>
  /** What the undo could not put back, or null. */
  undoAdopt(ctx: Ctx): Promise<string | null>
}

/**
 * An operation the journal says was cut short is finished or undone by that operation itself;
 * with none cut short, the containers are reconciled.
 */
export async function recover(ctx: Ctx, ops: Resumable): Promise<RecoverResult> {
  return runOp(ctx, 'recover', async () => {
    const j = ctx.state.load().journal
    if (j?.op === 'deploy' && j.done.includes('switch')) {
      ctx.ui.info(`a deploy ${j.from ?? 'nothing'} → ${j.to} was cut short after traffic switched: finishing it`)
      await ops.deploy(ctx)
      return { action: 'finished the deploy', changes: [] }
    }
    if (j?.op === 'deploy' || j?.op === 'rollback') {
      ctx.ui.info(`a ${j.op} ${j.from ?? 'nothing'} → ${j.to} was cut short${j.op === 'deploy' ? ' before traffic switched' : ''}: rolling back`)
      await ops.rollback(ctx)
      return { action: 'rolled back', changes: [] }
    }
    if (j?.op === 'adopt') {
      if (j.done.includes('proxy')) {
        ctx.ui.info('an adoption was cut short after the proxy handed over: finishing it')
        await ops.adopt(ctx)
        return { action: 'finished the adoption', changes: [] }
      }
      ctx.ui.info('an adoption was cut short before the proxy handed over: undoing it')
      const left = await ops.undoAdopt(ctx)
      if (left) throw new StepError(`the adoption was undone, but ${left}`)
      return { action: 'undid the adoption', changes: [] }
    }
    if (j?.op === 'cleanup') {
      ctx.ui.info(`a cleanup of ${j.from} was cut short: finishing it`)
      await ops.cleanup(ctx, { yes: true })
      return { action: 'finished the cleanup', changes: [] }
    }
    return reconcile(ctx)
  })
}

/** No operation was cut short: every container goes where the live color wants it, and the live color is checked through the proxy. */
async function reconcile(ctx: Ctx): Promise<RecoverResult> {
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
