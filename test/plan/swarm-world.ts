// A pretend Swarm for the plan tests of swarm mode: it answers the docker commands calmswap
// sends (info, node ls, service inspect/ps/scale/rollback/update --force/rm, stack deploy) and
// runs a tiny orchestrator on a clock that ticks at every read, so that tasks start, turn
// healthy, fail and linger the way Swarm's do. It counts the beats running at every tick.
// `docker compose config` it leaves to the real Compose CLI, which needs no daemon.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stackConfig } from '../../lib/builders/index.ts'
import type { Cmd, Result } from '../../lib/command.ts'
import type { Config } from '../../lib/config.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { type Ctx, makeContext } from '../../lib/context.ts'
import { Ui } from '../../lib/ui.ts'
import { RecordingExecutor } from './recording.ts'

export const EXAMPLE_STACK = fileURLToPath(new URL('../../example/swarm/compose.yml', import.meta.url))

const composeAnswers = new Map<string, Partial<Result>>()
/**
 * `docker compose config` as the real Compose CLI answers it (it reads the file, it asks no
 * daemon), with this environment and nothing else of the test's: once per distinct call.
 */
function realCompose(argv: readonly string[], env: Record<string, string | undefined>, cwd?: string): Partial<Result> {
  const key = JSON.stringify([argv, env, cwd])
  let answer = composeAnswers.get(key)
  if (!answer) {
    const r = spawnSync(argv[0]!, argv.slice(1), { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, cwd, encoding: 'utf8', timeout: 30_000 })
    answer = { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr }
    composeAnswers.set(key, answer)
  }
  return answer
}

interface Spec {
  readonly template: string
  readonly image: string
  readonly args: readonly string[]
  readonly replicas: number | null
  readonly updateOrder: string
  readonly rollbackOrder: string
  readonly failureAction: string
}

interface Task {
  readonly id: string
  readonly service: string
  readonly slot: number
  readonly template: string
  readonly image: string
  desired: 'running' | 'shutdown' | 'remove'
  state: string
  error: string
  /** Tick at which it next changes state by itself. */
  next: number
}

interface Svc {
  readonly name: string
  readonly id: string
  version: number
  spec: Spec
  prev: Spec | null
  update: { State: string; StartedAt: string; CompletedAt: string; Message: string } | null
  /** The rolling update in progress: swap old tasks for tasks of spec, one by one. */
  rolling: { rollback: boolean; until: number } | null
  /** Created by a stack deploy, its spec not changed since: its tasks run the release being deployed. */
  created?: boolean
}

const interpolate = (text: string, env: Record<string, string | undefined>) =>
  text.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, k: string, d: string | undefined) => env[k] || d || '')

export class SwarmWorld {
  readonly services = new Map<string, Svc>()
  readonly tasks: Task[] = []
  now = 0
  private ids = 0
  /** The most beats (running or starting) seen at once, and when. */
  maxBeats = 0
  /** Each `stack deploy`: its services, and the tasks of beat and worker whose containers ran at that moment. */
  readonly deploys: { services: string[]; beat: number; worker: number }[] = []
  /** Services whose containers run on the node calmswap's daemon runs on; null: all of them. */
  localServices: Set<string> | null = null
  /** Containers a quiesce ran in. */
  readonly quiesced: string[] = []
  /** Running beats each time beat was deployed or scaled up: must be 0. */
  readonly beatsAtBeatStart: number[] = []
  /** Services whose new tasks fail their healthcheck (Swarm rolls the update back itself). */
  unhealthy = new Set<string>()
  /** Services whose new tasks exit as they start. */
  crash = new Set<string>()
  /** Services whose update never ends (a task that cannot be placed). */
  stuck = new Set<string>()
  /** Make a command fail: return an exit code for it, or undefined. */
  failOn: (argv: readonly string[]) => number | undefined = () => undefined
  /** Make a command take this long (ms), once answered: a signal that comes meanwhile cuts it short. */
  delayOn: (argv: readonly string[]) => number | undefined = () => undefined
  /** Ticks a stopped task's container keeps running: gossip delay and warm shutdown. */
  linger = 3
  nodes = ['node1']
  env: Record<string, string> = {}
  /** Called at each read, after the clock ticked: tests act mid-deploy from here. */
  onTick: (w: SwarmWorld) => void = () => {}

