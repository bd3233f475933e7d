// The Docker Engine API over its unix socket, for the calls a deploy makes most.
// Each `docker` CLI call is a Go binary start (~60 ms of CPU, ~0.1 s), and `docker info`
// also asks every CLI plugin for its metadata (~0.3 s). The same question over the socket
// costs a few milliseconds inside the node process that is running anyway. Used only where
// the CLI would talk to that same socket; everything else still goes through the CLI.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { Agent as HttpAgent, request as httpRequest } from 'node:http'

export interface EngineResponse {
  readonly status: number
  readonly body: Buffer
}

export interface Engine {
  /** The socket, as the CLI would name it in an error. */
  readonly host: string
  call(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<EngineResponse>
}

/**
 * The socket the docker CLI would use, or null when it would use something else:
 * another binary (CALMSWAP_DOCKER), a context, or a DOCKER_HOST that is not a unix socket.
 */
export function engineSocket(env: Readonly<Record<string, string | undefined>>, docker: string, mode: 'auto' | 'off'): string | null {
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
 * start and its "docker-cli-plugin-metadata" call of the plugin: ~0.12 s and ~0.18 CPU-s
 * a call on an idle 2-core box, twice that on a busy one. Only with engineSocket's
 * conditions: then the CLI would add nothing but those two starts.
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

export class SocketEngine implements Engine {
  readonly host: string
  // node:http, not undici: it is in node already, while loading undici's 0.5 MB before the
  // first docker call cost ~0.1 s of a deploy's start. Sockets are kept alive between calls;
  // `docker wait` calls each get their own, so they never queue behind each other.
  private readonly agent = new HttpAgent({ keepAlive: true })

  constructor(readonly socketPath: string) {
    this.host = `unix://${socketPath}`
  }

  call(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<EngineResponse> {
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
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(payload)
    })
  }

  close(): Promise<void> {
    this.agent.destroy()
    return Promise.resolve()
  }
}

export class EngineError extends Error {
  constructor(
    message: string,
    readonly status = 0,
  ) {
    super(message)
    this.name = 'EngineError'
  }
}

/** Calls the API and returns the parsed JSON of a 2xx answer; throws the daemon's own message otherwise. */
export async function engineJson<T>(e: Engine, method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
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
export function connectionMessage(e: Engine, err: Error): string | null {
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
 * trip (the stats API took ~0.4 s a reading on the busy bench host). Null when the cgroup
 * is not visible from here (calmswap itself in a container, another kernel layout).
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
      if (existsSync(f)) return () => Number(/^usage_usec (\d+)/m.exec(readFileSync(f, 'utf8'))?.[1] ?? NaN) * 1000
    }
  } catch {}
  return null
}
