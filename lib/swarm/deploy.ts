// Swarm mode (CALMSWAP_ENGINE=swarm): the same calm order as on one box, for a Docker
// Swarm stack, each step through Swarm's own primitives:
//
//   shared      shared services the stack lacks are created (`stack deploy` of them alone)
//   stand-down  the running Celery workers quiesced (cancel_consumer), then singletons and
//               replicated workers scaled to 0 (`service scale`); their warm shutdown runs
//               and is waited for (no task of them runs any more)
//   web         the web (and core) alone, `stack deploy` of a file holding only them, updated
//               start-first with failure_action rollback and a monitor period; Swarm routes
//               only to healthy tasks, so no proxy switch
//   singletons  each one once no task of it runs, `stack deploy` of it alone
//   workers     one service at a time, `stack deploy` of it alone (a global one is updated
//               stop-first, one node at a time)
//   verify      through the proxy, when CALMSWAP_PROXY_URL is set
//
// Before the web, each singleton and each worker service, CPU calm is awaited on the nodes
// where their tasks start (lib/swarm/node-pressure.ts). On a failure or Ctrl-C every service goes
// back, in the order that keeps one beat: the new singletons and workers to their old spec
// at 0 replicas first (`docker service rollback`), then the web, then the old singletons
// scaled back up, then the old workers one at a time. Each change is journaled in swarm.json
// before it is made (lib/swarm/state.ts), so a rollback never asks Swarm twice.

import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { quiesceNodes, quiesceNodesOnce, quiesceWorker } from '../builders/containers.ts'
import { dockerVersion } from '../builders/reads.ts'
import { serviceLogs, serviceName, serviceRemove, serviceRestart, serviceRollback, serviceScale, stackDeploy, stackName } from '../builders/swarm.ts'
import { NOTHING_TO_QUIESCE, QUIESCED, STILL_BUSY } from '../celery.ts'
import { type Cmd, type Result, render } from '../command.ts'
import { type Config, withRelease } from '../config.ts'
import type { Ctx } from '../context.ts'
import { DEADLINE } from '../deadlines.ts'
import { CommandError, ConfigError, Interrupted, StepError, UsageError } from '../errors.ts'
import { PRIVATE, writeFileAtomic } from '../files.ts'
import { OpLog, recorded } from '../history.ts'
import { reportInterrupted, runOp, runSteps } from '../operation.ts'
import { checkOptions, waitHealthy } from '../probe.ts'
import { detectRelease } from '../release.ts'
import { celeryApp } from '../swarm-celery.ts'
import { sanitize } from '../ui.ts'
import { calmOnNodes } from './node-pressure.ts'
import { type Role, readStack, type StackFile, stackNotes, stackProblems, stepFile } from './stack.ts'
import { type ServiceMark, type SwarmJournal, type SwarmStore, swarmStore } from './state.ts'
import {
  isUp,
  readLocalContainers,
  readNodes,
  readServices,
  readSwarmInfo,
  readTaskContainers,
  readTasks,
  type SwarmNode,
  type SwarmService,
  type SwarmTask,
  shortName,
  usable,
} from './view.ts'
import { waitNoTasks, waitTasksUp, waitUpdate } from './wait.ts'

export const SWARM_STEPS = ['shared', 'stand-down', 'web', 'singletons', 'workers', 'verify'] as const
export type SwarmStep = (typeof SWARM_STEPS)[number]

const unique = (xs: readonly string[]) => [...new Set(xs)]

/** Docker reachable, this daemon a swarm manager, the stack file deployable: before anything changes. */
export async function swarmPreflight(ctx: Ctx): Promise<{ stack: StackFile; nodes: SwarmNode[] }> {
  const v = await ctx.run(dockerVersion(ctx.config))
  if (v.code !== 0) {
    throw new StepError(`cannot reach the Docker daemon (${(v.stderr || v.stdout).trim().split('\n').at(-1)}). Nothing was changed. Start it or fix DOCKER_HOST.`)
  }
  const info = await readSwarmInfo(ctx)
  if (info.state !== 'active') {
    throw new StepError(
      `this Docker daemon is not part of a swarm (${info.state || 'inactive'}). Nothing was changed. Create one with: docker swarm init --advertise-addr <this node's IP>`,
    )
  }
  if (!info.manager) throw new StepError('this Docker daemon is a worker node: Swarm takes changes only on a manager. Point DOCKER_HOST at a manager.')
  const stack = await readStack(ctx)
  const problems = stackProblems(ctx.config, stack)
  if (problems.length) throw new ConfigError(problems)
  return { stack, nodes: await readNodes(ctx) }
}

