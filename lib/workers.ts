// The worker lifecycle across a deploy: the old color's workers are frozen while the new web
// boots and its singletons (beat) are stopped at once; after the switch the frozen workers
// get their SIGTERM (stop mode) and the new color's singletons, then workers, start, each
// once the CPU is calm. Never two sets of workers running, never two singletons.

import { render } from './command.ts'
import { create, kill, pauseContainers, startContainers, unpauseContainers, up, waitExit } from './commands.ts'
import { type Color, otherColor, type Project } from './config.ts'
import type { Ctx } from './context.ts'
import { CommandError } from './errors.ts'
import { names } from './inventory.ts'
import { signalledAtMs } from './journal.ts'
import { bootedAfter, calmBefore, whenBooted } from './pressure.ts'

/**
 * The pause-workers step: frees the CPU before the new release starts. Workers are frozen
 * (cgroup freezer: at once, nothing lost, thawed in an instant by a rollback); singletons
 * get SIGTERM, as a frozen beat thawed later would tick beside the new one.
 */
export async function freezeWorkers(ctx: Ctx, color: Color | null): Promise<void> {
  const c = ctx.config
  if (!color) return ctx.ui.detail('  first deploy: no old workers to pause')
  const inv = await ctx.inventory()
  const workers = inv.runningServices(color, c.roles.workers)
  const singletons = inv.runningServices(color, c.roles.singletons)
  if (!workers.length && !singletons.length) return ctx.ui.detail(`  no running workers or singletons in ${color}`)
  // Frozen rather than sent SIGTERM now: a warm shutdown runs the task in flight to its end
  // and then tears the container down, all beside the new web's boot.
  if (workers.length) {
    const frozen = names(inv.runningContainers(color, workers))
    await ctx.must(pauseContainers(c, frozen))
    ctx.journal.froze(frozen)
  }
  if (singletons.length) {
    await signal(ctx, names(inv.runningContainers(color, singletons)))
    ctx.journal.signalled()
  }
  const until = c.pauseMode === 'stop' ? 'until the switch' : 'until cleanup'
  ctx.ui.detail(
    `  ${workers.length ? `froze ${workers.join(', ')} ${until}` : 'no workers'}; ${singletons.length ? `sent SIGTERM to ${singletons.join(', ')}` : 'no singletons'} (${color})`,
  )
}

/** Thaws whatever of these services' containers is frozen; returns their names. */
export async function thaw(ctx: Ctx, p: Project, services: readonly string[]): Promise<string[]> {
  const frozen = names((await ctx.inventory()).pausedContainers(p, services))
  if (frozen.length) await ctx.must(unpauseContainers(ctx.config, frozen))
  return frozen
}

/** A signal to containers; one that exited since the inventory was read is where it was headed. */
export async function signal(ctx: Ctx, to: readonly string[], sig = 'SIGTERM'): Promise<void> {
  const cmd = kill(ctx.config, to, sig)
  const r = await ctx.run(cmd)
  const errors = r.stderr.split('\n').filter((l) => l.trim())
  if (r.code !== 0 && !(errors.length && errors.every((l) => /is not running/.test(l)))) throw new CommandError(render(cmd), r.code, r.stderr, r.stdout)
}

/**
 * Stop mode, once traffic has switched: the frozen workers are thawed, then get SIGTERM;
 * awaitStopped() waits for their warm shutdown. Thawed first, not signalled frozen: Docker
 * would deliver the signal and resume the processes, but keep calling the container paused,
 * so nothing would wait for it to exit.
 */
export async function stopFrozen(ctx: Ctx, color: Color): Promise<void> {
  const thawed = await thaw(ctx, color, ctx.config.roles.workers)
  if (!thawed.length) return
  await signal(ctx, thawed)
  ctx.journal.signalled()
  ctx.ui.detail(`  thawed ${thawed.join(', ')} and sent SIGTERM: warm shutdown`)
}

