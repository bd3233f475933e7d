// One frozen, validated config. Every setting is a row of SETTINGS: one schema drives the
// env vars, the JSON file, `--help` and the README table, so they cannot drift. Every
// problem is collected and reported together (exit 2) before anything is touched.
import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { ConfigError } from './errors.ts'
import { isHealthRequest } from './http-path.ts'

export type Color = 'blue' | 'green'
export const COLORS: readonly Color[] = ['blue', 'green']
export const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue')

/** The three compose projects one compose file runs as. */
export type Project = Color | 'shared'

// The options of each enum come from its row in SETTINGS (Values, below): one place to add one.
export type PauseMode = Values['pauseMode']
export type EngineKind = Values['engine']
export type ProxyMode = Values['proxy']
export type ProxyKind = 'nginx' | 'caddy' | 'traefik' | 'command' | 'none'
export const proxyKind = (m: ProxyMode): ProxyKind => (m === 'container' || m === 'host' ? 'nginx' : m === 'caddy-host' ? 'caddy' : m)
/** Where calmswap writes the proxy's file by default, under the state folder. */
const DEFAULT_PROXY_FILE: Record<ProxyKind, readonly string[]> = {
  nginx: ['nginx', 'upstream.conf'],
  command: ['nginx', 'upstream.conf'],
  none: ['nginx', 'upstream.conf'],
  caddy: ['caddy', 'upstream.caddy'],
  traefik: ['traefik', 'calmswap.yml'],
}

export interface Config {
  readonly prefix: string
  /** Empty: <prefix>-shared. */
  readonly sharedProject: string
  readonly composeFile: string
  readonly projectDir: string
  readonly stateDir: string
  readonly docker: string
  readonly ports: Readonly<Record<Color, number>>
  readonly portVar: string
  readonly roles: Readonly<{
    web: readonly string[]
    core: readonly string[]
    jobs: readonly string[]
    workers: readonly string[]
    singletons: readonly string[]
    shared: readonly string[]
  }>
  readonly pauseMode: PauseMode
  readonly quiesce: Values['quiesce']
  readonly dockerApi: Values['dockerApi']
  readonly stopGraceS: number
  readonly jobTimeoutMs: number
  /** How long the new workers must stay up after their start; 0: not checked. */
  readonly stayUpMs: number
  /** A line a worker or singleton logs once it works (Celery's ready line): proof it is up sooner than stayUpMs. */
  readonly readyLog: string
  /** A line a worker logs as it takes a task: where the gap in task processing ends. */
  readonly taskLog: string
  readonly health: Readonly<{
    path: string
    host: string
    status: number
    body: string
    timeoutMs: number
    deadlineMs: number
    intervalMs: number
    passes: number
  }>
  readonly proxy: Readonly<{
    mode: ProxyMode
    /** Which proxy calmswap drives (lib/proxy/): the mode without where it runs. */
    kind: ProxyKind
    /** The proxy is a container of the shared project (proxy=container or caddy). */
    inContainer: boolean
    service: string
    url: string
    upstreamFile: string
    upstreamName: string
    /** nginx: `flag` switches the live color by a flag file its config reads per request (no reload); `reload` rewrites the upstream and reloads. */
    nginxSwitch: 'reload' | 'flag'
    template: string
    nginx: string
    caddy: string
    caddyConfig: string
    command: readonly string[]
    commandTimeoutMs: number
  }>
  readonly calm: Readonly<{ threshold: number; waitMs: number }>
  readonly build: Values['build']
  readonly release: string
  readonly logTail: number
  readonly keepReleases: number
  /**
   * Per color, the compose override that pins its images to the release it was deployed
   * with, and that release's label (lib/compose/images.ts). Set from the state, not from settings.
   */
  readonly pins: Readonly<Partial<Record<Color, Pin>>>
  readonly engine: EngineKind
  /** Swarm mode (lib/swarm/): the update knobs where the stack file sets none, and how far to wait. */
  readonly swarm: Readonly<{
    monitorMs: number
    parallelism: number
    delayMs: number
    /** 0..1, as update_config.max_failure_ratio. */
    failureRatio: number
    deadlineMs: number
    pollMs: number
    resolveImage: Values['swarmResolveImage']
    /** A node's PSI file as seen from here, with {node} for its hostname; empty: none. */
    nodePsi: string
  }>
  /** After the switch: how long the new color is judged, and by what (lib/compose/watch.ts). */
  readonly watch: Readonly<{
    ms: number
    max5xxPct: number
    minRequests: number
    log: string
    logOwned: boolean
    /** The watch's own requests through the proxy while real traffic is scarce: paths (never the health path) and pace. */
    probe: Readonly<{ paths: readonly string[]; everyMs: number }>
  }>
  /** Before the switch: the shares (%) the new web gets, one step each (lib/compose/canary.ts); empty: no canary. */
  readonly canary: Readonly<{ steps: readonly number[]; holdMs: number; sticky: Sticky }>
}

