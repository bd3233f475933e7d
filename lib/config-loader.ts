// Loads one frozen, validated config from (lowest first) the settings' defaults, the optional
// JSON file and env vars, checked against the rows of lib/config.ts. Every problem is
// collected and reported together (exit 2) before anything is touched.
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { type Config, deepFreeze, fmtDuration, type Kind, nested, proxyKind, RELEASE_LABEL, SETTINGS, type Setting, type Values } from './config.ts'
import { ConfigError } from './errors.ts'
import { isHealthRequest } from './http-path.ts'

/** CALMSWAP_ variables that are not settings, so that they are not reported as typos. */
const OTHER_VARS = new Set([
  'CALMSWAP_CONFIG', // the config file
  'CALMSWAP_UPSTREAM_DIR', // handed to compose
  'CALMSWAP_PROXY_LOG_DIR', // handed to compose
  'CALMSWAP_COLOR', // handed to a switch command
  'CALMSWAP_PORT', // handed to a switch command
  'CALMSWAP_BASE_IMAGE', // provision/
  'CALMSWAP_BASE_PACKAGES', // provision/
  'CALMSWAP_BASE_HOOK', // provision/
  'CALMSWAP_BASE_LOG', // provision/
  'CALMSWAP_DJANGO_IMAGE', // provision/
  'CALMSWAP_OFFLINE', // provision/
  'CALMSWAP_PROXY_LOG_DIR', // a compose file's own variable (example/django)
])

// Compose's own rule for project and service names; also keeps every argv element free of
// shell metacharacters, so a name can never be read as anything but a name.
const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/
const ENVVAR = /^[A-Za-z_][A-Za-z0-9_]*$/
const HOST = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/

/**
 * The canary's steps: "10%" or "5%,25%,100%", each share of requests the new web gets for
 * one hold. 100% is the full switch, which always follows: it is dropped from the list.
 * Returns the shares below 100, or what is wrong with the text.
 */
export function parseCanary(text: string): number[] | string {
  if (!text.trim()) return []
  const parts = text.split(',').map((p) => p.trim())
  const shares: number[] = []
  for (const p of parts) {
    const m = /^(\d{1,3})%?$/.exec(p)
    const n = m ? Number(m[1]) : Number.NaN
    if (!m || n < 1 || n > 100) return `"${p}" is not a share of 1% to 100%`
    if (shares.length && n <= shares.at(-1)!) return 'each step must send more than the one before'
    shares.push(n)
  }
  if (shares.slice(0, -1).includes(100)) return '100% can only be the last step'
  return shares.filter((n) => n < 100)
}

/** Parses "30s", "1500ms", "2m" or a bare number of seconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim())
  if (!m) return undefined
  const n = Number(m[1])
  const unit = m[2] ?? 's'
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!)
}

/**
 * The watch's probe paths without the health path; `named`, the health path when a list
 * other than the default names it (a problem: the default is just left out).
 */
export function probePaths(paths: readonly string[], healthPath: string): { kept: string[]; named?: string } {
  const kept = paths.filter((p) => !isHealthRequest(p, healthPath))
  const named = paths.join(',') !== '/' ? paths.find((p) => isHealthRequest(p, healthPath)) : undefined
  return named ? { kept, named } : { kept }
}

const splitList = (v: string) => v.split(/[\s,]+/).filter(Boolean)
const LIST_KINDS: readonly Kind[] = ['names', 'argv', 'canary', 'httpPaths']
const NUMBER_KINDS: readonly Kind[] = ['port', 'int', 'percent', 'duration']

/**
 * A value as the file gives it, typed: a string for most settings, a number where a number
 * is meant, an array of strings for lists (an argv array is taken as written, spaces and all).
 * Returns the text form, or a problem.
 */
function fromJson(s: Setting, v: unknown): { text: string } | { list: string[] } | { problem: string } {
  const type = v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v
  if (typeof v === 'string') return { text: v }
  if (typeof v === 'number' && NUMBER_KINDS.includes(s.kind) && Number.isFinite(v)) return { text: String(v) }
  if (Array.isArray(v) && LIST_KINDS.includes(s.kind)) {
    if (v.every((x) => typeof x === 'string')) return { list: v }
    return { problem: 'must be an array of strings' }
  }
  const want = LIST_KINDS.includes(s.kind) ? 'an array of strings or a string' : NUMBER_KINDS.includes(s.kind) ? 'a number or a string' : 'a string'
  return { problem: `must be ${want}, not ${type}` }
}

type PlainKind = Exclude<Kind, `enum:${string}`>
/** One kind's text to its value; `bad` notes why it cannot be one and stands for the value. */
type Parser = (raw: string, bad: (why: string) => undefined, s: Setting) => unknown