/**
 * Waits until a color's workers and singletons that were told to stop have exited, for what
 * is left of CALMSWAP_STOP_GRACE since their SIGTERM, then kills the rest. It never sends a
 * second SIGTERM: Celery reads that as "shut down cold" and abandons its tasks. Frozen
 * workers are left frozen: they were not told to stop.
 */
export async function awaitStopped(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  const inv = await ctx.inventory(true)
  const stopping = inv.runningContainers(color, [...c.roles.workers, ...c.roles.singletons])
  if (!stopping.length) return
  const since = signalledAtMs(ctx.journal.current)
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
  const still = (await ctx.inventory(true)).runningContainers(color, [...c.roles.workers, ...c.roles.singletons])
  if (!still.length) return
  await signal(ctx, names(still), 'SIGKILL')
  const after = Math.round((Number.isNaN(since) ? Date.now() - t0 : Date.now() - since) / 1000)
  for (const k of still) {
    ctx.ui.warn(
      `${k.name} was still running ${after}s after its SIGTERM (CALMSWAP_STOP_GRACE=${c.stopGraceS}s) and was killed; its unacknowledged task returns to the queue after the broker's visibility timeout`,
    )
  }
}

/**
 * While the new web boots: creates (does not start) the color's workers and singletons.
 * Loading the project and creating containers is most of what `compose up` costs; done here
 * it overlaps a wait instead of running after the switch beside the backlog. It first lets
 * the web finish booting (its CPU settles), so the creates do not slow the boot they wait
 * for, and stops waiting once `webReady` has the health check's answer: passed, create at
 * once; failed, create nothing, the rollback is next.
 */
export async function createRest(ctx: Ctx, color: Color, webReady?: Promise<boolean>): Promise<void> {
  const { workers, singletons, web } = ctx.config.roles
  if (!workers.length && !singletons.length) return
  if (webReady) {
    const answered = new AbortController()
    const outcome = webReady.finally(() => answered.abort())
    const booting = (await ctx.inventory()).runningContainers(color, web).map((x) => x.id)
    const booted = whenBooted(ctx, booting, answered.signal)
    const first = await Promise.race([booted.then(() => null), outcome])
    if (first === false) return
    const s = await Promise.race([booted, null])
    if (s)
      ctx.ui.detail(
        `  ${s.booted ? 'web booted' : 'web still busy'} after ${Math.round(s.waitedMs)}ms (${s.cpu.toFixed(0)}% of a CPU): creating ${[...singletons, ...workers].join(', ')}`,
      )
  }
  await ctx.must(create(ctx.config, color, [...singletons, ...workers]))
}

/**
 * The up-rest step, after traffic switched, once nothing of the other color's workers runs:
 * the new singletons first, alone (beat boots while no new worker is busy yet, and is done
 * booting before the first worker starts), then each worker service, each on a calm CPU.
 */
export async function startRest(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  const { workers, singletons } = c.roles
  // Whatever the other color was told to stop has exited (or is killed after the grace)
  // before anything here starts. In stop mode that includes the workers frozen so far; in
  // pause mode they stay frozen.
  if (c.pauseMode === 'stop') await stopFrozen(ctx, otherColor(color))
  await awaitStopped(ctx, otherColor(color))
  const stages = [singletons, ...workers.map((w) => [w])].filter((s) => s.length)
  for (const [i, stage] of stages.entries()) {
    await calmBefore(ctx, `up ${stage.join(' ')}`)
    ctx.checkpoint()
    // Made by createRest while the web booted: a start is all that is left.
    const made = (await ctx.inventory()).containers(color, stage)
    const ready = stage.every((s) => made.some((x) => x.service === s)) && made.every((x) => x.state === 'created')
    await ctx.must(ready ? startContainers(c, names(made)) : up(c, color, stage))
    // The last stage has no one to boot beside; a worker with a backlog never settles.
    if (i < stages.length - 1 && stage === singletons) {
      const started = (await ctx.inventory(true)).runningContainers(color, stage).map((x) => x.id)
      await bootedAfter(ctx, stage.join(' '), started)
    }
  }
}
