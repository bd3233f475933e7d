// Every command calmswap runs, built in one place as data (lib/cmd.ts): the argv, the
// Engine API call where there is one, the deadline and the effect. Nothing here runs anything.
import { dirname } from 'node:path'
import { QUIESCE_PY } from './celery.ts'
import type { Cmd } from './cmd.ts'
import { type Color, type Config, type Project, projectName } from './config.ts'
import { DEADLINE, stopDeadline } from './deadlines.ts'
import { QUIESCE_NODES_PY } from './swarm-celery.ts'

/**
 * What the compose file may interpolate: the color, its web port, the shared network prefix,
 * the upstream dir, and the release: the color's pinned one for calls that run its containers.
 */
export function composeEnv(c: Config, p: Project, pinned = true): Record<string, string> {
  const env: Record<string, string> = {
    CALMSWAP_PREFIX: c.prefix,
    CALMSWAP_UPSTREAM_DIR: dirname(c.proxy.upstreamFile),
    CALMSWAP_PROXY_LOG_DIR: dirname(c.watch.log),
  }
  if (p !== 'shared') {
    env.DEPLOY_COLOR = p
    env[c.portVar] = String(c.ports[p])
  }
  const release = (pinned && p !== 'shared' && c.pins[p]?.release) || c.release
  if (release) env.CALMSWAP_RELEASE = release
  return env
}

/**
 * A compose call on one project. A color's calls carry its pin override (the images it was
 * deployed with), except those that must see the file as the user wrote it: config and build.
 */
const compose = (c: Config, p: Project, args: readonly string[], o: Pick<Cmd, 'mutates' | 'timeoutMs' | 'effect'>, pinned = true): Cmd => {
  const pin = pinned && p !== 'shared' ? c.pins[p] : undefined
  return {
    argv: [c.docker, 'compose', '-p', projectName(c, p), '-f', c.composeFile, ...(pin ? ['-f', pin.file] : []), ...args],
    env: composeEnv(c, p, pinned),
    ...o,
  }
}

const services = (c: Config, p: Project, names: readonly string[], to: 'running' | 'created' | 'exited') =>
  ({ on: 'services', project: projectName(c, p), services: names, to }) as const

// ---------------------------------------------------------------- compose

/** The compose file as Compose itself resolves it: the only way calmswap reads it. */
export const composeConfig = (c: Config, p: Project = 'blue'): Cmd => compose(c, p, ['config', '--format', 'json'], { mutates: false, timeoutMs: DEADLINE.composeConfig }, false)

/**
 * The stack file as Compose reads it, for swarm mode: merge keys and anchors resolved, but
 * `${VAR}`s, relative paths and short forms left as written, for `docker stack deploy` to
 * interpolate and resolve itself.
 */
export const stackConfig = (c: Config): Cmd => ({
  argv: [c.docker, 'compose', '-f', c.composeFile, 'config', '--format', 'json', '--no-interpolate', '--no-normalize', '--no-path-resolution'],
  mutates: false,
  timeoutMs: DEADLINE.composeConfig,
})

/**
 * The same file with its `${VAR}`s filled in as `docker stack deploy` fills them: the env it
 * gets, and no `.env`, which the stack deploy does not read (/dev/null stands for an empty
 * one). Compose casts what it fills in (replicas to a number): the values calmswap acts on
 * itself, where the file may interpolate them.
 */
export const stackConfigResolved = (c: Config): Cmd => ({
  argv: [c.docker, 'compose', '--env-file', '/dev/null', '-f', c.composeFile, 'config', '--format', 'json', '--no-normalize', '--no-path-resolution'],
  env: stackEnv(c),
  cwd: c.projectDir,
  mutates: false,
  timeoutMs: DEADLINE.composeConfig,
})

/** What the stack file may interpolate, beside the environment calmswap runs in. */
const stackEnv = (c: Config): Record<string, string> => ({ CALMSWAP_PREFIX: c.prefix, ...(c.release ? { CALMSWAP_RELEASE: c.release } : {}) })

export const composeVersion = (c: Config): Cmd => ({ argv: [c.docker, 'compose', 'version', '--short'], mutates: false, timeoutMs: DEADLINE.read })