/** The services of a role that the stack file has, in the order the settings name them. */
const present = (stack: StackFile, names: readonly string[]) => names.filter((n) => stack.services.has(n))

class SwarmSteps {
  /** The service whose step failed: the rollback prints its last log lines. */
  failedService: string | null = null

  constructor(
    private readonly ctx: Ctx,
    private readonly store: SwarmStore,
    private readonly stack: StackFile,
    private readonly nodes: readonly SwarmNode[],
  ) {}

  private get c() {
    return this.ctx.config
  }

  private role(name: string): Role {
    return this.stack.services.get(name)?.role ?? 'shared'
  }

  /** How many tasks of a service should run once it is deployed: 'all' for a global one. */
  private want(name: string, s?: SwarmService): number | 'all' {
    if (s?.global ?? this.stack.services.get(name)?.global) return 'all'
    return s?.replicas ?? this.stack.services.get(name)?.replicas ?? 1
  }

  /**
   * The nodes where the tasks of these services will start: every usable node for a global
   * service; else where they ran before the stand-down, or run now; else any usable node.
   */
  private async startNodes(names: readonly string[]): Promise<string[]> {
    const all = this.nodes.filter(usable).map((n) => n.hostname)
    if (names.some((n) => this.stack.services.get(n)?.global)) return all
    const marks = this.store.marks()
    const before = names.flatMap((n) => marks[n]?.nodes ?? [])
    if (before.length) return unique(before)
    const existing = [...(await readServices(this.ctx, names)).keys()]
    const now = (await readTasks(this.ctx, existing)).filter(isUp).map((t) => t.node)
    return now.length ? unique(now) : all
  }

  async shared(): Promise<void> {
    const names = present(this.stack, this.c.roles.shared)
    const existing = await readServices(this.ctx, names)
    const missing = names.filter((n) => !existing.has(n))
    if (!missing.length) return this.ctx.ui.detail(`  ${names.join(', ') || 'no shared services'}: already running`)
    for (const n of missing) this.store.mark(n, { role: 'shared', created: true })
    await this.ctx.must(stackDeploy(this.c, stepFile(this.c, this.stack, missing)))
    for (const n of missing) if (this.want(n) !== 0) await waitTasksUp(this.ctx, n, this.want(n), new Set())
  }

  /**
   * Singletons and replicated workers go to 0 replicas, and their tasks are waited out:
   * SIGTERM, the stop grace of the stack file, then SIGKILL, so a Celery worker finishes
   * the task in hand (a warm shutdown) and hands reserved ones back. A global worker cannot
   * be scaled: it is updated stop-first, node by node, in the workers step.
   */
  async standDown(): Promise<void> {
    const names = present(this.stack, [...this.c.roles.singletons, ...this.c.roles.workers])
    const existing = await readServices(this.ctx, names)
    const global = names.filter((n) => existing.get(n)?.global)
    if (global.length) this.ctx.ui.detail(`  ${global.join(', ')}: global, so not stood down; updated stop-first one node at a time in the workers step`)
    const replicated = names.filter((n) => existing.has(n) && !existing.get(n)!.global)
    if (!replicated.length) return this.ctx.ui.detail('  nothing runs yet to stand down')
    const tasks = await readTasks(this.ctx, replicated)
    const scale: Record<string, number> = {}
    for (const n of replicated) {
      const s = existing.get(n)!
      const replicas = s.replicas ?? 0
      // An interrupted run already scaled it: the count it had before stays the one to restore.
      if (!scaledAlready(this.store.marks()[n], s)) {
        const nodes = unique(tasks.filter((t) => t.service === s.name && isUp(t)).map((t) => t.node))
        this.store.mark(n, { role: this.role(n), replicas, nodes, ...(replicas > 0 ? { scaledFrom: s.version } : {}) })
      }
      if (replicas > 0) scale[s.name] = 0
    }
    await this.quiesce(
      replicated.filter((n) => this.c.roles.workers.includes(n)),
      tasks,
    )
    if (Object.keys(scale).length) await this.ctx.must(serviceScale(this.c, scale))
    await waitNoTasks(this.ctx, replicated)
    this.ctx.ui.detail(`  stood down: ${replicated.join(', ')}`)
  }

