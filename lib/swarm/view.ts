// What a swarm runs, as calmswap reads it: nodes, services (spec, update state) and tasks.
// Each read has a Reader: one half parses the CLI's output format, the other the Engine
// API's JSON (lib/docker-api.ts ApiData).

import { nodeList, serviceInspect, serviceName, serviceTasks, stackContainers, swarmInfo, taskContainers } from '../builders/swarm.ts'
import { answer, type Reader, render } from '../command.ts'
import type { Ctx } from '../context.ts'
import type { ApiData } from '../docker-api.ts'
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
const lower = (v: unknown) => String(v ?? '').toLowerCase()

/** `.Swarm` of `docker info`, the same object from either source. */
function swarmInfoOf(v: unknown): SwarmInfo {
  const s = obj(v)
  return {
    state: String(s.LocalNodeState ?? 'inactive'),
    manager: s.ControlAvailable === true,
    nodeId: String(s.NodeID ?? ''),
    nodes: Number(s.Nodes ?? 0),
    managers: Number(s.Managers ?? 0),
    error: String(s.Error ?? ''),
  }
}

export const swarmInfoReader: Reader<SwarmInfo, ApiData['swarm']> = { cli: (stdout) => swarmInfoOf(JSON.parse(stdout.trim() || '{}')), api: swarmInfoOf }

/** One service as `docker service inspect` prints it and the API answers it: the same object. */
function serviceOf(x: unknown): SwarmService {
  const s = obj(x)
  const spec = obj(s.Spec)
  const prev = s.PreviousSpec ? obj(s.PreviousSpec) : null
  const mode = obj(spec.Mode)
  const task = obj(spec.TaskTemplate)
  const container = obj(task.ContainerSpec)
  const u = s.UpdateStatus ? obj(s.UpdateStatus) : null
  const replicas = (m: Record<string, any>) => (m.Replicated ? Number(m.Replicated.Replicas ?? 1) : null)
  const strings = (v: unknown) => (Array.isArray(v) ? v.map(String) : [])
  return {
    name: String(spec.Name ?? ''),
    id: String(s.ID ?? ''),
    version: Number(obj(s.Version).Index ?? 0),
    global: Boolean(mode.Global),
    replicas: replicas(mode),
    image: String(container.Image ?? ''),
    update: u ? { state: String(u.State ?? ''), startedAt: String(u.StartedAt ?? ''), completedAt: String(u.CompletedAt ?? ''), message: String(u.Message ?? '') } : null,
    templateChanged: prev !== null && JSON.stringify(task) !== JSON.stringify(obj(prev.TaskTemplate)),
    replicasChanged: prev !== null && replicas(mode) !== replicas(obj(prev.Mode)),
    previousReplicas: prev ? replicas(obj(prev.Mode)) : null,
    hasPrevious: prev !== null,
    stopGraceMs: container.StopGracePeriod !== undefined ? Number(container.StopGracePeriod) / 1e6 : 10_000,
    updateOrder: String(obj(spec.UpdateConfig).Order ?? 'stop-first'),
    rollbackOrder: String(obj(spec.RollbackConfig).Order ?? 'stop-first'),
    endpointMode: String(obj(spec.EndpointSpec).Mode ?? 'vip'),
    args: strings(container.Args),
    hostname: String(container.Hostname ?? ''),
    env: strings(container.Env),
    networks: Array.isArray(task.Networks) ? (task.Networks as unknown[]).map((n) => String(obj(n).Target ?? '')).filter(Boolean) : [],
  }
}

export const parseServices = (stdout: string): SwarmService[] => (JSON.parse(stdout.trim() || '[]') as unknown[]).map(serviceOf)
export const servicesReader: Reader<SwarmService[], ApiData['services']> = { cli: parseServices, api: (list) => list.map(serviceOf) }

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
    const state = String(t.CurrentState ?? '').split(' ')[0]
    return {
      id: String(t.ID ?? ''),
      service: name.split('.')[0] ?? '',
      name,
      image: String(t.Image ?? ''),
      node: String(t.Node ?? ''),
      desired: lower(t.DesiredState),
      state: lower(state),
      error: String(t.Error ?? ''),
    }
  })
}

