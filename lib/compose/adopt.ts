// Moving a running plain Compose project onto calmswap, in place. The plain project becomes
// the shared project (CALMSWAP_SHARED_PROJECT=<its name>): its databases, Redis and volumes
// are never stopped, so every row stays where it is. Its app containers are the old release:
// its workers are frozen and its beat stopped, the new release's web starts as blue beside
// them and is checked, then the plain proxy hands over to calmswap's (the only moment
// without a listener on the port), and only then do the old workers stop and blue's start.
import { create, recreate, up } from '../builders/compose.ts'
import { kill, startContainers, stopContainers, waitExit } from '../builders/containers.ts'
import { coloredServices, projectName, withRelease } from '../config.ts'
import type { Ctx } from '../context.ts'
import { DEADLINE } from '../deadlines.ts'
import { StepError, UsageError } from '../errors.ts'
import { readOwnFile } from '../files.ts'
import { OpLog } from '../history.ts'
import { names } from '../inventory.ts'
import { reportInterrupted, runOp, runSteps } from '../operation.ts'
import { detectRelease } from '../release.ts'
import type { Journal } from '../state.ts'
import { runJobs } from './jobs.ts'
import { buildAndPin, healthAndCreate, preflight, startCore } from './steps.ts'
import { restoreUpstream, verifyThroughProxy, writeUpstream } from './traffic.ts'
import { resetLog } from './watch.ts'
import { awaitStopped, freezeWorkers, quiesce, startRest, startStopped, thaw } from './workers.ts'

export const ADOPT_STEPS = ['build', 'jobs', 'pause-workers', 'up-core', 'health', 'proxy', 'up-rest', 'verify', 'retire'] as const

export interface AdoptOptions {
  /** The plain project's proxy service, when it is not CALMSWAP_PROXY_SERVICE. */
  readonly proxyFrom?: string
}

/** The plain project's app containers: calmswap's colored services, running in the shared project. */
async function plainAppContainers(ctx: Ctx) {
  return (await ctx.inventory(true)).containers('shared', coloredServices(ctx.config))
}

/** What adopt refuses, before anything is touched; the journal of one to continue, if any. */
function checkAdoptable(ctx: Ctx): Journal | null {
  const shared = projectName(ctx.config, 'shared')
  if (!ctx.config.sharedProject) throw new UsageError('adopt takes over a plain project in place: set CALMSWAP_SHARED_PROJECT to its name (README: moving a running app)')
  const s = ctx.state.load()
  if (s.journal && s.journal.op !== 'adopt') throw new UsageError(`a ${s.journal.op} was interrupted; run ${s.journal.op} to finish it first`)
  if (s.live && !s.journal) throw new UsageError(`${s.live} is live already: ${shared} was adopted before. Use deploy.`)
  if (s.journal) reportInterrupted(ctx, s.journal, true)
  return s.journal
}