  /**
   * Before the workers' SIGTERM, each running Celery worker is asked to stop consuming and
   * to finish what it holds: on Celery 5.2 a SIGTERM under load loses the message an
   * outstanding Redis read pops, and a job not yet acknowledged by a pool process makes the
   * shutdown wait 30 s. A worker on this node is quiesced in its own container
   * (lib/celery.ts); those on other nodes through the broker, from a container of the stack
   * on this node (lib/swarm-celery.ts). Whatever the quiesce answers, the stand-down goes on.
   */
  private async quiesce(workers: readonly string[], tasks: readonly SwarmTask[]): Promise<void> {
    const c = this.c
    if (c.quiesce === 'off' || !workers.length) return
    const full = new Set(workers.map((n) => serviceName(c, n)))
    const up = tasks.filter((t) => full.has(t.service) && t.desired === 'running' && t.state === 'running')
    if (!up.length) return
    for (const n of workers) if (up.some((t) => t.service === serviceName(c, n))) this.store.mark(n, { quiesced: true })
    const containers = (await readLocalContainers(this.ctx)).filter((x) => x.state === 'running')
    const here = new Map(containers.map((x) => [x.task, x.id]))
    const runs: { what: string; cmd: Cmd }[] = up
      .filter((t) => here.has(t.id))
      .map((t) => ({ what: t.name, cmd: quiesceWorker(c, here.get(t.id)!, this.quiesceS(shortName(this.ctx, t.service))) }))
    const elsewhere = up.filter((t) => !here.has(t.id))
    let envFile: string | null = null
    if (elsewhere.length) {
      // One call for every service: the shortest deadline of theirs.
      const maxS = Math.min(...elsewhere.map((t) => this.quiesceS(shortName(this.ctx, t.service))))
      const services = await readServices(this.ctx, workers)
      const spec = [...services.values()].find((s) => full.has(s.name) && celeryApp(s.args))
      const app = spec ? celeryApp(spec.args) : null
      const appRoles = new Set([...c.roles.workers, ...c.roles.singletons, ...c.roles.web, ...c.roles.core].map((n) => serviceName(c, n)))
      const helper = containers.find((x) => appRoles.has(x.service))
      const ids = await readTaskContainers(
        this.ctx,
        elsewhere.map((t) => t.id),
      )
      const named = [...services.values()].some((s) => s.hostname)
      const where = elsewhere.map((t) => `${t.name} on ${t.node}`).join(', ')
      const network = spec?.networks[0]
      if (!app || !spec || (!helper && !network) || named || ids.size < elsewhere.length) {
        const why =
          !app || !spec ? 'no -A/--app in its command' : named ? 'the stack sets its hostname' : !network ? 'no network to reach the broker on' : 'a container ID is missing'
        this.ctx.ui.warn(`${where}: not quiesced (${why}); its Celery worker gets SIGTERM as it is (Celery 5.3+ loses nothing that way)`)
      } else {
        const hosts = elsewhere.map((t) => ids.get(t.id)!.slice(0, 12))
        if (helper) runs.push({ what: `${where} (through the broker, from ${helper.service})`, cmd: quiesceNodes(c, helper.id, app, maxS, hosts) })
        else {
          envFile = join(c.stateDir, `quiesce-${process.pid}.env`)
          if (!this.ctx.exec.dryRun) writeFileAtomic(envFile, spec.env.map((e) => `${e}\n`).join(''), PRIVATE)
          runs.push({
            what: `${where} (through the broker, from a one-off container on this node)`,
            cmd: quiesceNodesOnce(c, { image: spec.image, network: network!, envFile, app, maxS, hosts }),
          })
        }
      }
    }
    let results: Result[]
    try {
      results = await Promise.all(runs.map((r) => this.ctx.run(r.cmd)))
    } finally {
      if (envFile) rmSync(envFile, { force: true })
    }
    for (const [i, r] of results.entries()) {
      const said = sanitize(r.stderr.trim().split('\n').at(-1) ?? '')
      const what = r.code === QUIESCED || r.code === STILL_BUSY || r.code === NOTHING_TO_QUIESCE ? said.replace(/^quiesce: /, '') : `could not run (exit ${r.code}): ${said}`
      this.ctx.ui.detail(`  ${runs[i]!.what}: ${what}`)
    }
  }

  /** Deployed by this run or the interrupted one: created, or its version past the one journaled before the call. */
  private applied(name: string, s: SwarmService | undefined): boolean {
    const m = this.store.marks()[name]
    return m !== undefined && s !== undefined && (m.created === true || (m.deployedFrom !== undefined && s.version > m.deployedFrom))
  }

