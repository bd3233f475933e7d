#!/usr/bin/env -S npx tsx
// The whole staged deploy, in one node process: build first (a build is itself a CPU
// spike), free the CPU, start the new web alone, check it, switch, then start workers.
// Any failure, or Ctrl-C, rolls back while the old color is still warm.
import { existsSync, readFileSync } from 'node:fs'
import { dirname, extname, relative } from 'node:path'
import type { Color, Config } from '../lib/config.ts'
import { COLORS, ConfigError, coloredServices, otherColor } from '../lib/config.ts'
import { build, dockerInfo, imageIds, up } from '../lib/compose.ts'
import type { Ctx } from '../lib/context.ts'
import { CommandError, must } from '../lib/exec.ts'
import { StepError } from '../lib/errors.ts'
import { checkContract, readComposeModel, servicesWithBuild, type ComposeModel } from '../lib/contract.ts'
import { workersSignalled } from '../lib/state.ts'
import { finishOp, reportInterrupted, startOp, withLock } from '../lib/op.ts'
import { verifyThroughProxy, writeUpstream } from '../lib/traffic.ts'
import { isMain, run } from '../lib/cli.ts'
import { pauseWorkers } from './pause-workers.ts'
import { upCore } from './up-core.ts'
import { health } from './health.ts'
import { switchTo } from './switch.ts'
import { prepareRest, upRest } from './up-rest.ts'
import { rollbackTo } from './rollback.ts'

export const DEPLOY_STEPS = ['build', 'shared', 'pause-workers', 'up-core', 'health', 'switch', 'up-rest', 'verify'] as const
export type DeployStep = (typeof DEPLOY_STEPS)[number]

/** Docker reachable and the compose file within the contract, before anything changes. */
export async function preflight(ctx: Ctx): Promise<ComposeModel> {
  // Both only read, and `compose config` does not need the daemon: side by side they cost
  // the time of the slower one, which comes first in every deploy.
  const [info, read] = await Promise.all([ctx.exec.run(dockerInfo(ctx.config)), readComposeModel(ctx.exec, ctx.config).then((m) => ({ m }), (e: Error) => ({ e }))])
  if (info.code !== 0) {
    throw new StepError(`cannot reach the Docker daemon (${(info.stderr || info.stdout).trim().split('\n').at(-1)}). Nothing was changed. Start it (make docker) or fix DOCKER_HOST.`)
  }
  if ('e' in read) {
    const e = read.e
    throw new ConfigError([`docker compose cannot read ${ctx.config.composeFile}: ${e instanceof CommandError ? e.result.stderr.trim() : e.message}`])
  }
  const model = read.m
  const problems = checkContract(ctx.config, model)
  if (problems.length) throw new ConfigError(problems)
  return model
}

export async function detectRelease(ctx: Ctx): Promise<string> {
  const r = await ctx.exec.run({ argv: ['git', '-C', ctx.config.projectDir, 'rev-parse', '--short', 'HEAD'], mutates: false })
  if (r.code === 0 && /^[0-9a-f]{4,40}$/.test(r.stdout.trim())) return r.stdout.trim()
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-')
}

export async function buildImages(ctx: Ctx, color: Color, model: ComposeModel): Promise<void> {
  const services = ctx.config.build === 'never' ? [] : servicesWithBuild(model, coloredServices(ctx.config))
  if (!services.length) return ctx.ui.detail('  nothing to build')
  await must(ctx.exec, { ...build(ctx.config, color, services), timeoutMs: 3_600_000 })
}

/** Redis, the proxy and friends: started once for all colors; untouched when running. */
export async function ensureShared(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  const inv = await ctx.inventory()
  const notRunning = c.roles.shared.filter((s) => !inv.running('shared', [s]).length)
  if (!notRunning.length) return ctx.ui.detail('  shared services already running')
  // The proxy includes the upstream file at start-up: it has to exist first.
  if (c.proxy.mode === 'container' && !ctx.state.load().upstream) await writeUpstream(ctx, color, null)
  await must(ctx.exec, { ...up(c, 'shared', notRunning), timeoutMs: 600_000 })
}

