// The one schema: every setting is a row of SETTINGS, and the types the code reads come from
// it. One schema drives the env vars, the JSON file, `--help` and the README table, so they
// cannot drift. Loading and checking a config is lib/config-loader.ts; this module imports
// nothing of calmswap, so every room can stand on it.
import { basename, dirname, join, resolve } from 'node:path'

export type Color = 'blue' | 'green'
export const COLORS: readonly Color[] = ['blue', 'green']
export const otherColor = (c: Color): Color => (c === 'blue' ? 'green' : 'blue')

/** Where each color's web port is published, and the only address calmswap sends its own requests to. */
export const LOOPBACK = '127.0.0.1'

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

/** The frozen config every step reads: what `nested` builds, read-only all the way down. */
export type Config = Frozen<ReturnType<typeof nested>>

type Frozen<T> = T extends readonly (infer U)[] ? readonly Frozen<U>[] : T extends object ? { readonly [K in keyof T]: Frozen<T[K]> } : T

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

export type Kind =
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

export interface Setting {
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
    doc: 'Workers are frozen while the new web boots; stop: then quiesced and sent SIGTERM (warm shutdown within the grace), when CALMSWAP_DRAIN says; pause: frozen until cleanup',
  },
  {
    key: 'drain',
    env: 'CALMSWAP_DRAIN',
    def: 'during-health',
    kind: 'enum:during-health|after-switch',
    doc: 'Stop mode: when the old workers finish the tasks they hold and stop. during-health: once the new web has booted (its CPU settled), beside its check, so the new workers consume right after the switch; a check that fails after that starts them again (a Python start). after-switch: frozen until the switch, so a failed check thaws them at once, and every deploy waits for their drain after it (docs/benchmark.md, Lean)',
  },
  {
    key: 'beatStart',
    env: 'CALMSWAP_BEAT_START',
    def: 'booted',
    kind: 'enum:booted|switch',
    doc: 'When the new singletons (beat) start, once the old ones exited. booted: once the new web has booted, beside its check, so their proof (CALMSWAP_READY_LOG, else CALMSWAP_STAY_UP) is mostly done by the switch, and one started by then that exited or restarted since stops the deploy before it; a check that fails after their start stops them, and what they enqueued meanwhile runs on the old workers. switch: as traffic switches, so a release that fails its check never ran its beat, and every deploy waits for that proof after the switch (docs/benchmark.md, Lean)',
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
    key: 'warmup',
    env: 'CALMSWAP_WARMUP',
    def: '/',
    kind: 'httpPaths',
    doc: "Pages GET on the new web once its check passed, before traffic moves (comma-separated; compose engine): a process's first real request pays for what it loads lazily, so users' do not. Real requests: name pages that only read. A page whose every request answers 5xx or nothing fails the deploy before the switch; empty: none",
  },
  {
    key: 'warmupTimes',
    env: 'CALMSWAP_WARMUP_TIMES',
    def: '3',
    kind: 'int',
    doc: 'Requests to each warm-up page, one after another (each within CALMSWAP_HEALTH_TIMEOUT, at least 10s; all of them within CALMSWAP_HEALTH_DEADLINE)',
    min: 1,
    max: 100,
  },
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
  { key: 'cpuCalm', env: 'CALMSWAP_CPU_CALM', def: '60', kind: 'percent', doc: 'Before each step wait until CPU pressure (PSI some, % over 100ms) is below this; 0 turns it off' },
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
    doc: 'Swarm: longest wait for one step (an update, tasks stopping or starting); an update that never ends fails the deploy after this',
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

export const fmtDuration = (ms: number) => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`)

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

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const k of Object.keys(o)) deepFreeze((o as Record<string, unknown>)[k])
    Object.freeze(o)
  }
  return o
}

/**
 * The nested view the code reads (c.health.path, c.ports.blue, ...), built from the flat
 * values; its return type is `Config`. `at`: what the loader resolved (paths against the
 * working folder, the watch's probe paths without the health path).
 */
export function nested(v: Values, at: { readonly cwd: string; readonly composeFile: string; readonly template: string; readonly probes: readonly string[] }) {
  const { cwd, composeFile, template } = at
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
    drain: v.drain,
    beatStart: v.beatStart,
    quiesce: v.quiesce,
    dockerApi: v.dockerApi,
    stopGraceS: Math.ceil(v.stopGrace / 1000),
    jobTimeoutMs: v.jobTimeout,
    /** How long the new workers must stay up after their start; 0: not checked. */
    stayUpMs: v.stayUp,
    /** A line a worker or singleton logs once it works (Celery's ready line): proof it is up sooner than stayUpMs. */
    readyLog: v.readyLog,
    /** A line a worker logs as it takes a task: where the gap in task processing ends. */
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
    /** Pages requested on the new web before the switch, `times` each: its first requests, not users'. */
    warmup: { paths: v.warmup, times: v.warmupTimes },
    proxy: {
      mode: v.proxy,
      service: v.proxyService,
      url: v.proxyUrl,
      /** Which proxy calmswap drives (lib/proxy/): the mode without where it runs. */
      kind: proxyKind(v.proxy),
      /** The proxy is a container of the shared project (proxy=container or caddy). */
      inContainer: v.proxy === 'container' || v.proxy === 'caddy',
      upstreamFile: v.upstreamFile ? resolve(cwd, v.upstreamFile) : join(stateDir, ...DEFAULT_PROXY_FILE[proxyKind(v.proxy)]),
      upstreamName: v.upstreamName,
      /** nginx: `flag` switches the live color by a flag file its config reads per request (no reload); `reload` rewrites the upstream and reloads. */
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
    /**
     * Per color, the compose override that pins its images to the release it was deployed
     * with, and that release's label (lib/compose/images.ts). Set from the state, not from settings.
     */
    pins: {} as Partial<Record<Color, Pin>>,
    engine: v.engine,
    /** Swarm mode (lib/swarm/): the update knobs where the stack file sets none, and how far to wait. */
    swarm: {
      monitorMs: v.swarmMonitor,
      parallelism: v.swarmParallelism,
      delayMs: v.swarmDelay,
      /** 0..1, as update_config.max_failure_ratio. */
      failureRatio: v.swarmFailureRatio / 100,
      deadlineMs: v.swarmDeadline,
      pollMs: v.swarmPoll,
      resolveImage: v.swarmResolveImage,
      /** A node's PSI file as seen from here, with {node} for its hostname; empty: none. */
      nodePsi: v.nodePsi,
    },
    /** After the switch: how long the new color is judged, and by what (lib/compose/watch.ts). */
    watch: {
      ms: v.watch,
      max5xxPct: v.watch5xx,
      minRequests: v.watchMinRequests,
      log: v.proxyLog ? resolve(cwd, v.proxyLog) : join(proxyLogDir(stateDir), 'access.jsonl'),
      // Only calmswap's own log is emptied at the start of a watch.
      logOwned: !v.proxyLog,
      /** The watch's own requests through the proxy while real traffic is scarce: paths (never the health path) and pace. */
      probe: { paths: at.probes, everyMs: v.watchProbeEvery },
    },
    /** Before the switch: the shares (%) the new web gets, one step each (lib/compose/canary.ts); empty: no canary. */
    canary: { steps: v.canary, holdMs: v.canaryHold, sticky: v.canarySticky },
  }
}
