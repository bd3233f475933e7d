// The worker lifecycle across a deploy: the old color's workers are frozen while the new web
// boots and its singletons (beat) are stopped at once; in stop mode the frozen workers are
// drained (quiesced, SIGTERM) once the web has booted, or after the switch; the new color's
// singletons start once the new web has booted, its workers after the switch once the old
// ones stopped consuming, each once the CPU is calm. Never two sets of workers running,
// never two singletons.

import { create, up } from '../builders/compose.ts'
import { kill, pauseContainers, quiesceWorker, startContainers, stopContainers, unpauseContainers, waitExit } from '../builders/containers.ts'
import { containerLogs, runState } from '../builders/reads.ts'
import { NOTHING_TO_QUIESCE, QUIESCED, STILL_BUSY } from '../celery.ts'
import { answer, render } from '../command.ts'
import { type Color, otherColor, type Project } from '../config.ts'
import type { Ctx } from '../context.ts'
import { DEADLINE, sleep } from '../deadlines.ts'
import { CommandError, StepError } from '../errors.ts'
import type { WorkerGap } from '../history.ts'
import { type Container, names, notStayingUp, type RunState, runStates } from '../inventory.ts'
import { calmBefore, whenBooted } from '../pressure.ts'
import { signalledAtMs } from '../state.ts'
import { fmtMs, sanitize } from '../ui.ts'

/**
 * The pause-workers step: frees the CPU before the new release starts. Workers are frozen
 * (cgroup freezer: at once, nothing lost, thawed in an instant by a rollback); singletons
 * get SIGTERM, as a frozen beat thawed later would tick beside the new one. A container in a
 * restart loop (a broken live release) cannot be frozen or signalled: it is stopped, which
 * also ends the loop. Exited, dead or never-started ones have nothing to free.
 */
export async function freezeWorkers(ctx: Ctx, color: Project | null, retried = false): Promise<string[]> {
  const c = ctx.config
  if (!color) {
    ctx.ui.detail('  first deploy: no old workers to pause')
    return []
  }
  const inv = await ctx.inventory()
  const said: string[] = []
  const workers = inv.containers(color, c.roles.workers)
  const singletons = inv.containers(color, c.roles.singletons)
  const crashing = [...workers, ...singletons].filter((x) => x.state === 'restarting')
  if (crashing.length) {
    await ctx.must(stopContainers(c, names(crashing), 0))
    said.push(`stopped ${names(crashing).join(', ')} (restarting in a loop: nothing to finish)`)
  }
  const running = workers.filter((x) => x.state === 'running')
  // Frozen rather than sent SIGTERM now: a warm shutdown runs the task in flight to its end
  // and then tears the container down, all beside the new web's boot.
  if (running.length) {
    const cmd = pauseContainers(c, names(running))
    const r = await ctx.run(cmd)
    // Between the inventory and the pause a container can fall into a restart loop: look again, once.
    if (r.code !== 0 && !retried) return freezeWorkers(ctx, color, true)
    if (r.code !== 0) throw new CommandError(render(cmd), r.code, r.stderr, r.stdout)
    said.push(`froze ${names(running).join(', ')} ${c.pauseMode === 'stop' ? 'until they drain' : 'until cleanup'}`)
  }
  const beats = singletons.filter((x) => x.state === 'running')
  if (beats.length) {
    await sendSignal(ctx, names(beats))
    ctx.journal.signalled(names(beats))
    said.push(`sent SIGTERM to ${names(beats).join(', ')}`)
  }
  const idle = [...workers, ...singletons].filter((x) => ['exited', 'dead', 'created'].includes(x.state))
  if (idle.length) said.push(`${names(idle).join(', ')} already ${[...new Set(idle.map((x) => x.state))].join('/')}`)
  ctx.ui.detail(`  ${said.join('; ') || `no workers or singletons in ${color}`}`)
  return names(running)
}