  /**
   * How long a worker service's quiesce may take, in seconds: as in compose mode, within its
   * stop grace, leaving the warm shutdown its margin. Its grace is the stack file's
   * stop_grace_period, which Swarm applies; CALMSWAP_STOP_GRACE where the file sets none.
   */
  private quiesceS(name: string): number {
    const graceMs = this.stack.services.get(name)?.stopGraceMs ?? this.c.stopGraceS * 1000
    return Math.max(1, Math.floor(Math.min(DEADLINE.quiesce, graceMs - DEADLINE.quiesceMargin) / 1000))
  }

  /**
   * One `stack deploy` of these services alone, then waits until Swarm has rolled them out.
   * The version each had is journaled before the call: a run that continues after a crash
   * deploys only those it had not (a second update would make the new spec its own
   * "previous", and a rollback would go nowhere).
   */
  async deploy(names: readonly string[], stayUpMs: number): Promise<void> {
    const before = await readServices(this.ctx, names)
    const todo = names.filter((n) => !this.applied(n, before.get(n)))
    const known = new Set((await readTasks(this.ctx, [...before.keys()])).map((t) => t.id))
    const done = names.filter((n) => !todo.includes(n))
    if (done.length) this.ctx.ui.detail(`  ${done.join(', ')}: deployed by the interrupted run; waiting for it`)
    if (todo.length) {
      for (const n of todo) {
        const s = before.get(n)
        this.store.mark(n, s ? { role: this.role(n), deployedFrom: s.version, updateBefore: s.update?.startedAt ?? '' } : { role: this.role(n), created: true })
      }
      await this.ctx.must(stackDeploy(this.c, stepFile(this.c, this.stack, todo)))
    }
    for (const n of names) await this.settle(n, known, stayUpMs)
  }

  /** Waits until one deployed service runs its new spec, in the way Swarm rolls it out. */
  private async settle(name: string, known: ReadonlySet<string>, stayUpMs: number): Promise<void> {
    const ctx = this.ctx
    this.failedService = name
    const s = (await readServices(ctx, [name])).get(name)
    const m = this.store.marks()[name]
    const tasksUp = () => waitTasksUp(ctx, name, this.want(name, s), known, stayUpMs)
    if (ctx.exec.dryRun) {
      // Nothing was deployed: say how the real run would wait, from what runs now.
      if (!s || m?.created || m?.scaledFrom !== undefined || s.replicas === 0) await tasksUp()
      else await waitUpdate(ctx, name, undefined)
      return
    }
    if (!s) throw new StepError(`${serviceName(this.c, name)} does not exist after docker stack deploy`)
    let landed: readonly { name: string; node: string }[] = []
    if (m?.created || !s.hasPrevious || (!s.global && s.previousReplicas === 0)) {
      // Created, or scaled up from 0: Swarm starts tasks, it replaces none (no UpdateStatus).
      if (this.want(name, s) !== 0) landed = await tasksUp()
    } else if (s.templateChanged) {
      const end = await waitUpdate(ctx, name, m?.updateBefore)
      if (end && !end.ok) {
        const did = end.status.state === 'rollback_completed' ? 'rolled back' : end.status.state === 'paused' ? 'paused' : `ended (${end.status.state})`
        const failed = (await readTasks(ctx, [name])).filter((t) => !known.has(t.id) && t.error).map((t) => `${t.name} on ${t.node}: ${t.error}`)
        throw new StepError(`Swarm ${did} the update of ${name}: ${end.cause ?? end.status.message}${failed.length ? `\n  ${unique(failed).join('\n  ')}` : ''}`)
      }
      landed = stayUpMs ? await tasksUp() : (await readTasks(ctx, [name])).filter((t) => t.desired === 'running' && t.state === 'running')
    } else if (s.replicasChanged) landed = await tasksUp()
    else ctx.ui.detail(`  ${name}: unchanged, nothing to roll out`)
    if (landed.length) ctx.ui.detail(`  ${name}: ${landed.map((t) => `${t.name} on ${t.node}`).join(', ')}`)
    this.failedService = null
  }

  async web(): Promise<void> {
    const names = present(this.stack, [...this.c.roles.web, ...this.c.roles.core])
    await calmOnNodes(this.ctx, 'the web', await this.startNodes(names))
    this.ctx.checkpoint()
    await this.deploy(names, 0)
  }

