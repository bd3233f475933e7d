// A pretend Docker host for plan tests: it answers `docker ps` and `compose config` and
// applies up/stop/start/unpause/down and kill/pause (by container) to its containers, so steps see a host that
// changes as they act. Health answers come from real local HTTP servers on loopback.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Cmd, Result } from '../../lib/command.ts'
import type { Color, Config } from '../../lib/config.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { type Ctx, makeContext } from '../../lib/context.ts'
import { readOwnFile, writeFileAtomic } from '../../lib/files.ts'
import { proxyDriver } from '../../lib/proxy/index.ts'
import { nginxFlags } from '../../lib/proxy/nginx.ts'
import { EMPTY_STATE, type State, StateStore } from '../../lib/state.ts'
import { Ui } from '../../lib/ui.ts'
import { RecordingExecutor } from './recording.ts'

type CState = 'running' | 'exited' | 'paused' | 'created' | 'restarting'

export class World {
  readonly containers = new Map<string, { project: string; service: string; state: CState; workingDir?: string; mounts?: string }>()
  /** Named volumes that exist. */
  readonly volumes = new Set<string>()
  readonly model = JSON.parse(readFileSync(new URL('../fixtures/example-model.json', import.meta.url), 'utf8'))
  /** Make a command fail: return an exit code for it, or undefined to let it pass. */
  failOn: (argv: readonly string[]) => number | undefined = () => undefined
  webStatus: Record<Color, number> = { blue: 200, green: 200 }
  /** Health tries a web answers 503 to before its webStatus: still booting. */
  booting: Partial<Record<Color, number>> = {}
  /** What each web answers to pages other than the health check, in turn (0: drops the connection); then webStatus. */
  pages: Partial<Record<Color, number[]>> = {}
  /** The paths each web was asked for, in order. */
  asked: Record<Color, string[]> = { blue: [], green: [] }
  /** Signalled workers ignore SIGTERM and outlive their grace. */
  hang = false
  /** `docker wait` takes this long (ms) before the workers are seen to exit: a slow warm shutdown. */
  slowStop = 0
  /**
   * Services (`worker`) or one project's service (`app-green-worker`) whose containers fall
   * into a restart loop once started: a broken release.
   */
  crashLoop = new Set<string>()
  private loops(name: string, service: string): boolean {
    return this.crashLoop.has(service) || this.crashLoop.has(name.replace(/-\d+$/, ''))
  }
  /** Restarts each container has had, as `docker inspect` reports them. */
  readonly restarts = new Map<string, number>()
  /** When each container last started (epoch ms): `docker inspect`'s StartedAt. */
  readonly started = new Map<string, number>()
  /** Services whose containers log nothing (a worker at -l warning): no ready line. */
  readonly silent = new Set<string>()
  /** When set, a running worker also logs taking its first task, stamped this long (ms) after the read: a backlog waited. */
  taskAfterMs: number | null = null
  /** What a quiesce prints on stdout (the answers that showed a task running), made as it runs. */
  quiesceSays: (() => string) | null = null
  /** Image references and the ids they name; a build moves the compose file's reference to a new id. */
  readonly images = new Map<string, string>([['calmswap-example-app:latest', 'sha256:build0']])
  builds = 0
  /** Image ids a container still uses: `docker rmi` of their last name is refused. */
  readonly imagesInUse = new Set<string>()
  /** CPU % `docker stats` reports per service, one reading after another (the last one repeats); 0 when unset. */
  cpu: Partial<Record<string, number[]>> = {}
  /** Docker events of a project (`docker events`), each after its delay from the stream's start. */
  events: Partial<Record<string, { afterMs: number; line: string }[]>> = {}

  /** A container's event as the daemon streams it. */
  static event(project: string, service: string, action: string, attrs: Record<string, string> = {}): string {
    return JSON.stringify({
      Type: 'container',
      Action: action,
      Actor: { Attributes: { 'com.docker.compose.project': project, 'com.docker.compose.service': service, name: `${project}-${service}-1`, ...attrs } },
    })
  }