/** How a canary keeps a client on one color: not at all, by its address, or by a cookie's value. */
export type Sticky = { readonly by: 'off' } | { readonly by: 'ip' } | { readonly by: 'cookie'; readonly name: string }

export interface Pin {
  readonly file: string
  readonly release: string
}

/** The shared project is <prefix>-shared, or an adopted plain project's own name (CALMSWAP_SHARED_PROJECT). */
export const projectName = (c: Pick<Config, 'prefix'> & Partial<Pick<Config, 'sharedProject'>>, p: Project) =>
  p === 'shared' && c.sharedProject ? c.sharedProject : `${c.prefix}-${p}`

/** The compose override that pins a color's images (lib/compose/images.ts writes it). */
export const pinFile = (c: Pick<Config, 'stateDir'>, color: Color) => join(c.stateDir, 'pins', `${color}.yml`)
export const coloredServices = (c: Config): string[] => [...c.roles.web, ...c.roles.core, ...c.roles.jobs, ...c.roles.workers, ...c.roles.singletons]

type Kind =
  | 'name'
  | 'names'
  | 'port'
  | 'envvar'
  | 'path'
  | 'duration'
  | 'int'
  | 'percent'
  | 'httpPath'
  | 'httpPaths'
  | 'host'
  | 'regex'
  | 'url'
  | 'argv'
  | 'text'
  | 'canary'
  | 'sticky'
  | `enum:${string}`

interface Setting {
  readonly key: string
  readonly env: string
  readonly def: string
  readonly kind: Kind
  readonly doc: string
  /** Bounds: a number for int and percent, milliseconds for durations. */
  readonly min?: number
  readonly max?: number
}

