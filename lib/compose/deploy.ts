// The whole staged deploy, in one node process: build first (a build is itself a CPU
// spike), free the CPU, start the new web alone, check it, switch, then start the workers.
// Any failure, or Ctrl-C, rolls back while the old color is still warm.
import { dirname, extname, relative } from 'node:path'
import { up } from '../builders/compose.ts'
import { imageIds } from '../builders/reads.ts'
import { answer } from '../command.ts'
import { COLORS, type Color, otherColor, projectName, withRelease } from '../config.ts'
import type { Ctx } from '../context.ts'
import { anySignal } from '../deadlines.ts'
import { ConfigError, StepError, UsageError } from '../errors.ts'
import { OpLog, readHistory } from '../history.ts'
import { imagesByName, type RunState } from '../inventory.ts'
import { reportInterrupted, runOp, runSteps } from '../operation.ts'
import { detectRelease } from '../release.ts'
import type { Journal, KeptRelease } from '../state.ts'
import { canary } from './canary.ts'
import { checkHealth, confirmWebUp, warmUp, webRunState } from './health.ts'
import { keptRelease, pruneReleases } from './images.ts'
import { checkUnfinishedJobs, runJobs } from './jobs.ts'
import { plainProjectProblems } from './plain.ts'
import { rollbackTo } from './rollback.ts'
import { buildAndPin, healthAndCreate, preflight, startCore } from './steps.ts'
import { stopRequestLog, switchTo, upstreamPort, verifyThroughProxy, writeUpstream } from './traffic.ts'
import { lastWatchOf, newWatch, openLog, type PhaseReport, resetLog, watchRelease } from './watch.ts'
import { drainFrozen, freezeWorkers, type Quiesced, singletonsRunning, startRest, startSingletons, workerGap } from './workers.ts'

/** `canary` runs only with CALMSWAP_CANARY, `watch` with CALMSWAP_WATCH; neither on a first deploy. */
export const DEPLOY_STEPS = ['build', 'shared', 'jobs', 'pause-workers', 'up-core', 'health', 'canary', 'switch', 'up-rest', 'verify', 'watch'] as const
export type DeployStep = (typeof DEPLOY_STEPS)[number]

/** Redis, the proxy and friends: started once for all colors; untouched when running. */
async function ensureShared(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  const inv = await ctx.inventory()
  const notRunning = c.roles.shared.filter((s) => !inv.runningServices('shared', [s]).length)
  if (!notRunning.length) return ctx.ui.detail('  shared services already running')
  // The proxy includes the upstream file at start-up: it has to exist first; so does the
  // folder of its log, or Docker would create it for root.
  if (c.proxy.inContainer && !ctx.state.load().upstream) await writeUpstream(ctx, color, null)
  resetLog(ctx)
  await ctx.must(up(c, 'shared', notRunning))
}

/**
 * No state but a color already serving (a lost state folder, a different checkout): adopt
 * that color as live rather than "bootstrap" over it and recreate the web under traffic.
 */
async function adoptRunning(ctx: Ctx): Promise<Color | null> {
  const c = ctx.config
  const inv = await ctx.inventory()
  const serving = COLORS.filter((col) => inv.runningServices(col, c.roles.web).length)
  if (!serving.length) return null
  const named = upstreamPort(c)
  const live = serving.length === 1 ? serving[0]! : serving.find((col) => c.ports[col] === named)
  if (!live)
    throw new StepError(
      `the state file ${ctx.state.file} is missing, and both ${projectName(c, 'blue')} and ${projectName(c, 'green')} serve: cannot tell which is live. Write {"live":"blue"} or {"live":"green"} into it, or remove one color.`,
    )
  ctx.ui.warn(`no state in ${ctx.state.dir}, but ${projectName(c, live)} is running: adopting ${live} as the live color`)
  ctx.state.adoptLive(live, c.ports[live])
  return live
}