  /**
   * Each singleton only once no task of it runs: the one beat. One the killed run deployed
   * already runs its new task, which no wait would see go.
   */
  async singletons(): Promise<void> {
    for (const n of present(this.stack, this.c.roles.singletons)) {
      if (!this.applied(n, (await readServices(this.ctx, [n])).get(n))) {
        await waitNoTasks(this.ctx, [n])
        await calmOnNodes(this.ctx, n, await this.startNodes([n]))
        this.ctx.checkpoint()
      }
      await this.deploy([n], this.c.stayUpMs)
    }
  }

  async workers(): Promise<void> {
    for (const n of present(this.stack, this.c.roles.workers)) {
      await calmOnNodes(this.ctx, n, await this.startNodes([n]))
      this.ctx.checkpoint()
      await this.deploy([n], this.c.stayUpMs)
    }
  }

  /** Through the proxy, as a visitor would reach the site. */
  async verify(): Promise<void> {
    const c = this.c
    if (!c.proxy.url || c.proxy.mode === 'none') return this.ctx.ui.detail('  CALMSWAP_PROXY_URL is empty: nothing to check through the proxy')
    const url = `${c.proxy.url}${c.health.path}`
    if (this.ctx.exec.dryRun) return this.ctx.ui.data(`poll ${url} until ${c.health.passes} consecutive ${c.health.status}s`)
    const r = await waitHealthy(url, { ...checkOptions(c), signal: this.ctx.signal })
    this.ctx.checkpoint()
    if (!r.ok) throw new StepError(`the site does not answer through ${url} after ${(r.elapsedMs / 1000).toFixed(1)}s: ${r.last?.reason ?? 'no answer'}`)
  }
}

export interface SwarmDeployResult {
  readonly release: string
  readonly previous: string | null
}

export interface SwarmDeployOptions {
  /** This label instead of CALMSWAP_RELEASE or the git hash (deploy --release). */
  readonly release?: string
  /** deploy --rerun-jobs: refused, as swarm mode runs no release jobs. */
  readonly rerunJobs?: boolean
}

/**
 * The worker environment files (secrets included) of runs that died before removing their
 * own: a SIGKILL or a power cut. Under the lock, any there is such a leftover.
 */
function removeStaleEnvFiles(ctx: Ctx): void {
  if (ctx.exec.dryRun) return
  let files: string[]
  try {
    files = readdirSync(ctx.config.stateDir)
  } catch {
    return
  }
  for (const f of files) if (/^quiesce-\d+\.env$/.test(f)) rmSync(join(ctx.config.stateDir, f), { force: true })
}

export async function swarmDeploy(ctx0: Ctx, o: SwarmDeployOptions = {}): Promise<SwarmDeployResult> {
  if (o.rerunJobs) throw new UsageError('--rerun-jobs runs a release job again; swarm mode runs no release jobs (run them before calmswap). Nothing was changed.')
  return runOp(ctx0, 'deploy', async () => {
    removeStaleEnvFiles(ctx0)
    const store = swarmStore(ctx0)
    const rec = store.load()
    const j = rec.journal
    if (j) reportSwarmInterrupted(ctx0, j, j.op === 'deploy')
    if (j?.op === 'rollback') throw new UsageError('run rollback to finish it first')
    const release = j?.release || o.release || (await detectRelease(ctx0))
    // The release first: the stack file is read with the variables its stack deploy gets.
    const ctx = ctx0.withConfig(withRelease(ctx0.config, release))
    const { stack, nodes } = await swarmPreflight(ctx)
    const name = stackName(ctx.config)
    ctx.ui.info(
      `${release}: swarm stack ${name} on ${nodes.length} node${nodes.length === 1 ? '' : 's'}${rec.release ? `, ${rec.release} before` : ''}${ctx.exec.dryRun ? ' (dry run: nothing changes)' : ''}`,
      'calmswap deploy',
    )
    for (const note of stackNotes(ctx.config, stack)) ctx.ui.detail(`  ${note}`)
    store.begin('deploy', name, release)
    const op = new OpLog(ctx, 'deploy', null, null)
    op.release = release
    const s = new SwarmSteps(ctx, store, stack, nodes)
    const steps: Record<SwarmStep, () => Promise<unknown>> = {
      shared: () => s.shared(),
      'stand-down': () => s.standDown(),
      web: () => s.web(),
      singletons: () => s.singletons(),
      workers: () => s.workers(),
      verify: () => s.verify(),
    }
    const done = new Set<string>(j?.done ?? [])
    try {
      await runSteps(ctx, op, SWARM_STEPS, steps, done, store)
    } catch (e) {
      // After Ctrl-C, a read cut short fails as a command: what happened is the interruption.
      const err = ctx.signal.aborted && !(e instanceof Interrupted) ? new Interrupted(String(ctx.signal.reason ?? 'signal')) : (e as Error)
      ctx.ui.error(err.message)
      if (ctx.exec.dryRun) throw err
      const first = await nothingRanBefore(ctx.uninterruptible(), stack, store.marks()).catch(() => false)
      store.toRollback()
      try {
        await op.step('rollback', () => undo(ctx, store, s.failedService))
      } catch (e2) {
        op.finish('failed', err)
        throw new StepError(`the deploy failed and so did its rollback: ${(e2 as Error).message}\n${store.file} records where it stopped; fix the cause and run rollback again.`)
      }
      store.rolledBack(release)
      op.finish('rolled-back', err)
      const what = err instanceof Interrupted ? `was interrupted (${err.signal})` : 'failed'
      if (first) throw new StepError(`deploy of ${release} ${what}; nothing of stack ${name} ran before it, so every service it created was removed (shared services are kept)`)
      throw new StepError(`deploy of ${release} ${what} and every service was rolled back; ${rec.release ?? 'what ran before'} serves as before`)
    }
    // A record for history only: a Ctrl-C or a daemon hiccup now must not undo a finished deploy.
    const after = ctx.withSignal(AbortSignal.timeout(DEADLINE.read))
    op.images = ctx.exec.dryRun ? undefined : await imagesOf(after, stack).catch(() => undefined)
    store.deployed(release)
    op.finish('ok')
    ctx.ui.ok(`${release} is live on swarm stack ${name}`)
    ctx.ui.event('deployed', { engine: 'swarm', stack: name, release, previous: rec.release })
    return { release, previous: rec.release }
  })
}

