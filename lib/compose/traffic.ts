// The traffic switch: the proxy's file (lib/proxy/: an nginx upstream, a Caddyfile snippet,
// Traefik's dynamic file) that names the live color's port. Written atomically, checked
// (`nginx -t`, `caddy validate`, the Traefik schema), then reloaded gracefully; a failed
// check restores the old file, so there is no reload and no switch. Then the proxy itself is
// asked who answers.
import { existsSync, readFileSync } from 'node:fs'
import type { Result } from '../command.ts'
import { render } from '../command.ts'
import { COLORS, type Color, type Config, LOOPBACK, otherColor, projectName } from '../config.ts'
import type { Ctx } from '../context.ts'
import { CommandError, StepError } from '../errors.ts'
import { readOwnFile } from '../files.ts'
import { checkOptions, waitHealthy } from '../probe.ts'
import type { Route } from '../proxy/driver.ts'
import { proxyDriver } from '../proxy/index.ts'
import { nginxFlags } from '../proxy/nginx.ts'
import type { Upstream } from '../state.ts'

export type { Route } from '../proxy/driver.ts'
export { renderUpstream } from '../proxy/nginx.ts'

/** The live port the upstream file names, if it names one: how an adopted host tells which color serves. */
export function upstreamPort(c: Config): number | null {
  const flag = flagColor(c)
  if (flag !== undefined) return flag ? c.ports[flag] : null
  const text = readOwnFile(c.proxy.upstreamFile)
  return text ? proxyDriver(c).livePort(text) : null
}

/**
 * The color the upstream file nginx reads sends traffic to: the truth about traffic, which a
 * power cut between that file's write and state.json's can set apart from the record. Null
 * when there is no file, or it names neither color (a template that does not render as either).
 */
export function upstreamFileColor(c: Config): Color | null {
  const flag = flagColor(c)
  if (flag !== undefined) return flag
  let text: string | null
  let template: string | undefined
  try {
    text = readOwnFile(c.proxy.upstreamFile)
    template = readTemplate(c)
  } catch {
    return null
  }
  if (text === null) return null
  const driver = proxyDriver(c)
  if (template) return COLORS.find((col) => [null, otherColor(col)].some((b) => driver.render(c, col, b, {}, template) === text)) ?? null
  // The live color's port, as the proxy's driver reads its own file (plain or in a canary).
  const port = driver.livePort(text)
  return COLORS.find((col) => c.ports[col] === port) ?? null
}

/**
 * With the flag switch, the color nginx's conf picks on each request: live-green is tested,
 * so it wins over a live-blue left beside it. Null when neither is there yet; undefined when
 * nginx does not switch by flag (the upstream file says).
 */
function flagColor(c: Config): Color | null | undefined {
  if (!isFlagged(c)) return undefined
  const flags = nginxFlags(c)
  return existsSync(flags.live('green')) ? 'green' : existsSync(flags.live('blue')) ? 'blue' : null
}

/**
 * Points nginx's flag files at `color` (and the log on or off). The conf tests live-blue, then
 * live-green (the last match wins): writing live-<color> before removing the other makes
 * each switch one visible change, a rename or an unlink, seen on nginx's next request.
 */
async function writeFlags(ctx: Ctx, color: Color, route: Route): Promise<void> {
  const flags = nginxFlags(ctx.config)
  await ctx.exec.writeFile(flags.live(color), `${color}\n`)
  await ctx.exec.removeFile(flags.live(otherColor(color)))
  if (route.log) await ctx.exec.writeFile(flags.log, '1\n')
  else await ctx.exec.removeFile(flags.log)
}

/** The reload switch: flags left by a flag switch would overrule the upstream file in a conf that reads them. */
async function dropStaleFlags(ctx: Ctx): Promise<void> {
  if (ctx.config.proxy.kind !== 'nginx') return
  const flags = nginxFlags(ctx.config)
  for (const f of [flags.live('blue'), flags.live('green'), flags.log]) if (existsSync(f)) await ctx.exec.removeFile(f)
}

/** What names the live color for the proxy, as messages say it: the flag file (flag switch) or the upstream file. */
export const trafficFile = (c: Config, color: Color): string => (isFlagged(c) ? `the flag ${nginxFlags(c).live(color)}` : `the upstream file ${c.proxy.upstreamFile}`)

/**
 * Why the state's record of the upstream cannot be trusted for `color`, or null when it can:
 * the file names another color, or a switch was under way when the last run ended.
 */