/** Compose v1, only to tell a person why v2 is missing. */
export const composeV1Version = (): Cmd => ({ argv: ['docker-compose', 'version', '--short'], mutates: false, timeoutMs: DEADLINE.read })

/** Shared services are never recreated under a running color; a color never starts its own Redis (--no-deps). */
// Shared services are waited for (running, and healthy where they have a health check): a
// first deploy's release job would otherwise meet a database that is not listening yet.
export const up = (c: Config, p: Project, names: readonly string[]): Cmd =>
  compose(c, p, p === 'shared' ? ['up', '-d', '--no-recreate', '--wait', ...names] : ['up', '-d', '--no-deps', '--force-recreate', '--no-build', ...names], {
    mutates: true,
    timeoutMs: DEADLINE.up,
    effect: services(c, p, names, 'running'),
  })

/**
 * Creates a color's containers without starting them: the work of `up` that can happen
 * while the new web boots, so that after the switch a start is all that is left.
 */
export const create = (c: Config, p: Project, names: readonly string[]): Cmd =>
  compose(c, p, ['up', '--no-start', '--no-deps', '--force-recreate', '--no-build', ...names], { mutates: true, timeoutMs: DEADLINE.up, effect: services(c, p, names, 'created') })

/**
 * Runs a release job once in a color: its own container, removed when it ends, no
 * dependencies started, no TTY; its output streams to the operator. Named, so that a job
 * cut short (deadline, Ctrl-C) can be found and removed: killing `compose run` leaves it running.
 */
export const runJob = (c: Config, p: Color, job: string): Cmd => ({
  ...compose(c, p, ['run', '--rm', '--no-deps', '-T', '--name', jobContainer(c, p, job), job], { mutates: true, timeoutMs: c.jobTimeoutMs }),
  stream: true,
})

export const jobContainer = (c: Config, p: Color, job: string) => `${projectName(c, p)}-${job}-job`

/** Removes containers, running or not (a job cut short). */
export const removeContainers = (c: Config, ids: readonly string[]): Cmd =>
  verb(c, ['rm', '-f'], ids, { api: { op: 'remove', ids }, effect: { on: 'containers', names: ids, to: 'removed' }, timeoutMs: DEADLINE.up })

export const build = (c: Config, p: Project, names: readonly string[]): Cmd => compose(c, p, ['build', ...names], { mutates: true, timeoutMs: DEADLINE.build }, false)

/** SIGTERM, then SIGKILL after the grace period: Celery's warm shutdown finishes in-flight tasks. */
export const stop = (c: Config, p: Project, names: readonly string[], graceS = c.stopGraceS): Cmd =>
  compose(c, p, ['stop', '-t', String(graceS), ...names], { mutates: true, timeoutMs: stopDeadline(graceS), effect: services(c, p, names, 'exited') })

export const start = (c: Config, p: Project, names: readonly string[]): Cmd =>
  compose(c, p, ['start', ...names], { mutates: true, timeoutMs: DEADLINE.up, effect: services(c, p, names, 'running') })

/** No -v: volumes are the user's data and outlive a color. */
export const down = (c: Config, p: Project, graceS = c.stopGraceS): Cmd =>
  compose(c, p, ['down', '-t', String(graceS), '--remove-orphans'], {
    mutates: true,
    timeoutMs: stopDeadline(graceS) + DEADLINE.up,
    effect: { on: 'project', project: projectName(c, p), to: 'removed' },
  })

export const logs = (c: Config, p: Project, names: readonly string[], tail = c.logTail): Cmd =>
  compose(c, p, ['logs', '--no-color', '--timestamps', '--tail', String(tail), ...names], { mutates: false, timeoutMs: DEADLINE.logs })

// ---------------------------------------------------------------- containers, by name or id

/** A docker verb on containers, and the same POST per container through the API. */
const verb = (c: Config, argv: readonly string[], ids: readonly string[], o: Pick<Cmd, 'api' | 'effect' | 'timeoutMs'>): Cmd => ({
  argv: [c.docker, ...argv, ...ids],
  mutates: true,
  ...o,
})

/** Starts containers `create` made; a process start, no project to load. */
export const startContainers = (c: Config, ids: readonly string[]): Cmd =>
  verb(c, ['start'], ids, { api: { op: 'post', action: 'start', ids }, effect: { on: 'containers', names: ids, to: 'running' }, timeoutMs: DEADLINE.up })

