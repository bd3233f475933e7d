// Pure command builders: each returns an argv array plus the env it needs, and runs nothing.
// The executor runs them; tests assert on them.
import { dirname } from 'node:path'
import type { Color, Config } from './config.ts'
import { cgroupCpuReader, demux, engineJson, EngineError, type Engine } from './engine.ts'

export type Project = Color | 'shared'

export interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export interface Cmd {
  readonly argv: readonly string[]
  /** Extra env on top of the process env. */
  readonly env?: Readonly<Record<string, string>>
  /** False for read-only commands, which --dry-run still runs to see the host. */
  readonly mutates: boolean
  readonly timeoutMs?: number
  /**
   * The same call through the Engine API, answering with the stdout the argv would print.
   * The executor takes it when the CLI would talk to the local socket anyway (lib/engine.ts).
   */
  readonly api?: (e: Engine, signal?: AbortSignal) => Promise<Result>
}

const ok = (stdout: string): Result => ({ code: 0, stdout, stderr: '' })
const q = encodeURIComponent

/** One API call per container, all of them tried, like the CLI: exit 1 if any failed. */
async function each(ids: readonly string[], f: (id: string) => Promise<string>): Promise<Result> {
  const out: string[] = []
  const err: string[] = []
  for (const r of await Promise.allSettled(ids.map(f))) {
    if (r.status === 'fulfilled') out.push(r.value)
    else if (r.reason instanceof EngineError) err.push(r.reason.message)
    else throw r.reason
  }
  return { code: err.length ? 1 : 0, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.join('\n') }
}

export const projectName = (c: Config, p: Project) => `${c.prefix}-${p}`

/** What the compose file may interpolate: the color, its web port, the shared network prefix, the upstream dir. */
export function composeEnv(c: Config, p: Project): Record<string, string> {
  const env: Record<string, string> = {
    CALMSWAP_PREFIX: c.prefix,
    CALMSWAP_UPSTREAM_DIR: dirname(c.proxy.upstreamFile),
  }
  if (p !== 'shared') {
    env.DEPLOY_COLOR = p
    env[c.portVar] = String(c.ports[p])
  }
  if (c.release) env.CALMSWAP_RELEASE = c.release
  return env
}

function compose(c: Config, p: Project, args: readonly string[], mutates: boolean): Cmd {
  return {
    argv: [c.docker, 'compose', '-p', projectName(c, p), '-f', c.composeFile, ...args],
    env: composeEnv(c, p),
    mutates,
  }
}

export const composeConfig = (c: Config, p: Project = 'blue'): Cmd => compose(c, p, ['config', '--format', 'json'], false)

/** --no-deps: a color never starts its own Redis or database. */
export const up = (c: Config, p: Project, services: readonly string[]): Cmd =>
  compose(c, p, p === 'shared' ? ['up', '-d', '--no-recreate', ...services] : ['up', '-d', '--no-deps', '--force-recreate', '--no-build', ...services], true)

/**
 * Creates a color's containers without starting them: the work of `up` that can happen
 * while the new web boots, so that after the switch a start is all that is left.
 */
export const create = (c: Config, p: Color, services: readonly string[]): Cmd =>
  compose(c, p, ['up', '--no-start', '--no-deps', '--force-recreate', '--no-build', ...services], true)

/**
 * A docker verb on containers by name or id, and the same POST per container through the
 * API (`action` is the endpoint's last segment, query included).
 */
const containerVerb = (c: Config, verb: readonly string[], containers: readonly string[], action: string): Cmd => ({
  argv: [c.docker, ...verb, ...containers],
  mutates: true,
  api: (e, signal) => each(containers, async (id) => (await engineJson(e, 'POST', `/containers/${q(id)}/${action}`, undefined, signal), id)),
})

/** Starts containers `create` made; a process start, no project to load. */
export const startContainers = (c: Config, containers: readonly string[]): Cmd => containerVerb(c, ['start'], containers, 'start')

export const build = (c: Config, p: Project, services: readonly string[]): Cmd => compose(c, p, ['build', ...services], true)

