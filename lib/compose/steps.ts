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
import { createRest } from './workers.ts'

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
 * created while the web boots (see createRest), and the switch does not wait for them.
 * A failing check waits for the create, so no rollback runs beside it; a create that has
 * already failed stops the deploy before the switch. Returns the create, for up-rest
 * (wrapped: an async function would otherwise wait for the promise it returns).
 */
export async function healthAndCreate(ctx: Ctx, to: Color): Promise<{ created: Promise<void> }> {
  const checked = checkHealth(ctx, to)
  const created = createRest(
    ctx,
    to,
    checked.then(
      () => true,
      () => false,
    ),
  )
  created.catch(() => {})
  await checked.catch(async (e: unknown) => {
    await created.catch(() => {})
    throw e
  })
  // A race between settled promises goes to the first one listed.
  await Promise.race([created, undefined])
  return { created }
}

/** The up-core step: the new web (and core services) alone, on a calm CPU. */
export async function startCore(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  await calmBefore(ctx, 'up-core')
  ctx.checkpoint()
  await ctx.must(up(c, color, [...c.roles.web, ...c.roles.core]))
}