const S = 1000
export const SETTINGS = [
  { key: 'prefix', env: 'CALMSWAP_PREFIX', def: 'calmswap', kind: 'name', doc: 'Compose project prefix: <prefix>-blue, <prefix>-green, <prefix>-shared' },
  {
    key: 'sharedProject',
    env: 'CALMSWAP_SHARED_PROJECT',
    def: '',
    kind: 'name',
    doc: "The shared project (databases, Redis, proxy): empty for <prefix>-shared; a plain project's name to adopt it in place, its data untouched (README: moving a running app)",
  },
  { key: 'composeFile', env: 'CALMSWAP_COMPOSE_FILE', def: 'compose.yml', kind: 'path', doc: 'The compose file all three projects run' },
  { key: 'stateDir', env: 'CALMSWAP_STATE_DIR', def: '.calmswap', kind: 'path', doc: 'State, lock, history and the upstream file live here' },
  { key: 'docker', env: 'CALMSWAP_DOCKER', def: 'docker', kind: 'path', doc: 'The docker CLI to call' },
  {
    key: 'dockerApi',
    env: 'CALMSWAP_DOCKER_API',
    def: 'auto',
    kind: 'enum:auto|off',
    doc: "auto: reads, signals and execs go through Docker's unix socket when the CLI would use it; off: always the CLI",
  },
  { key: 'bluePort', env: 'CALMSWAP_BLUE_PORT', def: '18001', kind: 'port', doc: "Host port of blue's web" },
  { key: 'greenPort', env: 'CALMSWAP_GREEN_PORT', def: '18002', kind: 'port', doc: "Host port of green's web" },
  { key: 'portVar', env: 'CALMSWAP_PORT_VAR', def: 'WEB_PORT', kind: 'envvar', doc: 'Variable the compose file interpolates for the web port' },
  { key: 'web', env: 'CALMSWAP_WEB', def: 'web', kind: 'names', doc: 'Web services: started first, health-checked, get traffic' },
  { key: 'core', env: 'CALMSWAP_CORE', def: '', kind: 'names', doc: 'Other colored services started with web (before the switch)' },
  {
    key: 'jobs',
    env: 'CALMSWAP_JOBS',
    def: '',
    kind: 'names',
    doc: 'Release jobs (migrations, collectstatic): run once each, in order, in the new color, before its web starts; a failed job stops the deploy before the old color is touched',
  },
  {
    key: 'jobTimeout',
    env: 'CALMSWAP_JOB_TIMEOUT',
    def: '10m',
    kind: 'duration',
    doc: 'Deadline of each release job; a job past it is stopped and removed, and the deploy stops',
    min: 1 * S,
    max: 6 * 3600 * S,
  },
  { key: 'workers', env: 'CALMSWAP_WORKERS', def: 'worker', kind: 'names', doc: 'Worker services: paused first, started after the switch' },
  { key: 'singletons', env: 'CALMSWAP_SINGLETONS', def: 'beat', kind: 'names', doc: 'Never two at once across colors (Celery beat)' },
  { key: 'shared', env: 'CALMSWAP_SHARED', def: 'redis,proxy', kind: 'names', doc: 'Services of the shared project, never duplicated' },
  {
    key: 'pauseMode',
    env: 'CALMSWAP_PAUSE_MODE',
    def: 'stop',
    kind: 'enum:stop|pause',
    doc: 'Workers are frozen while the new web boots; stop: then SIGTERM + grace (warm shutdown) after the switch; pause: frozen until cleanup',
  },
  {
    key: 'quiesce',
    env: 'CALMSWAP_QUIESCE',
    def: 'celery',
    kind: 'enum:celery|off',
    doc: "celery: before a worker's SIGTERM, ask it to stop consuming and wait until it is idle (Celery's cancel_consumer, run in its container); off: SIGTERM at once",
  },
  { key: 'stopGrace', env: 'CALMSWAP_STOP_GRACE', def: '30s', kind: 'duration', doc: 'How long workers get to finish in-flight tasks', min: 1 * S, max: 3600 * S },
  {
    key: 'stayUp',
    env: 'CALMSWAP_STAY_UP',
    def: '3s',
    kind: 'duration',
    doc: 'The new workers and singletons must run this long after their start, with no restart or exit, before the deploy counts, unless they log CALMSWAP_READY_LOG first; 0 turns the check off',
    min: 0,
    max: 600 * S,
  },
  {
    key: 'readyLog',
    env: 'CALMSWAP_READY_LOG',
    def: 'celery@\\S+ ready\\.|Scheduler: Sending due task',
    kind: 'regex',
    doc: "A log line that proves a new worker or singleton works (Celery at -l info: the worker's ready line, beat's first due task): logged since its start with no restart, it ends CALMSWAP_STAY_UP's wait; empty: always wait",
  },
  {
    key: 'taskLog',
    env: 'CALMSWAP_TASK_LOG',
    def: 'Task \\S+\\[\\S+\\] received',
    kind: 'regex',
    doc: "A log line a new worker writes as it takes a task (Celery at -l info): the end of the gap in task processing that history and --json report, looked for while the workers' check runs; empty: the gap ends at the ready line",
  },
  { key: 'healthPath', env: 'CALMSWAP_HEALTH_PATH', def: '/health/', kind: 'httpPath', doc: 'Path polled on the new web' },
  { key: 'healthHost', env: 'CALMSWAP_HEALTH_HOST', def: '', kind: 'host', doc: "Host header for the check (Django's ALLOWED_HOSTS)" },
  { key: 'healthStatus', env: 'CALMSWAP_HEALTH_STATUS', def: '200', kind: 'int', doc: 'Expected HTTP status', min: 100, max: 599 },
  { key: 'healthBody', env: 'CALMSWAP_HEALTH_BODY', def: '', kind: 'regex', doc: 'Regex the first 4 KB of the body must match (empty: any)' },
  { key: 'healthTimeout', env: 'CALMSWAP_HEALTH_TIMEOUT', def: '2s', kind: 'duration', doc: 'Timeout of one try', min: 100, max: 120 * S },
  { key: 'healthDeadline', env: 'CALMSWAP_HEALTH_DEADLINE', def: '25s', kind: 'duration', doc: 'Give up on the new web after this long', min: 1 * S, max: 3600 * S },
  { key: 'healthInterval', env: 'CALMSWAP_HEALTH_INTERVAL', def: '250ms', kind: 'duration', doc: 'Longest pause between tries (backoff starts at 100ms)', min: 100, max: 60 * S },
  { key: 'healthPasses', env: 'CALMSWAP_HEALTH_PASSES', def: '3', kind: 'int', doc: 'Consecutive passes needed before the switch', min: 1, max: 50 },
  {
    key: 'proxy',
    env: 'CALMSWAP_PROXY',
    def: 'container',
    kind: 'enum:container|host|caddy|caddy-host|traefik|command|none',
    doc: 'The proxy and where it runs: nginx in a shared-project container or on the host, Caddy in a container or on the host, Traefik (its file provider), your command, or none (docs/proxy.md)',
  },
  { key: 'proxyService', env: 'CALMSWAP_PROXY_SERVICE', def: 'proxy', kind: 'name', doc: 'The proxy service of the shared project (proxy=container or caddy)' },
  { key: 'proxyUrl', env: 'CALMSWAP_PROXY_URL', def: 'http://127.0.0.1:8080', kind: 'url', doc: 'Checked after each switch; empty skips that check' },
  {
    key: 'upstreamFile',
    env: 'CALMSWAP_UPSTREAM_FILE',
    def: '',
    kind: 'path',
    doc: "The file calmswap writes for the proxy (default <stateDir>/nginx/upstream.conf; caddy: <stateDir>/caddy/upstream.caddy; traefik: <stateDir>/traefik/calmswap.yml, Traefik's dynamic file)",
  },
  { key: 'upstreamName', env: 'CALMSWAP_UPSTREAM_NAME', def: 'calmswap_web', kind: 'name', doc: 'Name of the nginx upstream block' },
  {
    key: 'nginxSwitch',
    env: 'CALMSWAP_NGINX_SWITCH',
    def: 'reload',
    kind: 'enum:reload|flag',
    doc: "How nginx's live color changes: reload (rewrite the upstream, `nginx -s reload`: works with any conf naming `calmswap_web`, closes idle kept-alive connections) or flag (rename a flag file the conf reads per request, `proxy_pass http://$calmswap_live`: no reload; a canary's weights still reload) (docs/proxy.md)",
  },
  { key: 'upstreamTemplate', env: 'CALMSWAP_UPSTREAM_TEMPLATE', def: '', kind: 'path', doc: 'Own template for the upstream file ({{name}} {{port}} {{color}} {{backup}})' },
  { key: 'nginx', env: 'CALMSWAP_NGINX', def: 'nginx', kind: 'path', doc: 'nginx binary (proxy=host)' },
  { key: 'caddy', env: 'CALMSWAP_CADDY', def: 'caddy', kind: 'path', doc: 'caddy binary (proxy=caddy-host; in the container it is `caddy`)' },
  {
    key: 'caddyConfig',
    env: 'CALMSWAP_CADDY_CONFIG',
    def: '/etc/caddy/Caddyfile',
    kind: 'path',
    doc: 'The Caddyfile as Caddy sees it (in its container for proxy=caddy), validated and reloaded after each switch; it imports the upstream file',
  },
  {
    key: 'switchCommand',
    env: 'CALMSWAP_SWITCH_COMMAND',
    def: '',
    kind: 'argv',
    doc: 'Command run to switch (proxy=command), no shell: split on spaces here, a JSON array in the file is argv as written; gets CALMSWAP_COLOR and CALMSWAP_PORT',
  },
  {
    key: 'switchTimeout',
    env: 'CALMSWAP_SWITCH_TIMEOUT',
    def: '30s',
    kind: 'duration',
    doc: 'Deadline of the switch command (proxy=command); it is ended with its process group after this',
    min: 1 * S,
    max: 600 * S,
  },
  { key: 'cpuCalm', env: 'CALMSWAP_CPU_CALM', def: '60', kind: 'percent', doc: 'Before each stage wait until CPU pressure (PSI some, % over 100ms) is below this; 0 turns it off' },
  { key: 'cpuWait', env: 'CALMSWAP_CPU_WAIT', def: '20s', kind: 'duration', doc: 'Longest wait for calm before going on anyway', min: 0, max: 600 * S },
  { key: 'build', env: 'CALMSWAP_BUILD', def: 'auto', kind: 'enum:auto|never', doc: 'auto: build images with a build: section before anything pauses' },
  { key: 'release', env: 'CALMSWAP_RELEASE', def: '', kind: 'text', doc: 'Release label for state and history (default: git short hash, else a timestamp)' },
  {
    key: 'keepReleases',
    env: 'CALMSWAP_KEEP_RELEASES',
    def: '3',
    kind: 'int',
    doc: "Releases whose images are kept (tagged calmswap/<prefix>/<service>:<release>) so they can be deployed again; older ones' images are removed",
    min: 2,
    max: 100,
  },
  { key: 'logTail', env: 'CALMSWAP_LOG_TAIL', def: '40', kind: 'int', doc: 'Log lines of the failed color printed on rollback', min: 0, max: 10_000 },
  {
    key: 'engine',
    env: 'CALMSWAP_ENGINE',
    def: 'compose',
    kind: 'enum:compose|swarm',
    doc: 'compose: blue and green Compose projects on one box; swarm: one Docker Swarm stack named <prefix>, updated service by service',
  },
  {
    key: 'swarmMonitor',
    env: 'CALMSWAP_SWARM_MONITOR',
    def: '5s',
    kind: 'duration',
    doc: 'Swarm: how long a new task is watched after it starts before its update counts (update_config.monitor, where the stack file sets none)',
    min: 0,
    max: 600 * S,
  },
  {
    key: 'swarmParallelism',
    env: 'CALMSWAP_SWARM_PARALLELISM',
    def: '1',
    kind: 'int',
    doc: 'Swarm: tasks of a service updated at once (update_config.parallelism, where the stack file sets none); global services always go one node at a time',
    min: 1,
    max: 100,
  },
  {
    key: 'swarmDelay',
    env: 'CALMSWAP_SWARM_DELAY',
    def: '0s',
    kind: 'duration',
    doc: 'Swarm: pause between two batches of an update (update_config.delay, where the stack file sets none)',
    min: 0,
    max: 600 * S,
  },
  {
    key: 'swarmFailureRatio',
    env: 'CALMSWAP_SWARM_FAILURE_RATIO',
    def: '0',
    kind: 'percent',
    doc: 'Swarm: % of tasks that may fail during an update before Swarm rolls it back (update_config.max_failure_ratio, where the stack file sets none)',
  },
  {
    key: 'swarmDeadline',
    env: 'CALMSWAP_SWARM_DEADLINE',
    def: '3m',
    kind: 'duration',
    doc: 'Swarm: longest wait for one stage (an update, tasks stopping or starting); an update that never ends fails the deploy after this',
    min: 1 * S,
    max: 3600 * S,
  },
  {
    key: 'swarmPoll',
    env: 'CALMSWAP_SWARM_POLL',
    def: '500ms',
    kind: 'duration',
    doc: 'Swarm: how often the manager is asked about tasks and updates while calmswap waits on them',
    min: 20,
    max: 10 * S,
  },
  {
    key: 'swarmResolveImage',
    env: 'CALMSWAP_SWARM_RESOLVE_IMAGE',
    def: 'always',
    kind: 'enum:always|changed|never',
    doc: 'Swarm: docker stack deploy --resolve-image; always pins each image to its registry digest, never is for images that exist only on the nodes',
  },
  {
    key: 'nodePsi',
    env: 'CALMSWAP_NODE_PSI',
    def: '',
    kind: 'path',
    doc: "Swarm: a node's CPU PSI file as seen from here, {node} standing for its hostname (e.g. /sys/fs/cgroup/unified/{node}/cpu.pressure); without it only the node calmswap runs on is read",
  },
  {
    key: 'watch',
    env: 'CALMSWAP_WATCH',
    def: '1m',
    kind: 'duration',
    doc: "After the switch, watch the new color this long (its 5xx in the proxy's log, deaths of its containers) and roll back on its own; Ctrl-C ends the watch and keeps the release; 0 turns it off",
    min: 0,
    max: 3600 * S,
  },
  {
    key: 'watch5xx',
    env: 'CALMSWAP_WATCH_5XX',
    def: '5',
    kind: 'percent',
    doc: "Roll back when the new color's share of 5xx answers is above this, with 99% confidence (watch and canary)",
  },
  {
    key: 'watchMinRequests',
    env: 'CALMSWAP_WATCH_MIN_REQUESTS',
    def: '20',
    kind: 'int',
    doc: 'Requests the new color must have answered before its 5xx share is judged',
    min: 1,
    max: 1_000_000,
  },
  {
    key: 'watchProbe',
    env: 'CALMSWAP_WATCH_PROBE',
    def: '/',
    kind: 'httpPaths',
    doc: 'Paths the watch requests itself through the proxy while real traffic is too scarce to judge (comma-separated, never the health path), judged apart from real requests; empty: none',
  },
  {
    key: 'watchProbeEvery',
    env: 'CALMSWAP_WATCH_PROBE_EVERY',
    def: '1s',
    kind: 'duration',
    doc: 'Pace of those requests: one at a time, at most one this often',
    min: 100,
    max: 60 * S,
  },
  {
    key: 'proxyLog',
    env: 'CALMSWAP_PROXY_LOG',
    def: '',
    kind: 'path',
    doc: "The proxy's JSON access log the watch reads, only ever read (default: calmswap's own, <stateDir>-proxy-log/access.jsonl beside the state folder, emptied before each watch)",
  },
  {
    key: 'canary',
    env: 'CALMSWAP_CANARY',
    def: '',
    kind: 'canary',
    doc: 'Before the full switch, send this share of requests to the new web, step by step (10%, or 5%,25%,100%), each step judged like the watch; empty: no canary',
  },
  { key: 'canaryHold', env: 'CALMSWAP_CANARY_HOLD', def: '1m', kind: 'duration', doc: 'How long each canary step is held and judged', min: 1 * S, max: 3600 * S },
  {
    key: 'canarySticky',
    env: 'CALMSWAP_CANARY_STICKY',
    def: 'off',
    kind: 'sticky',
    doc: 'During a canary, keep a client on one color: off, ip (hash of the client address), or cookie:NAME (hash of that cookie)',
  },
] as const satisfies readonly Setting[]

