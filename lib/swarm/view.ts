// What a swarm runs, as calmswap reads it: nodes, services (spec, update state) and tasks.
// The parsers read the CLI's output format, which lib/docker-api.ts reproduces for the API path.

import { nodeList, serviceInspect, serviceName, serviceTasks, stackContainers, swarmInfo, taskContainers } from '../builders/swarm.ts'
import { render } from '../command.ts'
import type { Ctx } from '../context.ts'
import { CommandError } from '../errors.ts'

export interface UpdateStatus {
  /** updating, completed, paused, rollback_started, rollback_completed, rollback_paused */
  readonly state: string
  readonly startedAt: string
  readonly completedAt: string
  readonly message: string
}

export interface SwarmService {
  readonly name: string
  readonly id: string
  readonly version: number
  readonly global: boolean
  /** null for global services. */
  readonly replicas: number | null
  readonly image: string
  readonly update: UpdateStatus | null
  /** What tasks run changed in the last spec update: Swarm rolls tasks out for it. */
  readonly templateChanged: boolean
  /** The replicas changed in the last spec update. */
  readonly replicasChanged: boolean
  /** Replicas of the previous spec: 0 means the last update started tasks, it replaced none. */
  readonly previousReplicas: number | null
  readonly hasPrevious: boolean
  readonly stopGraceMs: number
  readonly updateOrder: string
  readonly rollbackOrder: string
  readonly endpointMode: string
  /** The container's argv after its entrypoint (the stack file's `command`). */
  readonly args: readonly string[]
  /** ContainerSpec.Hostname; empty: each container's hostname is its short ID. */
  readonly hostname: string
  /** ContainerSpec.Env, "KEY=value" each. */
  readonly env: readonly string[]
  /** The networks its tasks attach to (IDs). */
  readonly networks: readonly string[]
}

export interface SwarmTask {
  readonly id: string
  /** The service's full name (<stack>_<service>). */
  readonly service: string
  readonly name: string
  readonly image: string
  readonly node: string
  /** running, shutdown, remove, ready… lowercase */
  readonly desired: string
  /** new, pending, assigned, accepted, preparing, ready, starting, running, complete, shutdown, failed, rejected, remove, orphaned */
  readonly state: string
  readonly error: string
}

export interface SwarmNode {
  readonly id: string
  readonly hostname: string
  /** ready, down, unknown, disconnected */
  readonly status: string
  /** active, pause, drain */
  readonly availability: string
  /** leader, reachable, unreachable; empty for a worker node */
  readonly manager: string
  /** The node whose daemon calmswap talks to. */
  readonly self: boolean
  readonly engine: string
}

export interface SwarmInfo {
  readonly state: string
  readonly manager: boolean
  readonly nodeId: string
  readonly nodes: number
  readonly managers: number
  readonly error: string
}

/** A task whose container runs: `starting` is up but not healthy yet. */
export const isUp = (t: SwarmTask) => t.state === 'running' || t.state === 'starting'
/** A task that ended on its own: a long-running service never should. */
export const hasEnded = (t: SwarmTask) => ['failed', 'rejected', 'complete', 'orphaned'].includes(t.state)
/** A node a new task can be placed on. */
export const usable = (n: SwarmNode) => n.status === 'ready' && n.availability === 'active'

const obj = (v: unknown): Record<string, any> => (v && typeof v === 'object' ? (v as Record<string, any>) : {})

export function parseSwarmInfo(stdout: string): SwarmInfo {
  const s = obj(JSON.parse(stdout.trim() || '{}'))
  return {
    state: String(s.LocalNodeState ?? 'inactive'),
    manager: s.ControlAvailable === true,
    nodeId: String(s.NodeID ?? ''),
    nodes: Number(s.Nodes ?? 0),
    managers: Number(s.Managers ?? 0),
    error: String(s.Error ?? ''),
  }
}

export function parseServices(stdout: string): SwarmService[] {
  const list = JSON.parse(stdout.trim() || '[]') as unknown[]
  return list.map((x) => {
    const s = obj(x)
    const spec = obj(s.Spec)
    const prev = s.PreviousSpec ? obj(s.PreviousSpec) : null
    const mode = obj(spec.Mode)
    const task = obj(spec.TaskTemplate)
    const u = s.UpdateStatus ? obj(s.UpdateStatus) : null
    const replicas = (m: Record<string, any>) => (m.Replicated ? Number(m.Replicated.Replicas ?? 1) : null)
    return {
      name: String(spec.Name ?? ''),
      id: String(s.ID ?? ''),
      version: Number(obj(s.Version).Index ?? 0),
      global: Boolean(mode.Global),
      replicas: replicas(mode),
      image: String(obj(task.ContainerSpec).Image ?? ''),
      update: u ? { state: String(u.State ?? ''), startedAt: String(u.StartedAt ?? ''), completedAt: String(u.CompletedAt ?? ''), message: String(u.Message ?? '') } : null,
      templateChanged: prev !== null && JSON.stringify(task) !== JSON.stringify(obj(prev.TaskTemplate)),
      replicasChanged: prev !== null && replicas(mode) !== replicas(obj(prev.Mode)),
      previousReplicas: prev ? replicas(obj(prev.Mode)) : null,
      hasPrevious: prev !== null,
      stopGraceMs: obj(task.ContainerSpec).StopGracePeriod !== undefined ? Number(obj(task.ContainerSpec).StopGracePeriod) / 1e6 : 10_000,
      updateOrder: String(obj(spec.UpdateConfig).Order ?? 'stop-first'),
      rollbackOrder: String(obj(spec.RollbackConfig).Order ?? 'stop-first'),
      endpointMode: String(obj(spec.EndpointSpec).Mode ?? 'vip'),
      args: Array.isArray(obj(task.ContainerSpec).Args) ? (obj(task.ContainerSpec).Args as unknown[]).map(String) : [],
      hostname: String(obj(task.ContainerSpec).Hostname ?? ''),
      env: Array.isArray(obj(task.ContainerSpec).Env) ? (obj(task.ContainerSpec).Env as unknown[]).map(String) : [],
      networks: Array.isArray(task.Networks) ? (task.Networks as unknown[]).map((n) => String(obj(n).Target ?? '')).filter(Boolean) : [],
    }
  })
}