/** Thaws whatever of these services' containers is frozen; returns their names. */
export async function thaw(ctx: Ctx, p: Project, services: readonly string[]): Promise<string[]> {
  const frozen = names((await ctx.inventory()).pausedContainers(p, services))
  if (frozen.length) await ctx.must(unpauseContainers(ctx.config, frozen))
  return frozen
}

/**
 * Starts the stopped containers of these services, by container: `compose start` would also
 * insist on the services' depends_on, which may name a one-off job or another project's.
 */
export async function startStopped(ctx: Ctx, color: Project, services: readonly string[]): Promise<string[]> {
  const stopped = names((await ctx.inventory()).containersIn(color, services, ['exited', 'created', 'dead']))
  if (stopped.length) await ctx.must(startContainers(ctx.config, stopped))
  return stopped
}

/** What is left of CALMSWAP_STOP_GRACE since this operation's last SIGTERM (all of it when there was none). */
function graceLeft(ctx: Ctx): number {
  const since = signalledAtMs(ctx.journal.current)
  return ctx.config.stopGraceS * 1000 - (Number.isNaN(since) ? 0 : Date.now() - since)
}

/** A signal to containers; one that exited since the inventory was read is where it was headed. */
async function sendSignal(ctx: Ctx, to: readonly string[], sig = 'SIGTERM'): Promise<void> {
  const cmd = kill(ctx.config, to, sig)
  const r = await ctx.run(cmd)
  const errors = r.stderr.split('\n').filter((l) => l.trim())
  if (r.code !== 0 && !(errors.length && errors.every((l) => /is not running/.test(l)))) throw new CommandError(render(cmd), r.code, r.stderr, r.stdout)
}

/**
 * Stop mode: the frozen workers are thawed, quiesced, then get SIGTERM; their warm shutdown
 * is waited for later (awaitStopped). Thawed first, not signalled frozen: a worker thawed by
 * the signal itself gets it in the same instant as its backlog. Returns those that said they
 * stopped consuming: a new worker may consume beside their warm shutdown. Runs to its end
 * once begun: a worker thawed and not yet signalled would be waited for as if it were stopping.
 */
export async function drainFrozen(ctx0: Ctx, color: Project): Promise<Quiesced> {
  const ctx = ctx0.uninterruptible()
  const thawed = await thaw(ctx, color, ctx.config.roles.workers)
  if (!thawed.length) return NOTHING_QUIESCED
  // The grace counts from the thaw: the quiesce is part of the stop.
  ctx.journal.signalled(thawed)
  const q = await quiesce(ctx, thawed)
  await sendSignal(ctx, thawed)
  ctx.ui.detail(`  thawed ${thawed.join(', ')} and sent SIGTERM: warm shutdown`)
  return q
}

export interface Quiesced {
  /** The workers that said they no longer consume (idle, or still finishing what they had reserved). */
  readonly quiet: readonly string[]
  /**
   * Epoch-ms spans [asked, answered] of each answer that showed a worker running a task after
   * its consumer was cancelled: what the old workers are proven to have run after their thaw.
   */
  readonly ran: readonly (readonly [number, number])[]
}

/** No worker quiesced: none thawed, none asked, or not stop mode. */
export const NOTHING_QUIESCED: Quiesced = Object.freeze({ quiet: Object.freeze([]), ran: Object.freeze([]) })

/**
 * Before the SIGTERM of consuming workers: each is asked, in its own container, to stop
 * consuming and finish what it holds (lib/celery.ts), all at once, within what is left of
 * the grace. Whatever it answers, the SIGTERM follows: a quiesce only makes the stop clean.
 * Returns the workers that said they no longer consume (idle, or still finishing what they
 * had reserved), and when they were seen running tasks meanwhile; one that could not be asked
 * may still read the queue until it exits.
 */
