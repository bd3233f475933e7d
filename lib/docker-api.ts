// The Docker Engine API over its unix socket, for the calls a deploy makes most. Each
// `docker` CLI call is a Go binary start; the same question over the socket costs a few
// milliseconds inside the node process that runs anyway. Used only where the CLI would
// talk to that same socket; everything else still goes through the CLI.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { ApiCall, Result } from './command.ts'
import { sleep } from './deadlines.ts'

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
  // node:http, not undici: it is in node already, and undici is loaded only for the first
  // health probe. Sockets are kept alive between calls; long calls (wait, events) get
  // their own, so they never queue behind each other.
  private readonly agent = new HttpAgent({ keepAlive: true })

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

  private request(method: 'GET' | 'POST' | 'DELETE', path: string, body: unknown, signal: AbortSignal | undefined, onChunk: (c: Buffer) => void): Promise<number> {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          socketPath: this.socketPath,
          path,
          method,
          agent: this.agent,
          signal,
          headers: { host: 'docker', ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }) },
        },
        (res) => {
          res.on('data', onChunk)
          res.on('end', () => resolve(res.statusCode ?? 0))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(payload)
    })
  }

  close(): void {
    this.agent.destroy()
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

/** Calls the API and returns the parsed JSON of a 2xx answer; throws the daemon's own message otherwise. */
async function apiJson<T>(e: DockerApi, method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const r = await e.call(method, path, body, signal)
  const text = r.body.toString('utf8')
  if (r.status >= 300) {
    let msg = text.trim()
    try {
      msg = (JSON.parse(text) as { message?: string }).message ?? msg
    } catch {}
    throw new EngineError(`Error response from daemon: ${msg}`, r.status)
  }
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

/** What GET /containers/json answers per container: the fields `docker ps` prints. */
export interface ApiContainer {
  readonly Id: string
  readonly Names: readonly string[]
  readonly Image: string
  readonly State: string
  readonly Status: string
  readonly Labels: Readonly<Record<string, string>> | null
}

interface ApiInspect {
  readonly Name: string
  readonly Image: string
  readonly Mounts?: readonly { readonly Type: string; readonly Name?: string; readonly Destination: string }[]
  readonly RestartCount?: number
  readonly State: { readonly Status?: string; readonly Pid?: number; readonly StartedAt?: string; readonly ExitCode?: number; readonly Health?: { readonly Status: string } }
}

interface ApiStats {
  readonly cpu_stats?: { readonly cpu_usage?: { readonly total_usage?: number } }
}

/** One container as `docker ps --no-trunc --format` (lib/builders/) prints it. */
export function psLine(x: ApiContainer): string {
  // The CLI prints a container's own names, without the leading slash and without link aliases.
  const names = x.Names.map((n) => n.replace(/^\//, '')).filter((n) => !n.includes('/'))
  const label = (k: string) => x.Labels?.[k] ?? ''
  return [
    x.Id,
    label('com.docker.compose.project'),
    label('com.docker.compose.service'),
    x.State,
    x.Status,
    names.join(','),
    x.Image,
    label('com.docker.compose.project.working_dir'),
  ].join('\t')
}

/** The parts of a swarm service, node and task the answers below need. */
interface ApiService {
  readonly ID: string
  readonly Version: { readonly Index: number }
  readonly Spec: { readonly Name: string; readonly Mode: { Replicated?: { Replicas?: number }; Global?: object } }
}
interface ApiNode {
  readonly ID: string
  readonly Description?: { readonly Hostname?: string; readonly Engine?: { readonly EngineVersion?: string } }
  readonly Spec?: { readonly Availability?: string }
  readonly Status?: { readonly State?: string }
  readonly ManagerStatus?: { readonly Leader?: boolean; readonly Reachability?: string }
}
interface ApiTask {
  readonly ID: string
  readonly ServiceID: string
  readonly Slot?: number
  readonly NodeID?: string
  readonly DesiredState: string
  readonly Spec?: { readonly ContainerSpec?: { readonly Image?: string } }
  readonly Status?: { readonly State?: string; readonly Timestamp?: string; readonly Err?: string }
}

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1)

/** "3 seconds ago", as the CLI words a task's state time; callers read only the state before it. */
function ago(iso: string | undefined): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso ?? '')) / 1000))
  if (!Number.isFinite(s)) return ''
  return s < 1 ? 'less than a second ago' : s < 60 ? `${s} seconds ago` : `${Math.round(s / 60)} minutes ago`
}