const lines = (stdout: string) =>
  stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('{'))
    .map((l) => obj(JSON.parse(l)))

export function parseTasks(stdout: string): SwarmTask[] {
  return lines(stdout).map((t) => {
    // The CLI draws older tasks of a slot as " \_ name" in its table; never in JSON, but a
    // format from another CLI version must not make a task of another service.
    const name = String(t.Name ?? '').replace(/^[\s\\_]+/, '')
    return {
      id: String(t.ID ?? ''),
      service: name.split('.')[0] ?? '',
      name,
      image: String(t.Image ?? ''),
      node: String(t.Node ?? ''),
      desired: String(t.DesiredState ?? '').toLowerCase(),
      state: String(t.CurrentState ?? '')
        .split(' ')[0]!
        .toLowerCase(),
      error: String(t.Error ?? ''),
    }
  })
}

export function parseNodes(stdout: string): SwarmNode[] {
  return lines(stdout).map((n) => ({
    id: String(n.ID ?? ''),
    hostname: String(n.Hostname ?? ''),
    status: String(n.Status ?? '').toLowerCase(),
    availability: String(n.Availability ?? '').toLowerCase(),
    manager: String(n.ManagerStatus ?? '').toLowerCase(),
    self: n.Self === true || n.Self === 'true',
    engine: String(n.EngineVersion ?? ''),
  }))
}

export async function readSwarmInfo(ctx: Ctx): Promise<SwarmInfo> {
  return parseSwarmInfo(await ctx.must(swarmInfo(ctx.config)))
}

export async function readNodes(ctx: Ctx): Promise<SwarmNode[]> {
  return parseNodes(await ctx.must(nodeList(ctx.config)))
}

/** The stack's services that exist, by their short name (as in the stack file). */
export async function readServices(ctx: Ctx, services: readonly string[]): Promise<Map<string, SwarmService>> {
  if (!services.length) return new Map()
  const cmd = serviceInspect(
    ctx.config,
    services.map((s) => serviceName(ctx.config, s)),
  )
  const r = await ctx.run(cmd)
  const missingOnly = r.stderr
    .split('\n')
    .filter((l) => l.trim())
    .every((l) => /no such service/i.test(l))
  if (r.code !== 0 && !missingOnly) throw new CommandError(render(cmd), r.code, r.stderr, r.stdout)
  const byName = new Map(parseServices(r.stdout).map((s) => [s.name, s]))
  const out = new Map<string, SwarmService>()
  for (const s of services) {
    const found = byName.get(serviceName(ctx.config, s))
    if (found) out.set(s, found)
  }
  return out
}

/** Every task of these services (short names), old ones included; a service that does not exist has none. */
export async function readTasks(ctx: Ctx, services: readonly string[]): Promise<SwarmTask[]> {
  let names = services.map((s) => serviceName(ctx.config, s))
  for (let tries = 0; names.length; tries++) {
    const cmd = serviceTasks(ctx.config, names)
    const r = await ctx.run(cmd)
    if (r.code === 0) return parseTasks(r.stdout)
    // The CLI refuses the whole list for one missing service: ask again without it.
    const missing = [...r.stderr.matchAll(/no such service: (\S+)/gi)].map((m) => m[1]!)
    if (!missing.length || tries > 0) throw new CommandError(render(cmd), r.code, r.stderr, r.stdout)
    names = names.filter((n) => !missing.includes(n))
  }
  return []
}

export interface LocalContainer {
  readonly id: string
  readonly service: string
  readonly task: string
  readonly state: string
}

/** The stack's containers on the node whose daemon calmswap talks to. */
export async function readLocalContainers(ctx: Ctx): Promise<LocalContainer[]> {
  return (await ctx.must(stackContainers(ctx.config)))
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => {
      const [id = '', service = '', task = '', state = ''] = l.split('\t')
      return { id, service, task, state }
    })
}

/** The container of each task, by task ID; a task without one yet is left out. */
export async function readTaskContainers(ctx: Ctx, ids: readonly string[]): Promise<Map<string, string>> {
  if (!ids.length) return new Map()
  const r = await ctx.run(taskContainers(ctx.config, ids))
  return new Map(
    r.stdout
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter((x): x is [string, string] => x.length === 2 && x[1] !== ''),
  )
}

/** The short name of a task's service, in this stack. */
export const shortName = (ctx: Ctx, full: string) => full.slice(ctx.config.prefix.length + 1)