export async function quiesce(ctx: Ctx, workers: readonly string[], graceLeftMs = graceLeft(ctx)): Promise<Quiesced> {
  const c = ctx.config
  if (c.quiesce === 'off' || !workers.length) return NOTHING_QUIESCED
  const maxS = Math.min(DEADLINE.quiesce / 1000, Math.floor((graceLeftMs - DEADLINE.quiesceMargin) / 1000))
  if (maxS < 1) return NOTHING_QUIESCED
  const results = await Promise.all(workers.map((w) => ctx.run(quiesceWorker(c, w, maxS))))
  const quiet: string[] = []
  const ran: [number, number][] = []
  for (const [i, r] of results.entries()) {
    const said = sanitize(r.stderr.trim().split('\n').at(-1) ?? '')
    const what = r.code === QUIESCED || r.code === STILL_BUSY || r.code === NOTHING_TO_QUIESCE ? said.replace(/^quiesce: /, '') : `could not run (exit ${r.code}): ${said}`
    if (r.code === QUIESCED || r.code === STILL_BUSY) quiet.push(workers[i]!)
    ran.push(...taskSpans(r.stdout))
    ctx.ui.detail(`  ${workers[i]}: ${what}`)
  }
  return { quiet, ran }
}

/** The spans a quiesce printed ("quiesce-active asked,answered ...", epoch seconds), in epoch ms. */
export function taskSpans(stdout: string): [number, number][] {
  const line = stdout.split('\n').find((l) => l.startsWith('quiesce-active '))
  return (line?.split(' ').slice(1) ?? []).flatMap((pair) => {
    const [a, b] = pair.split(',').map((x) => Math.round(Number(x) * 1000))
    return Number.isFinite(a) && Number.isFinite(b) && a! <= b! ? [[a!, b!] as [number, number]] : []
  })
}

/**
 * The containers of a color this operation told to stop that still run: those sent SIGTERM
 * and not started again since. A daemon restart (a power cut) brings containers back under
 * their restart policy: those are running afresh, not finishing a warm shutdown.
 */
async function stillStopping(ctx: Ctx, color: Project, services: readonly string[]): Promise<Container[]> {
  const c = ctx.config
  const j = ctx.journal.current
  const running = (await ctx.inventory(true)).runningContainers(color, services)
  // A journal that names no container but has a time (written before names were kept): every
  // running one may be stopping. No journal, or no SIGTERM in it: none is.
  const told = j?.signalled ? running.filter((x) => j.signalled!.includes(x.name)) : j?.signalledAt ? running : []
  const since = signalledAtMs(j)
  if (!told.length || Number.isNaN(since) || ctx.exec.dryRun) return told
  const started = new Map(answer(await ctx.run(runState(c, names(told))), runStates).map((x) => [x.name, Date.parse(x.startedAt)]))
  return told.filter((x) => !((started.get(x.name) ?? 0) > since))
}

/**
 * Waits until a color's workers and singletons that were told to stop have exited, for what
 * is left of CALMSWAP_STOP_GRACE since their SIGTERM, then kills the rest. It never sends a
 * second SIGTERM: Celery reads that as "shut down cold" and abandons its tasks. Frozen
 * workers are left frozen: they were not told to stop.
 */
export async function awaitStopped(ctx: Ctx, color: Project, services: readonly string[] = restServices(ctx)): Promise<void> {
  await waitForExit(ctx, color, await stillStopping(ctx, color, services), signalledAtMs(ctx.journal.current))
}