  constructor(readonly stack = 'app') {}

  full = (s: string) => `${this.stack}_${s}`

  private beats = () => this.tasks.filter((t) => t.service === this.full('beat') && (t.state === 'running' || t.state === 'starting')).length

  private watch() {
    this.maxBeats = Math.max(this.maxBeats, this.beats())
  }

  private task(svc: Svc, slot: number, spec: Spec): Task {
    const t: Task = {
      id: `t${++this.ids}`,
      service: svc.name,
      slot,
      template: spec.template,
      image: spec.image,
      desired: 'running',
      state: 'pending',
      error: '',
      next: this.now + 1,
    }
    this.tasks.push(t)
    return t
  }

  private live = (svc: Svc) => this.tasks.filter((t) => t.service === svc.name && t.desired === 'running')

  private stop(t: Task, desired: 'shutdown' | 'remove' = 'shutdown') {
    t.desired = desired
    t.next = this.now + this.linger
  }

  private want = (spec: Spec) => spec.replicas ?? this.nodes.length

  /** Brings the task count to the spec's, without replacing tasks of another template. */
  private scale(svc: Svc) {
    const live = this.live(svc)
    const n = this.want(svc.spec)
    for (const t of live.slice(n)) this.stop(t, 'remove')
    for (let slot = live.length + 1; slot <= n; slot++) {
      if (svc.name === this.full('beat')) this.beatsAtBeatStart.push(this.beats())
      this.task(svc, slot, svc.spec)
    }
  }

  private startUpdate(svc: Svc, rollback: boolean) {
    if (!this.live(svc).length) {
      this.scale(svc)
      return
    }
    svc.update = {
      State: rollback ? 'rollback_started' : 'updating',
      StartedAt: `tick-${this.now}`,
      CompletedAt: '',
      Message: rollback ? 'manually requested rollback' : 'update in progress',
    }
    svc.rolling = { rollback, until: Number.POSITIVE_INFINITY }
  }

  /** One tick of every task and rolling update. */
  tick() {
    this.now++
    for (const t of this.tasks) {
      if (t.next > this.now) continue
      if (t.desired !== 'running') {
        if (t.state === 'running' || t.state === 'starting' || t.state === 'pending') t.state = t.desired === 'remove' ? 'remove' : 'shutdown'
        continue
      }
      const svc = [...this.services.values()].find((s) => s.name === t.service)!
      const short = svc.name.slice(this.stack.length + 1)
      // A task of the spec being rolled out, or of a service a stack deploy created.
      const fresh = t.template === svc.spec.template && (svc.prev ? t.template !== svc.prev.template : svc.created)
      if (t.state === 'pending') {
        if (this.stuck.has(short) && fresh) continue
        t.state = 'starting'
        t.next = this.now + 1
      } else if (t.state === 'starting') {
        if (this.crash.has(short) && fresh) {
          t.state = 'failed'
          t.error = 'task: non-zero exit (1)'
          t.desired = 'shutdown'
          if (!svc.rolling) this.task(svc, t.slot, svc.spec)
        } else if (this.unhealthy.has(short) && fresh) {
          t.state = 'failed'
          t.error = 'task: non-zero exit (143): dockerexec: unhealthy container'
          t.desired = 'shutdown'
        } else t.state = 'running'
      }
    }
    for (const svc of this.services.values()) this.roll(svc)
    this.watch()
  }

