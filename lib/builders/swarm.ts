// docker service, node, stack: the builders of swarm mode (lib/swarm/).
import type { Cmd } from '../command.ts'
import type { Config } from '../config.ts'
import { DEADLINE } from '../deadlines.ts'
import { stackEnv } from './compose.ts'

/** In swarm mode the prefix names the stack, as `docker stack deploy <prefix>` would. */
export const stackName = (c: Config) => c.prefix
/** A stack service's full name: what `docker service` commands take. */
export const serviceName = (c: Config, service: string) => `${c.prefix}_${service}`

/** `.Swarm` of `docker info` as JSON: is this daemon in a swarm, and a manager of it. */
export const swarmInfo = (c: Config): Cmd => ({ argv: [c.docker, 'info', '--format', '{{json .Swarm}}'], mutates: false, timeoutMs: DEADLINE.read, api: { op: 'swarm' } })

/** One JSON object per node: ID, Hostname, Status, Availability, ManagerStatus, EngineVersion, Self. */
export const nodeList = (c: Config): Cmd => ({ argv: [c.docker, 'node', 'ls', '--format', '{{json .}}'], mutates: false, timeoutMs: DEADLINE.read, api: { op: 'nodes' } })

/** The services as one JSON array (Spec, PreviousSpec, UpdateStatus, Version); a missing one makes it exit 1. */
export const serviceInspect = (c: Config, names: readonly string[]): Cmd => ({
  argv: [c.docker, 'service', 'inspect', ...names],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'services', names },
})

/** One JSON object per task, old ones too: ID, Name, Image, Node, DesiredState, CurrentState, Error. */
export const serviceTasks = (c: Config, names: readonly string[]): Cmd => ({
  argv: [c.docker, 'service', 'ps', '--no-trunc', '--format', '{{json .}}', ...names],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'tasks', services: names },
})

/** Sets replicas and returns once the manager has stored them: the tasks follow on their own. */
export const serviceScale = (c: Config, replicas: Readonly<Record<string, number>>): Cmd => ({
  argv: [c.docker, 'service', 'scale', '--detach', ...Object.entries(replicas).map(([s, n]) => `${s}=${n}`)],
  mutates: true,
  timeoutMs: DEADLINE.serviceUpdate,
  api: { op: 'scale', replicas },
})

/** Back to the service's previous spec, with that spec's rollback_config; returns at once. */
export const serviceRollback = (c: Config, name: string): Cmd => ({
  argv: [c.docker, 'service', 'rollback', '--detach', name],
  mutates: true,
  timeoutMs: DEADLINE.serviceUpdate,
  api: { op: 'rollback', service: name },
})

/**
 * Replaces every task of a service by a fresh one of the same spec, the way its update_config
 * says (`--force` changes nothing else); returns at once.
 */
export const serviceRestart = (c: Config, name: string): Cmd => ({
  argv: [c.docker, 'service', 'update', '--detach', '--force', name],
  mutates: true,
  timeoutMs: DEADLINE.serviceUpdate,
})

/**
 * The containers of the stack's tasks that run on this daemon's node, one line each:
 * "<container id>\t<service>\t<task id>\t<state>". Only these can be exec'd into from here.
 */
export const stackContainers = (c: Config): Cmd => ({
  argv: [
    c.docker,
    'ps',
    '--no-trunc',
    '--filter',
    `label=com.docker.stack.namespace=${stackName(c)}`,
    '--format',
    '{{.ID}}\t{{.Label "com.docker.swarm.service.name"}}\t{{.Label "com.docker.swarm.task.id"}}\t{{.State}}',
  ],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'stack-containers', stack: stackName(c) },
})

/** One line per task: "<task id> <container id>", the container on whichever node runs it. */
export const taskContainers = (c: Config, ids: readonly string[]): Cmd => ({
  argv: [c.docker, 'inspect', '--type', 'task', '--format', '{{.ID}} {{.Status.ContainerStatus.ContainerID}}', ...ids],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'task-containers', ids },
})

/** Removes services a failed first deploy created: there is no earlier spec to roll back to. */
export const serviceRemove = (c: Config, names: readonly string[]): Cmd => ({ argv: [c.docker, 'service', 'rm', ...names], mutates: true, timeoutMs: DEADLINE.serviceUpdate })

export const serviceLogs = (c: Config, name: string, tail = c.logTail): Cmd => ({
  argv: [c.docker, 'service', 'logs', '--no-trunc', '--timestamps', '--tail', String(tail), name],
  mutates: false,
  timeoutMs: DEADLINE.logs,
})

/**
 * `docker stack deploy` of a stack file given on stdin (lib/swarm/stack.ts writes one per step),
 * from the real file's folder so that its relative paths mean what they mean there.
 * Interpolation is the CLI's own, from this env.
 */
export const stackDeploy = (c: Config, file: string): Cmd => ({
  argv: [c.docker, 'stack', 'deploy', '--resolve-image', c.swarm.resolveImage, '--compose-file', '-', stackName(c)],
  env: stackEnv(c),
  input: file,
  cwd: c.projectDir,
  mutates: true,
  timeoutMs: DEADLINE.stackDeploy,
})
