// The Docker Engine API over its unix socket, for the calls a deploy makes most. Each
// `docker` CLI call is a Go binary start; the same question over the socket costs a few
// milliseconds inside the node process that runs anyway. Used only where the CLI would
// talk to that same socket; everything else still goes through the CLI.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { ApiCall, Result } from './command.ts'
import { sleep } from './deadlines.ts'
import { exchange, SocketPool } from './http1.ts'

export interface DockerApiResponse {
  readonly status: number
  readonly body: Buffer
}

export interface DockerApi {
  /** The socket, as the CLI would name it in an error. */
  readonly host: string
  call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<DockerApiResponse>
  /** A streamed answer (the events API): each chunk as it comes, until the signal ends it. */
  stream?(path: string, onChunk: (chunk: Buffer) => void, signal: AbortSignal): Promise<void>
}

/**
 * The socket the docker CLI would use, or null when it would use something else:
 * another binary (CALMSWAP_DOCKER), a context, or a DOCKER_HOST that is not a unix socket.
 */
export function dockerSocket(env: Readonly<Record<string, string | undefined>>, docker: string, mode: 'auto' | 'off'): string | null {
  if (mode === 'off' || docker !== 'docker') return null
  if (env.DOCKER_CONTEXT && env.DOCKER_CONTEXT !== 'default') return null
  const host = env.DOCKER_HOST
  if (host) return host.startsWith('unix://') ? host.slice('unix://'.length) : null
  try {
    const cfg = JSON.parse(readFileSync(join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json'), 'utf8')) as { currentContext?: string }
    if (cfg.currentContext && cfg.currentContext !== 'default') return null
  } catch {}
  return '/var/run/docker.sock'
}

/**
 * The Compose v2 binary that `docker compose` would run, found where the docker CLI looks
 * for plugins. Run directly (standalone mode, same flags), it skips the docker CLI's own
 * start and its plugin-metadata call. Only with dockerSocket's conditions: then the CLI
 * would add nothing but those two starts.
 */
export function composePlugin(env: Readonly<Record<string, string | undefined>>): string | null {
  const dirs = [
    join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'cli-plugins'),
    '/usr/local/lib/docker/cli-plugins',
    '/usr/local/libexec/docker/cli-plugins',
    '/usr/lib/docker/cli-plugins',
    '/usr/libexec/docker/cli-plugins',
  ]
  for (const d of dirs) {
    try {
      accessSync(join(d, 'docker-compose'), constants.X_OK)
      return join(d, 'docker-compose')
    } catch {}
  }
  return null
}

export class SocketDockerApi implements DockerApi {
  readonly host: string
  // lib/http1.ts, not node:http (0.6 MB of RSS for each `status`) nor undici. Connections are
  // kept alive between calls; long calls (wait, events) get their own, so they never queue
  // behind each other.
  private readonly pool = new SocketPool()

  constructor(readonly socketPath: string) {
    this.host = `unix://${socketPath}`
  }

  call(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<DockerApiResponse> {
    const chunks: Buffer[] = []
    return this.request(method, path, body, signal, (c) => chunks.push(c)).then((status) => ({ status, body: Buffer.concat(chunks) }))
  }

  async stream(path: string, onChunk: (chunk: Buffer) => void, signal: AbortSignal): Promise<void> {
    await this.request('GET', path, undefined, signal, onChunk).catch((e: Error) => {
      if (!signal.aborted) throw e
    })
  }

  private async request(method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, signal: AbortSignal | undefined, onChunk: (c: Buffer) => void): Promise<number> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const headers: Record<string, string> = payload === undefined ? { host: 'docker' } : { host: 'docker', 'content-type': 'application/json' }
    const head = await exchange(
      { socketPath: this.socketPath, method, path, headers, body: payload, signal, pool: this.pool },
      {
        data: (c) => {
          onChunk(c)
          return true
        },
      },
    )
    return head.status
  }

  close(): void {
    this.pool.close()
  }
}

class EngineError extends Error {
  override name = 'EngineError'
  constructor(
    message: string,
    readonly status = 0,
  ) {
    super(message)
  }
}

/** Calls the API and returns a 2xx answer; throws the daemon's own message otherwise. */
async function answered(e: DockerApi, method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, signal: AbortSignal | undefined): Promise<DockerApiResponse> {
  const r = await e.call(method, path, body, signal)
  if (r.status < 300) return r
  let msg = r.body.toString('utf8').trim()
  try {
    msg = (JSON.parse(msg) as { message?: string }).message ?? msg
  } catch {}
  throw new EngineError(`Error response from daemon: ${msg}`, r.status)
}

/** The parsed JSON of a 2xx answer. */
async function apiJson<T>(e: DockerApi, method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const text = (await answered(e, method, path, body, signal)).body.toString('utf8')
  return (text ? JSON.parse(text) : null) as T
}

/** The words the CLI uses when the socket does not answer, so callers and people see one message. */
export function connectionMessage(e: DockerApi, err: Error): string | null {
  const x = err as Error & { code?: string; cause?: { code?: string } }
  const code = x.cause?.code ?? x.code
  if (code === 'ENOENT' || code === 'ECONNREFUSED') return `Cannot connect to the Docker daemon at ${e.host}. Is the docker daemon running?`
  if (code === 'EACCES') return `permission denied while trying to connect to the Docker daemon socket at ${e.host}`
  return null
}

/**
 * Splits the stream of a non-TTY exec: 8-byte frames, byte 0 the stream (1 stdout,
 * 2 stderr), bytes 4-7 the payload length.
 */
export function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = []
  const err: Buffer[] = []
  let i = 0
  while (i + 8 <= buf.length) {
    const size = buf.readUInt32BE(i + 4)
    const chunk = buf.subarray(i + 8, i + 8 + size)
    ;(buf[i] === 2 ? err : out).push(chunk)
    i += 8 + size
  }
  return { stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }
}

