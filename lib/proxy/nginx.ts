// nginx, the first proxy calmswap drove: an upstream file included by the user's nginx.conf
// (example/nginx/nginx.conf), checked with `nginx -t` and reloaded with `nginx -s reload`,
// and its JSON access log (the log_format there) read by the watch.

import { dockerExec } from '../builders/exec.ts'
import type { Cmd } from '../command.ts'
import type { Color, Config } from '../config.ts'
import { DEADLINE } from '../deadlines.ts'
import { LOOPBACK } from '../probe.ts'
import { jsonLine, type ProxyCommands, type ProxyDriver, type ProxyRecord, portOf, type Route } from './driver.ts'

/** sysexits' EX_DATAERR: nginx itself exits 1 for any failure, so this one says "the check". */
export const NGINX_REJECTED = 65

export function renderUpstream(c: Config, color: Color, backup: Color | null, template?: string, route: Route = {}): string {
  const backupLine = backup ? `server ${LOOPBACK}:${c.ports[backup]} backup;` : ''
  if (template) {
    return template.replaceAll('{{name}}', c.proxy.upstreamName).replaceAll('{{port}}', String(c.ports[color])).replaceAll('{{color}}', color).replaceAll('{{backup}}', backupLine)
  }
  const canary = route.share !== undefined && backup ? { share: route.share, other: backup } : null
  const sticky = canary ? c.canary.sticky : ({ by: 'off' } as const)
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
    `upstream ${c.proxy.upstreamName} {`,
    // A consistent hash keeps each client on one color and still honours the weights;
    // clients without the cookie are spread by request.
    ...(sticky.by === 'ip' ? ['  hash $remote_addr consistent;'] : sticky.by === 'cookie' ? ['  hash $calmswap_sticky consistent;'] : []),
    ...servers.map((l) => `  ${l}`),
    '  keepalive 8;',
    '}',
    // In a canary both colors answer: the header names the one that did.
    canary ? `map $upstream_addr $calmswap_color { "~:${c.ports[color]}$" "${color}"; default "${canary.other}"; }` : `map $host $calmswap_color { default "${color}"; }`,
    // "1" while calmswap watches a release: the access log (if=$calmswap_log) stays empty between deploys.
    `map $host $calmswap_log { default "${route.log ? 1 : 0}"; }`,
    ...(sticky.by === 'cookie' ? [`map $cookie_${sticky.name} $calmswap_sticky { "" $request_id; default $cookie_${sticky.name}; }`] : []),
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
export function parseRecord(line: string): ProxyRecord | null {
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
  const port = /server 127\.0\.0\.1:(\d+);/.exec(text)?.[1]
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
  parse: parseRecord,
}