/**
 * Sends the signal and returns at once. By container, not by service: `docker compose kill`
 * loads the whole project first to find the same containers.
 */
export const kill = (c: Config, ids: readonly string[], sig = 'SIGTERM'): Cmd =>
  verb(c, ['kill', '--signal', sig], ids, {
    api: { op: 'post', action: 'kill', ids, signal: sig },
    // SIGTERM asks: the container is still running until `waitExit` sees it go.
    effect: sig === 'SIGKILL' ? { on: 'containers', names: ids, to: 'exited' } : undefined,
    timeoutMs: DEADLINE.signal,
  })

/**
 * Stops containers: SIGTERM, then SIGKILL after `graceS`. Also ends a restart loop, which a
 * signal cannot reach (the container is between two runs), and Docker's restart policy then
 * leaves it stopped.
 */
export const stopContainers = (c: Config, ids: readonly string[], graceS: number): Cmd =>
  verb(c, ['stop', '-t', String(graceS)], ids, {
    api: { op: 'post', action: 'stop', ids, graceS },
    effect: { on: 'containers', names: ids, to: 'exited' },
    timeoutMs: stopDeadline(graceS),
  })

/** Freezes these containers (cgroup freezer): no CPU, memory and connections kept. */
export const pauseContainers = (c: Config, ids: readonly string[]): Cmd =>
  verb(c, ['pause'], ids, { api: { op: 'post', action: 'pause', ids }, effect: { on: 'containers', names: ids, to: 'paused' }, timeoutMs: DEADLINE.signal })

/** Thaws frozen containers: an instant resume, nothing to boot. */
export const unpauseContainers = (c: Config, ids: readonly string[]): Cmd =>
  verb(c, ['unpause'], ids, { api: { op: 'post', action: 'unpause', ids }, effect: { on: 'containers', names: ids, to: 'running' }, timeoutMs: DEADLINE.thaw })

/**
 * Blocks until the containers exit, for at most `timeoutMs`; it sends no signal (a second
 * SIGTERM turns Celery's warm shutdown cold). Listed as a change: it is part of a stop.
 */
export const waitExit = (c: Config, ids: readonly string[], timeoutMs: number): Cmd => ({
  ...verb(c, ['wait'], ids, { api: { op: 'wait', ids }, effect: { on: 'containers', names: ids, to: 'exited' }, timeoutMs }),
  // It only waits: a rollback (Ctrl-C, a bad verdict of the watch) need not wait for it.
  interruptible: true,
})

/** The exec that asks the Celery worker of a container to stop consuming (lib/celery.ts), within `maxS` seconds. */
export const quiesceWorker = (c: Config, container: string, maxS: number): Cmd =>
  dockerExec(c, container, ['python3', '-c', QUIESCE_PY, String(maxS)], true, maxS * 1000 + DEADLINE.quiesceMargin)

/**
 * The exec, in `container` on this node, that quiesces the Celery workers running as `hosts`
 * on other nodes, through the broker (lib/swarm-celery.ts), within `maxS` seconds.
 */
export const quiesceNodes = (c: Config, container: string, app: string, maxS: number, hosts: readonly string[]): Cmd =>
  dockerExec(c, container, ['python3', '-c', QUIESCE_NODES_PY, app, String(maxS), hosts.join(',')], true, maxS * 1000 + DEADLINE.quiesceBroker)

/**
 * The same, from a one-off container of the worker's image on this node, on the stack's
 * network, with the worker's environment (from `envFile`, so no setting shows in a process
 * list or a dry run): for when no container of the stack runs here.
 */
export const quiesceNodesOnce = (c: Config, o: { image: string; network: string; envFile: string; app: string; maxS: number; hosts: readonly string[] }): Cmd => ({
  argv: [
    c.docker,
    'run',
    '--rm',
    '--network',
    o.network,
    '--env-file',
    o.envFile,
    '--entrypoint',
    'python3',
    o.image,
    '-c',
    QUIESCE_NODES_PY,
    o.app,
    String(o.maxS),
    o.hosts.join(','),
  ],
  mutates: true,
  // A pull of the image, when this node lacks it, comes first.
  timeoutMs: DEADLINE.pull + o.maxS * 1000 + DEADLINE.quiesceBroker,
})