/** The enum's options, "stop|pause" → 'stop' | 'pause'. */
type Options<T extends string> = T extends `${infer A}|${infer B}` ? A | Options<B> : T

/** What parseValue makes of a text of each kind. */
type ValueOf<K extends Kind> = K extends 'names' | 'argv' | 'httpPaths'
  ? readonly string[]
  : K extends 'canary'
    ? readonly number[]
    : K extends 'port' | 'int' | 'percent' | 'duration'
      ? number
      : K extends 'sticky'
        ? Sticky
        : K extends `enum:${infer O}`
          ? Options<O>
          : string

type Row = (typeof SETTINGS)[number]

/** Every setting by its key, typed from its row: the flat values loadConfig builds Config from. */
export type Values = { readonly [R in Row as R['key']]: ValueOf<R['kind']> }

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

export const fmtDuration = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)

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

function parseValue(s: Setting, raw: string | string[], problems: string[], source: string): unknown {
  const bad = (why: string) => {
    problems.push(`${source}=${JSON.stringify(raw)}: ${why}`)
    return undefined
  }
  if (Array.isArray(raw)) {
    if (s.kind === 'argv') return raw.some((a) => a.includes('\0')) ? bad('contains a NUL byte') : raw
    return parseValue(s, raw.join(','), problems, source)
  }
  const kind = s.kind
  if (kind.startsWith('enum:')) {
    const options = kind.slice(5).split('|')
    return options.includes(raw) ? raw : bad(`must be one of ${options.join(', ')}`)
  }
  switch (kind) {
    case 'name':
      // A name with an empty default may be left empty: the default is then derived.
      return NAME.test(raw) || (raw === '' && s.def === '') ? raw : bad('must be lowercase letters, digits, "-" or "_", starting with a letter or digit')
    case 'names': {
      const names = splitList(raw)
      const wrong = names.filter((n) => !NAME.test(n))
      if (wrong.length) return bad(`not a valid service name: ${wrong.join(', ')}`)
      if (new Set(names).size !== names.length) return bad('lists a service twice')
      return names
    }
    case 'port': {
      const n = Number(raw)
      return /^\d+$/.test(raw) && n >= 1 && n <= 65535 ? n : bad('must be a port number 1-65535')
    }
    case 'int': {
      const n = Number(raw)
      if (!/^\d+$/.test(raw)) return bad('must be a whole number')
      if ((s.min !== undefined && n < s.min) || (s.max !== undefined && n > s.max)) return bad(`must be from ${s.min} to ${s.max}`)
      return n
    }
    case 'percent': {
      const n = Number(raw)
      return raw !== '' && Number.isFinite(n) && n >= 0 && n <= 100 ? n : bad('must be a percentage 0-100')
    }
    case 'duration': {
      const ms = parseDuration(raw)
      if (ms === undefined) return bad('must be a duration like 500ms, 30s or 2m')
      if (s.min !== undefined && ms < s.min) return bad(`must be at least ${fmtDuration(s.min)}`)
      if (s.max !== undefined && ms > s.max) return bad(`must be at most ${fmtDuration(s.max)}`)
      return ms
    }
    case 'envvar':
      return ENVVAR.test(raw) ? raw : bad('must be a valid environment variable name')
    case 'httpPath':
      return raw.startsWith('/') && !/\s/.test(raw) ? raw : bad('must start with "/" and contain no spaces')
    case 'httpPaths': {
      const paths = splitList(raw)
      const wrong = paths.filter((x) => !x.startsWith('/') || /[\s#]/.test(x))
      return wrong.length ? bad(`must start with "/" and contain no spaces or "#": ${wrong.join(', ')}`) : paths
    }
    case 'host':
      return raw === '' || HOST.test(raw) ? raw : bad('must be a host name like example.com')
    case 'regex':
      try {
        new RegExp(raw)
        return raw
      } catch {
        return bad('is not a valid regular expression')
      }
    case 'url':
      if (raw === '') return raw
      try {
        const u = new URL(raw)
        if (u.protocol !== 'http:' && u.protocol !== 'https:') return bad('must be an http:// or https:// URL')
        return raw.replace(/\/+$/, '')
      } catch {
        return bad('is not a valid URL')
      }
    case 'path':
      return raw.includes('\0') ? bad('contains a NUL byte') : raw
    case 'argv':
      return splitList(raw)
    case 'text':
      return RELEASE_LABEL.test(raw) ? raw : bad('may contain only letters, digits and . _ : + -')
    case 'canary': {
      const steps = parseCanary(raw)
      return typeof steps === 'string' ? bad(steps) : steps
    }
    case 'sticky': {
      if (raw === 'off' || raw === 'ip') return { by: raw }
      const m = /^cookie:([A-Za-z0-9_]{1,64})$/.exec(raw)
      return m ? { by: 'cookie', name: m[1] } : bad('must be off, ip or cookie:NAME (letters, digits, _)')
    }
  }
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
  const problems: string[] = []

  const known: readonly string[] = SETTINGS.map((s) => s.env)
  for (const name of Object.keys(env)) {
    if (name.startsWith('CALMSWAP_') && !known.includes(name) && !OTHER_VARS.has(name) && env[name] !== undefined) problems.push(unknown(name, known, ''))
  }

  const filePath = sources.file ?? env.CALMSWAP_CONFIG ?? (existsSync(join(cwd, 'calmswap.json')) ? 'calmswap.json' : '')
  const fromFile = filePath ? readFileSettings(resolve(cwd, filePath), problems) : new Map<string, FileValue>()

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
  const v = parsed as Partial<Values>

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
  if (v.proxy === 'command' && v.switchCommand?.length === 0) problems.push('CALMSWAP_PROXY=command needs CALMSWAP_SWITCH_COMMAND')
  if (v.watchProbe && v.healthPath) {
    const { named } = probePaths(v.watchProbe, v.healthPath)
    if (named) problems.push(`CALMSWAP_WATCH_PROBE names the health path ${v.healthPath} (${named}): it passes by construction and is not judged; name pages of the app`)
  }
  if (v.nodePsi && !v.nodePsi.includes('{node}')) problems.push(`CALMSWAP_NODE_PSI=${JSON.stringify(v.nodePsi)}: must contain {node}, which stands for each node's hostname`)
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

  const composeFile = v.composeFile ? resolve(cwd, v.composeFile) : ''
  if (composeFile && !existsSync(composeFile)) problems.push(`CALMSWAP_COMPOSE_FILE: ${composeFile} does not exist`)
  const template = v.upstreamTemplate ? resolve(cwd, v.upstreamTemplate) : ''
  if (template && !existsSync(template)) problems.push(`CALMSWAP_UPSTREAM_TEMPLATE: ${template} does not exist`)

  if (problems.length) throw new ConfigError(problems)
  // No problem noted: every value parsed.
  return deepFreeze(nested(v as Values, cwd, composeFile, template))
}

/** The nested view the code reads (c.health.path, c.ports.blue, ...), built from the flat values. */
function nested(v: Values, cwd: string, composeFile: string, template: string): Config {
  const stateDir = resolve(cwd, v.stateDir)
  return {
    prefix: v.prefix,
    sharedProject: v.sharedProject,
    composeFile,
    projectDir: dirname(composeFile),
    stateDir,
    docker: v.docker,
    ports: { blue: v.bluePort, green: v.greenPort },
    portVar: v.portVar,
    roles: { web: v.web, core: v.core, jobs: v.jobs, workers: v.workers, singletons: v.singletons, shared: v.shared },
    pauseMode: v.pauseMode,
    quiesce: v.quiesce,
    dockerApi: v.dockerApi,
    stopGraceS: Math.ceil(v.stopGrace / 1000),
    jobTimeoutMs: v.jobTimeout,
    stayUpMs: v.stayUp,
    readyLog: v.readyLog,
    taskLog: v.taskLog,
    health: {
      path: v.healthPath,
      host: v.healthHost,
      status: v.healthStatus,
      body: v.healthBody,
      timeoutMs: v.healthTimeout,
      deadlineMs: v.healthDeadline,
      intervalMs: v.healthInterval,
      passes: v.healthPasses,
    },
    proxy: {
      mode: v.proxy,
      service: v.proxyService,
      url: v.proxyUrl,
      kind: proxyKind(v.proxy),
      inContainer: v.proxy === 'container' || v.proxy === 'caddy',
      upstreamFile: v.upstreamFile ? resolve(cwd, v.upstreamFile) : join(stateDir, ...DEFAULT_PROXY_FILE[proxyKind(v.proxy)]),
      upstreamName: v.upstreamName,
      nginxSwitch: v.nginxSwitch,
      template,
      nginx: v.nginx,
      caddy: v.caddy,
      caddyConfig: v.caddyConfig,
      command: v.switchCommand,
      commandTimeoutMs: v.switchTimeout,
    },
    calm: { threshold: v.cpuCalm, waitMs: v.cpuWait },
    build: v.build,
    release: v.release,
    logTail: v.logTail,
    keepReleases: v.keepReleases,
    pins: {},
    engine: v.engine,
    swarm: {
      monitorMs: v.swarmMonitor,
      parallelism: v.swarmParallelism,
      delayMs: v.swarmDelay,
      failureRatio: v.swarmFailureRatio / 100,
      deadlineMs: v.swarmDeadline,
      pollMs: v.swarmPoll,
      resolveImage: v.swarmResolveImage,
      nodePsi: v.nodePsi,
    },
    watch: {
      ms: v.watch,
      max5xxPct: v.watch5xx,
      minRequests: v.watchMinRequests,
      log: v.proxyLog ? resolve(cwd, v.proxyLog) : join(proxyLogDir(stateDir), 'access.jsonl'),
      // Only calmswap's own log is emptied at the start of a watch.
      logOwned: !v.proxyLog,
      // The default `/` is simply not probed when it is the health path; a path the user named is refused above.
      probe: { paths: probePaths(v.watchProbe, v.healthPath).kept, everyMs: v.watchProbeEvery },
    },
    canary: { steps: v.canary, holdMs: v.canaryHold, sticky: v.canarySticky },
  }
}

/** A release label (the only `text` setting): it names images' tags and lands in the pins file's comment line. */
export const RELEASE_LABEL = /^[A-Za-z0-9._:+-]{0,128}$/

/**
 * The folder the proxy's container writes its log into: beside the state folder, never in
 * it. That container faces the internet; whatever it leaves there must not be able to stand
 * where calmswap keeps its state (README: Proxy).
 */
export const proxyLogDir = (stateDir: string): string => join(dirname(stateDir), `${basename(stateDir)}-proxy-log`)

/** The same config with its release label set, once a deploy knows it. */
export const withRelease = (c: Config, release: string): Config => deepFreeze({ ...c, release })

/** The same config with a color's images pinned (or unpinned, with null). */
export const withPin = (c: Config, color: Color, pin: Pin | null): Config => {
  const pins = { ...c.pins }
  if (pin) pins[color] = pin
  else delete pins[color]
  return deepFreeze({ ...c, pins })
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const k of Object.keys(o)) deepFreeze((o as Record<string, unknown>)[k])
    Object.freeze(o)
  }
  return o
}