/** Waits for these containers, sent SIGTERM at `since`, for what is left of the grace; then SIGKILL. */
async function waitForExit(ctx: Ctx, color: Project, stopping: readonly Container[], since: number): Promise<void> {
  const c = ctx.config
  if (!stopping.length) return
  const graceMs = c.stopGraceS * 1000
  const left = graceMs - (Number.isNaN(since) ? 0 : Date.now() - since)
  const t0 = Date.now()
  if (left > 0)
    await ctx.run(
      waitExit(
        c,
        stopping.map((x) => x.id),
        left,
      ),
    )
  const still = (await ctx.inventory(true)).aliveContainers(color, [...c.roles.workers, ...c.roles.singletons]).filter((x) => stopping.some((s) => s.id === x.id))
  if (!still.length) return
  // One that fell into a restart loop meanwhile cannot be signalled; a stop ends the loop.
  const looping = still.filter((x) => x.state === 'restarting')
  if (looping.length) await ctx.must(stopContainers(c, names(looping), 0))
  if (still.length > looping.length) await sendSignal(ctx, names(still.filter((x) => !looping.includes(x))), 'SIGKILL')
  const after = Math.round((Number.isNaN(since) ? Date.now() - t0 : Date.now() - since) / 1000)
  for (const k of still) {
    ctx.ui.warn(
      `${k.name} was still running ${after}s after its SIGTERM (CALMSWAP_STOP_GRACE=${c.stopGraceS}s) and was killed; its unacknowledged task returns to the queue after the broker's visibility timeout`,
    )
  }
}

/**
 * Before the new color's `services` start: none of the other color's runs, but `quiet`
 * (workers told to stop that said they no longer consume: they finish their warm shutdown
 * beside the new ones). Those told to stop are waited for; any other that runs (brought back
 * by a daemon restart, or started by hand) is told now, and waited for too.
 */
async function ensureStopped(ctx: Ctx, color: Project, services: readonly string[], quiet: readonly string[] = []): Promise<void> {
  if (!services.length) return
  const c = ctx.config
  const stopping = (await stillStopping(ctx, color, services)).filter((x) => !quiet.includes(x.name))
  await waitForExit(ctx, color, stopping, signalledAtMs(ctx.journal.current))
  const alive = (await ctx.inventory(true)).aliveContainers(color, services).filter((x) => !quiet.includes(x.name))
  const looping = alive.filter((x) => x.state === 'restarting')
  if (looping.length) await ctx.must(stopContainers(c, names(looping), 0))
  const left = alive.filter((x) => x.state === 'running')
  if (!left.length) return
  ctx.journal.signalled(names(left))
  const since = Date.now()
  await quiesce(ctx, names(left.filter((x) => c.roles.workers.includes(x.service))), c.stopGraceS * 1000)
  await sendSignal(ctx, names(left))
  ctx.ui.detail(`  sent SIGTERM to ${names(left).join(', ')}: running though not told to stop before (a daemon restart brings them back)`)
  // Waited for whether or not a journal records them (a step script run on its own has none).
  await waitForExit(ctx, color, left, since)
}

/**
 * While the new web boots: resolves true once it has finished booting (its CPU settles) or
 * passed its health check, false once the check failed first. What waits for it (the
 * creation of the new workers, the old workers' drain) then does not slow the boot it waits
 * for, and does nothing when the rollback is next.
 */
export async function webSettled(ctx: Ctx, color: Color, webReady: Promise<boolean>, then: string): Promise<boolean> {
  const answered = new AbortController()
  const outcome = webReady.finally(() => answered.abort())
  const booting = (await ctx.inventory()).runningContainers(color, ctx.config.roles.web).map((x) => x.id)
  const booted = whenBooted(ctx, booting, answered.signal)
  const first = await Promise.race([booted.then(() => null), outcome])
  // The check has answered (it also ended the boot wait): its answer decides.
  if (first === false || (answered.signal.aborted && !(await outcome))) return false
  const s = await Promise.race([booted, null])
  if (s) ctx.ui.detail(`  ${s.booted ? 'web booted' : 'web still busy'} after ${Math.round(s.waitedMs)}ms (${s.cpu.toFixed(0)}% of a CPU): ${then}`)
  return true
}

/**
 * While the new web boots: creates (does not start) the color's workers and singletons.
 * Loading the project and creating containers is most of what `compose up` costs; done here
 * it overlaps a wait instead of running after the switch beside the backlog.
 */
export async function createRest(ctx: Ctx, color: Color): Promise<void> {
  const { workers, singletons } = ctx.config.roles
  if (!workers.length && !singletons.length) return
  await ctx.must(create(ctx.config, color, [...singletons, ...workers]))
}

