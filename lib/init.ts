// `calmswap init`: a first calmswap.json guessed from the user's compose file, as Compose
// itself reads it, with the reason for each guess, so that a new user starts from a file
// that names their own services instead of writing the roles by hand from README.
import { basename } from 'node:path'
import { type ComposeModel, STATEFUL_IMAGE } from './compose/contract.ts'

export interface InitGuess {
  /** calmswap.json's content: short setting names, as README's config table has them. */
  readonly settings: Record<string, string | string[]>
  /** One line per service: the role it got and why. */
  readonly reasons: readonly string[]
  /** What the file cannot settle and the user should look at. */
  readonly notes: readonly string[]
}

interface RawService {
  image?: string
  build?: unknown
  command?: string[] | string | null
  entrypoint?: string[] | string | null
  restart?: string
  network_mode?: string
  ports?: { published?: string | number; target?: number }[]
}

const PROXY_IMAGE = /(^|\/)(nginx|openresty|caddy|traefik|haproxy|envoy)([:@-]|$)/
const text = (v: string[] | string | null | undefined) => (Array.isArray(v) ? v.join(' ') : (v ?? ''))

type Role = 'web' | 'core' | 'jobs' | 'workers' | 'singletons' | 'shared'
type Say = (name: string, role: Role, why: string) => void

/** The roles README's compose contract describes, guessed from each service's command, image and ports. */
export function guessSettings(model: ComposeModel, composeFile: string, dir: string): InitGuess {
  const services = model.services as Record<string, RawService>
  const roles: Record<Role, string[]> = { web: [], core: [], jobs: [], workers: [], singletons: [], shared: [] }
  const reasons: string[] = []
  const say: Say = (name, role, why) => reasons.push(`${name} → ${role}: ${why}`)
  let proxy: string | undefined
  const servers: string[] = []
  for (const [name, s] of Object.entries(services)) {
    const guess = classify(name, s)
    if (guess === 'server') servers.push(name)
    else if (guess) {
      roles[guess.role].push(name)
      if (guess.proxy) proxy ??= name
      say(name, guess.role, guess.why)
    }
  }
  const web = pickWeb(services, servers, roles, say)
  const notes: string[] = []
  if (!web) notes.push('no service publishes a port or runs a web server: set "web" to the one that serves HTTP')

  const settings: Record<string, string | string[]> = { composeFile, prefix: projectPrefix(dir) }
  for (const [role, names] of Object.entries(roles)) settings[role] = names
  if (proxy) {
    if (proxy !== 'proxy') settings.proxyService = proxy
  } else {
    settings.proxy = 'none'
    notes.push('no proxy service found: proxy is "none" (calmswap switches nothing); README "Proxy" says how to put nginx in front')
  }
  const web0 = web ? services[web] : undefined
  if (web0?.network_mode !== 'host' && web0 && !(web0.ports ?? []).length)
    notes.push(`${web} publishes no port: publish it on loopback through a variable, ports: ["127.0.0.1:\${WEB_PORT:-18001}:<port>"]`)
  notes.push('doctor checks this file against the compose contract: npx calmswap doctor')
  return { settings, reasons, notes }
}

/**
 * One service's role and why, first match wins: data, proxy, data by its command or name, job,
 * scheduler, worker. 'server' may be the web (guessSettings picks one); null runs nothing of its own.
 */
function classify(name: string, s: RawService): { role: Role; why: string; proxy?: true } | 'server' | null {
  const cmd = `${text(s.entrypoint)} ${text(s.command)}`.trim()
  const image = s.image ?? ''
  if (image && !s.build && STATEFUL_IMAGE.test(image)) return { role: 'shared', why: `runs ${image}, which keeps data: one copy for both colors` }
  if (PROXY_IMAGE.test(image) || /(^|[\s/])(nginx|caddy|traefik|haproxy)(\s|$)/.test(cmd))
    return { role: 'shared', proxy: true, why: `a proxy (${PROXY_IMAGE.test(image) ? image : 'runs nginx'}): calmswap points it at the live color` }
  if (/\b(postgres|redis-server|mysqld|mongod|rabbitmq-server|memcached)\b/.test(cmd) || /(^|\s)(redis|postgres|db|database|cache|broker)$/.test(name))
    return { role: 'shared', why: `runs ${cmd || image || 'a data service'}: one copy for both colors` }
  if (/\bmigrat|\bcollectstatic\b/.test(cmd) || s.restart === 'no')
    return { role: 'jobs', why: `${/\bmigrat/.test(cmd) ? 'runs migrations' : 'a one-off command (restart: "no")'}: run once per release, before the new web starts` }
  if (/\bbeat\b|\bclock\b|\bscheduler\b/.test(cmd)) return { role: 'singletons', why: `a scheduler (${cmd}): never two at once across colors` }
  if (/\bworker\b|\brq\b|\bdramatiq\b|\bhuey\b|\bsidekiq\b/.test(cmd)) return { role: 'workers', why: `a worker (${cmd}): paused first, started after the switch` }
  if ((s.ports?.length ?? 0) > 0 || /\b(gunicorn|uvicorn|daphne|runserver|hypercorn|waitress|puma|rails server)\b/.test(cmd)) return 'server'
  if (s.build || image) return { role: 'core', why: 'colored, started with the web: neither a worker, a scheduler, a job nor a data service by its command' }
  return null
}

/** One web: the first that publishes a port; the other servers start with it as core services. */
function pickWeb(services: Record<string, RawService>, servers: readonly string[], roles: Record<Role, string[]>, say: Say): string | undefined {
  const web = servers.find((n) => (services[n]?.ports?.length ?? 0) > 0) ?? servers[0]
  for (const name of servers) {
    const s = services[name]!
    const port = s.ports?.[0]
    if (name === web) {
      roles.web.push(name)
      say(name, 'web', port ? `publishes port ${port.target}: health-checked, gets the traffic` : `runs ${text(s.command)}: health-checked, gets the traffic`)
    } else {
      roles.core.push(name)
      say(name, 'core', `another server (${web} is the web): started with the web`)
    }
  }
  return web
}

/** The folder's name as a Compose project name. */
const projectPrefix = (dir: string) =>
  basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 40) || 'app'
