// The steps a deploy and an adoption both take: the preflight, the build, the new web alone,
// and its health check beside the creation of the new workers. Each stands below both, so
// an adoption does not import the deploy.
import { build, up } from '../builders/compose.ts'
import { dockerVersion } from '../builders/reads.ts'
import { type Color, type Config, coloredServices } from '../config.ts'
import type { Ctx } from '../context.ts'
import { CommandError, ConfigError, StepError } from '../errors.ts'
import { calmBefore } from '../pressure.ts'
import type { KeptRelease } from '../state.ts'
import { type ComposeModel, checkContract, readComposeModel, servicesWithBuild } from './contract.ts'
import { checkHealth } from './health.ts'
import { pinRelease } from './images.ts'
import { createRest, webSettled } from './workers.ts'

/** Docker reachable and the compose file within the contract, before anything changes. */
export async function preflight(ctx: Ctx): Promise<ComposeModel> {
  // Both only read, and `compose config` does not need the daemon: side by side they cost
  // the time of the slower one, which comes first in every deploy.
  const [info, read] = await Promise.all([
    ctx.run(dockerVersion(ctx.config)),
    readComposeModel(ctx).then(
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
  const problems = checkContract(ctx.config, read.m)
  if (problems.length) throw new ConfigError(problems)
  return read.m
}

/**
 * The build step: builds what has a `build:` section (unless this release's images are kept
 * from an earlier deploy), then pins the new color to the images. Returns the config the
 * rest of the deploy runs with.
 */
export async function buildAndPin(ctx: Ctx, color: Color, model: ComposeModel, kept: KeptRelease | null): Promise<Config> {
  const services = ctx.config.build === 'never' || kept ? [] : servicesWithBuild(model, coloredServices(ctx.config))
  if (kept) ctx.ui.detail(`  release ${kept.release}'s images are kept from ${kept.at}: nothing to build`)
  else if (!services.length) ctx.ui.detail('  nothing to build')
  else await ctx.must(build(ctx.config, color, services))
  return pinRelease(ctx, color, kept)
}

/**
 * The health step and the creation of the new workers, side by side: the containers are
 * created once the web has booted (see webSettled), and the switch does not wait for them.
 * `drain` (stop mode: the old workers' drain) runs beside the create. A failing check waits
 * for both, so no rollback runs beside them; one that has already failed stops the deploy
 * before the switch. Returns both, for up-rest (wrapped: an async function would otherwise
 * wait for the promises it returns).
 */
export async function healthAndCreate(ctx: Ctx, to: Color, drain?: () => Promise<string[]>): Promise<{ created: Promise<void>; drained: Promise<string[]> | undefined }> {
  const checked = checkHealth(ctx, to)
  const { workers, singletons } = ctx.config.roles
  const go =
    workers.length || singletons.length
      ? webSettled(
          ctx,
          to,
          checked.then(
            () => true,
            () => false,
          ),
          `creating ${[...singletons, ...workers].join(', ')}${drain ? ', draining the old workers' : ''}`,
        )
      : Promise.resolve(false)
  const created = go.then((ok) => (ok ? createRest(ctx, to) : undefined))
  const drained = drain ? go.then((ok) => (ok ? drain() : [])) : undefined
  created.catch(() => {})
  drained?.catch(() => {})
  await checked.catch(async (e: unknown) => {
    await Promise.allSettled([created, drained])
    throw e
  })
  // A race between settled promises goes to the first one listed.
  await Promise.race([created, undefined])
  await Promise.race([drained, undefined])
  return { created, drained }
}

/** The up-core step: the new web (and core services) alone, on a calm CPU. */
export async function startCore(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  await calmBefore(ctx, 'up-core')
  ctx.checkpoint()
  await ctx.must(up(c, color, [...c.roles.web, ...c.roles.core]))
}
