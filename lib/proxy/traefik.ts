// Traefik, by its file provider: calmswap writes the dynamic configuration file (YAML)
// atomically, by rename, and Traefik reloads it by itself when it sees the change
// (providers.file.watch). No command runs, so calmswap checks the file against the schema
// Traefik documents for the fields it writes before it writes it. The user's router points at
// the service named CALMSWAP_UPSTREAM_NAME (`<name>@file`); calmswap defines it as:
//   - a `failover` service: the live color, its health-checked servers, and the old color as
//     `fallback` while it runs (Traefik 2.8 and later);
//   - a `weighted` service during a canary: the share to the new color, the rest to the old;
//   - a plain `loadBalancer` with the live color's server when there is no other color.
// Not run against a real Traefik here (none can be installed): docs/proxy.md says what was tested.
import { type Color, type Config, LOOPBACK } from '../config.ts'
import { jsonLine, type LoggedRequest, type ProxyDriver, portOf, type Route } from './driver.ts'
import { fromYaml, toYaml, type Yaml } from './yaml.ts'

export const colorService = (c: Config, col: Color): string => `${c.proxy.upstreamName}-${col}`

/** The dynamic configuration, as data. */
export function traefikConfig(c: Config, color: Color, backup: Color | null, route: Route = {}): { http: { services: Record<string, Yaml> } } {
  const name = c.proxy.upstreamName
  const canary = route.share !== undefined && backup ? { share: route.share, other: backup } : null
  const lb = (col: Color, checked: boolean): Yaml => ({
    loadBalancer: {
      servers: [{ url: `http://${LOOPBACK}:${c.ports[col]}` }],
      passHostHeader: true,
      // A failover service moves to its fallback only on its main service's health checks.
      ...(checked ? { healthCheck: { path: c.health.path, interval: '1s', timeout: `${Math.max(1, Math.ceil(c.health.timeoutMs / 1000))}s` } } : {}),
    },
  })
  const services: Record<string, Yaml> = {}
  if (canary) {
    const sticky = c.canary.sticky
    services[name] = {
      weighted: {
        services: [
          { name: colorService(c, color), weight: canary.share },
          { name: colorService(c, canary.other), weight: 100 - canary.share },
        ],
        // Traefik's weighted service sticks by a cookie of its own; it has no client-address hash.
        ...(sticky.by === 'cookie' ? { sticky: { cookie: { name: `calmswap_${sticky.name}` } } } : {}),
      },
    }
    services[colorService(c, color)] = lb(color, false)
    services[colorService(c, canary.other)] = lb(canary.other, false)
  } else if (backup) {
    services[name] = { failover: { service: colorService(c, color), fallback: colorService(c, backup) } }
    services[colorService(c, color)] = lb(color, true)
    services[colorService(c, backup)] = lb(backup, false)
  } else {
    services[name] = lb(color, false)
  }
  return { http: { services } }
}

export function renderTraefik(c: Config, color: Color, backup: Color | null, route: Route = {}): string {
  const canary = route.share !== undefined && backup
  return `# Written by calmswap ${new Date().toISOString()}. Live color: ${color}${canary ? ` for ${route.share}% of requests (canary), ${backup} for the rest` : ''}. The next switch replaces this file.\n${toYaml(traefikConfig(c, color, backup, route))}`
}

// ---------------------------------------------------------------- Traefik's documented schema, for the fields calmswap writes

const KINDS = ['loadBalancer', 'weighted', 'failover', 'mirroring'] as const
const LB_FIELDS = new Set(['servers', 'sticky', 'healthCheck', 'passHostHeader', 'responseForwarding', 'serversTransport'])
const HC_FIELDS = new Set(['scheme', 'mode', 'path', 'method', 'status', 'port', 'interval', 'timeout', 'hostname', 'followRedirects', 'headers'])
const DURATION = /^\d+(ms|s|m|h)$/
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * The problems of a dynamic configuration against Traefik's reference for HTTP services
 * (doc.traefik.io, routing/services): each service has exactly one kind; a loadBalancer's
 * servers have a url; a healthCheck has known fields and Go durations; a weighted service
 * names services with an integer weight; a failover names its service and fallback; every
 * name a service refers to is defined in the file (or carries a provider, `x@docker`).
 */
export function traefikProblems(doc: unknown): string[] {
  const services = isObj(doc) && isObj(doc.http) ? doc.http.services : undefined
  if (!isObj(services)) return ['no http.services mapping']
  return Object.entries(services).flatMap(([name, s]) => serviceProblems(`http.services.${name}`, name, s, services))
}

/** What a name one service gives for another lacks: it is empty, or names no service of the file (nor another provider's). */
const refProblems = (where: string, n: unknown, services: Record<string, unknown>): string[] => {
  if (typeof n !== 'string' || !n) return [`${where}: a service name is required`]
  if (!n.includes('@') && !Object.hasOwn(services, n)) return [`${where}: service ${JSON.stringify(n)} is not defined`]
  return []
}

function serviceProblems(at: string, name: string, s: unknown, services: Record<string, unknown>): string[] {
  const out: string[] = []
  if (!/^[A-Za-z0-9_-]+$/.test(name)) out.push(`${at}: a service name has letters, digits, - and _ only`)
  if (!isObj(s)) return [...out, `${at}: not a mapping`]
  const kinds = Object.keys(s).filter((k) => (KINDS as readonly string[]).includes(k))
  const other = Object.keys(s).filter((k) => !(KINDS as readonly string[]).includes(k))
  if (kinds.length !== 1) out.push(`${at}: exactly one of ${KINDS.join(', ')} (has ${kinds.join(', ') || 'none'})`)
  if (other.length) out.push(`${at}: unknown field ${other.join(', ')}`)
  if (isObj(s.loadBalancer)) out.push(...loadBalancerProblems(`${at}.loadBalancer`, s.loadBalancer))
  if (isObj(s.weighted)) out.push(...weightedProblems(`${at}.weighted`, s.weighted, services))
  if (isObj(s.failover)) out.push(...failoverProblems(`${at}.failover`, s.failover, services))
  return out
}