/** Tasks from the API: named and placed as the CLI names them, <service>.<slot, or node ID for a global one>, on the node's hostname. */
function tasksFromApi({ tasks, services, nodes }: ApiData['tasks']): SwarmTask[] {
  const nameOf = new Map(services.map((x) => [x.ID, x.Spec.Name]))
  const hostOf = new Map(nodes.map((n) => [n.ID, n.Description?.Hostname ?? n.ID]))
  return tasks.map((t) => {
    const service = nameOf.get(t.ServiceID) ?? t.ServiceID
    const node = t.NodeID ?? ''
    return {
      id: t.ID,
      service,
      name: `${service}.${t.Slot || node}`,
      image: t.Spec?.ContainerSpec?.Image ?? '',
      node: hostOf.get(node) ?? node,
      desired: lower(t.DesiredState),
      state: lower(t.Status?.State),
      error: t.Status?.Err ?? '',
    }
  })
}

export const tasksReader: Reader<SwarmTask[], ApiData['tasks']> = { cli: parseTasks, api: tasksFromApi }

export function parseNodes(stdout: string): SwarmNode[] {
  return lines(stdout).map((n) => ({
    id: String(n.ID ?? ''),
    hostname: String(n.Hostname ?? ''),
    status: lower(n.Status),
    availability: lower(n.Availability),
    manager: lower(n.ManagerStatus),
    self: n.Self === true || n.Self === 'true',
    engine: String(n.EngineVersion ?? ''),
  }))
}

export const nodesReader: Reader<SwarmNode[], ApiData['nodes']> = {
  cli: parseNodes,
  api: ({ nodes, self }) =>
    nodes.map((n) => ({
      id: n.ID,
      hostname: n.Description?.Hostname ?? '',
      status: lower(n.Status?.State),
      availability: lower(n.Spec?.Availability),
      manager: n.ManagerStatus ? (n.ManagerStatus.Leader ? 'leader' : lower(n.ManagerStatus.Reachability)) : '',
      self: n.ID === self,
      engine: n.Description?.Engine?.EngineVersion ?? '',
    })),
}

export async function readSwarmInfo(ctx: Ctx): Promise<SwarmInfo> {
  return ctx.read(swarmInfo(ctx.config), swarmInfoReader)
}

export async function readNodes(ctx: Ctx): Promise<SwarmNode[]> {
  return ctx.read(nodeList(ctx.config), nodesReader)
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
  const byName = new Map(answer(r, servicesReader).map((s) => [s.name, s]))
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
    if (r.code === 0) return answer(r, tasksReader)
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

export const localContainersReader: Reader<LocalContainer[], ApiData['stack-containers']> = {
  cli: (stdout) =>
    stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        const [id = '', service = '', task = '', state = ''] = l.split('\t')
        return { id, service, task, state }
      }),
  api: (list) => list.map((x) => ({ id: x.Id, service: x.Labels?.['com.docker.swarm.service.name'] ?? '', task: x.Labels?.['com.docker.swarm.task.id'] ?? '', state: x.State })),
}

/** The stack's containers on the node whose daemon calmswap talks to. */
export async function readLocalContainers(ctx: Ctx): Promise<LocalContainer[]> {
  return ctx.read(stackContainers(ctx.config), localContainersReader)
}

/** The container of each task, by task ID; a task without one yet is left out. */
export const taskContainersReader: Reader<Map<string, string>, ApiData['task-containers']> = {
  cli: (stdout) =>
    new Map(
      stdout
        .split('\n')
        .map((l) => l.trim().split(' '))
        .filter((x): x is [string, string] => x.length === 2 && x[1] !== ''),
    ),
  api: (tasks) => new Map(tasks.flatMap((t) => (t.Status?.ContainerStatus?.ContainerID ? [[t.ID, t.Status.ContainerStatus.ContainerID] as const] : []))),
}

export async function readTaskContainers(ctx: Ctx, ids: readonly string[]): Promise<Map<string, string>> {
  if (!ids.length) return new Map()
  return answer(await ctx.run(taskContainers(ctx.config, ids)), taskContainersReader)
}

/** The short name of a task's service, in this stack. */
export const shortName = (ctx: Ctx, full: string) => full.slice(ctx.config.prefix.length + 1)
