// Caddy (Debian bookworm's 2.6.2 and later): calmswap writes a Caddyfile snippet that the
// user's Caddyfile imports inside its site block (example/caddy/Caddyfile): one
// reverse_proxy to the live color, the other color after it as a fallback, or both in a
// canary's proportion. `caddy validate` checks the whole Caddyfile with it; `caddy reload`
// loads it through the admin API, which Caddy applies gracefully (listeners kept, old
// connections drained) and refuses whole if it does not load: the old config keeps running.

import { dockerExec } from '../builders/exec.ts'
import type { Cmd } from '../command.ts'
import { type Color, type Config, LOOPBACK } from '../config.ts'
import { DEADLINE } from '../deadlines.ts'
import { jsonLine, type LoggedRequest, type ProxyCommands, type ProxyDriver, portOf, type Route, shareCounts } from './driver.ts'

/** sysexits' EX_DATAERR, as for nginx: the exit code of an exec whose validation failed, so nothing reloaded. */
export const CADDY_REJECTED = 65

/** The response header that names the upstream that answered; the access log records it (resp_headers). */
export const UPSTREAM_HEADER = 'X-Calmswap-Upstream'

/**
 * The snippet. Without a canary: `lb_policy first` sends every request to the live color
 * while it answers; a failed dial or a dropped connection marks it down for fail_duration
 * and the request is tried again on the next upstream (the old color) within
 * lb_try_duration, so a new web that dies right after the switch costs no failed request.
 * buffer_requests (Caddy 2.6's name; request_buffers from 2.7): a retried POST needs its body
 * again; without it, the retry on the old color fails on the consumed body, and that one
 * failure marks the old color down too: every request then gets a 503 for fail_duration
 * (test/e2e/caddy-host.test.ts found it with the real binary). A POST cut as the new web
 * dies can still fail on the old color, so it takes max_fails 3 to mark a color down: the dead
 * web's refused dials reach that at once, the old color's one or two cut POSTs never do.
 * Caddy 2.6 has no weighted policy (weighted_round_robin came in 2.7): a canary lists each
 * color as often as its share needs (10% is green once and blue nine times) under
 * round_robin, or ip_hash / cookie for sticky clients, which honour the repeats too.
 */
export function renderCaddy(c: Config, color: Color, backup: Color | null, route: Route = {}): string {
  const canary = route.share !== undefined && backup ? { share: route.share, other: backup } : null
  const at = (col: Color) => `${LOOPBACK}:${c.ports[col]}`
  let upstreams: string[]
  let policy: string
  if (canary) {
    const [n, o] = shareCounts(canary.share)
    upstreams = [...Array(n).fill(at(color)), ...Array(o).fill(at(canary.other))]
    const sticky = c.canary.sticky
    // Caddy 2.6 hashes no cookie of the app's: its cookie policy sets a cookie of its own, named after the app's.
    policy = sticky.by === 'ip' ? 'ip_hash' : sticky.by === 'cookie' ? `cookie calmswap_${sticky.name}` : 'round_robin'
  } else {
    upstreams = [at(color), ...(backup ? [at(backup)] : [])]
    policy = 'first'
  }
  return [
    `# Written by calmswap ${new Date().toISOString()}. Live color: ${color}${canary ? ` for ${canary.share}% of requests (canary), ${canary.other} for the rest` : ''}. The next switch replaces this file.`,
    // In a canary both colors answer: the header names the one that did (map is read lazily, once the upstream is picked).
    ...(canary ? ['map {http.reverse_proxy.upstream.port} {calmswap_color} {', `\t${c.ports[color]} ${color}`, `\tdefault ${canary.other}`, '}'] : []),
    `reverse_proxy ${upstreams.join(' ')} {`,
    `\tlb_policy ${policy}`,
    '\tlb_try_duration 3s',
    '\tlb_try_interval 100ms',
    '\tfail_duration 5s',
    '\tmax_fails 3',
    '\tbuffer_requests',
    `\theader_down ${UPSTREAM_HEADER} {http.reverse_proxy.upstream.hostport}`,
    `\theader_down X-Calmswap-Color ${canary ? '{calmswap_color}' : color}`,
    '}',
    // The site's `log` writes the JSON access log only while calmswap watches a release.
    ...(route.log ? [] : ['skip_log']),
    '',
  ].join('\n')
}

/** The live port the snippet names: its first upstream, unless it is a canary's. */
export function caddyLivePort(text: string): number | null {
  if (/\(canary\)/.test(text)) return null
  const port = /^reverse_proxy 127\.0\.0\.1:(\d+)/m.exec(text)?.[1]
  return port ? Number(port) : null
}

/**
 * A line of Caddy's JSON access log (`log { format json }`); null for anything else. Caddy
 * logs the upstream that answered only through the response header the snippet sets; it
 * does not log the upstreams it gave up on (a failed dial moves on silently), so a record
 * has one try at most.
 */
export function parseCaddyLine(line: string): LoggedRequest | null {
  const x = jsonLine(line)
  const req = x?.request
  if (!x || !Number.isInteger(x.status) || !req || typeof req !== 'object') return null
  const status = x.status as number
  const headers = (x.resp_headers ?? {}) as Record<string, unknown>
  const raw = headers[UPSTREAM_HEADER] ?? Object.entries(headers).find(([k]) => k.toLowerCase() === UPSTREAM_HEADER.toLowerCase())?.[1]
  const addr = Array.isArray(raw) ? String(raw.at(-1) ?? '') : String(raw ?? '')
  // A 502 of Caddy's own (no upstream answered) carries no header: no try to count.
  const tries = addr ? [{ port: portOf(addr), status }] : []
  return { tries, status, uri: String((req as Record<string, unknown>).uri ?? '') }
}

const caddyArgs = (verb: 'validate' | 'reload', config: string) => [verb, '--config', config, '--adapter', 'caddyfile']

export function caddyCommands(c: Config, container: string | undefined): ProxyCommands | null {
  const file = c.proxy.caddyConfig
  if (c.proxy.inContainer) {
    if (!container) return null
    // One exec for both, as for nginx; the Caddyfile's path is an argument, never spliced into the script.
    const script = `caddy ${caddyArgs('validate', '"$1"').join(' ')} >&2 || exit ${CADDY_REJECTED}; exec caddy ${caddyArgs('reload', '"$1"').join(' ')}`
    return { test: null, reload: dockerExec(c, container, ['sh', '-c', script, 'sh', file], true), rejected: CADDY_REJECTED }
  }
  return {
    test: { argv: [c.proxy.caddy, ...caddyArgs('validate', file)], mutates: true, timeoutMs: DEADLINE.proxy },
    reload: { argv: [c.proxy.caddy, ...caddyArgs('reload', file)], mutates: true, timeoutMs: DEADLINE.proxy },
  }
}

const caddyCheck = (c: Config, container: string | undefined): Cmd | null =>
  c.proxy.inContainer
    ? container
      ? dockerExec(c, container, ['caddy', ...caddyArgs('validate', c.proxy.caddyConfig)], false)
      : null
    : { argv: [c.proxy.caddy, ...caddyArgs('validate', c.proxy.caddyConfig)], mutates: false, timeoutMs: DEADLINE.proxy }

export const caddy: ProxyDriver = {
  kind: 'caddy',
  checkName: 'caddy validate',
  fileName: 'Caddyfile snippet',
  logs: true,
  render: (c, color, backup, route) => renderCaddy(c, color, backup, route),
  commands: (c, _color, container) => caddyCommands(c, container),
  check: caddyCheck,
  livePort: caddyLivePort,
  parse: parseCaddyLine,
}