// ---------------------------------------------------------------- images

/** The image id a reference names now: one line, "sha256:...". */
export const imageId = (c: Config, ref: string): Cmd => ({
  argv: [c.docker, 'image', 'inspect', '--format', '{{.Id}}', ref],
  mutates: false,
  timeoutMs: DEADLINE.image,
  api: { op: 'image', ref },
})

/** Gives the image `source` names one more name, `ref`; the image itself does not change. */
export const tagImage = (c: Config, source: string, ref: string): Cmd => ({
  argv: [c.docker, 'tag', source, ref],
  mutates: true,
  timeoutMs: DEADLINE.image,
  api: { op: 'tag', id: source, ref },
})

/**
 * Removes one name of an image, and the image with its layers once no name and no container
 * is left. Never forced: an image a container still uses is refused, and stays.
 */
export const untagImage = (c: Config, ref: string): Cmd => ({
  argv: [c.docker, 'rmi', ref],
  mutates: true,
  timeoutMs: DEADLINE.image,
  api: { op: 'rmi', ref },
})

// ---------------------------------------------------------------- reads

const PS_FORMAT = [
  '{{.ID}}',
  '{{.Label "com.docker.compose.project"}}',
  '{{.Label "com.docker.compose.service"}}',
  '{{.State}}',
  '{{.Status}}',
  '{{.Names}}',
  '{{.Image}}',
  '{{.Label "com.docker.compose.project.working_dir"}}',
].join('\t')

/** One call sees every container of every compose project: tab-separated, PS_FORMAT's fields. */
export const listContainers = (c: Config): Cmd => ({
  argv: [c.docker, 'ps', '-a', '--no-trunc', '--filter', 'label=com.docker.compose.project', '--format', PS_FORMAT],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'list' },
})

/** The daemon's version: `docker info` would also ask every CLI plugin for its metadata. */
export const engineVersion = (c: Config): Cmd => ({
  argv: [c.docker, 'version', '--format', '{{.Server.Version}}'],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'version' },
})

/** One line per container: its Docker healthcheck status, empty when it has none. */
export const healthStatus = (c: Config, id: string): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{if .State.Health}}{{.State.Health.Status}}{{end}}', id],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'inspect', ids: [id], fields: 'health' },
})

/** One line per container: "<name> <image id>". */
export const imageIds = (c: Config, ids: readonly string[]): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{.Name}} {{.Image}}', ...ids],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'inspect', ids, fields: 'image' },
})

/** One line per container: "<name> <volume>:<destination>,..." for its named volumes. */
export const volumeMounts = (c: Config, ids: readonly string[]): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{.Name}} {{range .Mounts}}{{if eq .Type "volume"}}{{.Name}}:{{.Destination}},{{end}}{{end}}', ...ids],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'inspect', ids, fields: 'mounts' },
})

/** Which named volumes exist: one name per line. */
export const volumeNames = (c: Config): Cmd => ({ argv: [c.docker, 'volume', 'ls', '--format', '{{.Name}}'], mutates: false, timeoutMs: DEADLINE.read })

/** Recreates services of a project even when they run: the one way to give a container a new definition. */
export const recreate = (c: Config, p: Project, names: readonly string[]): Cmd =>
  compose(c, p, ['up', '-d', '--no-deps', '--force-recreate', '--no-build', ...names], { mutates: true, timeoutMs: DEADLINE.up, effect: services(c, p, names, 'running') })

/**
 * One line per container: "<name> <status> <restart count> <started at> <exit code>", to
 * tell a process that stays up from a crash loop.
 */
export const runState = (c: Config, ids: readonly string[]): Cmd => ({
  argv: [c.docker, 'inspect', '--format', '{{.Name}} {{.State.Status}} {{.RestartCount}} {{.State.StartedAt}} {{.State.ExitCode}}', ...ids],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'inspect', ids, fields: 'state' },
})

/**
 * CPU use of each container in % of one CPU, one line each: "ID\tNN.NN%". The CLI samples over
 * a second or more; through the engine it is two readings windowMs apart.
 */
export const containerCpu = (c: Config, ids: readonly string[], windowMs = 250): Cmd => ({
  argv: [c.docker, 'stats', '--no-stream', '--format', '{{.ID}}\t{{.CPUPerc}}', ...ids],
  mutates: false,
  timeoutMs: DEADLINE.read,
  api: { op: 'cpu', ids, windowMs },
})