export function upstreamDoubt(ctx: Ctx, color: Color): string | null {
  const s = ctx.state.load()
  const file = upstreamFileColor(ctx.config)
  if (file && file !== color) return `${trafficFile(ctx.config, file)} sends traffic to ${file}`
  if (s.switching) return `a switch to ${s.switching.color} was under way when the last run ended`
  return null
}

/** The running proxy container of the shared project (proxy=container or caddy). */
export async function proxyContainer(ctx: Ctx): Promise<string | undefined> {
  if (!ctx.config.proxy.inContainer) return undefined
  const inv = await ctx.inventory()
  const running = inv.containersIn('shared', [ctx.config.proxy.service], ['running'])[0]?.name
  // A dry run of a first deploy plans the proxy's start without doing it: name the container it would get.
  return running ?? (ctx.exec.dryRun ? `${projectName(ctx.config, 'shared')}-${ctx.config.proxy.service}-1` : undefined)
}

const readTemplate = (c: Config) => (c.proxy.template ? readFileSync(c.proxy.template, 'utf8') : undefined)

/** The proxy's file for `color`, checked first where the proxy has no check of its own (Traefik). */
function rendered(c: Config, color: Color, backup: Color | null, route: Route): string {
  const driver = proxyDriver(c)
  const text = driver.render(c, color, backup, route, readTemplate(c))
  const problems = driver.validate?.(text) ?? []
  if (problems.length) throw new StepError(`${driver.checkName} rejected the new ${driver.fileName}; nothing was written:\n  ${problems.join('\n  ')}`)
  return text
}

/** Writes the proxy's file without reloading: for the first start of the proxy. */
export async function writeUpstream(ctx: Ctx, color: Color, backup: Color | null, route: Route = {}): Promise<void> {
  await ctx.exec.writeFile(ctx.config.proxy.upstreamFile, rendered(ctx.config, color, backup, route))
  if (isFlagged(ctx.config)) await writeFlags(ctx, color, route)
}

const isFlagged = (c: Config) => c.proxy.kind === 'nginx' && c.proxy.nginxSwitch === 'flag'

/**
 * Puts back an upstream file calmswap did not write (the plain project's, before an adoption)
 * and has the proxy read it. Throws when the proxy refuses it.
 */
export async function restoreUpstream(ctx: Ctx, content: string): Promise<void> {
  const c = ctx.config
  await ctx.exec.writeFile(c.proxy.upstreamFile, content)
  const cmds = proxyDriver(c).commands(c, 'blue', await proxyContainer(ctx))
  if (cmds?.test) await ctx.must(cmds.test)
  if (cmds) await ctx.must(cmds.reload)
  ctx.state.upstreamGivenBack()
}

/**
 * Points the proxy at `color`, keeping `backup` (still running) as its fallback, or as the rest of a canary.
 * `reload`: the proxy reads its config again even when the flag switch would need no reload (`calmswap proxy`).
 */
export async function switchTraffic(ctx: Ctx, color: Color, backup: Color | null, route: Route = {}, o: { reload?: boolean } = {}): Promise<Upstream> {
  const c = ctx.config
  const file = c.proxy.upstreamFile
  const driver = proxyDriver(c)
  const container = await proxyContainer(ctx)
  if (c.proxy.inContainer && !container) throw new StepError(`the proxy container (service "${c.proxy.service}" of ${projectName(c, 'shared')}) is not running`)
  const cmds = driver.commands(c, color, container)
  const text = rendered(c, color, backup, route)
  const before = readOwnFile(file)
  const share = route.share !== undefined && backup ? { share: route.share } : {}
  const upstream: Upstream = { color, port: c.ports[color], backup: backup ? c.ports[backup] : null, ...share }
  // The intent first: a power cut after the file's (or the flag's) write leaves a record that says so.
  try {
    ctx.state.switching(upstream)
  } catch (e) {
    ctx.ui.warn(`switching to ${color} without recording it first: ${(e as Error).message}`)
  }
  // nginx's flag switch: the groups nginx loaded (checked by `nginx -t` at that reload) are
  // the ones this switch needs, so only the flags change; no reload, no connection closed.
  const flagged = isFlagged(c)
  if (flagged && before === text && !o.reload) {
    await writeFlags(ctx, color, route)
    return recorded(ctx, upstream)
  }
  await ctx.exec.writeFile(file, text)
  const restore = async () => {
    if (before === null) await ctx.exec.removeFile(file)
    else await ctx.exec.writeFile(file, before)
    try {
      ctx.state.switchUndone()
    } catch {}
  }
  const rejected = async (r: Result) => {
    await restore()
    return new StepError(`${driver.checkName} rejected the new ${driver.fileName}; the old one is back in place, nothing was reloaded:\n${(r.stderr || r.stdout).trim()}`)
  }
  if (cmds?.test) {
    const r = await ctx.run(cmds.test)
    if (r.code !== 0) throw await rejected(r)
  }
  if (cmds) {
    const r = await ctx.run(cmds.reload)
    if (r.code !== 0 && r.code === cmds.rejected) throw await rejected(r)
    if (r.code !== 0) {
      await restore()
      throw new StepError(`reloading the proxy failed: ${new CommandError(render(cmds.reload), r.code, r.stderr, r.stdout).message}`)
    }
  }
  // After the reload: the flags move traffic only once the groups they name are loaded.
  if (flagged) await writeFlags(ctx, color, route)
  else await dropStaleFlags(ctx)
  return recorded(ctx, upstream)
}