/**
 * A reader of a process's cgroup CPU counter (ns), straight from /sys: no daemon round
 * trip. Null when the cgroup is not visible from here (calmswap itself in a container,
 * another kernel layout).
 */
export function cgroupCpuReader(pid: number, proc = '/proc', sys = '/sys/fs/cgroup'): (() => number) | null {
  try {
    const lines = readFileSync(`${proc}/${pid}/cgroup`, 'utf8').split('\n')
    // cgroup v1: "2:cpuacct:/docker/<id>" (or "cpu,cpuacct"), mounted under that controller list.
    const v1 = lines.map((l) => l.split(':')).find(([, ctrl]) => ctrl?.split(',').includes('cpuacct'))
    if (v1?.[2]) {
      for (const mount of [v1[1]!, 'cpuacct', 'cpu,cpuacct']) {
        const f = `${sys}/${mount}${v1[2]}/cpuacct.usage`
        if (existsSync(f)) return () => Number(readFileSync(f, 'utf8'))
      }
    }
    // cgroup v2: "0::/system.slice/docker-<id>.scope", usage_usec in cpu.stat.
    const v2 = lines.find((l) => l.startsWith('0::'))
    if (v2) {
      const f = `${sys}${v2.slice(3)}/cpu.stat`
      // A counter that cannot be read is no reading: the stats API answers instead.
      if (existsSync(f) && /^usage_usec \d+/m.test(readFileSync(f, 'utf8'))) return () => Number(/^usage_usec (\d+)/m.exec(readFileSync(f, 'utf8'))?.[1]) * 1000
    }
  } catch {}
  return null
}

// ---------------------------------------------------------------- answering ApiCalls
// A read with structure answers the Engine's JSON as `data` (ApiData), which the caller's
// Reader turns into its own type as its other half turns the CLI's text: one parse per
// source. A read whose answer is text (a version, an image ID, an exec's or a log's output,
// event lines) answers stdout; a change, its exit code and the daemon's errors.

/** What GET /containers/json answers per container: the fields `docker ps` prints. */
export interface ApiContainer {
  readonly Id: string
  readonly Names: readonly string[]
  readonly Image: string
  readonly State: string
  readonly Status: string
  readonly Labels: Readonly<Record<string, string>> | null
}

