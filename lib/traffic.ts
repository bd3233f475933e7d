// The traffic switch: an nginx upstream that names the live color's port.
// Written atomically, checked with `nginx -t`, then reloaded gracefully; a failed
// check restores the old file, so there is no reload and no switch.
import { existsSync, readFileSync, rmSync } from 'node:fs'
import type { Color, Config } from './config.ts'
import { dockerExec, projectName, type Cmd, type Result } from './compose.ts'
import type { Ctx } from './context.ts'
import { CommandError } from './exec.ts'
import { StepError } from './errors.ts'
import { waitHealthy } from './health.ts'
import type { Upstream } from './state.ts'

export const LOOPBACK = '127.0.0.1'

export function renderUpstream(c: Config, color: Color, backup: Color | null, template?: string): string {
  const backupLine = backup ? `server ${LOOPBACK}:${c.ports[backup]} backup;` : ''
  if (template) {
    return template
      .replaceAll('{{name}}', c.proxy.upstreamName)
      .replaceAll('{{port}}', String(c.ports[color]))
      .replaceAll('{{color}}', color)
      .replaceAll('{{backup}}', backupLine)
  }
  return [
    `# Written by calmswap ${new Date().toISOString()}. Live color: ${color}. The next switch replaces this file.`,
    `upstream ${c.proxy.upstreamName} {`,
    `  server ${LOOPBACK}:${c.ports[color]};`,
    // The previous color, while it still runs, catches requests the new web drops
    // (nginx retries a failed GET on the backup), so a web that dies right after
    // the switch costs no failed request.
    ...(backupLine ? [`  ${backupLine}`] : []),
    '  keepalive 8;',
    '}',
    `map $host $calmswap_color { default "${color}"; }`,
    '',
  ].join('\n')
}

export interface ProxyCommands {
  /** Checks the new config before the reload; null when there is no check, or `reload` makes it. */
  readonly test: Cmd | null
  readonly reload: Cmd
  /** The exit code of a `reload` that checked first: the check failed and nothing reloaded. */
  readonly rejected?: number
}

/** sysexits' EX_DATAERR: nginx itself exits 1 for any failure, so this one says "the check". */
export const NGINX_REJECTED = 65

/** `proxyContainer` is the running nginx container of the shared project (proxy=container). */
export function proxyCommands(c: Config, color: Color, proxyContainer?: string): ProxyCommands | null {
  switch (c.proxy.mode) {
    case 'container':
      if (!proxyContainer) throw new StepError(`the proxy container (service "${c.proxy.service}" of ${c.prefix}-shared) is not running`)
      return {
        test: null,
        // Check and reload in one exec: each exec is a runc start beside the booting release,
        // and the reload runs only when the check passed.
        reload: dockerExec(c, proxyContainer, ['sh', '-c', `nginx -t || exit ${NGINX_REJECTED}; exec nginx -s reload`], true),
        rejected: NGINX_REJECTED,
      }
    case 'host':
      return {
        // `mutates`, for the check too: it belongs to the switch (it reads the file just
        // written), so a dry run prints it with the write instead of testing the old file.
        test: { argv: [c.proxy.nginx, '-t'], mutates: true },
        reload: { argv: [c.proxy.nginx, '-s', 'reload'], mutates: true },
      }
    case 'command':
      return {
        test: null,
        reload: {
          argv: c.proxy.command,
          env: { CALMSWAP_COLOR: color, CALMSWAP_PORT: String(c.ports[color]), CALMSWAP_UPSTREAM_FILE: c.proxy.upstreamFile },
          mutates: true,
        },
      }
    case 'none':
      return null
  }
}

export async function proxyContainer(ctx: Ctx): Promise<string | undefined> {
  if (ctx.config.proxy.mode !== 'container') return undefined
  const inv = await ctx.inventory()
  const running = inv.of('shared', [ctx.config.proxy.service]).find((c) => c.state === 'running')?.name
  // A dry run of a first deploy plans the proxy's start without doing it: name the container it would get.
  return running ?? (ctx.exec.dryRun ? `${projectName(ctx.config, 'shared')}-${ctx.config.proxy.service}-1` : undefined)
}

