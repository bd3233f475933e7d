// The stack of an end-to-end test or a soak: one throwaway calmswap stack, on the real Docker
// daemon. Each stack has its own prefix (so its own three compose projects and network),
// its own state folder and its own loopback ports; `teardown()` removes it all.
//
// Everything talks to 127.0.0.1 only: the proxy's port, the colors' published ports,
// and Redis through `docker exec` into the shared Redis container.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { proxyLogDir } from '../../lib/config.ts'

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..')

/** A script as build.mjs writes it: dist/<name>.cjs for the one-file CommonJS steps, else dist/<name>.mjs. */
export const builtScript = (name: string): string => {
  const cjs = join(ROOT, 'dist', `${name}.cjs`)
  return existsSync(cjs) ? cjs : join(ROOT, 'dist', `${name}.mjs`)
}
export const COMPOSE_FILE = join(ROOT, 'compose.yml')
export type Color = 'blue' | 'green'
export type Project = Color | 'shared'

/** Ports that belong to a developer's own stack on this box: never used here. */
const RESERVED = new Set([8080, 18001, 18002, 16379])

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Polls `f` until it returns a truthy value; throws with `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, f: () => Promise<T> | T, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const t0 = Date.now()
  let last: unknown
  for (;;) {
    try {
      const v = await f()
      if (v) return v
      last = v
    } catch (e) {
      last = e
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`)
    await sleep(everyMs)
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer()
    s.once('error', () => res(false))
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => res(true)))
  })
}

/** The loopback ports the stacks may use: 19000-19999, or E2E_PORTS=<from>-<to> (a session sharing the box with others). */
function portRange(): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(process.env.E2E_PORTS ?? '')
  return m ? [Number(m[1]), Number(m[2])] : [19000, 19999]
}

/** `n` distinct free loopback ports in the range. */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = []
  const [lo, hi] = portRange()
  for (let tries = 0; out.length < n; tries++) {
    if (tries > 500) throw new Error(`no free ports in ${lo}-${hi}`)
    const p = lo + Math.floor(Math.random() * (hi - lo + 1))
    if (RESERVED.has(p) || out.includes(p)) continue
    if (await portIsFree(p)) out.push(p)
  }
  return out
}

// ---------------------------------------------------------------- processes

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** The `--json` events a script printed on stdout. */
export function events(r: { stdout: string }): Record<string, any>[] {
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l)]
      } catch {
        return []
      }
    })
}

/** The JSON document a data script (status, doctor, history) prints with --json: all of stdout. */
export function jsonDocument(stdout: string): any {
  return JSON.parse(stdout)
}

/** step name -> ok, from the step-end events (the last one wins). */
export function stepResults(r: { stdout: string }): Record<string, boolean> {
  const out: Record<string, boolean> = {}
  for (const e of events(r)) if (e.type === 'step-end') out[e.step] = e.ok
  return out
}

/** Every command calmswap ran, as argv arrays. */
export const commands = (r: { stdout: string }): string[][] =>
  events(r)
    .filter((e) => e.type === 'command')
    .map((e) => e.argv)

export interface Background {
  readonly child: ChildProcess
  readonly pid: number
  stdout: string
  stderr: string
  /** Resolves when stderr matches; rejects if the process exits first or after timeoutMs. */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<void>
  kill(sig: NodeJS.Signals): void
  readonly done: Promise<RunResult>
  readonly exited: boolean
}