function loadBalancerProblems(at: string, lb: Record<string, unknown>): string[] {
  const out: string[] = []
  for (const k of Object.keys(lb)) if (!LB_FIELDS.has(k)) out.push(`${at}: unknown field ${k}`)
  if (!Array.isArray(lb.servers) || !lb.servers.length) out.push(`${at}.servers: at least one server`)
  else
    lb.servers.forEach((sv, i) => {
      if (!isObj(sv) || typeof sv.url !== 'string' || !/^https?:\/\/[^/\s]+\/?$/.test(sv.url)) out.push(`${at}.servers[${i}].url: an http:// or https:// URL`)
    })
  if (lb.passHostHeader !== undefined && typeof lb.passHostHeader !== 'boolean') out.push(`${at}.passHostHeader: a boolean`)
  if (lb.healthCheck !== undefined) out.push(...healthCheckProblems(`${at}.healthCheck`, lb.healthCheck))
  return out
}

function healthCheckProblems(at: string, hc: unknown): string[] {
  if (!isObj(hc)) return [`${at}: not a mapping`]
  const out: string[] = []
  for (const k of Object.keys(hc)) if (!HC_FIELDS.has(k)) out.push(`${at}: unknown field ${k}`)
  if (typeof hc.path !== 'string' || !hc.path.startsWith('/')) out.push(`${at}.path: a path`)
  for (const k of ['interval', 'timeout'] as const) if (hc[k] !== undefined && !DURATION.test(String(hc[k]))) out.push(`${at}.${k}: a duration like 1s`)
  return out
}

function weightedProblems(at: string, weighted: Record<string, unknown>, services: Record<string, unknown>): string[] {
  const out: string[] = []
  const list = weighted.services
  if (!Array.isArray(list) || !list.length) out.push(`${at}.services: at least one service`)
  else
    list.forEach((w, i) => {
      if (!isObj(w)) {
        out.push(`${at}.services[${i}]: not a mapping`)
        return
      }
      out.push(...refProblems(`${at}.services[${i}].name`, w.name, services))
      if (!Number.isInteger(w.weight) || (w.weight as number) < 0) out.push(`${at}.services[${i}].weight: a whole number ≥ 0`)
    })
  const sticky = weighted.sticky
  if (sticky !== undefined && !(isObj(sticky) && isObj(sticky.cookie) && typeof sticky.cookie.name === 'string')) out.push(`${at}.sticky: cookie.name`)
  return out
}

function failoverProblems(at: string, failover: Record<string, unknown>, services: Record<string, unknown>): string[] {
  const out = [...refProblems(`${at}.service`, failover.service, services), ...refProblems(`${at}.fallback`, failover.fallback, services)]
  const main = typeof failover.service === 'string' ? services[failover.service] : undefined
  // Traefik fails over on the main service's health only: without a check it never does.
  if (isObj(main) && isObj(main.loadBalancer) && !main.loadBalancer.healthCheck) out.push(`${at}.service: ${failover.service} has no healthCheck, so Traefik would never fail over`)
  return out
}

/** The file as Traefik would read it, checked: what calmswap writes must pass before it is written. */
export function validateTraefik(text: string): string[] {
  try {
    return traefikProblems(fromYaml(text))
  } catch (e) {
    return [(e as Error).message]
  }
}

// ---------------------------------------------------------------- Traefik's JSON access log

/**
 * A line of Traefik's JSON access log (accessLog.format=json); null for anything else.
 * ServiceURL names the server that answered (the color, by its port); where it is missing,
 * ServiceName does (`<name>-<color>@file`). OriginStatus is the server's answer,
 * DownstreamStatus the client's. Traefik logs one line per request, not per try.
 */
export function parseTraefikLine(line: string, ports?: Readonly<Record<Color, number>>): LoggedRequest | null {
  const x = jsonLine(line)
  if (!x || !Number.isInteger(x.DownstreamStatus)) return null
  const status = x.DownstreamStatus as number
  const origin = Number.isInteger(x.OriginStatus) && (x.OriginStatus as number) > 0 ? (x.OriginStatus as number) : status
  const byUrl = typeof x.ServiceURL === 'string' && x.ServiceURL ? portOf(x.ServiceURL) : null
  const col = /-(blue|green)(@|$)/.exec(String(x.ServiceName ?? ''))?.[1] as Color | undefined
  const port = byUrl ?? (col && ports ? ports[col] : null)
  return { tries: port !== null ? [{ port, status: origin }] : [], status, uri: String(x.RequestPath ?? '') }
}

/** The live port a written file names: the failover's main service, or the lone server. */
export function traefikLivePort(text: string): number | null {
  if (/\(canary\)/.test(text)) return null
  const port = /url: "http:\/\/127\.0\.0\.1:(\d+)\/?"/.exec(text)?.[1]
  return port ? Number(port) : null
}

export const traefik: ProxyDriver = {
  kind: 'traefik',
  checkName: 'the Traefik schema check',
  fileName: 'dynamic configuration',
  logs: true,
  render: (c, color, backup, route) => renderTraefik(c, color, backup, route),
  validate: validateTraefik,
  commands: () => null,
  check: () => null,
  livePort: traefikLivePort,
  parse: (line, ports) => parseTraefikLine(line, ports),
}