/**
 * No state but a color already serving (a lost state folder, a different checkout): adopt
 * that color as live rather than "bootstrap" over it and recreate the web under traffic.
 */
export async function adoptRunning(ctx: Ctx): Promise<Color | null> {
  const c = ctx.config
  const inv = await ctx.inventory()
  const serving = COLORS.filter((col) => inv.running(col, c.roles.web).length)
  if (!serving.length) return null
  const named = existsSync(c.proxy.upstreamFile) ? /server 127\.0\.0\.1:(\d+);/.exec(readFileSync(c.proxy.upstreamFile, 'utf8'))?.[1] : undefined
  const live = serving.length === 1 ? serving[0]! : serving.find((col) => String(c.ports[col]) === named)
  if (!live) throw new StepError(`the state file ${ctx.state.file} is missing, and both ${c.prefix}-blue and ${c.prefix}-green serve: cannot tell which is live. Write {"live":"blue"} or {"live":"green"} into it, or remove one color.`)
  ctx.ui.warn(`no state in ${ctx.state.dir}, but ${c.prefix}-${live} is running: adopting ${live} as the live color`)
  ctx.state.update((x) => ({ ...x, live, upstream: x.upstream ?? { color: live, port: c.ports[live], backup: null } }))
  return live
}

const safeLoad = (ctx: Ctx) => {
  try {
    return ctx.state.load()
  } catch {
    return null
  }
}

export const withRelease = (c: Config, release: string): Config => Object.freeze({ ...c, release })