/** One node as `docker node ls --format '{{json .}}'` prints it. */
export function nodeLine(n: ApiNode, self: string): string {
  const m = n.ManagerStatus
  return JSON.stringify({
    Availability: cap(n.Spec?.Availability ?? ''),
    EngineVersion: n.Description?.Engine?.EngineVersion ?? '',
    Hostname: n.Description?.Hostname ?? '',
    ID: n.ID,
    ManagerStatus: m ? (m.Leader ? 'Leader' : cap(m.Reachability ?? '')) : '',
    Self: n.ID === self,
    Status: cap(n.Status?.State ?? ''),
  })
}

/** One task as `docker service ps --no-trunc --format '{{json .}}'` prints it. */
export function taskLine(t: ApiTask, service: string, hostOf: ReadonlyMap<string, string>): string {
  return JSON.stringify({
    CurrentState: `${cap(t.Status?.State ?? '')} ${ago(t.Status?.Timestamp)}`.trim(),
    DesiredState: cap(t.DesiredState),
    Error: t.Status?.Err ?? '',
    ID: t.ID,
    Image: t.Spec?.ContainerSpec?.Image ?? '',
    Name: `${service}.${t.Slot ? t.Slot : (t.NodeID ?? '')}`,
    Node: hostOf.get(t.NodeID ?? '') ?? t.NodeID ?? '',
    Ports: '',
  })
}

/** The services that exist, by name, and the CLI's error for each one that does not. */
async function servicesByName(e: DockerApi, names: readonly string[], signal?: AbortSignal): Promise<{ found: ApiService[]; missing: string[] }> {
  const found: ApiService[] = []
  const missing: string[] = []
  for (const name of names) {
    try {
      found.push(await apiJson<ApiService>(e, 'GET', `/services/${q(name)}`, undefined, signal))
    } catch (err) {
      if (err instanceof EngineError && err.status === 404) missing.push(name)
      else throw err
    }
  }
  return { found, missing }
}

const noSuchService = (missing: readonly string[]) => missing.map((m) => `Error: no such service: ${m}`).join('\n')