  streamed = (cmd: Cmd) => {
    const label = cmd.argv.find((a) => a.startsWith('label=com.docker.compose.project='))?.split('=')[2] ?? ''
    return this.events[label] ?? []
  }

  set(project: string, service: string, state: CState, more: { workingDir?: string; mounts?: string } = {}) {
    const name = `${project}-${service}-1`
    this.starting(name, state)
    this.containers.set(name, { ...this.containers.get(name), project, service, state, ...more })
  }

  /** A container that goes to running from a stop (not a thaw) starts afresh. */
  private starting(name: string, to: CState) {
    const was = this.containers.get(name)?.state
    if (to === 'running' && was !== 'running' && was !== 'paused') this.started.set(name, Date.now())
  }

  state(project: string, service: string): CState | undefined {
    return this.containers.get(`${project}-${service}-1`)?.state
  }

  respond = (cmd: Cmd): Partial<Result> & { delayMs?: number } => {
    const a = cmd.argv
    const fail = this.failOn(a)
    if (fail) return { code: fail, stderr: 'simulated failure' }
    if (a[0] === 'git') return { code: 128 }
    if (a[1] === 'version') return { stdout: '20.10.24\n' }
    if (a[1] === 'ps') {
      return {
        stdout: [...this.containers.entries()]
          .map(([name, c]) =>
            [`id-${name}`, c.project, c.service, c.state, c.state === 'running' ? 'Up 1 minute' : 'Exited (0) 1 second ago', name, 'img', c.workingDir ?? ''].join('\t'),
          )
          .join('\n'),
      }
    }
    if (a[1] === 'inspect' && a[3]?.includes('.Mounts'))
      return {
        stdout: a
          .slice(4)
          .map((n) => `/${n} ${this.containers.get(n)?.mounts ?? ''}\n`)
          .join(''),
      }
    if (a[1] === 'volume' && a[2] === 'ls') return { stdout: [...this.volumes].map((v) => `${v}\n`).join('') }
    if (a[1] === 'image' && a[2] === 'inspect') {
      const id = this.images.get(a.at(-1)!)
      return id ? { stdout: `${id}\n` } : { code: 1, stderr: `Error: No such image: ${a.at(-1)}` }
    }
    if (a[1] === 'tag') {
      const id = a[2]!.startsWith('sha256:') ? a[2]! : this.images.get(a[2]!)
      if (!id) return { code: 1, stderr: `Error response from daemon: No such image: ${a[2]}` }
      this.images.set(a[3]!, id)
      return {}
    }
    if (a[1] === 'rmi') {
      const id = this.images.get(a[2]!)
      if (!id) return { code: 1, stderr: `Error: No such image: ${a[2]}` }
      const names = [...this.images.values()].filter((x) => x === id).length
      if (names === 1 && this.imagesInUse.has(id))
        return {
          code: 1,
          stderr: `Error response from daemon: conflict: unable to remove repository reference "${a[2]}" (must force) - container abc is using its referenced image`,
        }
      this.images.delete(a[2]!)
      return {}
    }
    if (a[1] === 'rm') {
      for (const name of a.slice(3)) this.containers.delete(name)
      return {}
    }
    if (a[1] === 'inspect' && a[3]?.includes('RestartCount')) {
      // A container in crashLoop restarts once more every time it is looked at.
      const line = (name: string) => {
        const c = this.containers.get(name)
        if (!c) return ''
        if (this.loops(name, c.service) && c.state !== 'exited') {
          c.state = 'restarting'
          this.restarts.set(name, (this.restarts.get(name) ?? 0) + 1)
        }
        const startedAt = new Date((this.started.get(name) ?? Date.parse('2026-01-01T00:00:00Z')) + 1000 * (this.restarts.get(name) ?? 0)).toISOString()
        return `/${name} ${c.state} ${this.restarts.get(name) ?? 0} ${startedAt} ${c.state === 'running' ? 0 : 1}\n`
      }
      return { stdout: a.slice(4).map(line).join('') }
    }
    if (a[1] === 'logs') {
      // Celery at -l info: a running worker logs its ready line, beat its first due task.
      const c = this.containers.get(a.at(-1)!)
      if (c?.state !== 'running' || this.loops(a.at(-1)!, c.service) || this.silent.has(c.service)) return { stdout: '' }
      const line = c.service === 'beat' ? 'Scheduler: Sending due task tick (tasks.tick)' : `celery@${a.at(-1)} ready.`
      const task =
        c.service === 'worker' && this.taskAfterMs !== null
          ? `${new Date(Date.now() + this.taskAfterMs).toISOString()} [INFO/MainProcess] Task tasks.work[0b5e9c1a-7d2f-4a51-9f0e-2c3d4e5f6a7b] received\n`
          : ''
      return { stdout: `${new Date().toISOString()} [INFO/MainProcess] ${line}\n${task}` }
    }
    if (a[1] === 'wait') {
      // Workers finish within the grace unless a test says they hang.
      if (!this.hang) for (const [name, c] of this.containers) if (a.includes(`id-${name}`) || a.slice(2).includes(name)) c.state = 'exited'
      return this.hang ? { code: 124, stderr: 'timed out' } : { delayMs: this.slowStop }
    }
    if (a[1] === 'stats') {
      const reading = (id: string) => {
        const readings = this.cpu[this.containers.get(id.replace(/^id-/, ''))?.service ?? ''] ?? [0]
        return readings.length > 1 ? readings.shift()! : (readings[0] ?? 0)
      }
      return {
        stdout: a
          .slice(5)
          .map((id) => `${id.slice(0, 12)}\t${reading(id).toFixed(2)}%\n`)
          .join(''),
      }
    }
    if (a[1] === 'kill' || a[1] === 'pause' || a[1] === 'unpause' || a[1] === 'start' || a[1] === 'stop') {
      // SIGTERM: a worker finishes its task first, so it still runs when the next step looks.
      const to: CState | null = a[1] === 'pause' ? 'paused' : a[1] === 'start' || a[1] === 'unpause' ? 'running' : a[3] === 'SIGKILL' || a[1] === 'stop' ? 'exited' : null
      // A signal to a frozen container: Docker resumes its processes to deliver it, but
      // still reports the container paused (it calls containerd's resume, not its own unpause).
      for (const name of a.slice(a[1] === 'kill' || a[1] === 'stop' ? 4 : 2)) {
        const c = this.containers.get(name)
        if (!c) return { code: 1, stderr: `Error response from daemon: No such container: ${name}` }
        if (a[1] === 'pause' && c.state === 'restarting')
          return { code: 1, stderr: `Error response from daemon: Container ${name} is restarting, wait until the container is running` }
        if (to) {
          this.starting(name, to)
          c.state = to
        }
      }
      return {}
    }
    if (a[1] === 'exec' && a[3] === 'python3') return { stdout: this.quiesceSays?.() ?? '' }
    if (a[1] !== 'compose') return {}
    const project = a[3]!
    // A pinned color's calls carry a second -f: the pin override.
    const at = a[6] === '-f' ? 8 : 6
    const verb = a[at]!
    const services = a.slice(at + 1).filter((x, i, all) => !x.startsWith('-') && all[i - 1] !== '-t' && all[i - 1] !== '--tail')
    const to = (s: CState) => {
      for (const svc of services) this.set(project, svc, s)
    }
    switch (verb) {
      case 'config': {
        // As Compose would: the web publishes whatever port the env hands it.
        const m = structuredClone(this.model)
        if (m.services.web?.ports?.[0]) m.services.web.ports[0].published = cmd.env?.WEB_PORT
        return { stdout: JSON.stringify(m) }
      }
      case 'up':
        to(a.includes('--no-start') ? 'created' : 'running')
        break
      case 'build':
        this.images.set('calmswap-example-app:latest', `sha256:build${++this.builds}`)
        break
      case 'start':
      case 'unpause':
        to('running')
        break
      case 'stop':
        to('exited')
        break
      case 'down':
        for (const [k, c] of this.containers) if (c.project === project) this.containers.delete(k)
        break
    }
    return {}
  }
}