/** SIGTERM, then SIGKILL after the grace period: Celery's warm shutdown finishes in-flight tasks. */
export const stop = (c: Config, p: Project, services: readonly string[], graceS = c.stopGraceS): Cmd =>
  compose(c, p, ['stop', '-t', String(graceS), ...services], true)

/**
 * Sends the signal to these containers and returns at once. By container, not by service:
 * `docker compose kill` loads the whole project first (~0.4 s) to find the same containers.
 */
export const kill = (c: Config, containers: readonly string[], sig = 'SIGTERM'): Cmd => containerVerb(c, ['kill', '--signal', sig], containers, `kill?signal=${q(sig)}`)

/** Freezes these containers (cgroup freezer): no CPU, memory and connections kept. */
export const pauseContainers = (c: Config, containers: readonly string[]): Cmd => containerVerb(c, ['pause'], containers, 'pause')

/** Blocks until the containers exit; it sends no signal (a second SIGTERM turns Celery's warm shutdown cold). */
export const waitExit = (c: Config, containers: readonly string[], timeoutMs: number): Cmd => ({
  argv: [c.docker, 'wait', ...containers],
  mutates: true,
  timeoutMs,
  api: (e, signal) =>
    each(containers, async (id) => String((await engineJson<{ StatusCode: number }>(e, 'POST', `/containers/${q(id)}/wait`, undefined, signal)).StatusCode)),
})

export const start = (c: Config, p: Project, services: readonly string[]): Cmd => compose(c, p, ['start', ...services], true)
/** Thaws frozen containers: an instant resume, nothing to boot. */
export const unpauseContainers = (c: Config, containers: readonly string[]): Cmd => containerVerb(c, ['unpause'], containers, 'unpause')

/** No -v: volumes are the user's data and outlive a color. */
export const down = (c: Config, p: Project, graceS = c.stopGraceS): Cmd => compose(c, p, ['down', '-t', String(graceS), '--remove-orphans'], true)

export const logs = (c: Config, p: Project, services: readonly string[], tail = c.logTail): Cmd =>
  compose(c, p, ['logs', '--no-color', '--timestamps', '--tail', String(tail), ...services], false)

const PS_FORMAT = [
  '{{.ID}}',
  '{{.Label "com.docker.compose.project"}}',
  '{{.Label "com.docker.compose.service"}}',
  '{{.State}}',
  '{{.Status}}',
  '{{.Names}}',
  '{{.Image}}',
].join('\t')

/** What GET /containers/json answers per container: the fields PS_FORMAT prints. */
export interface ApiContainer {
  readonly Id: string
  readonly Names: readonly string[]
  readonly Image: string
  readonly State: string
  readonly Status: string
  readonly Labels: Readonly<Record<string, string>> | null
}

/** One container as `docker ps --no-trunc --format PS_FORMAT` prints it. */
export function psLine(x: ApiContainer): string {
  // The CLI prints a container's own names, without the leading slash and without link aliases.
  const names = x.Names.map((n) => n.replace(/^\//, '')).filter((n) => !n.includes('/'))
  const label = (k: string) => x.Labels?.[k] ?? ''
  return [x.Id, label('com.docker.compose.project'), label('com.docker.compose.service'), x.State, x.Status, names.join(','), x.Image].join('\t')
}

/** One call sees every container of all three projects. */
export const inventory = (c: Config): Cmd => ({
  argv: [c.docker, 'ps', '-a', '--no-trunc', '--filter', `label=com.docker.compose.project`, '--format', PS_FORMAT],
  mutates: false,
  api: async (e, signal) => {
    const filters = q(JSON.stringify({ label: ['com.docker.compose.project'] }))
    const list = await engineJson<ApiContainer[]>(e, 'GET', `/containers/json?all=1&filters=${filters}`, undefined, signal)
    return ok(list.map((x) => `${psLine(x)}\n`).join(''))
  },
})

/** `docker info` would also ask every CLI plugin for metadata (~0.3 s); the API's /version is the same question. */
export const dockerInfo = (c: Config): Cmd => ({
  argv: [c.docker, 'info', '--format', '{{.ServerVersion}}'],
  mutates: false,
  timeoutMs: 15_000,
  api: async (e, signal) => ok(`${(await engineJson<{ Version: string }>(e, 'GET', '/version', undefined, signal)).Version}\n`),
})
export const composeVersion = (c: Config): Cmd => ({ argv: [c.docker, 'compose', 'version', '--short'], mutates: false, timeoutMs: 15_000 })

interface ApiInspect {
  readonly Name: string
  readonly Image: string
  readonly State: { readonly Pid?: number; readonly Health?: { readonly Status: string } }
}

const inspect = (e: Engine, id: string, signal?: AbortSignal) => engineJson<ApiInspect>(e, 'GET', `/containers/${q(id)}/json`, undefined, signal)

export const healthStatus = (c: Config, container: string): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', container],
  mutates: false,
  api: (e, signal) => each([container], async (id) => (await inspect(e, id, signal)).State.Health?.Status ?? ''),
})