/** One update of each service through its stored spec, as `service scale` and `service rollback` do. */
async function updateEach(
  e: DockerApi,
  names: readonly string[],
  signal: AbortSignal | undefined,
  change: (s: ApiService) => { spec: unknown; query: string; out: string } | string,
): Promise<Result> {
  const { found, missing } = await servicesByName(e, names, signal)
  const out: string[] = []
  const err = missing.length ? [noSuchService(missing)] : []
  for (const svc of found) {
    const c = change(svc)
    if (typeof c === 'string') {
      err.push(c)
      continue
    }
    try {
      await apiJson(e, 'POST', `/services/${svc.ID}/update?version=${svc.Version.Index}${c.query}`, c.spec, signal)
      out.push(c.out)
    } catch (x) {
      if (!(x instanceof EngineError)) throw x
      err.push(x.message)
    }
  }
  return { code: err.length ? 1 : 0, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.join('\n') }
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

const inspect = (e: DockerApi, id: string, signal?: AbortSignal) => apiJson<ApiInspect>(e, 'GET', `/containers/${q(id)}/json`, undefined, signal)

/** The events API path of an `events` call: the same filters as the CLI's. */
export function eventsPath(call: Extract<ApiCall, { op: 'events' }>): string {
  const filters = q(JSON.stringify({ type: ['container'], label: [`com.docker.compose.project=${call.project}`] }))
  return `/events?since=${call.sinceS.toFixed(3)}&until=${call.untilS.toFixed(3)}&filters=${filters}`
}

/** Answers one ApiCall with the stdout its argv would print. Throws on transport errors only. */
export async function callApi(e: DockerApi, call: ApiCall, signal?: AbortSignal): Promise<Result> {
  switch (call.op) {
    case 'version':
      return ok(`${(await apiJson<{ Version: string }>(e, 'GET', '/version', undefined, signal)).Version}\n`)
    case 'list': {
      const filters = q(JSON.stringify({ label: ['com.docker.compose.project'] }))
      const list = await apiJson<ApiContainer[]>(e, 'GET', `/containers/json?all=1&filters=${filters}`, undefined, signal)
      return ok(list.map((x) => `${psLine(x)}\n`).join(''))
    }
    case 'post': {
      const query = call.signal ? `?signal=${q(call.signal)}` : call.graceS !== undefined ? `?t=${call.graceS}` : ''
      const path = (id: string) => `/containers/${q(id)}/${call.action}${query}`
      return each(call.ids, async (id) => {
        await apiJson(e, 'POST', path(id), undefined, signal)
        return id
      })
    }
    case 'image':
      return ok(`${(await apiJson<{ Id: string }>(e, 'GET', `/images/${q(call.ref)}/json`, undefined, signal)).Id}\n`)
    case 'tag': {
      const at = call.ref.lastIndexOf(':')
      const [repo, tag] = at > call.ref.lastIndexOf('/') ? [call.ref.slice(0, at), call.ref.slice(at + 1)] : [call.ref, 'latest']
      await apiJson(e, 'POST', `/images/${q(call.id)}/tag?repo=${q(repo)}&tag=${q(tag)}`, undefined, signal)
      return ok('')
    }
    case 'rmi': {
      const r = await e.call('DELETE', `/images/${q(call.ref)}`, undefined, signal)
      if (r.status >= 300) return { code: 1, stdout: '', stderr: `Error response from daemon: ${r.body.toString('utf8').trim()}` }
      return ok(`Untagged: ${call.ref}\n`)
    }
    case 'remove':
      return each(call.ids, async (id) => {
        const r = await e.call('DELETE', `/containers/${q(id)}?force=1`, undefined, signal)
        // Already gone is what was asked for.
        if (r.status >= 300 && r.status !== 404) throw new EngineError(`Error response from daemon: ${r.body.toString('utf8').trim()}`, r.status)
        return id
      })
    case 'wait':
      return each(call.ids, async (id) => String((await apiJson<{ StatusCode: number }>(e, 'POST', `/containers/${q(id)}/wait`, undefined, signal)).StatusCode))
    case 'inspect':
      return each(call.ids, async (id) => {
        const x = await inspect(e, id, signal)
        if (call.fields === 'health') return x.State.Health?.Status ?? ''
        if (call.fields === 'image') return `${x.Name} ${x.Image}`
        if (call.fields === 'mounts') return `${x.Name} ${(x.Mounts ?? []).flatMap((m) => (m.Type === 'volume' ? [`${m.Name}:${m.Destination},`] : [])).join('')}`
        return `${x.Name} ${x.State.Status ?? ''} ${x.RestartCount ?? 0} ${x.State.StartedAt ?? ''} ${x.State.ExitCode ?? 0}`
      })
    case 'exec': {
      const { Id } = await apiJson<{ Id: string }>(e, 'POST', `/containers/${q(call.container)}/exec`, { AttachStdout: true, AttachStderr: true, Cmd: call.argv }, signal)
      // Without a TTY the daemon streams both outputs framed on one connection until the command ends.
      const started = await e.call('POST', `/exec/${Id}/start`, { Detach: false, Tty: false }, signal)
      if (started.status >= 300) throw new EngineError(`Error response from daemon: ${started.body.toString('utf8').trim()}`, started.status)
      const { ExitCode } = await apiJson<{ ExitCode: number | null }>(e, 'GET', `/exec/${Id}/json`, undefined, signal)
      return { code: ExitCode ?? 1, ...demux(started.body) }
    }
    case 'cpu': {
      const readers = await Promise.all(
        call.ids.map(async (id) => {
          const pid = (await inspect(e, id, signal)).State.Pid ?? 0
          const local = pid > 0 ? cgroupCpuReader(pid) : null
          if (local) return async () => local()
          return async () => (await apiJson<ApiStats>(e, 'GET', `/containers/${q(id)}/stats?stream=false&one-shot=true`, undefined, signal)).cpu_stats?.cpu_usage?.total_usage ?? 0
        }),
      )
      const read = () => Promise.all(readers.map((r) => r()))
      const t0 = performance.now()
      const a = await read()
      await sleep(call.windowMs, signal)
      const b = await read()
      const ns = (performance.now() - t0) * 1e6
      return ok(call.ids.map((id, i) => `${id.slice(0, 12)}\t${((100 * (b[i]! - a[i]!)) / ns).toFixed(2)}%\n`).join(''))
    }
    case 'swarm':
      return ok(`${JSON.stringify((await apiJson<{ Swarm: unknown }>(e, 'GET', '/info', undefined, signal)).Swarm)}\n`)
    case 'nodes': {
      const [nodes, info] = await Promise.all([
        apiJson<ApiNode[]>(e, 'GET', '/nodes', undefined, signal),
        apiJson<{ Swarm: { NodeID: string } }>(e, 'GET', '/info', undefined, signal),
      ])
      return ok(nodes.map((n) => `${nodeLine(n, info.Swarm.NodeID)}\n`).join(''))
    }
    case 'services': {
      const { found, missing } = await servicesByName(e, call.names, signal)
      return { code: missing.length ? 1 : 0, stdout: `${JSON.stringify(found, null, 4)}\n`, stderr: noSuchService(missing) }
    }
    case 'tasks': {
      const { found, missing } = await servicesByName(e, call.services, signal)
      if (missing.length) return { code: 1, stdout: '', stderr: noSuchService(missing) }
      const filters = q(JSON.stringify({ service: found.map((x) => x.ID) }))
      const [tasks, nodes] = await Promise.all([
        found.length ? apiJson<ApiTask[]>(e, 'GET', `/tasks?filters=${filters}`, undefined, signal) : Promise.resolve([]),
        apiJson<ApiNode[]>(e, 'GET', '/nodes', undefined, signal),
      ])
      const hostOf = new Map(nodes.map((n) => [n.ID, n.Description?.Hostname ?? n.ID]))
      const nameOf = new Map(found.map((x) => [x.ID, x.Spec.Name]))
      return ok(tasks.map((t) => `${taskLine(t, nameOf.get(t.ServiceID) ?? t.ServiceID, hostOf)}\n`).join(''))
    }
    case 'scale':
      return updateEach(e, Object.keys(call.replicas), signal, (svc) => {
        if (!svc.Spec.Mode.Replicated) return `${svc.Spec.Name}: scale can only be used with replicated mode`
        const n = call.replicas[svc.Spec.Name] ?? 0
        return { spec: { ...svc.Spec, Mode: { Replicated: { Replicas: n } } }, query: '', out: `${svc.Spec.Name} scaled to ${n}` }
      })
    case 'stack-containers': {
      const filters = q(JSON.stringify({ label: [`com.docker.stack.namespace=${call.stack}`] }))
      const list = await apiJson<ApiContainer[]>(e, 'GET', `/containers/json?filters=${filters}`, undefined, signal)
      const label = (x: ApiContainer, k: string) => x.Labels?.[k] ?? ''
      return ok(list.map((x) => `${[x.Id, label(x, 'com.docker.swarm.service.name'), label(x, 'com.docker.swarm.task.id'), x.State].join('\t')}\n`).join(''))
    }
    case 'task-containers':
      return each(call.ids, async (id) => {
        const t = await apiJson<{ ID: string; Status?: { ContainerStatus?: { ContainerID?: string } } }>(e, 'GET', `/tasks/${q(id)}`, undefined, signal)
        return `${t.ID} ${t.Status?.ContainerStatus?.ContainerID ?? ''}`
      })
    case 'rollback':
      return updateEach(e, [call.service], signal, (svc) => ({ spec: svc.Spec, query: '&rollback=previous', out: svc.Spec.Name }))
    case 'logs': {
      const r = await e.call('GET', `/containers/${q(call.id)}/logs?stdout=1&stderr=1&timestamps=1&since=${call.sinceS.toFixed(3)}`, undefined, signal)
      if (r.status >= 300) return { code: 1, stdout: '', stderr: `Error response from daemon: ${r.body.toString('utf8').trim()}` }
      // A container with a TTY sends its log as it is, without the 8-byte frames.
      return { code: 0, ...(r.body[0]! <= 2 && r.body[1] === 0 ? demux(r.body) : { stdout: r.body.toString('utf8'), stderr: '' }) }
    }
    case 'events': {
      // Whole, when it ends: the executor's stream() hands each line over as it comes instead.
      const r = await e.call('GET', eventsPath(call), undefined, signal)
      if (r.status >= 300) throw new EngineError(`Error response from daemon: ${r.body.toString('utf8').trim()}`, r.status)
      return ok(r.body.toString('utf8'))
    }
  }
}
