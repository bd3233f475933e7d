// docker verbs on containers by name or id: start, kill, stop, pause, remove, wait, and the
// Celery quiesce run inside a worker (or a one-off container on the stack network).
import { QUIESCE_PY } from '../celery.ts'
import type { Cmd } from '../command.ts'
import type { Config } from '../config.ts'
import { DEADLINE, stopDeadline } from '../deadlines.ts'
import { QUIESCE_NODES_PY } from '../swarm-celery.ts'
import { dockerExec } from './exec.ts'

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

/** Removes containers, running or not (a job cut short). */
export const removeContainers = (c: Config, ids: readonly string[]): Cmd =>
  verb(c, ['rm', '-f'], ids, { api: { op: 'remove', ids }, effect: { on: 'containers', names: ids, to: 'removed' }, timeoutMs: DEADLINE.up })