/** A stage of new services, on a calm CPU: started when createRest made them, else `compose up`. */
async function startStage(ctx: Ctx, color: Color, stage: readonly string[]): Promise<void> {
  const c = ctx.config
  await calmBefore(ctx, `up ${stage.join(' ')}`)
  ctx.checkpoint()
  // Made by createRest while the web booted: a start is all that is left. Not cut off once
  // asked for: the daemon would finish a start its caller gave up on, after a rollback looked.
  const made = (await ctx.inventory()).containers(color, stage)
  const ready = stage.every((s) => made.some((x) => x.service === s)) && made.every((x) => x.state === 'created')
  await (ready ? ctx.uninterruptible().must(startContainers(c, names(made))) : ctx.must(up(c, color, stage)))
}

/**
 * The new singletons (beat) start once the other color's have exited (SIGTERM since the
 * freeze; waited for within the grace, then SIGKILL): never two beats. Nothing here waits
 * for the old workers. A deploy starts it once the new web has booted: beat only enqueues,
 * and its tasks wait in the queue for the workers that start after the switch (or, should
 * the deploy roll back, for the old ones).
 */
export async function startSingletons(ctx: Ctx, color: Color, other: Project = otherColor(color)): Promise<void> {
  const { singletons } = ctx.config.roles
  await ensureStopped(ctx, other, singletons)
  if (singletons.length) await startStage(ctx, color, singletons)
}

/**
 * The new singletons, started before the switch, still run as they started: not exited, not
 * restarted by a restart policy (a new container's restart count starts at 0).
 */
export async function singletonsRunning(ctx: Ctx, color: Color): Promise<void> {
  const started = names((await ctx.inventory(true)).containers(color, ctx.config.roles.singletons))
  if (ctx.exec.dryRun || !started.length) return
  const now = answer(await ctx.run(runState(ctx.config, started)), runStates)
  const wrong = now.filter((x) => x.status !== 'running' || x.restarts > 0)
  if (wrong.length) {
    throw new StepError(`the new ${wrong.map((x) => `${x.name} is ${x.status}, ${x.restarts} restart(s) (exit code ${x.exitCode})`).join('; ')} since its start, before the switch`)
  }
}

/**
 * The up-rest step, after traffic switched. Two lanes side by side: the new singletons
 * (startSingletons, or `singletons`: that lane begun already), and the new workers, which
 * start once the other color's have stopped consuming: drained (`drained`: the workers that
 * said so, e.g. while the web booted) or, when none said so, exited. Then each new one proves
 * it is up while the old workers' warm shutdown ends beside it, within the grace.
 */
export async function startRest(
  ctx: Ctx,
  color: Color,
  other: Project = otherColor(color),
  begun: { drained?: Promise<Quiesced>; singletons?: Promise<void> } = {},
): Promise<WorkersUp | null> {
  const c = ctx.config
  const { workers, singletons } = c.roles
  let firstWorker: number | null = null
  let ran: Quiesced['ran'] = []
  const workerLane = async () => {
    // In stop mode the frozen workers are drained now, unless that began already; in pause
    // mode they stay frozen (not consuming) until cleanup.
    const q = c.pauseMode === 'stop' ? await (begun.drained ?? drainFrozen(ctx, other)) : NOTHING_QUIESCED
    ran = q.ran
    await ensureStopped(ctx, other, workers, q.quiet)
    for (const w of workers) {
      await startStage(ctx, color, [w])
      firstWorker ??= Date.now()
    }
  }
  await settleAll([begun.singletons ?? startSingletons(ctx, color, other), workerLane()])
  // The old workers' warm shutdown, within the grace, beside the new ones' proof.
  const [proven] = await settleAll([confirmUp(ctx, color, [...singletons, ...workers]), awaitStopped(ctx, other)] as const)
  const up = proven ?? (firstWorker !== null ? { at: firstWorker, by: 'start' as const } : null)
  return up && { ...up, oldRan: ran }
}