const PARSERS: Record<PlainKind, Parser> = {
  // A name with an empty default may be left empty: the default is then derived.
  name: (raw, bad, s) => (NAME.test(raw) || (raw === '' && s.def === '') ? raw : bad('must be lowercase letters, digits, "-" or "_", starting with a letter or digit')),
  names: (raw, bad) => {
    const names = splitList(raw)
    const wrong = names.filter((n) => !NAME.test(n))
    if (wrong.length) return bad(`not a valid service name: ${wrong.join(', ')}`)
    if (new Set(names).size !== names.length) return bad('lists a service twice')
    return names
  },
  port: (raw, bad) => {
    const n = Number(raw)
    return /^\d+$/.test(raw) && n >= 1 && n <= 65535 ? n : bad('must be a port number 1-65535')
  },
  int: (raw, bad, s) => {
    const n = Number(raw)
    if (!/^\d+$/.test(raw)) return bad('must be a whole number')
    if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) return bad(`must be from ${s.min} to ${s.max}`)
    return n
  },
  percent: (raw, bad) => {
    const n = Number(raw)
    return raw !== '' && Number.isFinite(n) && n >= 0 && n <= 100 ? n : bad('must be a percentage 0-100')
  },
  duration: (raw, bad, s) => {
    const ms = parseDuration(raw)
    if (ms === undefined) return bad('must be a duration like 500ms, 30s or 2m')
    if (s.min !== undefined && ms < s.min) return bad(`must be at least ${fmtDuration(s.min)}`)
    if (s.max !== undefined && ms > s.max) return bad(`must be at most ${fmtDuration(s.max)}`)
    return ms
  },
  envvar: (raw, bad) => (ENVVAR.test(raw) ? raw : bad('must be a valid environment variable name')),
  httpPath: (raw, bad) => (raw.startsWith('/') && !/\s/.test(raw) ? raw : bad('must start with "/" and contain no spaces')),
  httpPaths: (raw, bad) => {
    const paths = splitList(raw)
    const wrong = paths.filter((x) => !x.startsWith('/') || /[\s#]/.test(x))
    return wrong.length ? bad(`must start with "/" and contain no spaces or "#": ${wrong.join(', ')}`) : paths
  },
  host: (raw, bad) => (raw === '' || HOST.test(raw) ? raw : bad('must be a host name like example.com')),
  regex: (raw, bad) => {
    try {
      new RegExp(raw)
      return raw
    } catch {
      return bad('is not a valid regular expression')
    }
  },
  url: (raw, bad) => {
    if (raw === '') return raw
    try {
      const u = new URL(raw)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return bad('must be an http:// or https:// URL')
      return raw.replace(/\/+$/, '')
    } catch {
      return bad('is not a valid URL')
    }
  },
  path: (raw, bad) => (raw.includes('\0') ? bad('contains a NUL byte') : raw),
  argv: (raw) => splitList(raw),
  text: (raw, bad) => (RELEASE_LABEL.test(raw) ? raw : bad('may contain only letters, digits and . _ : + -')),
  canary: (raw, bad) => {
    const steps = parseCanary(raw)
    return typeof steps === 'string' ? bad(steps) : steps
  },
  sticky: (raw, bad) => {
    if (raw === 'off' || raw === 'ip') return { by: raw }
    const m = /^cookie:([A-Za-z0-9_]{1,64})$/.exec(raw)
    return m ? { by: 'cookie', name: m[1] } : bad('must be off, ip or cookie:NAME (letters, digits, _)')
  },
}

function parseValue(s: Setting, raw: string | string[], problems: string[], source: string): unknown {
  const bad = (why: string) => {
    problems.push(`${source}=${JSON.stringify(raw)}: ${why}`)
    return undefined
  }
  if (Array.isArray(raw)) {
    if (s.kind === 'argv') return raw.some((a) => a.includes('\0')) ? bad('contains a NUL byte') : raw
    return parseValue(s, raw.join(','), problems, source)
  }
  if (s.kind.startsWith('enum:')) {
    const options = s.kind.slice(5).split('|')
    return options.includes(raw) ? raw : bad(`must be one of ${options.join(', ')}`)
  }
  return PARSERS[s.kind as PlainKind](raw, bad, s)
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!
    d[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = cur
    }
  }
  return d[b.length]!
}

/** The closest known name, when it is close enough to be a typo of it. */
function closest(name: string, known: readonly string[]): string | undefined {
  const best = known.map((k) => [k, distance(name.toUpperCase(), k.toUpperCase())] as const).sort((x, y) => x[1] - y[1])[0]
  return best && best[1] <= Math.max(2, Math.floor(name.length / 4)) ? best[0] : undefined
}