export function execFileText(file: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((res) => {
    execFile(file, args, { env, cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null
      res({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, signal: e?.signal ?? null, stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

export const docker = (args: string[], env?: NodeJS.ProcessEnv, timeoutMs?: number) => execFileText('docker', args, env ?? process.env, timeoutMs)

export interface Piped {
  readonly file: string
  readonly args: readonly string[]
  readonly env?: NodeJS.ProcessEnv
}

/**
 * `from | to` with no shell in between: `to` reads what `from` writes. Both are killed at the
 * deadline. The result is `to`'s, unless `from` failed: then `from`'s code, and both their errors.
 */
export function pipeFiles(from: Piped, to: Piped, timeoutMs: number): Promise<RunResult> {
  const spawned = (p: Piped, input: 'ignore' | 'pipe') => spawn(p.file, [...p.args], { env: p.env, cwd: ROOT, stdio: [input, 'pipe', 'pipe'] })
  const a = spawned(from, 'ignore')
  const b = spawned(to, 'pipe')
  a.stdout!.pipe(b.stdin!)
  // `to` may end before it read everything (a refused load): as in a shell's pipe, `from`'s
  // next write then fails instead of blocking until the deadline.
  b.stdin!.on('error', () => {})
  b.once('close', () => a.stdout!.destroy())
  const text = { aErr: '', bOut: '', bErr: '' }
  a.stderr!.on('data', (d) => (text.aErr += d))
  b.stdout!.on('data', (d) => (text.bOut += d))
  b.stderr!.on('data', (d) => (text.bErr += d))
  let late = false
  const timer = setTimeout(() => {
    late = true
    a.kill('SIGKILL')
    b.kill('SIGKILL')
  }, timeoutMs)
  const ended = (c: ChildProcess) =>
    new Promise<{ code: number; signal: NodeJS.Signals | null; error: string }>((res) => {
      c.once('error', (e) => res({ code: 127, signal: null, error: `${e.message}\n` }))
      c.once('close', (code, signal) => res({ code: code ?? 1, signal, error: '' }))
    })
  return Promise.all([ended(a), ended(b)]).then(([x, y]) => {
    clearTimeout(timer)
    const deadline = late ? `killed after ${timeoutMs} ms\n` : ''
    const failed = x.code !== 0 ? x : y
    return { code: failed.code, signal: failed.signal, stdout: text.bOut, stderr: `${deadline}${x.error}${text.aErr}${y.error}${text.bErr}` }
  })
}

// ---------------------------------------------------------------- load

export interface LoadStats {
  readonly sent: number
  readonly ok: number
  /** non-2xx answers plus connection errors and timeouts */
  readonly failed: number
  readonly statuses: Record<string, number>
  readonly errors: Record<string, number>
  readonly colors: Record<string, number>
  /** the first few failures, for the assertion message */
  readonly samples: string[]
  /** every request: when it was sent (Date.now()), its status (0: no answer) and the color that answered */
  readonly log: { readonly t: number; readonly status: number; readonly color?: string }[]
}

export interface Load {
  stop(): Promise<LoadStats>
}

/**
 * A bounded load generator: `rps` GETs a second to a loopback URL, at most `maxInFlight`
 * at once, for at most `maxMs`. Each request uses its own connection (Connection: close),
 * so what is measured is calmswap's switch, not a client's keep-alive race with nginx.
 */
export function startLoad(url: string, o: { rps?: number; maxMs?: number; maxInFlight?: number; timeoutMs?: number; bridge?: boolean } = {}): Load {
  // bridge: a container's address on a Docker bridge of this host (swarm mode cannot publish on loopback).
  const local = o.bridge ? /^http:\/\/(127|10|172|192)\.[\d.]+:\d+\//.test(url) : /^http:\/\/127\.0\.0\.1:\d+\//.test(url)
  if (!local) throw new Error(`load only targets 127.0.0.1${o.bridge ? ' or a bridge address' : ''}: ${url}`)
  const rps = o.rps ?? 20
  const timeoutMs = o.timeoutMs ?? 10_000
  const maxInFlight = o.maxInFlight ?? 50
  const s = {
    sent: 0,
    ok: 0,
    failed: 0,
    statuses: {} as Record<string, number>,
    errors: {} as Record<string, number>,
    colors: {} as Record<string, number>,
    samples: [] as string[],
    log: [] as { t: number; status: number; color?: string }[],
  }
  const t0 = Date.now()
  const inflight = new Set<Promise<void>>()
  const fail = (what: string, bucket: Record<string, number>, key: string) => {
    s.failed++
    bucket[key] = (bucket[key] ?? 0) + 1
    if (s.samples.length < 10) s.samples.push(`+${Date.now() - t0}ms ${what}`)
  }
  const one = async () => {
    s.sent++
    const t = Date.now()
    try {
      const res = await request(url, { headers: { connection: 'close' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) })
      const body = await res.body.text()
      s.log.push({ t, status: res.statusCode, color: res.headers['x-deploy-color'] as string | undefined })
      if (res.statusCode >= 200 && res.statusCode < 300) {
        s.ok++
        const color = String(res.headers['x-deploy-color'] ?? '?')
        s.colors[color] = (s.colors[color] ?? 0) + 1
      } else fail(`status ${res.statusCode} ${body.slice(0, 80)}`, s.statuses, String(res.statusCode))
    } catch (e) {
      const err = e as Error & { code?: string; cause?: { code?: string } }
      const code = err.cause?.code ?? err.code ?? err.name
      s.log.push({ t, status: 0 })
      fail(`error ${code}: ${err.message}`, s.errors, code)
    }
  }
  const timer = setInterval(() => {
    if (Date.now() - t0 > (o.maxMs ?? 180_000)) return clearInterval(timer)
    if (inflight.size >= maxInFlight) return
    const p = one().finally(() => inflight.delete(p))
    inflight.add(p)
  }, 1000 / rps)
  return {
    async stop() {
      clearInterval(timer)
      await Promise.all([...inflight])
      return { ...s, log: [...s.log].sort((a, b) => a.t - b.t) }
    },
  }
}

export function describeLoad(s: LoadStats): string {
  return `sent ${s.sent}, ok ${s.ok}, failed ${s.failed} ${JSON.stringify({ statuses: s.statuses, errors: s.errors, colors: s.colors })}${s.samples.length ? `\n  ${s.samples.join('\n  ')}` : ''}`
}

// ---------------------------------------------------------------- the stack

export interface ContainerRow {
  readonly id: string
  readonly name: string
  readonly service: string
  readonly state: string
  readonly status: string
}

export interface Sample {
  readonly at: number
  /** projects of the running beat containers, e.g. ["p-blue"] */
  readonly beats: string[]
}

export interface Sampler {
  stop(): Promise<Sample[]>
}

/** Reads the running beats every ~`everyMs` (a slow read delays the next) until stopped. */
export function sampleBeats(read: () => Promise<string[]>, everyMs: number): Sampler {
  const samples: Sample[] = []
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      const t = Date.now()
      samples.push({ at: t, beats: await read() })
      await sleep(Math.max(0, everyMs - (Date.now() - t)))
    }
  })()
  return {
    async stop() {
      stopped = true
      await loop
      return samples
    },
  }
}

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
  readonly color: string | undefined
}

export interface StackOptions {
  readonly composeFile?: string
  /** The shared project's name, or a function of the prefix. */
  readonly sharedProject?: string | ((prefix: string) => string)
  /** The singleton service sampled as "beat" (default: beat). */
  readonly beatService?: string
  /** More env for every script and compose call of the stack. */
  readonly env?: (prefix: string, stateDir: string, ports: Stack['ports']) => Record<string, string>
}

export class Stack {
  readonly prefix: string
  readonly stateDir: string
  readonly ports: { proxy: number; blue: number; green: number; redis: number }
  readonly env: Record<string, string>
  private readonly children = new Set<ChildProcess>()
  private readonly cleanups: (() => void | Promise<void>)[] = []

  readonly composeFile: string
  readonly beatService: string
  /** The shared project's name: <prefix>-shared, or an adopted plain project's. */
  readonly sharedProject: string

  private constructor(prefix: string, stateDir: string, ports: Stack['ports'], o: StackOptions = {}) {
    this.prefix = prefix
    this.stateDir = stateDir
    this.ports = ports
    this.composeFile = o.composeFile ?? COMPOSE_FILE
    this.beatService = o.beatService ?? 'beat'
    const shared = typeof o.sharedProject === 'function' ? o.sharedProject(prefix) : o.sharedProject
    this.sharedProject = shared ?? `${prefix}-shared`
    this.env = {
      ...(o.composeFile ? { CALMSWAP_COMPOSE_FILE: o.composeFile } : {}),
      ...(shared ? { CALMSWAP_SHARED_PROJECT: shared } : {}),
      CALMSWAP_PREFIX: prefix,
      CALMSWAP_STATE_DIR: stateDir,
      CALMSWAP_BLUE_PORT: String(ports.blue),
      CALMSWAP_GREEN_PORT: String(ports.green),
      CALMSWAP_PROXY_URL: `http://127.0.0.1:${ports.proxy}`,
      PROXY_PORT: String(ports.proxy),
      REDIS_PORT: String(ports.redis),
      // One image tag for every e2e deploy, instead of one per git commit.
      CALMSWAP_RELEASE: 'e2e',
      // The CPU-calm wait is a throttle, not a correctness property; on a 2-core box
      // running a load generator it only makes each deploy slower.
      CALMSWAP_CPU_CALM: '0',
      // The watch after the switch has tests of its own (watch*.test.ts); elsewhere it would
      // only add its window to every deploy.
      CALMSWAP_WATCH: '0',
      ...o.env?.(prefix, stateDir, ports),
    }
  }

  /** A fresh stack named after the test file: e2e-<file>-<random4>. Nothing is started. */
  static async create(testFile: string, o: StackOptions = {}): Promise<Stack> {
    const short = basename(testFile)
      .replace(/\.test\.ts$/, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .slice(0, 20)
    // E2E_PREFIX: a session sharing the daemon runs every file under names of its own.
    const prefix = `${process.env.E2E_PREFIX ?? 'e2e'}-${short}-${Math.random().toString(36).slice(2, 6).padEnd(4, '0')}`
    const stateDir = mkdtempSync(join(tmpdir(), `${prefix}-`))
    const [proxy, blue, green, redis] = await freePorts(4)
    return new Stack(prefix, stateDir, { proxy: proxy!, blue: blue!, green: green!, redis: redis! }, o)
  }

  project = (p: Project) => (p === 'shared' ? this.sharedProject : `${this.prefix}-${p}`)
  container = (p: Project, service: string) => `${this.project(p)}-${service}-1`
  get proxyUrl() {
    return `http://127.0.0.1:${this.ports.proxy}`
  }

  /** The env a script gets: the caller's env minus any CALMSWAP_* or stack setting, plus this stack's. */
  scriptEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    const base: NodeJS.ProcessEnv = {}
    const ours =
      /^(CALMSWAP_|APP_FAULT$|BOOT_DELAY$|VISIBILITY_TIMEOUT$|BEAT_EVERY$|WORKER_CONCURRENCY$|APP_CPUSET$|PROXY_PORT$|REDIS_PORT$|WEB_PORT$|DEPLOY_COLOR$|DOCKER_HOST$|DOCKER_CONTEXT$|COMPOSE_)/
    for (const [k, v] of Object.entries(process.env)) if (!ours.test(k)) base[k] = v
    const env: NodeJS.ProcessEnv = { ...base, ...this.env, NO_COLOR: '1', CI: 'true' }
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k]
      else env[k] = v
    }
    return env
  }

  /** Runs the built script (dist/<script>.mjs, or .cjs: status and health) to the end. */
  run(script: string, args: string[] = [], extra: Record<string, string | undefined> = {}, timeoutMs = 240_000): Promise<RunResult> {
    const bg = this.spawn(script, args, extra)
    const t = setTimeout(() => bg.kill('SIGKILL'), timeoutMs)
    return bg.done.finally(() => clearTimeout(t))
  }

  /** With E2E_LOG_DIR set, every script's stderr is kept in <dir>/<prefix>.log. */
  private log(script: string, args: string[], extra: Record<string, string | undefined>, r: RunResult) {
    const dir = process.env.E2E_LOG_DIR
    if (!dir) return
    mkdirSync(dir, { recursive: true })
    appendFileSync(
      join(dir, `${this.prefix}.log`),
      `=== ${new Date().toISOString()} ${script} ${args.join(' ')} ${JSON.stringify(extra)} -> code ${r.code} signal ${r.signal}\n${r.stderr}\n`,
    )
  }

  /** Starts the built script in the background; stdin is not a terminal. */
  spawn(script: string, args: string[] = [], extra: Record<string, string | undefined> = {}): Background {
    const child = spawn(process.execPath, [builtScript(script), ...args], { cwd: ROOT, env: this.scriptEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] })
    this.children.add(child)
    const waiters: { re: RegExp; res: () => void; rej: (e: Error) => void }[] = []
    let exited = false
    const bg: Background = {
      child,
      pid: child.pid!,
      stdout: '',
      stderr: '',
      get exited() {
        return exited
      },
      kill: (sig) => {
        if (!exited) child.kill(sig)
      },
      waitForStderr(re, timeoutMs = 120_000) {
        if (re.test(bg.stderr)) return Promise.resolve()
        if (exited) return Promise.reject(new Error(`${script} exited before stderr matched ${re}:\n${bg.stderr}`))
        return new Promise((res, rej) => {
          const t = setTimeout(() => {
            waiters.splice(waiters.indexOf(w), 1)
            rej(new Error(`stderr of ${script} did not match ${re} within ${timeoutMs}ms:\n${bg.stderr}`))
          }, timeoutMs)
          const w = { re, res: () => (clearTimeout(t), res()), rej: (e: Error) => (clearTimeout(t), rej(e)) }
          waiters.push(w)
        })
      },
      done: new Promise<RunResult>((res) => {
        child.on('close', (code, signal) => {
          exited = true
          this.children.delete(child)
          for (const w of waiters.splice(0)) w.rej(new Error(`${script} exited (code ${code}) before stderr matched ${w.re}:\n${bg.stderr}`))
          const r = { code, signal, stdout: bg.stdout, stderr: bg.stderr }
          this.log(script, args, extra, r)
          res(r)
        })
      }),
    }
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (bg.stdout += d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      bg.stderr += d
      for (const w of [...waiters]) {
        if (w.re.test(bg.stderr)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.res()
        }
      }
    })
    return bg
  }

  /** The usual first deploy; throws with the script's output when it does not work. */
  async bootstrap(extra: Record<string, string | undefined> = {}): Promise<void> {
    const r = await this.run('deploy', [], extra)
    if (r.code !== 0) throw new Error(`bootstrap deploy failed (exit ${r.code}):\n${r.stderr}`)
  }

  /** One GET through the proxy (or any loopback URL), on a fresh connection. */
  async get(path = '/', url = this.proxyUrl, timeoutMs = 5_000): Promise<Reply> {
    const res = await request(`${url}${path}`, { headers: { connection: 'close' }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) })
    const body = await res.body.text()
    const color = res.headers['x-deploy-color'] as string | undefined
    return { status: res.statusCode, headers: res.headers, body, color }
  }

  /** Which color answers through the proxy: a few GETs must all agree. */
  async servingColor(tries = 5, path = '/'): Promise<string> {
    const seen = new Set<string>()
    for (let i = 0; i < tries; i++) {
      const r = await this.get(path)
      seen.add(r.status === 200 ? String(r.color) : `status ${r.status}`)
    }
    return [...seen].join(',')
  }

  load(o: Parameters<typeof startLoad>[1] = {}): Load {
    return startLoad(`${this.proxyUrl}/`, o)
  }

  /** All containers of one of this stack's projects, any state. */
  async containers(p: Project): Promise<ContainerRow[]> {
    const r = await docker([
      'ps',
      '-a',
      '--no-trunc',
      '--filter',
      `label=com.docker.compose.project=${this.project(p)}`,
      '--format',
      '{{.ID}}\t{{.Names}}\t{{.Label "com.docker.compose.service"}}\t{{.State}}\t{{.Status}}',
    ])
    if (r.code !== 0) throw new Error(`docker ps failed: ${r.stderr}`)
    return r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [id = '', name = '', service = '', state = '', status = ''] = l.split('\t')
        return { id, name, service, state, status }
      })
      .sort((a, b) => a.name.localeCompare(b.name))
  }

  /** service -> state, for one project. */
  async states(p: Project): Promise<Record<string, string>> {
    return Object.fromEntries((await this.containers(p)).map((c) => [c.service, c.state]))
  }

  /** Every container of the stack as "name state id", for before/after comparisons. */
  async snapshot(): Promise<string[]> {
    const all = [...(await this.containers('shared')), ...(await this.containers('blue')), ...(await this.containers('green'))]
    return all.map((c) => `${c.name} ${c.state} ${c.id}`)
  }

  /** Running beat containers of both colors (and of an adopted plain project), right now. */
  async runningBeats(): Promise<string[]> {
    const r = await docker([
      'ps',
      '--filter',
      `label=com.docker.compose.service=${this.beatService}`,
      '--filter',
      'status=running',
      '--format',
      '{{.Label "com.docker.compose.project"}}',
    ])
    if (r.code !== 0) throw new Error(`docker ps failed: ${r.stderr}`)
    const mine = new Set([this.project('blue'), this.project('green'), this.project('shared')])
    return r.stdout.split('\n').filter((p) => mine.has(p))
  }

  /** Samples the running beats of both colors every ~300ms until stopped. */
  sampleBeats(everyMs = 300): Sampler {
    return sampleBeats(() => this.runningBeats(), everyMs)
  }

  /** redis-cli inside the shared Redis container. */
  async redis(...args: string[]): Promise<string> {
    const r = await docker(['exec', this.container('shared', 'redis'), 'redis-cli', ...args])
    if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')} failed: ${r.stderr}`)
    return r.stdout.trim()
  }

  async counter(name: 'enqueued' | 'executed' | 'ticks'): Promise<number> {
    return Number((await this.redis('GET', `calmswap:${name}`)) || 0)
  }

  stateFile = () => join(this.stateDir, 'state.json')
  upstreamFile = () => join(this.stateDir, 'nginx', 'upstream.conf')
  lockFile = () => join(this.stateDir, 'lock')

  state(): Record<string, any> {
    return JSON.parse(readFileSync(this.stateFile(), 'utf8'))
  }

  /** Host pids of the proxy container's processes: a reload replaces the nginx workers. */
  async proxyPids(): Promise<string[]> {
    const r = await docker(['top', this.container('shared', 'proxy')])
    if (r.code !== 0) throw new Error(`docker top failed: ${r.stderr}`)
    return r.stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => l.trim().split(/\s+/)[1]!)
      .sort()
  }

  /** Runs `f` at teardown, before the containers go (unmounts and the like). */
  onTeardown(f: () => void | Promise<void>) {
    this.cleanups.push(f)
  }

  /** Removes all three projects, the network and the state folder. Never throws. */
  async teardown(): Promise<void> {
    for (const c of this.children) c.kill('SIGKILL')
    for (const f of this.cleanups.splice(0).reverse()) {
      try {
        await f()
      } catch (e) {
        console.error(`teardown step failed: ${(e as Error).message}`)
      }
    }
    const env = this.scriptEnv({ CALMSWAP_UPSTREAM_DIR: join(this.stateDir, 'nginx') })
    for (const p of ['blue', 'green', 'shared'] as const) {
      await execFileText('docker', ['compose', '-p', this.project(p), '-f', this.composeFile, 'down', '-v', '-t', '1', '--remove-orphans'], env, 120_000)
    }
    // calmswap's own tags of this stack's releases.
    const tags = (await docker(['images', '--format', '{{.Repository}}:{{.Tag}}', `calmswap/${this.prefix}/*`])).stdout.split('\n').filter(Boolean)
    if (tags.length) await docker(['rmi', ...tags])
    // Whatever compose could not remove (a broken project), by label and by name.
    for (const p of ['blue', 'green', 'shared'] as const) {
      const ids = (await docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${this.project(p)}`])).stdout.split('\n').filter(Boolean)
      if (ids.length) await docker(['rm', '-f', '-v', ...ids])
    }
    const net = `${this.prefix}-net`
    if ((await docker(['network', 'inspect', net])).code === 0) await docker(['network', 'rm', net])
    for (const d of [this.stateDir, proxyLogDir(this.stateDir)]) if (existsSync(d)) rmSync(d, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- assertions helpers

/** The highest number of beats seen running at once, and the samples that had more than one. */
export function beatPeak(samples: Sample[]): { max: number; doubled: Sample[] } {
  const doubled = samples.filter((s) => s.beats.length > 1)
  return { max: Math.max(0, ...samples.map((s) => s.beats.length)), doubled }
}

// ---------------------------------------------------------------- the Django example

export const DJANGO_DIR = join(ROOT, 'example/django')

/** The plain project a Django stack starts as: calmswap's shared project, once adopted. */
export const plainProject = (prefix: string) => `${prefix}-app`

/**
 * example/django as a calmswap stack adopting its plain project in place: the roles, and the
 * plain project's network and volumes (README: moving a running app).
 */
export const DJANGO_STACK: StackOptions = {
  composeFile: join(DJANGO_DIR, 'compose.yml'),
  sharedProject: plainProject,
  beatService: 'celerybeat',
  env: (prefix, stateDir) => ({
    CALMSWAP_WEB: 'django',
    CALMSWAP_WORKERS: 'celeryworker',
    CALMSWAP_SINGLETONS: 'celerybeat',
    CALMSWAP_JOBS: 'migrations',
    CALMSWAP_SHARED: 'postgres,redis,proxy',
    CALMSWAP_PROXY_LOG_DIR: proxyLogDir(stateDir),
    // Its "/" places an order on GET (the load's convenience): calmswap's own requests (the
    // watch's, the warm-up's) read.
    CALMSWAP_WATCH_PROBE: '/stats/',
    CALMSWAP_WARMUP: '/stats/',
    APP_NETWORK: `${plainProject(prefix)}_default`,
    POSTGRES_VOLUME: `${plainProject(prefix)}_postgres_data`,
    REDIS_VOLUME: `${plainProject(prefix)}_redis_data`,
  }),
}