/** The command that removes the old color, as this deploy was started. */
export function cleanupCommand(): string {
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

export async function deploy(ctx0: Ctx): Promise<DeployResult> {
  return withLock(ctx0, 'deploy', async () => {
    const s = ctx0.state.load()
    if (s.journal && s.journal.op !== 'deploy') {
      reportInterrupted(ctx0, s)
      throw new StepError(`run ${s.journal.op} to finish it first`)
    }
    ctx0.state.probeWritable()
    const model = await preflight(ctx0)
    reportInterrupted(ctx0, s)

    const j = s.journal
    const from = j ? j.from : (s.live ?? (await adoptRunning(ctx0)))
    const to: Color = j ? j.to : from ? otherColor(from) : 'blue'
    const release = j?.release || ctx0.config.release || (await detectRelease(ctx0))
    const ctx: Ctx = { ...ctx0, config: withRelease(ctx0.config, release) }
    const done = new Set(j?.done ?? [])
    ctx.ui.info(`${ctx.ui.c.bold('calmswap deploy')} ${release}: ${from ?? 'nothing'} → ${to}${ctx.exec.dryRun ? ' (dry run: nothing changes)' : ''}`)
    if (!j) ctx.state.update((x) => ({ ...x, journal: { op: 'deploy', from, to, release, startedAt: new Date().toISOString(), pid: process.pid, done: [] } }))
    const op = startOp(ctx, 'deploy', from, to)
    op.release = release

    let prepared: Promise<void> | undefined
    const oldWebRuns = async () => (from ? (await ctx.inventory()).running(from, ctx.config.roles.web).length > 0 : false)
    const steps: Record<DeployStep, () => Promise<unknown>> = {
      build: () => buildImages(ctx, to, model),
      shared: () => ensureShared(ctx, to),
      'pause-workers': () => pauseWorkers(ctx, from),
      'up-core': () => upCore(ctx, to),
      // The workers' containers are created while the web boots (see prepareRest); the
      // switch does not wait for that, up-rest does.
      health: async () => {
        const h = health(ctx, to)
        const create = prepareRest(ctx, to, h.then(() => true, () => false))
        prepared = create
        create.catch(() => {})
        // A failing check waits for the create, so no rollback runs beside it.
        await h.catch(async (e: unknown) => {
          await create.catch(() => {})
          throw e
        })
        // A create that has already failed stops the deploy before the switch (a race
        // between settled promises goes to the first one listed).
        await Promise.race([create, undefined])
      },
      switch: async () => switchTo(ctx, to, (await oldWebRuns()) ? from : null),
      'up-rest': async () => {
        await prepared
        await upRest(ctx, to)
      },
      // Once more after the workers started: a web that died right after the switch
      // is caught here, while the old web still runs and can take the traffic back.
      // Through the proxy alone when it can say which server answered: that proves the
      // new web serves, with no docker call and so no extra CPU while the workers boot.
      verify: async () => (ctx.config.proxy.url && ctx.config.proxy.mode !== 'none' ? verifyThroughProxy(ctx, to) : health(ctx, to)),
    }
    try {
      for (const name of DEPLOY_STEPS) {
        if (done.has(name)) {
          ctx.ui.detail(`  ${name}: already done by the interrupted run`)
          continue
        }
        ctx.checkpoint()
        ctx.state.update((x) => (x.journal ? { ...x, journal: { ...x.journal, current: name } } : x))
        await ctx.ui.step(name, steps[name])
        ctx.state.update((x) => (x.journal ? { ...x, journal: { ...x.journal, done: [...x.journal.done, name], current: undefined } } : x))
      }
    } catch (e) {
      const err = e as Error
      ctx.ui.error(err.message)
      if (ctx.exec.dryRun) throw e
      // A create still running beside the switch: let it finish before the rollback removes its containers.
      await prepared?.catch(() => {})
      try {
        const signalled = workersSignalled(safeLoad(ctx)?.journal)
        await ctx.ui.step(`rollback to ${from ?? 'nothing'}`, () => rollbackTo(ctx, { good: from, bad: to, signalled }, err))
      } catch (e2) {
        finishOp(ctx, op, 'failed', err)
        throw new StepError(`the deploy failed and so did the rollback: ${(e2 as Error).message}\nThe state file records where it stopped; fix the cause and run rollback again.`)
      }
      finishOp(ctx, op, 'rolled-back', err)
      ctx.ui.summary('step timings')
      throw new StepError(`deploy of ${release} to ${to} failed and was rolled back; ${from ?? 'nothing'} ${from ? 'serves as before' : 'was live before, so nothing serves'}`)
    }

    if (!ctx.exec.dryRun) {
      const ids = (await ctx.inventory()).of(to).map((x) => x.id)
      const r = ids.length ? await ctx.exec.run(imageIds(ctx.config, ids)) : null
      op.images = Object.fromEntries((r?.stdout ?? '').split('\n').filter(Boolean).map((l) => l.replace(/^\//, '').split(' ') as [string, string]))
    }
    ctx.state.update((x) => ({ ...x, live: to, previous: from, release, previousRelease: x.release, journal: null }))
    finishOp(ctx, op, 'ok')
    ctx.ui.summary('step timings')
    ctx.ui.ok(`${release} is live on ${to}`)
    ctx.ui.event('deployed', { from, to, release })
    if (from) {
      ctx.ui.info(`Check the site now${ctx.config.proxy.url ? `: ${ctx.config.proxy.url}/` : ''}. ${from} is kept warm for an instant rollback.`)
      ctx.ui.info(`When it looks right, remove the old color with:\n\n    ${cleanupCommand()}\n`)
    }
    return { from, to, release }
  })
}

if (isMain(import.meta.url, 'deploy')) {
  void run(
    {
      name: 'deploy',
      summary: 'staged blue-green deploy of the compose stack',
      usage: 'deploy [--dry-run] [--json] [--verbose]',
      dryRun: true,
      notes: `Steps: ${DEPLOY_STEPS.join(', ')}. A failure, or Ctrl-C, rolls back.`,
    },
    async (ctx) => {
      await deploy(ctx)
    },
  )
}