export interface ApiInspect {
  readonly Name: string
  readonly Image: string
  readonly Mounts?: readonly { readonly Type: string; readonly Name?: string; readonly Destination: string }[]
  readonly RestartCount?: number
  readonly State: { readonly Status?: string; readonly Pid?: number; readonly StartedAt?: string; readonly ExitCode?: number; readonly Health?: { readonly Status: string } }
}

interface ApiStats {
  readonly cpu_stats?: { readonly cpu_usage?: { readonly total_usage?: number } }
}

/** The parts of a swarm service, node and task the answers below need. */
export interface ApiService {
  readonly ID: string
  readonly Version: { readonly Index: number }
  readonly Spec: { readonly Name: string; readonly Mode: { Replicated?: { Replicas?: number }; Global?: object } }
}
export interface ApiNode {
  readonly ID: string
  readonly Description?: { readonly Hostname?: string; readonly Engine?: { readonly EngineVersion?: string } }
  readonly Spec?: { readonly Availability?: string }
  readonly Status?: { readonly State?: string }
  readonly ManagerStatus?: { readonly Leader?: boolean; readonly Reachability?: string }
}
export interface ApiTask {
  readonly ID: string
  readonly ServiceID: string
  readonly Slot?: number
  readonly NodeID?: string
  readonly DesiredState: string
  readonly Spec?: { readonly ContainerSpec?: { readonly Image?: string } }
  readonly Status?: { readonly State?: string; readonly Err?: string; readonly ContainerStatus?: { readonly ContainerID?: string } }
}

/** `Result.data` of each read with structure, when the API ran it. */
export interface ApiData {
  readonly list: readonly ApiContainer[]
  /** The containers that exist, in the call's order. */
  readonly inspect: readonly ApiInspect[]
  /** % of one CPU over the window, per container, in the call's order. */
  readonly cpu: readonly number[]
  /** `.Swarm` of GET /info: the object `docker info --format '{{json .Swarm}}'` prints. */
  readonly swarm: unknown
  readonly nodes: { readonly nodes: readonly ApiNode[]; readonly self: string }
  /** The services that exist: the objects `docker service inspect` prints. */
  readonly services: readonly ApiService[]
  readonly tasks: { readonly tasks: readonly ApiTask[]; readonly services: readonly ApiService[]; readonly nodes: readonly ApiNode[] }
  readonly 'stack-containers': readonly ApiContainer[]
  readonly 'task-containers': readonly ApiTask[]
}

const q = encodeURIComponent
const ok = (stdout = ''): Result => ({ code: 0, stdout, stderr: '' })
const data = (d: unknown): Result => ({ code: 0, stdout: '', stderr: '', data: d })
const get = <T>(e: DockerApi, path: string, signal?: AbortSignal) => apiJson<T>(e, 'GET', path, undefined, signal)
const byLabel = (label: string) => q(JSON.stringify({ label: [label] }))

/** One API call per container, all of them tried, like the CLI: exit 1 if any failed; data, what the others answered. */
async function each(ids: readonly string[], f: (id: string) => Promise<unknown>): Promise<Result> {
  const values: unknown[] = []
  const err: string[] = []
  for (const r of await Promise.allSettled(ids.map(f))) {
    if (r.status === 'fulfilled') values.push(r.value)
    else if (r.reason instanceof EngineError) err.push(r.reason.message)
    else throw r.reason
  }
  return { code: err.length ? 1 : 0, stdout: '', stderr: err.join('\n'), data: values }
}

/** The services that exist, by name, and the CLI's error for each one that does not. */
async function servicesByName(e: DockerApi, names: readonly string[], signal?: AbortSignal): Promise<{ found: ApiService[]; missing: string }> {
  const found: ApiService[] = []
  const missing: string[] = []
  for (const name of names) {
    try {
      found.push(await get<ApiService>(e, `/services/${q(name)}`, signal))
    } catch (err) {
      if (err instanceof EngineError && err.status === 404) missing.push(name)
      else throw err
    }
  }
  return { found, missing: missing.map((m) => `Error: no such service: ${m}`).join('\n') }
}

