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

/** The roles README's compose contract describes, guessed from each service's command, image and ports. */
export function guessSettings(model: ComposeModel, composeFile: string, dir: string): InitGuess {
  const services = model.services as Record<string, RawService>
  const roles: Record<'web' | 'core' | 'jobs' | 'workers' | 'singletons' | 'shared', string[]> = { web: [], core: [], jobs: [], workers: [], singletons: [], shared: [] }
  const reasons: string[] = []
  const notes: string[] = []
  const say = (name: string, role: string, why: string) => reasons.push(`${name} → ${role}: ${why}`)
  let proxy: string | undefined
  const webCandidates: string[] = []

  for (const [name, s] of Object.entries(services)) {
    const cmd = `${text(s.entrypoint)} ${text(s.command)}`.trim()
    const image = s.image ?? ''
    if (image && !s.build && STATEFUL_IMAGE.test(image)) {
      roles.shared.push(name)
      say(name, 'shared', `runs ${image}, which keeps data: one copy for both colors`)
    } else if (PROXY_IMAGE.test(image) || /(^|[\s/])(nginx|caddy|traefik|haproxy)(\s|$)/.test(cmd)) {
      roles.shared.push(name)
      proxy ??= name
      say(name, 'shared', `a proxy (${PROXY_IMAGE.test(image) ? image : 'runs nginx'}): calmswap points it at the live color`)
    } else if (/\b(postgres|redis-server|mysqld|mongod|rabbitmq-server|memcached)\b/.test(cmd) || /(^|\s)(redis|postgres|db|database|cache|broker)$/.test(name)) {
      roles.shared.push(name)
      say(name, 'shared', `runs ${cmd || image || 'a data service'}: one copy for both colors`)
    } else if (/\bmigrat|\bcollectstatic\b/.test(cmd) || s.restart === 'no') {
      roles.jobs.push(name)
      say(name, 'jobs', `${/\bmigrat/.test(cmd) ? 'runs migrations' : 'a one-off command (restart: "no")'}: run once per release, before the new web starts`)
    } else if (/\bbeat\b|\bclock\b|\bscheduler\b/.test(cmd)) {
      roles.singletons.push(name)
      say(name, 'singletons', `a scheduler (${cmd}): never two at once across colors`)
    } else if (/\bworker\b|\brq\b|\bdramatiq\b|\bhuey\b|\bsidekiq\b/.test(cmd)) {
      roles.workers.push(name)
      say(name, 'workers', `a worker (${cmd}): paused first, started after the switch`)
    } else if ((s.ports?.length ?? 0) > 0 || /\b(gunicorn|uvicorn|daphne|runserver|hypercorn|waitress|puma|rails server)\b/.test(cmd)) {
      webCandidates.push(name)
    } else if (s.build || image) {
      roles.core.push(name)
      say(name, 'core', 'colored, started with the web: neither a worker, a scheduler, a job nor a data service by its command')
    }
  }
  // One web: the first that publishes a port; the others start with it as core services.
  const web = webCandidates.find((n) => (services[n]?.ports?.length ?? 0) > 0) ?? webCandidates[0]
  for (const name of webCandidates) {
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
  if (!web) notes.push('no service publishes a port or runs a web server: set "web" to the one that serves HTTP')

  const prefix =
    basename(dir)
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 40) || 'app'
  const settings: Record<string, string | string[]> = { composeFile, prefix }
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