/** The command that removes the old color, as this deploy was started. */
function cleanupCommand(): string {
  if (process.env.MAKELEVEL) return 'make cleanup'
  const entry = process.argv[1] ?? 'scripts/deploy.ts'
  const script = relative(process.cwd(), `${dirname(entry)}/cleanup${extname(entry)}`) || `cleanup${extname(entry)}`
  return extname(entry) === '.ts' ? `npx tsx ${script}` : `node ${script}`
}

export interface DeployResult {
  readonly from: Color | null
  readonly to: Color
  readonly release: string
}

interface Plan {
  readonly from: Color | null
  readonly to: Color
  readonly release: string
  readonly resumed: Journal | null
  /** `--release`: the earlier release deployed again, on its kept images. */
  readonly kept: KeptRelease | null
}

export interface DeployOptions {
  /** Run again a release job that an interrupted deploy started and did not see end. */
  readonly rerunJobs?: boolean
  /** Deploy again a kept earlier release: its own images, no build. */
  readonly release?: string
}

/** Where this deploy goes: from the journal of an interrupted one, else from the live color. */
/** The release a deploy labels: the one an interrupted deploy began, the one asked for, or the checkout's. */
const releaseOf = async (ctx: Ctx, o: DeployOptions): Promise<string> => ctx.state.load().journal?.release || o.release || (await detectRelease(ctx))

async function planDeploy(ctx: Ctx, o: DeployOptions, known?: string): Promise<Plan> {
  const s = ctx.state.load()
  if (s.journal && s.journal.op !== 'deploy') {
    reportInterrupted(ctx, s.journal, false)
    throw new UsageError(`run ${s.journal.op} to finish it first`)
  }
  const j = s.journal
  if (j) reportInterrupted(ctx, j, true)
  checkUnfinishedJobs(j, o.rerunJobs ?? false)
  const from = j ? j.from : (s.live ?? (await adoptRunning(ctx)))
  const to: Color = j ? j.to : from ? otherColor(from) : 'blue'
  const kept = o.release ? await keptRelease(ctx, o.release) : null
  if (o.release && !kept) {
    throw new UsageError(`release ${o.release} cannot be deployed again: its images are not kept (CALMSWAP_KEEP_RELEASES; \`history\` lists past releases). Nothing was changed.`)
  }
  const release = known ?? (await releaseOf(ctx, o))
  return { from, to, release, resumed: j, kept }
}

/**
 * The color and release a deploy goes to, when the state file alone tells (a live color, or
 * a deploy to continue): preflight then reads the compose file as the build will. Null when
 * only Docker can tell (no state: a first deploy, or a running color to adopt).
 */
async function knownTarget(ctx: Ctx, o: DeployOptions): Promise<{ to: Color; release: string } | null> {
  const s = ctx.state.load()
  const to = s.journal ? (s.journal.op === 'deploy' ? s.journal.to : null) : s.live ? otherColor(s.live) : null
  if (!to) return null
  return { to, release: await releaseOf(ctx, o) }
}