/** One update of each service through its stored spec, as `service scale` and `service rollback` do. */
async function updateEach(
  e: DockerApi,
  names: readonly string[],
  signal: AbortSignal | undefined,
  change: (s: ApiService) => { spec: unknown; query: string } | string,
): Promise<Result> {
  const { found, missing } = await servicesByName(e, names, signal)
  const err = missing ? [missing] : []
  for (const svc of found) {
    const c = change(svc)
    if (typeof c === 'string') err.push(c)
    else await apiJson(e, 'POST', `/services/${svc.ID}/update?version=${svc.Version.Index}${c.query}`, c.spec, signal).catch((x) => err.push(engineMessage(x)))
  }
  return { code: err.length ? 1 : 0, stdout: '', stderr: err.join('\n') }
}

const engineMessage = (x: unknown): string => {
  if (x instanceof EngineError) return x.message
  throw x
}

const inspect = (e: DockerApi, id: string, signal?: AbortSignal) => get<ApiInspect>(e, `/containers/${q(id)}/json`, signal)

/** The events API path of an `events` call: the same filters as the CLI's. */
export function eventsPath(call: Extract<ApiCall, { op: 'events' }>): string {
  const filters = q(JSON.stringify({ type: ['container'], label: [`com.docker.compose.project=${call.project}`] }))
  return `/events?since=${call.sinceS.toFixed(3)}&until=${call.untilS.toFixed(3)}&filters=${filters}`
}

type Call<K extends ApiCall['op']> = Extract<ApiCall, { op: K }>
type Answer<K extends ApiCall['op']> = (e: DockerApi, call: Call<K>, signal?: AbortSignal) => Promise<Result>