const readTemplate = (c: Config) => (c.proxy.template ? readFileSync(c.proxy.template, 'utf8') : undefined)

/** Writes the upstream file without reloading: for the first start of the proxy. */
export async function writeUpstream(ctx: Ctx, color: Color, backup: Color | null): Promise<void> {
  await ctx.exec.writeFile(ctx.config.proxy.upstreamFile, renderUpstream(ctx.config, color, backup, readTemplate(ctx.config)))
}

export async function switchTraffic(ctx: Ctx, color: Color, backup: Color | null): Promise<Upstream> {
  const c = ctx.config
  const file = c.proxy.upstreamFile
  const cmds = proxyCommands(c, color, await proxyContainer(ctx))
  const before = existsSync(file) ? readFileSync(file, 'utf8') : null
  await writeUpstream(ctx, color, backup)
  const restore = async () => {
    if (before === null) rmSync(file, { force: true })
    else await ctx.exec.writeFile(file, before)
  }
  const rejected = async (r: Result) => {
    await restore()
    return new StepError(`nginx -t rejected the new upstream; the old one is back in place, nothing was reloaded:\n${(r.stderr || r.stdout).trim()}`)
  }
  if (cmds?.test) {
    const r = await ctx.exec.run(cmds.test)
    if (r.code !== 0) throw await rejected(r)
  }
  if (cmds) {
    const r = await ctx.exec.run(cmds.reload).catch(async (e: unknown) => {
      await restore()
      throw e
    })
    if (r.code !== 0 && r.code === cmds.rejected) throw await rejected(r)
    if (r.code !== 0) {
      await restore()
      throw new StepError(`reloading the proxy failed: ${new CommandError(cmds.reload, r).message}`)
    }
  }
  const upstream: Upstream = { color, port: c.ports[color], backup: backup ? c.ports[backup] : null }
  try {
    ctx.state.update((s) => ({ ...s, upstream }))
  } catch (e) {
    // The switch happened; only its record failed. Say so rather than pretend it did not.
    ctx.ui.warn(`switched to ${color}, but could not record it: ${(e as Error).message}`)
  }
  return upstream
}

/** Reads the proxy's own account of who answered; null when it is the expected color. */
export function upstreamMismatch(headers: Record<string, string | string[] | undefined> | undefined, color: Color, port: number): string | null {
  const seen = headers?.['x-calmswap-color']
  if (seen && seen !== color) return `proxy still routes to ${seen}`
  // "$upstream_addr" lists every server tried; the last one answered.
  const addr = String(headers?.['x-calmswap-upstream'] ?? '').split(',').at(-1)?.trim()
  if (addr && !addr.endsWith(`:${port}`)) return `answered by ${addr}, not ${color} (:${port})`
  return null
}

/**
 * After a switch, asks the proxy itself: the new color must answer there, not just on
 * its own port. A color header, when the proxy sets one, must name the new color.
 */
export async function verifyThroughProxy(ctx: Ctx, color: Color): Promise<void> {
  const c = ctx.config
  if (!c.proxy.url || c.proxy.mode === 'none' || ctx.exec.dryRun) return
  const url = `${c.proxy.url}${c.health.path}`
  const r = await ctx.ui.wait(`checking ${url} through the proxy`, (update) =>
    waitHealthy(url, {
      host: c.health.host,
      status: c.health.status,
      body: c.health.body,
      timeoutMs: c.health.timeoutMs,
      deadlineMs: Math.max(5_000, c.health.timeoutMs * 3),
      intervalMs: 500,
      passes: c.health.passes,
      signal: ctx.signal,
      extra: async (res) => upstreamMismatch(res.headers, color, c.ports[color]),
      onTry: (t) => update(`through the proxy: try ${t.attempt}, ${t.reason ?? 'pass'} (${t.passes}/${c.health.passes})`),
    }),
  )
  if (!r.ok) throw new StepError(`the proxy does not serve ${color} at ${url}: ${r.last?.reason ?? 'no answer'}`)
}