/** The services of the stack's own (not shared) roles. */
const ownServices = (c: Config, stack: StackFile) => present(stack, [...c.roles.web, ...c.roles.core, ...c.roles.singletons, ...c.roles.workers])

/** No service of the stack's own ran before this deploy: each one that runs now, it created. */
async function nothingRanBefore(ctx: Ctx, stack: StackFile, marks: Readonly<Record<string, ServiceMark>>): Promise<boolean> {
  const there = await readServices(ctx, ownServices(ctx.config, stack))
  return [...there.keys()].every((n) => marks[n]?.created)
}

/** What a finished deploy did created every service of the stack's own: it had none before. */
const createdAll = (marks: Readonly<Record<string, ServiceMark>>) => {
  const own = Object.values(marks).filter((m) => m.role !== 'shared')
  return own.length > 0 && own.every((m) => m.created)
}

/** The image each service of the stack runs now, for history. */
async function imagesOf(ctx: Ctx, stack: StackFile): Promise<Record<string, string>> {
  const found = await readServices(ctx, [...stack.services.keys()])
  return Object.fromEntries([...found].map(([n, s]) => [n, s.image]))
}

const reportSwarmInterrupted = (ctx: Ctx, j: SwarmJournal, continuing: boolean) => reportInterrupted(ctx, j, continuing, `of ${j.release}`)

/**
 * Takes every service the journal names back to where it was, in the order that keeps one
 * beat and one set of workers. Runs to the end even after Ctrl-C: stopping halfway is what
 * would leave the stack with no beat or no workers. `failed`: the service whose step
 * failed, whose last log lines are printed.
 */
async function undo(ctx0: Ctx, store: SwarmStore, failed: string | null): Promise<void> {
  const u = await Undo.begin(ctx0.uninterruptible(), store)
  await u.printLogs(failed)
  await u.removeCreated()
  await u.stopNew()
  await u.rollBackWeb()
  await u.restoreOld()
}

/** One undo, step by step (see undo); what it read before its first change stays with it. */
class Undo {
  private readonly c: Config
  private readonly names: string[]
  private readonly singles: string[]
  private readonly workers: string[]
  private readonly webs: string[]

  private constructor(
    private readonly ctx: Ctx,
    private readonly store: SwarmStore,
    /** The services as they were when the undo began. */
    private readonly before: Map<string, SwarmService>,
  ) {
    this.c = ctx.config
    this.names = Object.keys(this.marks())
    const inOrder = (list: readonly string[]) => list.filter((n) => this.marks()[n])
    this.singles = inOrder(this.c.roles.singletons)
    this.workers = inOrder(this.c.roles.workers)
    this.webs = inOrder([...this.c.roles.web, ...this.c.roles.core])
  }