/** A compose call's own arguments: what follows its last `-f <file>` (a pinned color has two). */
export const composeArgs = (argv: readonly string[]) => argv.slice(argv.lastIndexOf('-f') + 2)

export interface Harness {
  world: World
  exec: RecordingExecutor
  ctx: Ctx
  config: Config
  out: string[]
  /** The mutating commands, short: "green up web", "kill SIGTERM app-blue-worker-1", "write", "pin green", "reload" (nginx -t, then reload). */
  plan(): string[]
  close(): Promise<void>
}

async function listen(handler: Parameters<typeof createServer>[1]): Promise<[Server, number]> {
  const s = createServer(handler)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return [s, (s.address() as AddressInfo).port]
}

export async function harness(
  o: { state?: Partial<State> | ((c: Config) => Partial<State>); env?: Record<string, string>; setup?: (w: World, c: Config) => void } = {},
): Promise<Harness> {
  const world = new World()
  const dir = mkdtempSync(join(tmpdir(), 'calmswap-plan-'))
  writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
  const exec = new RecordingExecutor(world.respond, world.streamed)
  // Two webs and a proxy on loopback; the proxy reports the port the upstream file names.
  const webs = await Promise.all(
    (['blue', 'green'] as const).map((color) =>
      listen((req, res) => {
        world.asked[color].push(req.url ?? '')
        const page = req.url?.startsWith(config.health.path) ? undefined : world.pages[color]?.shift()
        // 0: no answer at all, the connection dropped.
        if (page === 0) return req.socket.destroy()
        if (page) return res.writeHead(page).end(color)
        const booting = (world.booting[color] ?? 0) > 0
        if (booting) world.booting[color]!--
        res.writeHead(booting ? 503 : world.webStatus[color]).end(color)
      }),
    ),
  )
  let upstreamFile = ''
  let stateDir = ''
  const [proxy, proxyPort] = await listen((_, res) => {
    // The file this run wrote, else the one a run before it left (on disk, or as state.json records it).
    const file = exec.files.get(upstreamFile) ?? readOwnFile(upstreamFile)
    // nginx's flag switch: the flags, as this run left them (else on disk), pick the group.
    const flagged = (color: 'blue' | 'green') => {
      const f = nginxFlags(config).live(color)
      const last = exec.events.findLast((e) => ('write' in e && e.write === f) || ('remove' in e && e.remove === f))
      return last ? 'write' in last : existsSync(f)
    }
    const flag = config.proxy.nginxSwitch === 'flag' ? (flagged('green') ? 'green' : flagged('blue') ? 'blue' : null) : null
    // Another proxy's file (Caddy, Traefik) names the live port as its driver reads it.
    const port = flag
      ? config.ports[flag]
      : file && config.proxy.kind !== 'nginx'
        ? proxyDriver(config).livePort(file)
        : /server 127\.0\.0\.1:(\d+);/.exec(file ?? `server 127.0.0.1:${new StateStore(stateDir).load().upstream?.port};`)?.[1]
    res.writeHead(200, { 'x-calmswap-upstream': `127.0.0.1:${port}` }).end('ok')
  })
  const config = loadConfig({
    cwd: dir,
    env: {
      CALMSWAP_PREFIX: 'app',
      CALMSWAP_BLUE_PORT: String(webs[0]![1]),
      CALMSWAP_GREEN_PORT: String(webs[1]![1]),
      CALMSWAP_PROXY_URL: `http://127.0.0.1:${proxyPort}`,
      CALMSWAP_CPU_CALM: '0',
      CALMSWAP_HEALTH_DEADLINE: '2s',
      CALMSWAP_HEALTH_TIMEOUT: '500ms',
      CALMSWAP_RELEASE: 'r2',
      CALMSWAP_STAY_UP: '0',
      CALMSWAP_WATCH: '0',
      ...o.env,
    },
  })
  upstreamFile = config.proxy.upstreamFile
  stateDir = config.stateDir
  const store = new StateStore(config.stateDir)
  writeFileAtomic(store.file, JSON.stringify({ ...EMPTY_STATE, ...(typeof o.state === 'function' ? o.state(config) : o.state) }))
  o.setup?.(world, config)
  const out: string[] = []
  const sink = { write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WritableStream
  const ctx = makeContext({ config, exec, state: store, ui: new Ui({ err: sink, out: sink, color: false, interactive: false }) })
  return {
    world,
    exec,
    ctx,
    config,
    out,
    plan: () =>
      exec.events.flatMap((e) => {
        if ('write' in e) return [/\/pins\/(\w+)\.yml$/.test(e.write) ? `pin ${/\/pins\/(\w+)\.yml$/.exec(e.write)![1]}` : 'write']
        if ('remove' in e) return [`rm ${e.remove.split('/').slice(-2).join('/')}`]
        const a = e.cmd.argv
        if (!e.cmd.mutates) return []
        if (a[1] === 'exec') return [/nginx -s reload|caddy reload/.test(a.join(' ')) ? 'reload' : a[3] === 'python3' ? `quiesce ${a[2]}` : a.slice(3).join(' ')]
        if (a[1] === 'kill') return [`kill ${a.slice(3).join(' ')}`]
        // Pinning tags images as part of the build: test/plan/images.test.ts looks at those.
        if (a[1] === 'tag') return []
        if (a[1] === 'pause' || a[1] === 'unpause' || a[1] === 'start') return [`${a[1]} ${a.slice(2).join(' ')}`]
        if (a[1] === 'stop') return [`stop ${a.slice(4).join(' ')}`]
        if (a[1] !== 'compose') return [a.join(' ')]
        const rest = a.slice(a[6] === '-f' ? 9 : 7).filter((x, j, all) => !x.startsWith('-') && all[j - 1] !== '-t')
        const verb = a.includes('--no-start') ? 'create' : a[a[6] === '-f' ? 8 : 6]
        if (verb === 'run') return [`${a[3]!.replace('app-', '')} run ${a.at(-1)}`]
        return [`${a[3]!.replace('app-', '')} ${verb}${rest.length ? ` ${rest.join(' ')}` : ''}`]
      }),
    async close() {
      for (const [s] of [...webs, [proxy] as const]) {
        s.closeAllConnections()
        s.close()
      }
    },
  }
}

/** A host where blue is live with all its services running, and shared up. */
export function blueLive(w: World) {
  for (const s of ['redis', 'proxy']) w.set('app-shared', s, 'running')
  for (const s of ['web', 'worker', 'beat']) w.set('app-blue', s, 'running')
}

/**
 * The changes of a deploy blue → green on `blueLive` (stop mode), phase by phase, for the
 * tests that compare whole plans: build, pin and freeze blue's workers (beat stopped), then the
 * new web alone and the new workers created; the switch; then blue's workers thawed, quiesced
 * and stopped, and only then green's beat and workers started.
 */
export const BOOT_GREEN = ['green build web worker beat', 'pin green', 'pause app-blue-worker-1', 'kill SIGTERM app-blue-beat-1', 'green up web', 'green create beat worker']
/** Stop mode, once the new web has booted: the old workers drain beside the health check. */
export const DRAIN_BLUE = ['unpause app-blue-worker-1', 'quiesce app-blue-worker-1', 'kill SIGTERM app-blue-worker-1']
/** Once the new web has booted and the workers are created: the new beat, once the old one is gone. */
export const BEAT_LANE = ['docker wait id-app-blue-beat-1', 'start app-green-beat-1']
export const SWITCH = ['write', 'reload']
/** After the switch, the new worker at once (the old one has stopped consuming); then the old worker's warm shutdown is waited for. */
export const HAND_OVER = ['start app-green-worker-1', 'docker wait id-app-blue-worker-1']
export const BLUE_TO_GREEN = [...BOOT_GREEN, ...DRAIN_BLUE, ...BEAT_LANE, ...SWITCH, ...HAND_OVER]
/** The journal of a blue → green deploy cut short after these steps. */
export const cutShort = (done: readonly string[]) => ({ op: 'deploy', from: 'blue', to: 'green', release: 'r2', startedAt: 'then', pid: 1, done }) as const
/** A plan without the new beat's lane, which runs beside the switch: where it lands among the switch's own commands is up to timing. */
export const withoutBeatLane = (plan: readonly string[]) => plan.filter((x) => !BEAT_LANE.includes(x))