  private roll(svc: Svc) {
    const r = svc.rolling
    if (!r || !svc.update) return
    const live = this.live(svc)
    const fresh = this.tasks.filter((t) => t.service === svc.name && t.template === svc.spec.template)
    const failed = fresh.some((t) => t.state === 'failed')
    if (failed && !r.rollback && svc.spec.failureAction === 'rollback' && svc.prev) {
      // failure_action rollback: back to the previous spec, which stays no one's previous.
      svc.spec = svc.prev
      svc.prev = null
      svc.update = { ...svc.update, State: 'rollback_started', StartedAt: `tick-${this.now}`, Message: 'update rolled back due to failure or early termination of task' }
      svc.rolling = { rollback: true, until: Number.POSITIVE_INFINITY }
      return
    }
    const old = live.filter((t) => t.template !== svc.spec.template)
    const runningNew = live.filter((t) => t.template === svc.spec.template && t.state === 'running')
    const pendingNew = live.filter((t) => t.template === svc.spec.template && t.state !== 'running')
    if (old.length) {
      const o = old[0]!
      if (pendingNew.length) return
      if (svc.spec.updateOrder === 'start-first' || r.rollback) {
        if (runningNew.length >= this.want(svc.spec) - old.length + 1) this.stop(o)
        else this.task(svc, o.slot, svc.spec)
      } else {
        this.stop(o)
        this.task(svc, o.slot, svc.spec)
      }
      return
    }
    if (pendingNew.length) return
    // A slot whose task failed gets a new one, as Swarm's reconciler gives it.
    if (live.length < this.want(svc.spec)) return this.scale(svc)
    // Every task is new: the monitor period, then the end.
    if (r.until === Number.POSITIVE_INFINITY) r.until = this.now + 2
    if (this.now >= r.until) {
      svc.update = {
        ...svc.update,
        State: r.rollback ? 'rollback_completed' : 'completed',
        CompletedAt: `tick-${this.now}`,
        Message: r.rollback ? 'rollback completed' : 'update completed',
      }
      svc.rolling = null
    }
  }

  private setSpec(svc: Svc, spec: Spec) {
    const templateChanged = svc.spec.template !== spec.template
    const fromZero = svc.spec.replicas === 0
    svc.prev = svc.spec
    svc.spec = spec
    svc.version++
    svc.created = false
    if (templateChanged && !fromZero) this.startUpdate(svc, false)
    else this.scale(svc)
  }

  private specOf(raw0: Record<string, any>, env: Record<string, string | undefined>): Spec {
    const raw = JSON.parse(interpolate(JSON.stringify(raw0), { ...this.env, ...env }))
    const deploy = raw.deploy ?? {}
    const text = JSON.stringify({ image: raw.image, environment: raw.environment, command: raw.command })
    return {
      template: text,
      image: raw.image,
      args: raw.command ?? [],
      replicas: deploy.mode === 'global' ? null : Number(deploy.replicas ?? 1),
      updateOrder: deploy.update_config?.order ?? 'stop-first',
      rollbackOrder: deploy.rollback_config?.order ?? 'stop-first',
      failureAction: deploy.update_config?.failure_action ?? 'pause',
    }
  }

  /** Creates a service as a deploy before this test would have left it, its tasks running. */
  seed(service: string, o: { image?: string; replicas?: number | null; rollbackOrder?: string } = {}) {
    const image = o.image ?? 'calmswap-example-app:r1'
    const spec: Spec = {
      template: JSON.stringify({ image, service }),
      image,
      args: ['python3', '-m', 'celery', '-A', 'tasks', service],
      replicas: o.replicas === undefined ? 1 : o.replicas,
      updateOrder: 'stop-first',
      rollbackOrder: o.rollbackOrder ?? 'start-first',
      failureAction: 'rollback',
    }
    const svc: Svc = { name: this.full(service), id: `id-${service}`, version: 10, spec, prev: null, update: null, rolling: null }
    this.services.set(service, svc)
    for (let slot = 1; slot <= this.want(spec); slot++) this.task(svc, slot, spec).state = 'running'
    this.watch()
  }