export const imageIds = (c: Config, containers: readonly string[]): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{.Name}} {{.Image}}', ...containers],
  mutates: false,
  api: (e, signal) =>
    each(containers, async (id) => {
      const x = await inspect(e, id, signal)
      return `${x.Name} ${x.Image}`
    }),
})

export const dockerExec = (c: Config, container: string, argv: readonly string[], mutates: boolean): Cmd => ({
  argv: [c.docker, 'exec', container, ...argv],
  mutates,
  api: async (e, signal) => {
    const { Id } = await engineJson<{ Id: string }>(e, 'POST', `/containers/${q(container)}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: argv }, signal)
    // Without a TTY the daemon streams both outputs framed on one connection until the command ends.
    const started = await e.call('POST', `/exec/${Id}/start`, { Detach: false, Tty: false }, signal)
    if (started.status >= 300) throw new EngineError(`Error response from daemon: ${started.body.toString('utf8').trim()}`, started.status)
    const { ExitCode } = await engineJson<{ ExitCode: number | null }>(e, 'GET', `/exec/${Id}/json`, undefined, signal)
    return { code: ExitCode ?? 1, ...demux(started.body) }
  },
})

interface ApiStats {
  readonly cpu_stats?: { readonly cpu_usage?: { readonly total_usage?: number } }
}

/**
 * CPU use of each container in % of one CPU, one line each: "ID\tNN.NN%". The CLI needs
 * ~2 s for its two samples; through the engine it is two readings windowMs apart, of the
 * cgroup counter where this host can see it, else of the stats API.
 */
export const containerCpu = (c: Config, containers: readonly string[], windowMs = 250): Cmd => ({
  argv: [c.docker, 'stats', '--no-stream', '--format', '{{.ID}}\t{{.CPUPerc}}', ...containers],
  mutates: false,
  api: async (e, signal) => {
    const readers = await Promise.all(
      containers.map(async (id) => {
        const pid = (await inspect(e, id, signal)).State.Pid ?? 0
        const local = pid > 0 ? cgroupCpuReader(pid) : null
        if (local) return async () => local()
        return async () => (await engineJson<ApiStats>(e, 'GET', `/containers/${q(id)}/stats?stream=false&one-shot=true`, undefined, signal)).cpu_stats?.cpu_usage?.total_usage ?? 0
      }),
    )
    const read = () => Promise.all(readers.map((r) => r()))
    const t0 = performance.now()
    const a = await read()
    await new Promise((r) => setTimeout(r, windowMs))
    const b = await read()
    const ns = (performance.now() - t0) * 1e6
    return ok(containers.map((id, i) => `${id.slice(0, 12)}\t${((100 * (b[i]! - a[i]!)) / ns).toFixed(2)}%\n`).join(''))
  },
})

/** The highest CPU % in `containerCpu` output. */
export const maxCpu = (stdout: string): number => Math.max(0, ...[...stdout.matchAll(/([\d.]+)%/g)].map((m) => Number(m[1])))

/** How a person would type the same call, for --dry-run and --verbose. */
export function render(cmd: Cmd): string {
  const q = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)
  const env = Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${q(v)}`)
  return [...env, ...cmd.argv.map(q)].join(' ')
}