export async function deploy(ctx0: Ctx, o: DeployOptions = {}): Promise<DeployResult> {
  return runOp(ctx0, 'deploy', async () => {
    const target = await knownTarget(ctx0, o)
    const read = target ? { config: withRelease(ctx0.config, target.release), color: target.to } : { config: ctx0.config, color: 'blue' as const }
    const model = await preflight(ctx0.withConfig(read.config), read.color)
    const first = ctx0.state.load()
    if (!first.live && !first.journal) {
      // A first deploy beside a plain project that runs the same app: refuse rather than start
      // a database on an empty volume while the data sits in another one.
      const problems = await plainProjectProblems(ctx0, model)
      if (problems.length) throw new ConfigError(problems)
    }
    const { from, to, release, resumed, kept } = await planDeploy(ctx0, o, target?.release)
    // Replaced once the build has pinned the new color's images: the steps read it when they run.
    let ctx = ctx0.withConfig(withRelease(ctx0.config, release))
    ctx.ui.info(`${release}: ${from ?? 'nothing'} → ${to}${ctx.exec.dryRun ? ' (dry run: nothing changes)' : ''}`, 'calmswap deploy')
    ctx.journal.begin('deploy', from, to, release)
    const op = new OpLog(ctx, 'deploy', from, to)
    op.release = release

    let created: Promise<void> | undefined
    // Stop mode: the old workers' drain, begun once the new web has booted (see up-rest).
    let drained: Promise<Quiesced> | undefined
    // The new beat, started once the new web has booted (after a canary: as the switch runs).
    let singletons: Promise<void> | undefined
    let beatStarted = false
    // Stops that start where it has not happened yet: a deploy that fails from here on rolls back.
    let haltBeat: (() => void) | undefined
    // When this run froze the old workers: the start of the gap in task processing.
    let frozenAt: number | null = null
    const watched: PhaseReport[] = []
    op.watch = watched
    const watching = Boolean(from) && ctx.config.watch.ms > 0
    // Judged from the switch on, beside up-rest and verify: a bad verdict stops those steps
    // (their signal) and the deploy rolls back, as for Ctrl-C, but saying why.
    const watch = watching ? newWatch(ctx, to, lastWatchOf(readHistory(ctx.config.stateDir), from)) : null
    const judged = () => (watch ? ctx.withSignal(anySignal([ctx.signal, watch.failed])) : ctx)
    const order = DEPLOY_STEPS.filter((s) => (s !== 'canary' || (from && ctx.config.canary.steps.length)) && (s !== 'watch' || watching))
    const drainOld = Boolean(from) && ctx.config.pauseMode === 'stop' && ctx.config.drain === 'during-health' && ctx.config.roles.workers.length > 0 && !order.includes('canary')
    // Not with a canary either: its hold judges the new web while the old color runs as before.
    const beatEarly = Boolean(from) && ctx.config.beatStart === 'booted' && ctx.config.roles.singletons.length > 0 && !order.includes('canary')
    const oldWebRuns = async () => (from ? (await ctx.inventory()).runningServices(from, ctx.config.roles.web).length > 0 : false)
    // The new web as traffic moves to it, or as this run first sees it past the switch (a run
    // continued after a reboot): what verify holds it to. Restarts before that are not this
    // release's doing after the switch.
    let webBefore: Promise<RunState[]> | undefined
    const webAtSwitch = () => (webBefore ??= webRunState(ctx, to))
    const steps: Record<DeployStep, () => Promise<unknown>> = {
      build: async () => (ctx = ctx.withConfig(await buildAndPin(ctx, to, model, kept, { ...read, model }))),
      shared: () => ensureShared(ctx, to),
      jobs: () => runJobs(ctx, op, to),
      'pause-workers': async () => {
        const before = Date.now()
        if ((await freezeWorkers(ctx, from)).length) frozenAt = before
      },
      'up-core': () => startCore(ctx, to),
      // Once the web has booted: with CALMSWAP_DRAIN=during-health (the default) the old workers
      // drain (thawed, told to stop consuming, SIGTERM) so that the new ones can consume right
      // after the switch; the new beat starts, once the old one exited, and proves itself
      // while the check runs. Neither with a canary, which runs the old color until its
      // promotion. Then the warm-up, the last thing before traffic moves.
      health: async () => {
        const h = await healthAndCreate(ctx, to, {
          drain: drainOld ? () => drainFrozen(ctx, from!) : undefined,
          singletons: beatEarly ? (halted) => startSingletons(ctx.withSignal(anySignal([ctx.signal, halted])), to, from!) : undefined,
        })
        ;({ created, drained, singletons } = h)
        haltBeat = h.halt
        singletons?.then(() => void (beatStarted = true)).catch(() => {})
        await warmUp(ctx, to)
      },
      canary: () => canary(ctx, from, to, watched),
      switch: async () => {
        await webAtSwitch()
        // A new beat that failed to start since the web booted, or that exited or restarts
        // since its start, stops the deploy before the switch. Its proof is up-rest's.
        if (singletons) await Promise.race([singletons, undefined])
        if (beatStarted) await singletonsRunning(ctx, to)
        // After a canary (or in a run continued past the health step): the old beat has been
        // stopping since the freeze, the new one boots beside the switch instead of after it.
        if (from && !singletons) {
          singletons = (async () => {
            await created
            await startSingletons(ctx, to, from)
          })()
          singletons.catch(() => {})
        }
        if (watching) resetLog(ctx)
        await switchTo(ctx, to, (await oldWebRuns()) ? from : null, { log: watching })
        if (!ctx.exec.dryRun) watch?.start(openLog(ctx))
      },
      'up-rest': async () => {
        await webAtSwitch()
        await created
        const up = await startRest(judged(), to, undefined, { drained, singletons })
        if (up && frozenAt !== null) op.gap = workerGap(frozenAt, up)
      },
      // Once more after the workers started: a web that died right after the switch is
      // caught here, while the old web still runs and can take the traffic back.
      verify: async () => {
        await (ctx.config.proxy.url && ctx.config.proxy.mode !== 'none' ? verifyThroughProxy(judged(), to) : checkHealth(judged(), to))
        await confirmWebUp(judged(), to, await webAtSwitch())
      },
      watch: async () => {
        await watchRelease(ctx, to, watch!, watched)
        // The release stays: the proxy stops logging each request, even after Ctrl-C.
        await stopRequestLog(ctx.uninterruptible(), to)
      },
    }
    try {
      await runSteps(ctx, op, order, steps, new Set(resumed?.done ?? []))
    } catch (e) {
      watch?.stop()
      if (watch?.isStarted && !watched.some((r) => r.phase === 'watch')) watched.push(await watch.result)
      haltBeat?.()
      await Promise.allSettled([created, drained, singletons])
      await rollBackFailed(ctx, op, { from, to, release }, watch?.error ?? (e as Error))
    }
    ctx.state.deployed(from, to, release)
    // A record for history only: a Ctrl-C (one that ended the watch too) or a daemon hiccup
    // now must not undo a finished deploy.
    const done = ctx.uninterruptible()
    op.images = ctx.exec.dryRun ? undefined : await imagesOf(done, to).catch(() => undefined)
    await pruneReleases(done).catch((e: Error) => ctx.ui.warn(`could not remove old releases' images: ${e.message}`))
    op.finish('ok')
    ctx.ui.ok(`${release} is live on ${to}`)
    ctx.ui.event('deployed', { from, to, release })
    if (from) {
      ctx.ui.info(`Check the site now${ctx.config.proxy.url ? `: ${ctx.config.proxy.url}/` : ''}. ${from} is kept warm for an instant rollback.`)
      ctx.ui.info(`When it looks right, remove the old color with:\n\n    ${cleanupCommand()}\n`)
    }
    return { from, to, release }
  })
}

/** A step failed: roll back, record it, and end with the message that says where things stand. */
async function rollBackFailed(ctx: Ctx, op: OpLog, p: { from: Color | null; to: Color; release: string }, err: Error): Promise<never> {
  ctx.ui.error(err.message)
  if (ctx.exec.dryRun) throw err
  try {
    await op.step(`rollback to ${p.from ?? 'nothing'}`, () => rollbackTo(ctx, { good: p.from, bad: p.to }, err))
  } catch (e2) {
    op.finish('failed', err)
    throw new StepError(`the deploy failed and so did the rollback: ${(e2 as Error).message}\nThe state file records where it stopped; fix the cause and run rollback again.`)
  }
  op.finish('rolled-back', err)
  throw new StepError(`deploy of ${p.release} to ${p.to} failed and was rolled back; ${p.from ?? 'nothing'} ${p.from ? 'serves as before' : 'was live before, so nothing serves'}`)
}

/** The image each container of the color runs, for history. */
async function imagesOf(ctx: Ctx, color: Color): Promise<Record<string, string>> {
  const ids = (await ctx.inventory()).containers(color).map((x) => x.id)
  return ids.length ? Object.fromEntries(answer(await ctx.run(imageIds(ctx.config, ids)), imagesByName)) : {}
}
