// nginx, the first proxy calmswap drove: an upstream file included by the user's nginx.conf
// (example/nginx/nginx.conf), checked with `nginx -t` and reloaded with `nginx -s reload`,
// and its JSON access log (the log_format there) read by the watch.

import { dirname, join } from 'node:path'
import { dockerExec } from '../builders/exec.ts'
import type { Cmd } from '../command.ts'
import { COLORS, type Color, type Config, LOOPBACK, otherColor } from '../config.ts'
import { DEADLINE } from '../deadlines.ts'
import { jsonLine, type LoggedRequest, type ProxyCommands, type ProxyDriver, portOf, type Route } from './driver.ts'

/** sysexits' EX_DATAERR: nginx itself exits 1 for any failure, so this one says "the check". */
export const NGINX_REJECTED = 65

/** The group of one color, for a conf that picks the live one per request: `proxy_pass http://$calmswap_live`. */
export const colorGroup = (c: Config, color: Color): string => `${c.proxy.upstreamName}_${color}`

/**
 * The flag files beside the upstream file, which a conf using the flag switch tests on each
 * request (`if (-f …/live-green)`, `if (-f …/log-on)`): renaming one switches without a reload.
 */
export const nginxFlags = (c: Config) => {
  const dir = dirname(c.proxy.upstreamFile)
  return { live: (color: Color) => join(dir, `live-${color}`), log: join(dir, 'log-on') }
}

/**
 * The flag switch's groups: one per color, each with the other as its backup. `max_fails=0`:
 * with two servers nginx would otherwise take one failure of the live web as a reason to
 * send everything to the backup for 10 s, and the backup may be stopped; a failed GET is
 * still retried on it.
 */
function colorGroups(c: Config, canary: { color: Color; share: number } | null, hash: string[]): string[] {
  return COLORS.flatMap((col) => {
    const other = otherColor(col)
    const servers =
      canary?.color === col
        ? [`server ${LOOPBACK}:${c.ports[col]} weight=${canary.share};`, `server ${LOOPBACK}:${c.ports[other]} weight=${100 - canary.share};`]
        : [`server ${LOOPBACK}:${c.ports[col]} max_fails=0;`, `server ${LOOPBACK}:${c.ports[other]} backup max_fails=0;`]
    return group(colorGroup(c, col), canary?.color === col ? hash : [], servers)
  })
}

const group = (name: string, hash: string[], servers: string[]) => [`upstream ${name} {`, ...hash, ...servers.map((l) => `  ${l}`), '  keepalive 8;', '}']

export function renderUpstream(c: Config, color: Color, backup: Color | null, template?: string, route: Route = {}): string {
  const backupLine = backup ? `server ${LOOPBACK}:${c.ports[backup]} backup;` : ''
  if (template) {
    return template.replaceAll('{{name}}', c.proxy.upstreamName).replaceAll('{{port}}', String(c.ports[color])).replaceAll('{{color}}', color).replaceAll('{{backup}}', backupLine)
  }
  const canary = route.share !== undefined && backup ? { color, share: route.share, other: backup } : null
  const sticky = canary ? c.canary.sticky : ({ by: 'off' } as const)
  // A consistent hash keeps each client on one color and still honours the weights;
  // clients without the cookie are spread by request.
  const hash = sticky.by === 'ip' ? ['  hash $remote_addr consistent;'] : sticky.by === 'cookie' ? ['  hash $calmswap_sticky consistent;'] : []
  const stickyMap = sticky.by === 'cookie' ? [`map $cookie_${sticky.name} $calmswap_sticky { "" $request_id; default $cookie_${sticky.name}; }`] : []
  // In a canary both colors answer: the header names the one that did.
  const canaryColor = canary ? `map $upstream_addr $calmswap_color { "~:${c.ports[color]}$" "${color}"; default "${canary.other}"; }` : null
  if (c.proxy.nginxSwitch === 'flag') {
    // Nothing here names the live color: the file changes (and nginx reloads) only for a
    // canary's weights or new ports. The flag files beside it say which group serves.
    return [
      `# Written by calmswap${canary ? ` for a canary: ${color} gets ${canary.share}% of ${colorGroup(c, color)}` : ''}. One group per color; the live one is the flag file live-<color> beside this file, read by nginx on each request ($calmswap_live): switching it needs no reload.`,
      ...colorGroups(c, canary, hash),
      // The conf sets $calmswap_live (and $calmswap_log) from the flags; these are the values without one.
      `map $host $calmswap_live { default "${colorGroup(c, 'blue')}"; }`,
      canaryColor ?? `map $calmswap_live $calmswap_color { "${colorGroup(c, 'green')}" "green"; default "blue"; }`,
      'map $host $calmswap_log { default "0"; }',
      ...stickyMap,
      '',
    ].join('\n')
  }
  const servers = canary
    ? [`server ${LOOPBACK}:${c.ports[color]} weight=${canary.share};`, `server ${LOOPBACK}:${c.ports[canary.other]} weight=${100 - canary.share};`]
    : [
        `server ${LOOPBACK}:${c.ports[color]};`,
        // The previous color, while it still runs, catches requests the new web drops (nginx
        // retries a failed GET on the backup), so a web that dies right after the switch
        // costs no failed request.
        ...(backupLine ? [backupLine] : []),
      ]
  return [
    `# Written by calmswap ${new Date().toISOString()}. Live color: ${color}${canary ? ` for ${canary.share}% of requests (canary), ${canary.other} for the rest` : ''}. The next switch replaces this file.`,
    ...group(c.proxy.upstreamName, hash, servers),
    // A conf already switched to the flag (proxy_pass http://$calmswap_live) finds its groups
    // here too and, without flags, the live one: it works, reloading each time.
    ...COLORS.flatMap((col) => (col === color ? group(colorGroup(c, col), hash, servers) : group(colorGroup(c, col), [], [`server ${LOOPBACK}:${c.ports[col]};`]))),
    `map $host $calmswap_live { default "${colorGroup(c, color)}"; }`,
    canaryColor ?? `map $host $calmswap_color { default "${color}"; }`,
    // "1" while calmswap watches a release: the access log (if=$calmswap_log) stays empty between deploys.
    `map $host $calmswap_log { default "${route.log ? 1 : 0}"; }`,
    ...stickyMap,
    '',
  ].join('\n')
}