function recorded(ctx: Ctx, upstream: Upstream): Upstream {
  try {
    ctx.state.recordUpstream(upstream)
  } catch (e) {
    // The switch happened; only its record failed. Say so rather than pretend it did not.
    ctx.ui.warn(`switched to ${upstream.color}, but could not record it: ${(e as Error).message}`)
  }
  return upstream
}

/** Reads the proxy's own account of who answered; null when it is the expected color. */
export function upstreamMismatch(headers: Record<string, string | string[] | undefined> | undefined, color: Color, port: number): string | null {
  const seen = headers?.['x-calmswap-color']
  if (seen && seen !== color) return `proxy still routes to ${seen}`
  // "$upstream_addr" lists every server tried; the last one answered.
  const addr = String(headers?.['x-calmswap-upstream'] ?? '')
    .split(',')
    .at(-1)
    ?.trim()
  if (addr && !addr.endsWith(`:${port}`)) return `answered by ${addr}, not ${color} (:${port})`
  return null
}

/**
 * After a switch, asks the proxy itself: the new color must answer there, not just on its
 * own port. A color header, when the proxy sets one, must name the new color.
 */
export async function verifyThroughProxy(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  if (!c.proxy.url || c.proxy.mode === 'none' || ctx.exec.dryRun) return
  const url = `${c.proxy.url}${c.health.path}`
  const r = await ctx.ui.wait(`checking ${url} through the proxy`, (update) =>
    waitHealthy(url, {
      ...checkOptions(c),
      deadlineMs: Math.max(5_000, c.health.timeoutMs * 3),
      intervalMs: 500,
      signal: ctx.signal,
      extra: async (res) => upstreamMismatch(res.headers, color, c.ports[color]),
      onTry: (t) => update(`through the proxy: try ${t.attempt}, ${t.reason ?? 'pass'} (${t.passes}/${c.health.passes})`),
    }),
  )
  if (!r.ok) throw new StepError(`the proxy does not serve ${color} at ${url}: ${r.last?.reason ?? 'no answer'}`)
}

/** The switch step: point the proxy at `color` (with `backup` as fallback), then check through the proxy. */
export async function switchTo(ctx: Ctx, color: Color, backup: Color | null, route: Route = {}): Promise<void> {
  const up = await switchTraffic(ctx, color, backup, route)
  ctx.ui.detail(`  proxy → ${color} (${LOOPBACK}:${up.port}${up.backup ? `, backup :${up.backup}` : ''})`)
  await verifyThroughProxy(ctx, color)
}

/** The proxy stops logging each request: the upstream as it is, with $calmswap_log off. */
export async function stopRequestLog(ctx: Ctx, to: Color): Promise<void> {
  const up = ctx.state.load().upstream
  if (!proxyDriver(ctx.config).logs || ctx.config.proxy.template) return
  const backup = up?.backup ? (COLORS.find((col) => ctx.config.ports[col] === up.backup) ?? null) : null
  try {
    await switchTraffic(ctx, to, backup, { log: false })
  } catch (e) {
    ctx.ui.warn(`the proxy could not stop logging each request (${(e as Error).message}); the release stays, and the log is emptied at the next watch`)
  }
}