/** Waits for all of them, then throws the first failure: nothing is left running beside a rollback. */
async function settleAll<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const rs = await Promise.allSettled(ps)
  const bad = rs.find((r) => r.status === 'rejected')
  if (bad) throw (bad as PromiseRejectedResult).reason
  return rs.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T
}

/** When the first new worker began to consume, as far as this run could tell. */
export interface WorkersUp {
  /**
   * Epoch ms: a new worker's first task (CALMSWAP_TASK_LOG), else its ready line when no task
   * showed by the end of its check (nothing waited), else the start of the first worker.
   */
  readonly at: number
  readonly by: 'task' | 'ready-log' | 'start'
  /** When the old workers were seen running tasks after their thaw (Quiesced.ran). */
  readonly oldRan?: Quiesced['ran']
}

/**
 * The gap in task processing of a deploy that froze the old workers at `frozenAt`: from the
 * freeze to `up` (ms), and, when the old workers were seen running tasks after their thaw,
 * the longest stretch in which no worker is known to have run one (noTaskMs). That is an
 * upper bound: a stretch starts at the last answer that showed a task running (when it was
 * asked) and ends at the next one (when it was answered), or at the new worker's first task.
 * Only when the gap ends at a task: a ready line or the workers' start comes before the first
 * new task, which is later, unknown.
 */
export function workerGap(frozenAt: number, up: WorkersUp): WorkerGap {
  const ms = Math.max(0, Math.round(up.at - frozenAt))
  const ran = (up.oldRan ?? []).filter(([a, b]) => b >= frozenAt && a <= up.at).sort((x, y) => x[0] - y[0])
  if (!ran.length || up.by !== 'task') return { ms, to: up.by }
  let longest = ran[0]![1] - frozenAt
  for (let i = 1; i < ran.length; i++) longest = Math.max(longest, ran[i]![1] - ran[i - 1]![0])
  longest = Math.max(longest, up.at - ran.at(-1)![0])
  return { ms, to: up.by, noTaskMs: Math.min(ms, Math.max(0, Math.round(longest))) }
}

/** The time (epoch ms) of the first line of `docker logs --timestamps` output that matches; NaN when none does. */
export function firstMatch(logs: string, ready: RegExp): number {
  for (const line of logs.split('\n')) {
    const sp = line.indexOf(' ')
    // A log line is the app's text: only its start is matched, as a health body's is.
    if (sp > 0 && ready.test(line.slice(sp + 1, sp + 1 + 4096))) return Date.parse(line.slice(0, sp))
  }
  return Number.NaN
}

/**
 * A deploy is not done while the new workers crash-loop. Each container proves it is up
 * either by logging CALMSWAP_READY_LOG since its start (a Celery worker's ready line: its
 * consumer reads the queue), or by running CALMSWAP_STAY_UP since its start; in both cases
 * with no restart and no exit, which is looked at every 250 ms, so a crash fails the check
 * at once instead of at the end of a wait. The same log reads look for each worker's first
 * task (CALMSWAP_TASK_LOG), while the check runs anyway, and once more at its end: the end
 * of the gap in task processing, measured, not waited for.
 */