export async function adopt(ctx0: Ctx, o: AdoptOptions = {}): Promise<void> {
  return runOp(ctx0, 'adopt', async () => {
    const resumed = checkAdoptable(ctx0)
    const model = await preflight(ctx0)
    const shared = projectName(ctx0.config, 'shared')
    const oldWeb = (await plainAppContainers(ctx0)).filter((x) => ctx0.config.roles.web.includes(x.service) && x.state === 'running')
    if (!resumed && !oldWeb.length) throw new UsageError(`${shared} runs no ${ctx0.config.roles.web.join(', ')}: nothing to adopt. A first deploy is all it needs.`)
    const release = resumed?.release || (await detectRelease(ctx0))
    // Replaced once the build has pinned blue's images: the steps read it when they run.
    let ctx = ctx0.withConfig(withRelease(ctx0.config, release))
    const c = ctx.config
    // An adoption cut short goes on with the proxy it started with.
    const proxyFrom = resumed?.proxyFrom ?? o.proxyFrom ?? c.proxy.service
    ctx.ui.info(`${release}: ${shared}'s own app → blue, its data untouched${ctx.exec.dryRun ? ' (dry run: nothing changes)' : ''}`, 'calmswap adopt')
    // The upstream file as the plain project left it: a proxy that reads it gets it back from an undo.
    if (!resumed) ctx.journal.replace({ op: 'adopt', from: null, to: 'blue', release, proxyFrom, upstreamBefore: readOwnFile(c.proxy.upstreamFile) })
    const op = new OpLog(ctx, 'adopt', null, 'blue')
    op.release = release
    let created: Promise<void> | undefined
    const steps: Record<(typeof ADOPT_STEPS)[number], () => Promise<unknown>> = {
      build: async () => (ctx = ctx.withConfig(await buildAndPin(ctx, 'blue', model, null))),
      jobs: () => runJobs(ctx, op, 'blue'),
      'pause-workers': () => freezeWorkers(ctx, 'shared'),
      'up-core': async () => {
        await startMissingShared(ctx)
        await startCore(ctx, 'blue')
      },
      health: async () => void ({ created } = await healthAndCreate(ctx, 'blue')),
      proxy: () => handOver(ctx, proxyFrom),
      'up-rest': async () => {
        await created
        await startRest(ctx, 'blue', 'shared')
      },
      verify: () => verifyThroughProxy(ctx, 'blue'),
      retire: () => retire(ctx, proxyFrom),
    }
    try {
      await runSteps(ctx, op, ADOPT_STEPS, steps, new Set(resumed?.done ?? []))
    } catch (e) {
      await created?.catch(() => {})
      await undoFailed(ctx, op, e as Error)
    }
    ctx.state.deployed(null, 'blue', release)
    op.finish('ok')
    ctx.ui.ok(`${shared} adopted: ${release} is live on blue; its data was never stopped`)
    const kept = [...new Set((await plainAppContainers(ctx)).map((x) => x.service)), ...(proxyFrom !== c.proxy.service ? [proxyFrom] : [])]
    ctx.ui.info(`The plain project's app containers are stopped and kept. Remove them once you are happy: docker compose -p ${shared} rm -f ${kept.join(' ')}`)
  })
}

/** The shared services the plain project lacks, but not calmswap's proxy: the plain one holds the port until the hand-over. */
async function startMissingShared(ctx: Ctx): Promise<void> {
  const c = ctx.config
  const inv = await ctx.inventory(true)
  const start = c.roles.shared.filter((x) => x !== c.proxy.service && !inv.runningServices('shared', [x]).length)
  if (start.length) await ctx.must(up(c, 'shared', start))
}

/** A step failed: undo, record it, and end with the message that says where things stand. */
async function undoFailed(ctx: Ctx, op: OpLog, err: Error): Promise<never> {
  ctx.ui.error(err.message)
  if (ctx.exec.dryRun) throw err
  const left = await op
    .step('undo', () => undoAdopt(ctx))
    .catch((e2: Error) => {
      op.finish('failed', err)
      throw new StepError(`the adoption failed and so did its undo: ${e2.message}\nThe state file records where it stopped; fix the cause and run adopt again.`)
    })
  op.finish('rolled-back', err)
  const shared = projectName(ctx.config, 'shared')
  throw new StepError(left ? `adopting ${shared} failed and was undone, but ${left}` : `adopting ${shared} failed and was undone: its own app serves as before`)
}

/**
 * The hand-over of the port: the plain proxy stops accepting (SIGQUIT: nginx finishes what it
 * has), and calmswap's, created beforehand, starts. The gap between the two is the only
 * moment of the adoption with no listener. A plain proxy under another service name is
 * kept, stopped, so that an undo can start it again.
 */