  /** A stack as the last deploy left it: every service of the example file runs r1. */
  seedStack(o: { globalWorker?: boolean } = {}) {
    for (const s of ['redis', 'proxy', 'web', 'beat']) this.seed(s)
    this.seed('worker', { replicas: o.globalWorker ? null : 1 })
  }

  image = (service: string) => this.services.get(service)?.spec.image
  running = (service: string) => this.tasks.filter((t) => t.service === this.full(service) && t.desired === 'running' && t.state === 'running').map((t) => t.image)

  private inspectJson(svc: Svc) {
    const specJson = (s: Spec) => ({
      Name: svc.name,
      Mode: s.replicas === null ? { Global: {} } : { Replicated: { Replicas: s.replicas } },
      TaskTemplate: { ContainerSpec: { Image: s.image, Args: s.args, Env: ['BROKER_URL=redis://redis:6379/0'], Template: s.template }, Networks: [{ Target: 'net-stack' }] },
      UpdateConfig: { Order: s.updateOrder, FailureAction: s.failureAction },
      RollbackConfig: { Order: s.rollbackOrder },
      EndpointSpec: { Mode: 'dnsrr' },
    })
    return {
      ID: svc.id,
      Version: { Index: svc.version },
      Spec: specJson(svc.spec),
      ...(svc.prev ? { PreviousSpec: specJson(svc.prev) } : {}),
      ...(svc.update ? { UpdateStatus: svc.update } : {}),
    }
  }

  private byFull = (name: string) => [...this.services.entries()].find(([, s]) => s.name === name)

  respond = (cmd: Cmd): Partial<Result> & { delayMs?: number } => {
    const r = this.answer(cmd)
    const delayMs = this.delayOn(cmd.argv)
    return delayMs ? { ...r, delayMs } : r
  }