const unknown = (name: string, known: readonly string[], where: string) => {
  const guess = closest(name, known)
  return `${where}unknown setting ${JSON.stringify(name)}${guess ? `; did you mean ${guess}?` : ''} (\`--help\` lists every setting)`
}

export interface ConfigSources {
  env?: Record<string, string | undefined>
  cwd?: string
  /** Path of a JSON file whose keys are SETTINGS keys or env names. */
  file?: string
}

type FileValue = { text: string } | { list: string[] }

function readFileSettings(path: string, problems: string[]): Map<string, FileValue> {
  const out = new Map<string, FileValue>()
  let data: unknown
  try {
    data = JSON.parse(readFileSync(path, 'utf8'))
  } catch (e) {
    problems.push(`config file ${path}: ${(e as Error).message}`)
    return out
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    problems.push(`config file ${path}: must hold a JSON object`)
    return out
  }
  for (const [k, v] of Object.entries(data)) {
    const s = SETTINGS.find((x) => x.key === k || x.env === k)
    if (!s) {
      problems.push(
        unknown(
          k,
          SETTINGS.map((x) => x.key),
          `config file ${path}: `,
        ),
      )
      continue
    }
    const typed = fromJson(s, v)
    if ('problem' in typed) problems.push(`config file ${path}: "${k}" ${typed.problem}`)
    else out.set(s.key, typed)
  }
  return out
}

/**
 * Builds the config from (lowest first) defaults, the optional JSON file
 * (CALMSWAP_CONFIG, or ./calmswap.json when present) and env vars.
 * Throws one ConfigError holding every problem found.
 */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env
  const cwd = sources.cwd ?? process.cwd()
  const problems = unknownVars(env)
  const filePath = sources.file ?? env.CALMSWAP_CONFIG ?? (existsSync(join(cwd, 'calmswap.json')) ? 'calmswap.json' : '')
  const fromFile = filePath ? readFileSettings(resolve(cwd, filePath), problems) : new Map<string, FileValue>()
  const v = parseSettings(env, fromFile, problems)
  problems.push(...roleProblems(v), ...featureProblems(v), ...comboProblems(v))
  const composeFile = v.composeFile ? resolve(cwd, v.composeFile) : ''
  if (composeFile && !existsSync(composeFile)) problems.push(`CALMSWAP_COMPOSE_FILE: ${composeFile} does not exist`)
  const template = v.upstreamTemplate ? resolve(cwd, v.upstreamTemplate) : ''
  if (template && !existsSync(template)) problems.push(`CALMSWAP_UPSTREAM_TEMPLATE: ${template} does not exist`)

  if (problems.length) throw new ConfigError(problems)
  // No problem noted: every value parsed.
  // The default `/` is simply not probed when it is the health path; a path the user named is refused above.
  const probes = v.watchProbe && v.healthPath ? probePaths(v.watchProbe, v.healthPath).kept : []
  return deepFreeze(nested(v as Values, { cwd, composeFile, template, probes }))
}

/** CALMSWAP_ variables that name no setting: most likely a typo of one. */
function unknownVars(env: Record<string, string | undefined>): string[] {
  const known: readonly string[] = SETTINGS.map((s) => s.env)
  const problems: string[] = []
  for (const name of Object.keys(env)) {
    if (name.startsWith('CALMSWAP_') && !known.includes(name) && !OTHER_VARS.has(name) && env[name] !== undefined) problems.push(unknown(name, known, ''))
  }
  return problems
}

/** Each setting from the env var, else the file, else its default. */
function parseSettings(env: Record<string, string | undefined>, fromFile: Map<string, FileValue>, problems: string[]): Partial<Values> {
  const parsed: Record<string, unknown> = {}
  for (const s of SETTINGS as readonly Setting[]) {
    const fromEnv = env[s.env]
    const file = fromFile.get(s.key)
    if (fromEnv !== undefined) parsed[s.key] = parseValue(s, fromEnv.trim(), problems, s.env)
    else if (file && 'list' in file) parsed[s.key] = parseValue(s, file.list, problems, `${s.key} (config file)`)
    else if (file) parsed[s.key] = parseValue(s, file.text.trim(), problems, `${s.key} (config file)`)
    else parsed[s.key] = parseValue(s, s.def, problems, s.env)
  }
  // parseValue gives each kind the type ValueOf names, or undefined with a problem noted.
  return parsed as Partial<Values>
}