/**
 * The containers of one project, as they start, die, get OOM-killed or turn unhealthy: one
 * JSON object per line, from `sinceS` until `untilS` (unix seconds), when the stream ends by
 * itself. One call for a whole watch, not one per sample.
 */
export const containerEvents = (c: Config, p: Project, sinceS: number, untilS: number): Cmd => ({
  argv: [
    c.docker,
    'events',
    '--since',
    sinceS.toFixed(3),
    '--until',
    untilS.toFixed(3),
    '--filter',
    'type=container',
    '--filter',
    `label=com.docker.compose.project=${projectName(c, p)}`,
    '--format',
    '{{json .}}',
  ],
  mutates: false,
  timeoutMs: Math.max(0, untilS - sinceS) * 1000 + DEADLINE.read,
  api: { op: 'events', project: projectName(c, p), sinceS, untilS },
})

/** The highest CPU % in `containerCpu` output. */
export const maxCpu = (stdout: string): number => Math.max(0, ...[...stdout.matchAll(/([\d.]+)%/g)].map((m) => Number(m[1])))

export const dockerExec = (c: Config, container: string, argv: readonly string[], mutates: boolean, timeoutMs: number = DEADLINE.proxy): Cmd => ({
  argv: [c.docker, 'exec', container, ...argv],
  mutates,
  timeoutMs,
  api: { op: 'exec', container, argv },
})

// ---------------------------------------------------------------- swarm (CALMSWAP_ENGINE=swarm)

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
 * `docker stack deploy` of a stack file given on stdin (lib/stack.ts writes one per stage),
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

export const gitRevision = (dir: string): Cmd => ({ argv: ['git', '-C', dir, 'rev-parse', '--short', 'HEAD'], mutates: false, timeoutMs: DEADLINE.git })

// ---------------------------------------------------------------- the proxy

/** sysexits' EX_DATAERR: nginx itself exits 1 for any failure, so this one says "the check". */
const NGINX_REJECTED = 65

export interface ProxyCommands {
  /** Checks the new config before the reload; null when there is no check, or `reload` makes it. */
  readonly test: Cmd | null
  readonly reload: Cmd
  /** The exit code of a `reload` that checked first: the check failed and nothing reloaded. */
  readonly rejected?: number
}

/**
 * How to make the proxy read a new upstream file, per mode; null for proxy=none.
 * `container` is the running nginx container of the shared project (proxy=container).
 */
export function proxyCommands(c: Config, color: Color, container: string | undefined): ProxyCommands | null {
  switch (c.proxy.mode) {
    case 'container':
      if (!container) return null
      // Check and reload in one exec: each exec is a runc start beside the booting release,
      // and the reload runs only when the check passed.
      return { test: null, reload: dockerExec(c, container, ['sh', '-c', `nginx -t || exit ${NGINX_REJECTED}; exec nginx -s reload`], true), rejected: NGINX_REJECTED }
    case 'host':
      return {
        // `mutates`, for the check too: it belongs to the switch (it reads the file just
        // written), so a dry run prints it with the write instead of testing the old file.
        test: { argv: [c.proxy.nginx, '-t'], mutates: true, timeoutMs: DEADLINE.proxy },
        reload: { argv: [c.proxy.nginx, '-s', 'reload'], mutates: true, timeoutMs: DEADLINE.proxy },
      }
    case 'command':
      return {
        test: null,
        reload: {
          argv: c.proxy.command,
          env: { CALMSWAP_COLOR: color, CALMSWAP_PORT: String(c.ports[color]), CALMSWAP_UPSTREAM_FILE: c.proxy.upstreamFile },
          mutates: true,
          timeoutMs: c.proxy.commandTimeoutMs,
        },
      }
    case 'none':
      return null
  }
}

/** `nginx -t` of the proxy as it is, for doctor. */
export const proxyCheck = (c: Config, container: string | undefined): Cmd | null =>
  c.proxy.mode === 'container' && container
    ? dockerExec(c, container, ['nginx', '-t'], false)
    : c.proxy.mode === 'host'
      ? { argv: [c.proxy.nginx, '-t'], mutates: false, timeoutMs: DEADLINE.proxy }
      : null