async function confirmUp(ctx: Ctx, color: Color, services: readonly string[]): Promise<WorkersUp | null> {
  const c = ctx.config
  const ms = c.stayUpMs
  const ids = names((await ctx.inventory(true)).containers(color, services))
  if (ms <= 0 || ctx.exec.dryRun || !ids.length) return null
  const workers = new Set(names((await ctx.inventory()).containers(color, c.roles.workers)))
  const before = answer(await ctx.run(runState(c, ids)), runStates)
  const ready = c.readyLog ? new RegExp(c.readyLog) : null
  const task = c.taskLog ? new RegExp(c.taskLog) : null
  const t0 = Date.now()
  const startOf = (b: RunState) => {
    const t = Date.parse(b.startedAt)
    return Number.isNaN(t) ? t0 : Math.min(t, t0)
  }
  // Each container's log is read from its start, then from the last line read on.
  const since = new Map(before.map((b) => [b.name, startOf(b) / 1000]))
  const readyAt = new Map<string, number>()
  const taskAt = new Map<string, number>()
  // Restarted already, or down, before the first look: crashing since its start.
  const early = before.flatMap((b) => notStayingUp({ ...b, status: 'running', restarts: 0 }, b) ?? [])
  if (early.length) throw new StepError(`the new ${color} workers do not stay up: ${early.join('; ')}`)
  const wrongNow = async () => {
    const now = new Map(answer(await ctx.run(runState(c, ids)), runStates).map((x) => [x.name, x]))
    return before.map((b) => notStayingUp(b, now.get(b.name))).filter(Boolean)
  }
  const pending = () => before.filter((b) => !readyAt.has(b.name) && Date.now() - startOf(b) < ms)
  // A worker whose first task is not seen yet: its log is read beside the others', never waited for.
  const noTask = () => (task ? before.filter((b) => workers.has(b.name) && !taskAt.has(b.name)) : [])
  const read = (list: readonly RunState[]) =>
    Promise.all(
      list.map(async (b) => {
        const asked = Date.now() / 1000
        const r = await ctx.run(containerLogs(c, b.name, since.get(b.name)!))
        const text = `${r.stdout}\n${r.stderr}`
        const at = ready && !readyAt.has(b.name) ? firstMatch(text, ready) : Number.NaN
        if (!Number.isNaN(at)) readyAt.set(b.name, at)
        const took = task && workers.has(b.name) && !taskAt.has(b.name) ? firstMatch(text, task) : Number.NaN
        if (!Number.isNaN(took)) taskAt.set(b.name, took)
        if (r.code === 0) since.set(b.name, asked - 1)
      }),
    )
  await ctx.ui.wait(`checking that ${services.join(', ')} come up (${ready ? 'their ready line, or ' : ''}${ms / 1000}s up)`, async () => {
    for (;;) {
      await read([...new Set([...(ready ? pending() : []), ...noTask()])])
      const wrong = await wrongNow()
      if (wrong.length) throw new StepError(`the new ${color} workers do not stay up: ${wrong.join('; ')}`)
      const left = pending()
      if (!left.length) return
      await sleep(Math.min(250, ...left.map((b) => ms - (Date.now() - startOf(b)))), ctx.signal)
      ctx.checkpoint()
    }
  })
  // A worker that took no task during the check, looked at once more: one read, no wait.
  const late = noTask().filter((b) => readyAt.has(b.name))
  if (late.length) await read(late)
  ctx.ui.detail(
    `  ${before.map((b) => (readyAt.has(b.name) ? `${b.name} ready after ${fmtMs(Math.max(0, readyAt.get(b.name)! - startOf(b)))}` : `${b.name} up ${fmtMs(ms)}`)).join(', ')}`,
  )
  const first = (m: Map<string, number>) => {
    const seen = [...m].filter(([n]) => workers.has(n)).map(([, t]) => t)
    return seen.length ? Math.min(...seen) : null
  }
  const took = first(taskAt)
  if (took !== null) return { at: took, by: 'task' }
  const up = first(readyAt)
  return up !== null ? { at: up, by: 'ready-log' } : null
}

/** The services that are not the web: what a stand-down stops and a rollback resumes. */
export const restServices = (ctx: Ctx) => [...ctx.config.roles.workers, ...ctx.config.roles.singletons]

/** The good color's workers and singletons run again: thawed when frozen, started when stopped. */
export async function resumeRest(ctx: Ctx, good: Color, signalled: boolean): Promise<void> {
  // Workers told to stop may still be finishing their last task: a `start` now would find
  // them running, do nothing, and then see them exit.
  if (signalled) await awaitStopped(ctx, good)
  const frozen = await thaw(ctx, good, restServices(ctx))
  const started = await startStopped(ctx, good, restServices(ctx))
  ctx.ui.detail(`  ${good} workers resumed: ${[...frozen, ...started].join(', ') || 'none needed'}`)
}
