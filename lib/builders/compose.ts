// docker compose, per project (a color or the shared one): its environment, up, create,
// build, stop, start, down, logs, the release jobs and the compose file read as JSON.
import { dirname } from 'node:path'
import type { Cmd } from '../command.ts'
import { type Color, type Config, type Project, projectName } from '../config.ts'
import { DEADLINE, stopDeadline } from '../deadlines.ts'

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
/** What a stack file may interpolate: the prefix and the release. */
export const stackEnv = (c: Config): Record<string, string> => ({ CALMSWAP_PREFIX: c.prefix, ...(c.release ? { CALMSWAP_RELEASE: c.release } : {}) })

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
 * A second container of a shared service beside the running one (`calmswap proxy`): the
 * running one is kept as it is (--no-recreate), the new one runs what the compose file names now.
 */
export const upBeside = (c: Config, service: string): Cmd =>
  compose(c, 'shared', ['up', '-d', '--no-deps', '--no-recreate', '--scale', `${service}=2`, service], { mutates: true, timeoutMs: DEADLINE.up })

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

/** Recreates services of a project even when they run: the one way to give a container a new definition. */
export const recreate = (c: Config, p: Project, names: readonly string[]): Cmd =>
  compose(c, p, ['up', '-d', '--no-deps', '--force-recreate', '--no-build', ...names], { mutates: true, timeoutMs: DEADLINE.up, effect: services(c, p, names, 'running') })