  private answer(cmd: Cmd): Partial<Result> {
    const a = cmd.argv
    const fail = this.failOn(a)
    if (fail) return { code: fail, stderr: 'simulated failure' }
    if (a[0] === 'git') return { code: 128 }
    if (a[1] === 'compose' && a.includes('config')) return realCompose(a, { ...this.env, ...cmd.env }, cmd.cwd)
    const verb = `${a[1]} ${a[2] ?? ''}`
    if (a[1] === 'version') return { stdout: '20.10.24\n' }
    if (a[1] === 'info') return { stdout: `${JSON.stringify({ LocalNodeState: 'active', ControlAvailable: true, NodeID: 'n1', Nodes: this.nodes.length, Managers: 1 })}\n` }
    if (verb === 'node ls')
      return {
        stdout: this.nodes
          .map((h, i) =>
            JSON.stringify({ ID: `n${i + 1}`, Hostname: h, Status: 'Ready', Availability: 'Active', ManagerStatus: i ? '' : 'Leader', Self: i === 0, EngineVersion: '20.10.24' }),
          )
          .join('\n'),
      }
    if (verb === 'service inspect' || verb === 'service ps') {
      this.tick()
      this.onTick(this)
      const names = a.slice(a[2] === 'ps' ? 6 : 3)
      const found = names.map((n) => this.byFull(n))
      const missing = names.filter((_, i) => !found[i])
      const err = missing.map((m) => `Error: no such service: ${m}`).join('\n')
      if (a[2] === 'inspect') return { code: missing.length ? 1 : 0, stdout: JSON.stringify(found.filter(Boolean).map((f) => this.inspectJson(f![1]))), stderr: err }
      if (missing.length) return { code: 1, stderr: err }
      return {
        stdout: this.tasks
          .filter((t) => names.includes(t.service))
          .map((t) =>
            JSON.stringify({
              ID: t.id,
              Name: `${t.service}.${t.slot}`,
              Image: t.image,
              Node: 'node1',
              DesiredState: t.desired[0]!.toUpperCase() + t.desired.slice(1),
              CurrentState: `${t.state[0]!.toUpperCase()}${t.state.slice(1)} 1 second ago`,
              Error: t.error,
            }),
          )
          .join('\n'),
      }
    }
    if (verb === 'service scale') {
      for (const arg of a.slice(4)) {
        const [name, n] = arg.split('=')
        const found = this.byFull(name!)
        if (!found) return { code: 1, stderr: `no such service: ${name}` }
        this.setSpec(found[1], { ...found[1].spec, replicas: Number(n) })
      }
      this.watch()
      return { stdout: 'scaled\n' }
    }
    if (verb === 'service rollback') {
      const found = this.byFull(a.at(-1)!)
      if (!found?.[1].prev) return { code: 1, stderr: 'service has no previous spec' }
      const svc = found[1]
      const [spec, prev] = [svc.prev!, svc.spec]
      svc.spec = spec
      svc.prev = prev
      svc.version++
      if (spec.template !== prev.template && prev.replicas !== 0 && spec.replicas !== 0) this.startUpdate(svc, true)
      else this.scale(svc)
      this.watch()
      return { stdout: `${svc.name}\n` }
    }
    if (verb === 'service update' && a.includes('--force')) {
      const found = this.byFull(a.at(-1)!)
      if (!found) return { code: 1, stderr: `no such service: ${a.at(-1)}` }
      // ForceUpdate is part of the task template: every task is replaced, by the update's order.
      const spec = found[1].spec
      this.setSpec(found[1], { ...spec, template: JSON.stringify({ ...JSON.parse(spec.template), force: found[1].version }) })
      this.watch()
      return { stdout: `${a.at(-1)}\n` }
    }
    if (verb === 'service rm') {
      // Each one that exists goes; the CLI then fails for those that did not.
      const missing: string[] = []
      for (const name of a.slice(3)) {
        const found = this.byFull(name)
        if (!found) missing.push(name)
        else {
          this.services.delete(found[0])
          for (const t of this.live(found[1])) this.stop(t, 'remove')
        }
      }
      return missing.length ? { code: 1, stderr: missing.map((m) => `Error response from daemon: service ${m} not found\n`).join('') } : {}
    }
    if (verb === 'service logs') return { stdout: 'a log line\n' }
    // One node: every task's container is on the daemon calmswap talks to.
    if (a[1] === 'ps')
      return {
        stdout: this.tasks
          .filter((t) => (t.state === 'running' || t.state === 'starting') && (!this.localServices || this.localServices.has(t.service.slice(this.stack.length + 1))))
          .map((t) => [`c-${t.service.slice(this.stack.length + 1)}-${t.id}`, t.service, t.id, 'running'].join('\t'))
          .join('\n'),
      }
    if (a[1] === 'inspect' && a[3] === 'task')
      return {
        stdout: a
          .slice(6)
          .map((id) => `${id} ${id.padEnd(12, '0')}aaaaaaaaaaaa\n`)
          .join(''),
      }
    if (a[1] === 'run') {
      this.quiesced.push('one-off')
      return { stderr: 'quiesce: celery@x stopped consuming [celery]; idle after 1.2 s\n' }
    }
    if (a[1] === 'exec') {
      this.quiesced.push(a[2]!)
      return { stderr: 'quiesce: celery@x stopped consuming [celery]; idle after 1.2 s\n' }
    }
    if (verb === 'stack deploy') {
      const file = JSON.parse(cmd.input ?? '{}')
      const up = (s: string) => this.tasks.filter((t) => t.service === this.full(s) && (t.state === 'running' || t.state === 'starting')).length
      this.deploys.push({ services: Object.keys(file.services ?? {}), beat: up('beat'), worker: up('worker') })
      for (const [name, raw] of Object.entries(file.services ?? {}) as [string, Record<string, any>][]) {
        const spec = this.specOf(raw, cmd.env ?? {})
        const existing = this.services.get(name)
        if (existing) this.setSpec(existing, spec)
        else {
          const svc: Svc = { name: this.full(name), id: `id-${name}`, version: 1, spec, prev: null, update: null, rolling: null, created: true }
          this.services.set(name, svc)
          this.scale(svc)
        }
      }
      this.watch()
      return { stdout: 'Updating services\n' }
    }
    return {}
  }
}

