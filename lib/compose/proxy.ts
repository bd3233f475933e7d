// `calmswap proxy`: the proxy's own change, without a gap. A changed config (nginx.conf, the
// Caddyfile, calmswap's own file) is applied as a switch is: the live route rendered again,
// validated, gracefully reloaded, the old file back on a rejection. A changed image (or
// --replace) starts the new proxy container beside the old one: both listen on the same
// port with SO_REUSEPORT (Caddy on Linux always; nginx with `listen … reuseport`), the new
// one is ready when its own validate-and-reload passes, and only then does the old one stop
// gracefully (nginx: SIGQUIT, Caddy: SIGTERM, each finishing its requests in flight). A new
// proxy that cannot share the port gets the shortest hand-over: the old one out, the new one
// started at once, the gap measured and said.
import { composeConfig, upBeside } from '../builders/compose.ts'
import { kill, removeContainers, startContainers, waitExit } from '../builders/containers.ts'
import { imageId } from '../builders/images.ts'
import { imageIds, runState } from '../builders/reads.ts'
import { answer } from '../command.ts'
import { COLORS, type Color, projectName } from '../config.ts'
import type { Ctx } from '../context.ts'
import { sleep } from '../deadlines.ts'
import { StepError } from '../errors.ts'
import { imagesByName, names, runStates } from '../inventory.ts'
import { proxyDriver } from '../proxy/index.ts'
import { proxyContainer, switchTraffic, verifyThroughProxy } from './traffic.ts'

/** How long the new proxy may take to answer its own reload before the hand-over gives up and removes it. */
const READY_MS = 30_000
/** How long the old proxy may take to finish its requests in flight before it is killed. */
const DRAIN_S = 30

export interface ProxyChange {
  /** The live route, rendered again, validated and reloaded. */
  readonly reloaded: Color
  /** The container that now serves, when a new one replaced the old. */
  readonly replaced?: { readonly old: string; readonly now: string; readonly overlapMs: number; readonly gapMs?: number }
}

/** The color the state says serves, and its backup and canary share, as the proxy has them now. */
function liveRoute(ctx: Ctx): { color: Color; backup: Color | null; share?: number } {
  const s = ctx.state.load()
  const up = s.upstream
  const color = up?.color ?? s.live
  if (!color) throw new StepError('nothing is deployed yet: the first deploy starts the proxy')
  const backup = up?.backup ? (COLORS.find((col) => ctx.config.ports[col] === up.backup) ?? null) : null
  return { color, backup, ...(up?.share !== undefined ? { share: up.share } : {}) }
}

/** True when the compose file names another image for the proxy than the one its container runs. */
async function imageChanged(ctx: Ctx, container: string): Promise<boolean> {
  const c = ctx.config
  const model = JSON.parse(await ctx.must(composeConfig(c, 'shared'))) as { services?: Record<string, { image?: string }> }
  const ref = model.services?.[c.proxy.service]?.image
  if (!ref) return false
  const want = (await ctx.run(imageId(c, ref))).stdout.trim()
  const [have] = (await ctx.read(imageIds(c, [container]), imagesByName)).values()
  return Boolean(want) && want !== have
}

export async function changeProxy(ctx: Ctx, o: { replace?: boolean } = {}): Promise<ProxyChange> {
  const c = ctx.config
  const driver = proxyDriver(c)
  const route = liveRoute(ctx)
  // The config first: a new container starts from the same files, so they must pass the check.
  await switchTraffic(ctx, route.color, route.backup, route.share !== undefined ? { share: route.share } : {}, { reload: true })
  ctx.ui.detail(`  ${driver.checkName} passed; the proxy reloaded its config gracefully (live ${route.color})`)
  const old = await proxyContainer(ctx)
  if (!c.proxy.inContainer || !old) {
    if (o.replace) throw new StepError(`--replace starts a new proxy container beside the old one: proxy=${c.proxy.mode} has no container of calmswap's to replace`)
    await verifyThroughProxy(ctx, route.color)
    return { reloaded: route.color }
  }
  if (!o.replace && !(await imageChanged(ctx, old))) {
    ctx.ui.detail('  the proxy image is unchanged: nothing to replace (--replace starts a new container anyway)')
    await verifyThroughProxy(ctx, route.color)
    return { reloaded: route.color }
  }
  const replaced = await handOver(ctx, old, route.color)
  await verifyThroughProxy(ctx, route.color)
  return { reloaded: route.color, replaced }
}