  static async begin(ctx: Ctx, store: SwarmStore): Promise<Undo> {
    return new Undo(ctx, store, await readServices(ctx, Object.keys(store.marks())))
  }

  private marks() {
    return this.store.marks()
  }

  private full(n: string) {
    return serviceName(this.c, n)
  }

  private async read(n: string): Promise<SwarmService | undefined> {
    return (await readServices(this.ctx, [n])).get(n)
  }

  /** Deployed by this operation: its version moved past the one journaled before the call. */
  private deployed(n: string): boolean {
    const m = this.marks()[n]
    const s = this.before.get(n)
    return Boolean(m && s && m.deployedFrom !== undefined && s.version > m.deployedFrom)
  }

  /** Before anything goes: a service the rollback removes takes its logs with it. */
  async printLogs(failed: string | null): Promise<void> {
    const { ctx, c } = this
    if (!failed || c.logTail <= 0 || ctx.exec.dryRun) return
    const r = await ctx.run(serviceLogs(c, this.full(failed)))
    const text = sanitize(r.stdout + r.stderr).trim()
    if (text) {
      ctx.ui.warn(`last ${c.logTail} log lines of ${this.full(failed)}:`)
      ctx.ui.detail(text)
    }
  }

  /**
   * Swarm rolled this deploy's update of the service back by itself (failure_action
   * rollback), and no rollback calmswap asked for came after it: Swarm's rollback cleared
   * the previous spec, so a `service rollback` now would fail, or go forward again.
   */
  private static rolledBackBySwarm(m: ServiceMark, s: SwarmService): boolean {
    const u = s.update
    const ours = m.undoFrom !== undefined && s.version > m.undoFrom
    return Boolean(u && u.startedAt !== (m.updateBefore ?? '') && (u.state === 'rollback_started' || u.state === 'rollback_completed') && !ours)
  }

  /** True when Swarm's own rollback took the service back; waits for it to end first. */
  private async leftToSwarm(n: string, s: SwarmService): Promise<boolean> {
    const m = this.marks()[n]
    if (!m || !Undo.rolledBackBySwarm(m, s)) return false
    if (s.update!.state === 'rollback_started') await waitUpdate(this.ctx, n, m.updateBefore, true)
    this.ctx.ui.detail(`  ${n}: Swarm had rolled it back already (${s.update!.message})`)
    return true
  }

  /** Asks Swarm to roll a service back once, even across a crash between the two. */
  private async rollBackOnce(n: string): Promise<string | undefined> {
    const s = await this.read(n)
    const m = this.marks()[n]
    if (!s || (m?.undoFrom !== undefined && s.version > m.undoFrom)) return undefined
    this.store.mark(n, { undoFrom: s.version })
    await this.ctx.must(serviceRollback(this.c, this.full(n)))
    return s.update?.startedAt ?? ''
  }

  /** There was nothing before this deploy: what it created goes, singletons and workers first. */
  async removeCreated(): Promise<void> {
    const { ctx, c, webs } = this
    // Still there, whatever an earlier undo began: a removal cut short is asked for again.
    const created = this.names.filter((n) => this.marks()[n]?.created && this.marks()[n]?.role !== 'shared' && this.before.has(n))
    if (!created.length) return
    const order = [...this.singles, ...this.workers, ...webs].filter((n) => created.includes(n))
    const rm = serviceRemove(
      c,
      order.map((n) => this.full(n)),
    )
    const r = await ctx.run(rm)
    // Gone already is what was asked for.
    const gone = r.stderr.split('\n').every((l) => !l.trim() || /not found|no such service/i.test(l))
    if (r.code !== 0 && !gone) throw new CommandError(render(rm), r.code, r.stderr, r.stdout)
    await waitNoTasks(
      ctx,
      order.filter((n) => !webs.includes(n)),
    )
  }

  /**
   * 1. The new singletons and workers stop before anything old comes back. Swarm may have
   * rolled any of them back by itself already (failure_action rollback), as it may the web.
   */
  async stopNew(): Promise<void> {
    const back = [...[...this.workers].reverse(), ...[...this.singles].reverse()].filter((n) => this.deployed(n) && !this.marks()[n]?.created)
    const rolled: [string, string | undefined][] = []
    for (const n of back) {
      const s = await this.read(n)
      if (s && (await this.leftToSwarm(n, s))) continue
      rolled.push([n, await this.rollBackOnce(n)])
    }
    await waitNoTasks(
      this.ctx,
      back.filter((n) => !this.before.get(n)?.global),
    )
    for (const [n, startedAt] of rolled) if (this.before.get(n)?.global && startedAt !== undefined) await waitUpdate(this.ctx, n, startedAt, true)
  }

