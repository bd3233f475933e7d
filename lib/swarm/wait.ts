// Waiting on Swarm. A `docker service` change returns once the manager stored it; the
// tasks follow on their own, and a stuck update never fails by itself (a task that can never
// be placed stays pending forever). So every wait here polls the manager, with its own
// overall deadline (CALMSWAP_SWARM_DEADLINE) and the abort signal.
import type { Ctx } from '../context.ts'
import { sleep } from '../deadlines.ts'
import { Interrupted, StepError } from '../errors.ts'
import { fmtMs } from '../ui.ts'
import { hasEnded, isUp, readServices, readTasks, type SwarmTask, type UpdateStatus } from './view.ts'

type Verdict<T> = { readonly done: T } | { readonly fail: string } | { readonly progress: string }

/** Polls `check` until it is done or fails, the deadline passes, or Ctrl-C arrives. */
async function poll<T>(ctx: Ctx, what: string, check: () => Promise<Verdict<T>>, deadlineMs = ctx.config.swarm.deadlineMs): Promise<T> {
  const t0 = performance.now()
  return ctx.ui.wait(`waiting until ${what}`, async (update) => {
    let last = ''
    for (;;) {
      // A read cut short by Ctrl-C fails as a command; what happened is the interruption.
      const v = await check().catch((e: unknown) => {
        throw ctx.signal.aborted ? new Interrupted(String(ctx.signal.reason ?? 'signal')) : e
      })
      if ('done' in v) return v.done
      if ('fail' in v) throw new StepError(v.fail)
      last = v.progress
      update(`waiting until ${what}: ${last} (${fmtMs(performance.now() - t0)})`)
      if (ctx.signal.aborted) throw new Interrupted(String(ctx.signal.reason ?? 'signal'))
      if (performance.now() - t0 >= deadlineMs) throw new StepError(`gave up after ${fmtMs(deadlineMs)} (CALMSWAP_SWARM_DEADLINE) waiting until ${what}: ${last}`)
      await sleep(ctx.config.swarm.pollMs, ctx.signal)
    }
  })
}

/** Said instead of waited in a dry run: nothing changed, so nothing would end. */
function dry(ctx: Ctx, what: string): boolean {
  if (ctx.exec.dryRun) ctx.ui.data(`# then wait until ${what}`)
  return ctx.exec.dryRun
}

const describe = (tasks: readonly SwarmTask[]) => tasks.map((t) => `${t.name} ${t.state} on ${t.node}`).join(', ')

/**
 * Until no task of these services has a running container. Swarm marks a task to stop
 * before its container has stopped (2 s of gossip, then the stop grace), so the task's
 * own state is what counts, not its desired state.
 */
export async function waitNoTasks(ctx: Ctx, services: readonly string[], deadlineMs?: number): Promise<void> {
  const what = `no task of ${services.join(', ')} runs`
  if (!services.length || dry(ctx, what)) return
  await poll(
    ctx,
    what,
    async () => {
      const up = (await readTasks(ctx, services)).filter(isUp)
      return up.length ? { progress: describe(up) } : { done: true }
    },
    deadlineMs,
  )
}

/**
 * Until `want` tasks of the service run (all that Swarm wants running, for a global one),
 * and then go on running for `stayUpMs`. Fails at once when a task that was not in `known`
 * ends by itself: a release whose process exits, or that Swarm cannot place.
 */
export async function waitTasksUp(ctx: Ctx, service: string, want: number | 'all', known: ReadonlySet<string>, stayUpMs = 0): Promise<SwarmTask[]> {
  const count = want === 'all' ? 'every task of' : want === 1 ? '1 task of' : `${want} tasks of`
  const what = `${count} ${service} run${want === 'all' || want === 1 ? 's' : ''}${stayUpMs ? ` for ${fmtMs(stayUpMs)}` : ''}`
  if (dry(ctx, what)) return []
  let upSince: number | null = null
  return poll<SwarmTask[]>(ctx, what, async () => {
    const tasks = await readTasks(ctx, [service])
    const ended = tasks.filter((t) => !known.has(t.id) && hasEnded(t))
    if (ended.length) return { fail: `${service}: ${ended.map((t) => `${t.name} ${t.state} on ${t.node}${t.error ? ` (${t.error})` : ''}`).join('; ')}` }
    const wanted = tasks.filter((t) => t.desired === 'running')
    const running = wanted.filter((t) => t.state === 'running')
    const enough = want === 'all' ? wanted.length > 0 && running.length === wanted.length : running.length >= want
    if (!enough) {
      upSince = null
      return { progress: describe(wanted) || 'no task yet' }
    }
    upSince ??= performance.now()
    if (performance.now() - upSince >= stayUpMs) return { done: running }
    return { progress: `${running.length} running, watching them stay up` }
  })
}

/** How an update of a service ended. */
export interface UpdateEnd {
  readonly ok: boolean
  readonly status: UpdateStatus
  /** Why Swarm began to roll back, when it did: its message names the task that failed. */
  readonly cause?: string
}

const ROLLING_BACK = new Set(['rollback_started'])
const ENDED_BAD = new Set(['paused', 'rollback_completed', 'rollback_paused'])

/**
 * Until the update that began after `before` (the UpdateStatus.StartedAt seen before the
 * change) ends: completed, or rolled back by Swarm itself (failure_action rollback), whose
 * end is waited for too, so no caller acts beside it. `rollback` waits for a rollback that
 * calmswap asked for instead.
 */
export async function waitUpdate(ctx: Ctx, service: string, before: string | undefined, rollback = false): Promise<UpdateEnd | null> {
  const what = `${rollback ? 'the rollback' : 'the update'} of ${service} ends`
  if (dry(ctx, what)) return null
  let cause: string | undefined
  return poll<UpdateEnd>(ctx, what, async () => {
    const s = (await readServices(ctx, [service])).get(service)
    if (!s) return { fail: `${service} no longer exists` }
    const u = s.update
    if (!u || u.startedAt === (before ?? '')) return { progress: 'not started yet' }
    if (u.state === 'rollback_started') cause ??= u.message
    if (u.state === 'completed') return rollback ? { fail: `${service}: the rollback ended as ${u.state}: ${u.message}` } : { done: { ok: true, status: u } }
    if (u.state === 'rollback_completed') return { done: { ok: rollback, status: u, cause } }
    if (ENDED_BAD.has(u.state)) return { done: { ok: false, status: u, cause } }
    const tasks = (await readTasks(ctx, [service])).filter((t) => t.desired === 'running' || isUp(t))
    return { progress: `${u.state}${ROLLING_BACK.has(u.state) ? ` (${u.message})` : ''}: ${describe(tasks)}` }
  })
}