async function handOver(ctx: Ctx, proxyFrom: string): Promise<void> {
  const c = ctx.config
  await writeUpstream(ctx, 'blue', null)
  // The folder of its log too, or Docker would make it for root, open to all.
  resetLog(ctx)
  if (proxyFrom === c.proxy.service) {
    ctx.ui.warn(`the plain proxy is service "${proxyFrom}" too: it is recreated with calmswap's definition, and cannot be brought back by an undo`)
    await ctx.must(recreate(c, 'shared', [proxyFrom]))
  } else {
    // Created beforehand, so that the gap is a signal and a start, not a project load.
    await ctx.must(create(c, 'shared', [c.proxy.service]))
    const made = (await ctx.inventory(true)).containers('shared', [c.proxy.service])
    const old = (await ctx.inventory()).runningContainers('shared', [proxyFrom])
    if (old.length) {
      await ctx.must(kill(c, names(old), 'SIGQUIT'))
      await ctx.run(waitExit(c, names(old), DEADLINE.handOver))
    }
    await ctx.must(startContainers(c, names(made)))
  }
  await verifyThroughProxy(ctx, 'blue')
  ctx.state.recordUpstream({ color: 'blue', port: c.ports.blue, backup: null })
  ctx.ui.detail(`  the proxy of ${projectName(c, 'shared')} is calmswap's now, pointing at blue`)
}

/** The plain project's web (and its proxy, when it had its own) stop; their containers stay. */
async function retire(ctx: Ctx, proxyFrom: string): Promise<void> {
  const c = ctx.config
  const webs = (await ctx.inventory(true)).runningContainers('shared', [...c.roles.web, ...c.roles.core, ...(proxyFrom !== c.proxy.service ? [proxyFrom] : [])])
  if (webs.length) await ctx.must(stopContainers(c, names(webs), c.stopGraceS))
}

/**
 * Back to the plain project as it ran: its proxy, then (once blue's have stopped, and its
 * own beat has finished the shutdown pause-workers asked for) its workers and beat. Returns
 * what could not be put back as it was (in words), or null when everything was.
 */
export async function undoAdopt(ctx0: Ctx): Promise<string | null> {
  const ctx = ctx0.uninterruptible()
  const c = ctx.config
  const j = ctx.journal.current
  const proxyFrom = j?.proxyFrom ?? c.proxy.service
  let left: string | null = null
  // A plain proxy under calmswap's service name reads the upstream file: once the hand-over
  // has begun it names blue, whose web stops below. The file the plain project had goes back.
  if (proxyFrom === c.proxy.service && (j?.done.includes('proxy') || j?.current === 'proxy')) {
    if (typeof j.upstreamBefore === 'string') await restoreUpstream(ctx, j.upstreamBefore)
    else
      left = `the proxy ("${proxyFrom}", recreated with calmswap's definition) had no upstream file before the adoption to go back to: it routes to blue, which is stopped, so nothing answers. Start your own proxy again: docker compose -p ${projectName(c, 'shared')} up -d ${proxyFrom} with its own definition.`
  }
  const inv = await ctx.inventory(true)
  if (proxyFrom !== c.proxy.service && !inv.runningServices('shared', [proxyFrom]).length) {
    const mine = inv.aliveContainers('shared', [c.proxy.service])
    if (mine.length) await ctx.must(stopContainers(c, names(mine), 0))
    const old = names(inv.containersIn('shared', [proxyFrom], ['exited', 'created']))
    if (old.length) await ctx.must(startContainers(c, old))
  }
  const blue = inv.aliveContainers('blue', coloredServices(c))
  // Blue's grace starts with this stop.
  await quiesce(ctx, names(blue.filter((x) => c.roles.workers.includes(x.service) && x.state === 'running')), c.stopGraceS * 1000)
  if (blue.length) await ctx.must(stopContainers(c, names(blue), c.stopGraceS))
  await awaitStopped(ctx, 'shared')
  await thaw(ctx, 'shared', [...c.roles.workers, ...c.roles.web, ...c.roles.core])
  await startStopped(ctx, 'shared', [...c.roles.web, ...c.roles.core, ...c.roles.workers, ...c.roles.singletons])
  ctx.journal.finish()
  return left
}