  /** 2. The web. */
  async rollBackWeb(): Promise<void> {
    for (const n of this.webs) {
      const m = this.marks()[n]
      const s = await this.read(n)
      if (!m || m.created || !s || !this.deployed(n)) continue
      if (await this.leftToSwarm(n, s)) continue
      if (!s.templateChanged && !s.replicasChanged && m.undoFrom === undefined) continue
      const startedAt = await this.rollBackOnce(n)
      if (startedAt !== undefined) await waitUpdate(this.ctx, n, startedAt, true)
    }
  }

  /**
   * 3. The old singletons, each once no task of it runs; 4. the old workers, one at a time.
   * Each is on its old spec at 0 replicas by now (stopNew took a deployed one back to it), or
   * was never scaled: the stand-down was cut short before its scale.
   */
  async restoreOld(): Promise<void> {
    const { ctx, c, store } = this
    for (const n of [...this.singles, ...this.workers]) {
      const m = this.marks()[n]
      const s = await this.read(n)
      if (!m || m.created || !s || s.global) continue
      if (m.restoreFrom !== undefined && s.version > m.restoreFrom) continue
      if (!scaledAlready(m, s)) {
        // Quiesced but still running: it takes no task until its workers start afresh.
        if (!m.quiesced) continue
        store.mark(n, { restoreFrom: s.version })
        await ctx.must(serviceRestart(c, this.full(n)))
        const end = await waitUpdate(ctx, n, s.update?.startedAt ?? '')
        if (end && !end.ok)
          throw new StepError(
            `the restart of ${n}, to take tasks again, ${end.status.state === 'paused' ? 'was paused' : `ended as ${end.status.state}`}: ${end.cause ?? end.status.message}`,
          )
        continue
      }
      await waitNoTasks(ctx, [n])
      const known = new Set((await readTasks(ctx, [n])).map((t) => t.id))
      store.mark(n, { restoreFrom: s.version })
      await ctx.must(serviceScale(c, { [this.full(n)]: m.replicas ?? 1 }))
      await waitTasksUp(ctx, n, m.replicas ?? 1, known)
    }
  }
}

/** The stand-down's scale to 0 of this service happened: its version moved past the one journaled before it. */
const scaledAlready = (m: ServiceMark | undefined, s: SwarmService) => m?.scaledFrom !== undefined && s.version > m.scaledFrom

/** Nothing is left behind in swarm mode: Swarm replaced the old tasks. */
export async function swarmCleanup(ctx: Ctx): Promise<void> {
  ctx.ui.info(
    `nothing to clean in swarm mode: Swarm replaced the old tasks and keeps each service's previous spec for rollback. \`docker stack rm ${stackName(ctx.config)}\` removes the whole stack.`,
  )
}

/** The rollback operation: every service of the last deploy (or of an interrupted one) back. */
export async function swarmRollback(ctx: Ctx): Promise<void> {
  return runOp(ctx, 'rollback', async () => {
    removeStaleEnvFiles(ctx)
    const store = swarmStore(ctx)
    const r = store.load()
    let release: string
    let services: Readonly<Record<string, ServiceMark>>
    if (r.journal) {
      reportSwarmInterrupted(ctx, r.journal, false)
      if (r.journal.op === 'deploy') store.toRollback()
      release = r.journal.release
      services = r.journal.services
    } else if (r.last) {
      if (createdAll(r.last.services)) {
        throw new UsageError(
          `nothing to roll back to: ${r.last.release} was the first deploy of stack ${stackName(ctx.config)}, and a rollback would remove every service it created. Deploy a fixed release instead, or remove the stack on purpose: docker stack rm ${stackName(ctx.config)}`,
        )
      }
      release = r.last.release
      services = r.last.services
      store.begin('rollback', stackName(ctx.config), release, { ...services })
    } else throw new UsageError(`nothing to roll back: no calmswap deploy of stack ${stackName(ctx.config)} is recorded since the last rollback (${store.file})`)
    if (!Object.keys(services).length) ctx.ui.detail('  the deploy changed no service')
    await recorded(ctx, 'rollback', null, null, (op) => op.step(`rollback of ${release}`, () => undo(ctx, store, null)))
    store.rolledBack(release)
    ctx.ui.ok(`every service of ${release} went back${r.previousRelease && r.release === release ? `; ${r.previousRelease} serves again` : ''}`)
  })
}
