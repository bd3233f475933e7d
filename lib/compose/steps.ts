// The steps a deploy and an adoption both take: the preflight, the build, the new web alone,
// and its health check beside the creation of the new workers. Each stands below both, so
// an adoption does not import the deploy.
import { build, composeConfig, up } from '../builders/compose.ts'
import { dockerVersion } from '../builders/reads.ts'
import type { Cmd } from '../command.ts'
import { type Color, type Config, coloredServices } from '../config.ts'
import type { Ctx } from '../context.ts'
import { CommandError, ConfigError, StepError } from '../errors.ts'
import { calmBefore } from '../pressure.ts'
import type { KeptRelease } from '../state.ts'
import { type ComposeModel, checkContract, readComposeModel, servicesWithBuild } from './contract.ts'
import { checkHealth } from './health.ts'
import { pinRelease } from './images.ts'
import { createRest, NOTHING_QUIESCED, type Quiesced, webSettled } from './workers.ts'

/**
 * Docker reachable and the compose file within the contract, before anything changes. The
 * file is read as `color` will run it (a deploy passes the color and release it goes to,
 * when the state file says, so that the build reuses this read: see modelFor).
 */
export async function preflight(ctx: Ctx, color: Color = 'blue'): Promise<ComposeModel> {
  // Both only read, and `compose config` does not need the daemon: side by side they cost
  // the time of the slower one, which comes first in every deploy.
  const [info, read] = await Promise.all([
    ctx.run(dockerVersion(ctx.config)),
    readComposeModel(ctx, color).then(
      (m) => ({ m }),
      (e: Error) => ({ e }),
    ),
  ])
  if (info.code !== 0) {
    throw new StepError(
      `cannot reach the Docker daemon (${(info.stderr || info.stdout).trim().split('\n').at(-1)}). Nothing was changed. Start it (make docker) or fix DOCKER_HOST.`,
    )
  }
  if ('e' in read) {
    const e = read.e
    throw new ConfigError([`docker compose cannot read ${ctx.config.composeFile}: ${e instanceof CommandError ? e.stderr.trim() : e.message}`])
  }
  const problems = checkContract(ctx.config, read.m, color)
  if (problems.length) throw new ConfigError(problems)
  return read.m
}

/**
 * The build step: builds what has a `build:` section (unless this release's images are kept
 * from an earlier deploy), then pins the new color to the images. Returns the config the
 * rest of the deploy runs with.
 */
export async function buildAndPin(ctx: Ctx, color: Color, model: ComposeModel, kept: KeptRelease | null, read?: ReadModel): Promise<Config> {
  const services = ctx.config.build === 'never' || kept ? [] : servicesWithBuild(model, coloredServices(ctx.config))
  if (kept) ctx.ui.detail(`  release ${kept.release}'s images are kept from ${kept.at}: nothing to build`)
  else if (!services.length) ctx.ui.detail('  nothing to build')
  else await ctx.must(build(ctx.config, color, services))
  return pinRelease(ctx, color, kept, modelFor(ctx.config, color, read))
}

/** A model of the compose file, with the config and color it was read for. */
export interface ReadModel {
  readonly model: ComposeModel
  readonly config: Config
  readonly color: Color
}

/**
 * An earlier read of the compose file, when `compose config` would now run with the very same
 * argv and env (a build changes images, not what the file says): one Go process less per
 * deploy, which on a Pi-class CPU is a third of a second before anything starts.
 */
export function modelFor(c: Config, color: Color, read?: ReadModel): ComposeModel | undefined {
  if (!read) return undefined
  const same = (x: Cmd, y: Cmd) => JSON.stringify([x.argv, x.env, x.cwd]) === JSON.stringify([y.argv, y.env, y.cwd])
  return same(composeConfig(read.config, read.color), composeConfig(c, color)) ? read.model : undefined
}

/**
 * The health step and the creation of the new workers, side by side: the containers are
 * created once the web has booted (see webSettled), and the switch does not wait for them.
 * `then.drain` (stop mode: the old workers' drain) runs beside the create; `then.singletons`
 * (the new beat's start) after it, with a signal that `halt` (or a failed check) aborts: a
 * release that is being rolled back starts no beat. A failing check waits for all of them,
 * so no rollback runs beside them; one that has already failed stops the deploy before the
 * switch. Returns them, for up-rest (wrapped: an async function would otherwise wait for the
 * promises it returns).
 */
export async function healthAndCreate(
  ctx: Ctx,
  to: Color,
  then: { drain?: () => Promise<Quiesced>; singletons?: (signal: AbortSignal) => Promise<void> } = {},
): Promise<{ created: Promise<void>; drained: Promise<Quiesced> | undefined; singletons: Promise<void> | undefined; halt: () => void }> {
  const checked = checkHealth(ctx, to)
  const { workers, singletons } = ctx.config.roles
  const halted = new AbortController()
  const halt = () => halted.abort(new StepError('the new web failed its check: its singletons are not started'))
  const also = [then.drain && 'draining the old workers', then.singletons && singletons.length && `starting ${singletons.join(', ')}`].filter(Boolean)
  const go =
    workers.length || singletons.length
      ? webSettled(
          ctx,
          to,
          checked.then(
            () => true,
            () => false,
          ),
          `creating ${[...singletons, ...workers].join(', ')}${also.length ? `, ${also.join(', ')}` : ''}`,
        )
      : Promise.resolve(false)
  const created = go.then((ok) => (ok ? createRest(ctx, to) : undefined))
  const drained = then.drain ? go.then((ok) => (ok ? then.drain!() : NOTHING_QUIESCED)) : undefined
  const started = then.singletons ? created.then(() => go).then((ok) => (ok && !halted.signal.aborted ? then.singletons!(halted.signal) : undefined)) : undefined
  for (const p of [created, drained, started]) p?.catch(() => {})
  try {
    await checked
    // A race between settled promises goes to the first one listed.
    for (const p of [created, drained, started]) await Promise.race([p, undefined])
  } catch (e) {
    halt()
    await Promise.allSettled([created, drained, started])
    throw e
  }
  return { created, drained, singletons: started, halt }
}

/** The up-core step: the new web (and core services) alone, on a calm CPU. */
export async function startCore(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  await calmBefore(ctx, 'up-core')
  ctx.checkpoint()
  await ctx.must(up(c, color, [...c.roles.web, ...c.roles.core]))
}