export interface SwarmHarness {
  world: SwarmWorld
  exec: RecordingExecutor
  ctx: Ctx
  config: Config
  out: string[]
  /** The changes, short: "scale beat=0 worker=0", "deploy web", "rollback web", "rm web", "restart worker". */
  plan(): string[]
}

/** The short form of a change calmswap made, or null for a read. */
export function short(cmd: Cmd): string | null {
  if (!cmd.mutates) return null
  const a = cmd.argv
  const strip = (n: string) => n.replace(/^app_/, '')
  if (a[1] === 'stack') return `deploy ${Object.keys(JSON.parse(cmd.input ?? '{}').services ?? {}).join(' ')}`
  if (a[2] === 'scale') return `scale ${a.slice(4).map(strip).join(' ')}`
  if (a[2] === 'rollback') return `rollback ${strip(a.at(-1)!)}`
  if (a[2] === 'rm') return `rm ${a.slice(3).map(strip).join(' ')}`
  if (a[2] === 'update' && a.includes('--force')) return `restart ${strip(a.at(-1)!)}`
  if (a[1] === 'run') return `quiesce ${a.at(-1)} via one-off ${a[a.indexOf('--network') + 1]}`
  if (a[1] === 'exec') return a.length > 7 ? `quiesce ${a.at(-1)} via ${a[2]!.split('-')[1]}` : `quiesce ${a[2]!.split('-')[1]}`
  return a.join(' ')
}

/** The example stack file as Compose prints it, `${VAR}`s kept, changed by `edit`, written to a file of `dir`. */
function editedStack(dir: string, edit: (services: Record<string, Record<string, any>>) => void): string {
  const c = loadConfig({ cwd: dir, env: { CALMSWAP_ENGINE: 'swarm', CALMSWAP_COMPOSE_FILE: EXAMPLE_STACK } })
  const data = JSON.parse(realCompose(stackConfig(c).argv, {}).stdout!)
  edit(data.services)
  const file = join(dir, 'stack.json')
  writeFileSync(file, JSON.stringify(data))
  return file
}

export function swarmHarness(
  o: { env?: Record<string, string>; setup?: (w: SwarmWorld) => void; signal?: AbortSignal; stack?: (services: Record<string, Record<string, any>>) => void } = {},
): SwarmHarness {
  const world = new SwarmWorld()
  const dir = mkdtempSync(join(tmpdir(), 'calmswap-swarm-plan-'))
  const exec = new RecordingExecutor(world.respond)
  const config = loadConfig({
    cwd: dir,
    env: {
      CALMSWAP_ENGINE: 'swarm',
      CALMSWAP_COMPOSE_FILE: o.stack ? editedStack(dir, o.stack) : EXAMPLE_STACK,
      CALMSWAP_PREFIX: 'app',
      CALMSWAP_STATE_DIR: join(dir, 'state'),
      CALMSWAP_PROXY_URL: '',
      CALMSWAP_CPU_CALM: '0',
      CALMSWAP_RELEASE: 'r2',
      CALMSWAP_STAY_UP: '0',
      CALMSWAP_SWARM_POLL: '20ms',
      CALMSWAP_SWARM_DEADLINE: '5s',
      ...o.env,
    },
  })
  o.setup?.(world)
  const out: string[] = []
  const sink = { write: (s: string) => (out.push(s), true) } as unknown as NodeJS.WritableStream
  const ctx = makeContext({ config, exec, ui: new Ui({ err: sink, out: sink, color: false, interactive: false }), signal: o.signal })
  return { world, exec, ctx, config, out, plan: () => exec.calls.map(short).filter((x): x is string => x !== null) }
}