/** nginx separates the servers of one request with ", " (retries) and " : " (internal redirects). */
const splitUpstream = (v: string) => (v ? v.split(/\s*,\s*|\s+:\s+/).map((x) => x.trim()) : [])

/**
 * A line of the log format in example/nginx/nginx.conf; null for anything else. Without
 * $upstream_status, the last server tried gets the client's status and the earlier ones
 * (nginx moved on from them) a 502.
 */
export function parseNginxLine(line: string): LoggedRequest | null {
  const x = jsonLine(line)
  if (!x || !Number.isInteger(x.status)) return null
  const status = x.status as number
  const addrs = splitUpstream(String(x.upstream_addr ?? ''))
  const statuses = splitUpstream(String(x.upstream_status ?? ''))
  const tries = addrs.map((a, i) => ({ port: portOf(a), status: Number(statuses[i]) || (i === addrs.length - 1 ? status : 502) }))
  return { tries, status, uri: String(x.request_uri ?? '') }
}

/** The live port an nginx upstream file names: its plain server line (a canary's weighted ones name none). */
export function nginxLivePort(text: string): number | null {
  // The per-color groups after it name both ports: only the live group counts.
  const cut = /\nupstream \S+_blue \{/.exec(text)?.index
  const port = /server 127\.0\.0\.1:(\d+);/.exec(text.slice(0, cut))?.[1]
  return port ? Number(port) : null
}

/**
 * How to make nginx read a new upstream file: in the shared project's container (proxy=container)
 * or on the host (proxy=host). `container` is the running nginx container, when there is one.
 */
export function nginxCommands(c: Config, container: string | undefined): ProxyCommands | null {
  if (c.proxy.inContainer) {
    if (!container) return null
    // Check and reload in one exec: each exec is a runc start beside the booting release,
    // and the reload runs only when the check passed.
    return { test: null, reload: dockerExec(c, container, ['sh', '-c', `nginx -t || exit ${NGINX_REJECTED}; exec nginx -s reload`], true), rejected: NGINX_REJECTED }
  }
  return {
    // `mutates`, for the check too: it belongs to the switch (it reads the file just
    // written), so a dry run prints it with the write instead of testing the old file.
    test: { argv: [c.proxy.nginx, '-t'], mutates: true, timeoutMs: DEADLINE.proxy },
    reload: { argv: [c.proxy.nginx, '-s', 'reload'], mutates: true, timeoutMs: DEADLINE.proxy },
  }
}

/** `nginx -t` of the proxy as it is, for doctor. */
const nginxCheck = (c: Config, container: string | undefined): Cmd | null =>
  c.proxy.inContainer ? (container ? dockerExec(c, container, ['nginx', '-t'], false) : null) : { argv: [c.proxy.nginx, '-t'], mutates: false, timeoutMs: DEADLINE.proxy }

export const nginx: ProxyDriver = {
  kind: 'nginx',
  checkName: 'nginx -t',
  fileName: 'upstream',
  logs: true,
  render: (c, color, backup, route, template) => renderUpstream(c, color, backup, template, route),
  commands: (c, _color, container) => nginxCommands(c, container),
  check: nginxCheck,
  livePort: nginxLivePort,
  parse: parseNginxLine,
}