async function exec(e: DockerApi, call: Call<'exec'>, signal?: AbortSignal): Promise<Result> {
  const { Id } = await apiJson<{ Id: string }>(e, 'POST', `/containers/${q(call.container)}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: call.argv }, signal)
  // Without a TTY the daemon streams both outputs framed on one connection until the command ends.
  const started = await answered(e, 'POST', `/exec/${Id}/start`, { Detach: false, Tty: false }, signal)
  const { ExitCode } = await get<{ ExitCode: number | null }>(e, `/exec/${Id}/json`, signal)
  return { code: ExitCode ?? 1, ...demux(started.body) }
}

/** Two readings of each container's CPU counter, windowMs apart: from its cgroup where visible, else the stats API. */
async function cpu(e: DockerApi, call: Call<'cpu'>, signal?: AbortSignal): Promise<Result> {
  const readers = await Promise.all(
    call.ids.map(async (id) => {
      const pid = (await inspect(e, id, signal)).State.Pid ?? 0
      const local = pid > 0 ? cgroupCpuReader(pid) : null
      if (local) return async () => local()
      return async () => (await get<ApiStats>(e, `/containers/${q(id)}/stats?stream=false&one-shot=true`, signal)).cpu_stats?.cpu_usage?.total_usage ?? 0
    }),
  )
  const read = () => Promise.all(readers.map((r) => r()))
  const t0 = performance.now()
  const a = await read()
  await sleep(call.windowMs, signal)
  const b = await read()
  const ns = (performance.now() - t0) * 1e6
  return data(call.ids.map((_id, i) => (100 * (b[i]! - a[i]!)) / ns))
}

async function tasks(e: DockerApi, call: Call<'tasks'>, signal?: AbortSignal): Promise<Result> {
  const { found, missing } = await servicesByName(e, call.services, signal)
  if (missing) return { code: 1, stdout: '', stderr: missing }
  const filters = q(JSON.stringify({ service: found.map((x) => x.ID) }))
  const [list, nodes] = await Promise.all([found.length ? get<ApiTask[]>(e, `/tasks?filters=${filters}`, signal) : [], get<ApiNode[]>(e, '/nodes', signal)])
  return data({ tasks: list, services: found, nodes })
}

const ANSWERS: { readonly [K in ApiCall['op']]: Answer<K> } = {
  version: async (e, _c, s) => ok((await get<{ Version: string }>(e, '/version', s)).Version),
  list: async (e, _c, s) => data(await get(e, `/containers/json?all=1&filters=${byLabel('com.docker.compose.project')}`, s)),
  post: (e, c, s) => {
    const query = c.signal ? `?signal=${q(c.signal)}` : c.graceS !== undefined ? `?t=${c.graceS}` : ''
    return each(c.ids, (id) => apiJson(e, 'POST', `/containers/${q(id)}/${c.action}${query}`, undefined, s).then(() => id))
  },
  image: async (e, c, s) => ok((await get<{ Id: string }>(e, `/images/${q(c.ref)}/json`, s)).Id),
  tag: async (e, c, s) => {
    const at = c.ref.lastIndexOf(':')
    const [repo, tag] = at > c.ref.lastIndexOf('/') ? [c.ref.slice(0, at), c.ref.slice(at + 1)] : [c.ref, 'latest']
    await apiJson(e, 'POST', `/images/${q(c.id)}/tag?repo=${q(repo)}&tag=${q(tag)}`, undefined, s)
    return ok()
  },
  rmi: (e, c, s) => answered(e, 'DELETE', `/images/${q(c.ref)}`, undefined, s).then(() => ok()),
  remove: (e, c, s) =>
    each(c.ids, (id) =>
      answered(e, 'DELETE', `/containers/${q(id)}?force=1`, undefined, s).then(
        () => id,
        // Already gone is what was asked for.
        (x) => (x instanceof EngineError && x.status === 404 ? id : Promise.reject(x)),
      ),
    ),
  wait: (e, c, s) => each(c.ids, async (id) => (await apiJson<{ StatusCode: number }>(e, 'POST', `/containers/${q(id)}/wait`, undefined, s)).StatusCode),
  inspect: (e, c, s) => each(c.ids, (id) => inspect(e, id, s)),
  exec,
  cpu,
  swarm: async (e, _c, s) => data((await get<{ Swarm: unknown }>(e, '/info', s)).Swarm),
  nodes: async (e, _c, s) => {
    const [nodes, info] = await Promise.all([get<ApiNode[]>(e, '/nodes', s), get<{ Swarm: { NodeID: string } }>(e, '/info', s)])
    return data({ nodes, self: info.Swarm.NodeID })
  },
  services: async (e, c, s) => {
    const { found, missing } = await servicesByName(e, c.names, s)
    return { code: missing ? 1 : 0, stdout: '', stderr: missing, data: found }
  },
  tasks,
  scale: (e, c, s) =>
    updateEach(e, Object.keys(c.replicas), s, (svc) =>
      svc.Spec.Mode.Replicated
        ? { spec: { ...svc.Spec, Mode: { Replicated: { Replicas: c.replicas[svc.Spec.Name] ?? 0 } } }, query: '' }
        : `${svc.Spec.Name}: scale can only be used with replicated mode`,
    ),
  rollback: (e, c, s) => updateEach(e, [c.service], s, (svc) => ({ spec: svc.Spec, query: '&rollback=previous' })),
  'stack-containers': async (e, c, s) => data(await get(e, `/containers/json?filters=${byLabel(`com.docker.stack.namespace=${c.stack}`)}`, s)),
  'task-containers': (e, c, s) => each(c.ids, (id) => get<ApiTask>(e, `/tasks/${q(id)}`, s)),
  logs: async (e, c, s) => {
    const r = await answered(e, 'GET', `/containers/${q(c.id)}/logs?stdout=1&stderr=1&timestamps=1&since=${c.sinceS.toFixed(3)}`, undefined, s)
    // A container with a TTY sends its log as it is, without the 8-byte frames.
    return { code: 0, ...(r.body[0]! <= 2 && r.body[1] === 0 ? demux(r.body) : { stdout: r.body.toString('utf8'), stderr: '' }) }
  },
  // Whole, when it ends: the executor's stream() hands each line over as it comes instead.
  events: async (e, c, s) => ok((await answered(e, 'GET', eventsPath(c), undefined, s)).body.toString('utf8')),
}

/** Answers one ApiCall: the daemon's refusal as the CLI's exit 1 and its words. Throws on transport errors only. */
export async function callApi(e: DockerApi, call: ApiCall, signal?: AbortSignal): Promise<Result> {
  try {
    return await (ANSWERS[call.op] as Answer<ApiCall['op']>)(e, call, signal)
  } catch (x) {
    return { code: 1, stdout: '', stderr: engineMessage(x) }
  }
}