/** The driver's own validate-and-reload in `container` passes: it runs, with its listeners. */
async function ready(ctx: Ctx, container: string, color: Color): Promise<{ ok: boolean; why: string }> {
  const cmds = proxyDriver(ctx.config).commands(ctx.config, color, container)
  const r = cmds ? await ctx.run(cmds.reload) : { code: 0, stdout: '', stderr: '' }
  return { ok: r.code === 0, why: (r.stderr || r.stdout).trim().split('\n').at(-1) ?? '' }
}

/** Gracefully: nginx on SIGQUIT (SIGTERM is its fast shutdown), Caddy on SIGTERM; killed after DRAIN_S. */
async function retire(ctx: Ctx, old: string): Promise<void> {
  const c = ctx.config
  await ctx.must(kill(c, [old], proxyDriver(c).kind === 'nginx' ? 'SIGQUIT' : 'SIGTERM'))
  const exited = await ctx.run(waitExit(c, [old], DRAIN_S * 1000))
  if (exited.code !== 0) await ctx.run(kill(c, [old], 'SIGKILL'))
}

/**
 * The new proxy container beside the old one, ready, then the old one retired. A new proxy
 * that cannot share the port (no SO_REUSEPORT: its bind fails and it exits) gets the shortest
 * hand-over instead: the old one retired, the new one started at once, the gap measured.
 */
async function handOver(ctx: Ctx, old: string, color: Color): Promise<{ old: string; now: string; overlapMs: number; gapMs?: number }> {
  const c = ctx.config
  await ctx.must(upBeside(c, c.proxy.service))
  const inv = await ctx.inventory()
  const now = names(inv.containersIn('shared', [c.proxy.service], ['running', 'restarting', 'created', 'exited'])).find((n) => n !== old)
  if (ctx.exec.dryRun) return { old, now: now ?? `${projectName(c, 'shared')}-${c.proxy.service}-2`, overlapMs: 0 }
  if (!now) throw new StepError(`no second ${c.proxy.service} container started beside ${old}`)
  const t0 = Date.now()
  let last = ''
  for (;;) {
    const r = await ready(ctx, now, color)
    if (r.ok) break
    last = r.why
    const state = answer(await ctx.run(runState(c, [now])), runStates)[0]
    if (state && state.status !== 'running') return await shortestHandOver(ctx, old, now, color)
    if (Date.now() - t0 > READY_MS) {
      await ctx.run(removeContainers(c, [now]))
      throw new StepError(`the new proxy ${now} was not ready within ${READY_MS / 1000}s (${last}); it was removed and ${old} still serves`)
    }
    await sleep(200, ctx.signal)
  }
  const overlapMs = Date.now() - t0
  ctx.ui.detail(`  ${now} is ready beside ${old}; ${old} finishes its requests and stops`)
  await retire(ctx, old)
  await ctx.must(removeContainers(c, [old]))
  ctx.ui.detail(`  proxy: ${old} → ${now}`)
  return { old, now, overlapMs }
}

async function shortestHandOver(ctx: Ctx, old: string, now: string, color: Color): Promise<{ old: string; now: string; overlapMs: number; gapMs: number }> {
  const c = ctx.config
  ctx.ui.warn(`${now} could not listen beside ${old} (no SO_REUSEPORT: nginx needs \`listen … reuseport\`): the shortest hand-over instead, with a gap`)
  const t0 = Date.now()
  await retire(ctx, old)
  await ctx.run(startContainers(c, [now]))
  for (;;) {
    if ((await ready(ctx, now, color)).ok) break
    if (Date.now() - t0 > READY_MS)
      throw new StepError(`${old} stopped, and the new proxy ${now} did not get ready within ${READY_MS / 1000}s: nothing serves; start ${old} again (docker start ${old})`)
    await sleep(50, ctx.signal)
  }
  const gapMs = Date.now() - t0
  await ctx.must(removeContainers(c, [old]))
  ctx.ui.detail(`  proxy: ${old} → ${now}, ${gapMs} ms with neither listening`)
  return { old, now, overlapMs: 0, gapMs }
}