/** Each color its own port and project, each service one role, the proxy among the shared. */
function roleProblems(v: Partial<Values>): string[] {
  const problems: string[] = []
  if (v.bluePort !== undefined && v.bluePort === v.greenPort) problems.push(`CALMSWAP_BLUE_PORT and CALMSWAP_GREEN_PORT are both ${v.bluePort}: each color needs its own port`)
  if (v.web?.length === 0) problems.push('CALMSWAP_WEB: name at least one web service')
  if (v.sharedProject && v.prefix && [`${v.prefix}-blue`, `${v.prefix}-green`].includes(v.sharedProject))
    problems.push(`CALMSWAP_SHARED_PROJECT=${v.sharedProject} is one of the colors' projects`)

  const roleKeys = ['web', 'core', 'jobs', 'workers', 'singletons', 'shared'] as const
  const seen = new Map<string, string>()
  for (const role of roleKeys) {
    for (const name of v[role] ?? []) {
      const prev = seen.get(name)
      if (prev) problems.push(`service "${name}" has two roles (${prev} and ${role}); give it one`)
      else seen.set(name, role)
    }
  }
  if ((v.proxy === 'container' || v.proxy === 'caddy') && v.shared && v.proxyService && !v.shared.includes(v.proxyService)) {
    problems.push(`CALMSWAP_PROXY=${v.proxy} needs the proxy service "${v.proxyService}" among CALMSWAP_SHARED (${v.shared.join(',') || 'empty'})`)
  }
  return problems
}

/** What one setting needs of another: the switch command, the probe's pages, the node PSI pattern. */
function featureProblems(v: Partial<Values>): string[] {
  const problems: string[] = []
  if (v.proxy === 'command' && v.switchCommand?.length === 0) problems.push('CALMSWAP_PROXY=command needs CALMSWAP_SWITCH_COMMAND')
  if (v.watchProbe && v.healthPath) {
    const { named } = probePaths(v.watchProbe, v.healthPath)
    if (named) problems.push(`CALMSWAP_WATCH_PROBE names the health path ${v.healthPath} (${named}): it passes by construction and is not judged; name pages of the app`)
  }
  if (v.nodePsi && !v.nodePsi.includes('{node}')) problems.push(`CALMSWAP_NODE_PSI=${JSON.stringify(v.nodePsi)}: must contain {node}, which stands for each node's hostname`)
  return problems
}

/** Settings that cannot go together. */
function comboProblems(v: Partial<Values>): string[] {
  const problems: string[] = []
  // Weights need calmswap's own proxy file and a proxy that reads it.
  if (v.canary?.length && (v.proxy === 'command' || v.proxy === 'none'))
    problems.push(`CALMSWAP_CANARY needs a proxy calmswap drives (CALMSWAP_PROXY=container, host, caddy, caddy-host or traefik), not proxy=${v.proxy}`)
  if (v.upstreamTemplate && v.proxy && proxyKind(v.proxy) !== 'nginx' && v.proxy !== 'command')
    problems.push(`CALMSWAP_UPSTREAM_TEMPLATE is an nginx upstream template: proxy=${v.proxy} writes its own file`)
  if (v.nginxSwitch === 'flag' && v.proxy && proxyKind(v.proxy) !== 'nginx')
    problems.push(`CALMSWAP_NGINX_SWITCH=flag switches nginx (CALMSWAP_PROXY=container or host), not proxy=${v.proxy}`)
  if (v.nginxSwitch === 'flag' && v.upstreamTemplate)
    problems.push('CALMSWAP_NGINX_SWITCH=flag writes its own upstream groups (one per color): it cannot be used with CALMSWAP_UPSTREAM_TEMPLATE')
  if (v.canary?.length && v.upstreamTemplate) problems.push('CALMSWAP_CANARY writes its own weighted upstream: it cannot be used with CALMSWAP_UPSTREAM_TEMPLATE')
  if (v.canary?.length && v.engine === 'swarm') problems.push('CALMSWAP_CANARY weights the two colors of the compose engine; Swarm mode updates in place and has none')
  if (v.jobs?.length && v.engine === 'swarm') {
    problems.push(
      `CALMSWAP_JOBS (${v.jobs.join(', ')}): release jobs are a step of compose mode; in swarm mode run them before calmswap (a replicated-job service, or docker run on a node)`,
    )
  }
  if (v.healthTimeout !== undefined && v.healthDeadline !== undefined && v.healthTimeout > v.healthDeadline) {
    problems.push(`CALMSWAP_HEALTH_TIMEOUT (${v.healthTimeout}ms) is longer than CALMSWAP_HEALTH_DEADLINE (${v.healthDeadline}ms)`)
  }
  return problems
}
