// What runs where, from one `docker ps` of all three projects. Method names say what they
// return: services (names of compose services) or containers (objects with id and name).
import type { ContainerState, Effect, Reader } from './command.ts'
import { type Config, type Project, projectName } from './config.ts'
import type { ApiContainer, ApiData } from './docker-api.ts'

export type { ContainerState }

export interface Container {
  readonly id: string
  readonly project: string
  readonly service: string
  readonly state: ContainerState
  /** "Up 3 minutes (healthy)": docker's own words, uptime included. */
  readonly status: string
  readonly health: '' | 'healthy' | 'unhealthy' | 'starting'
  readonly name: string
  readonly image: string
  /** The folder Compose ran from: where its compose file is. */
  readonly workingDir: string
}

/** The health in docker's words of a status: "Up 3 minutes (health: starting)". */
function healthOf(status: string): Container['health'] {
  const h = /\((healthy|unhealthy|health: starting)\)/.exec(status)?.[1]
  return h === 'health: starting' ? 'starting' : ((h ?? '') as Container['health'])
}

export function parseContainers(stdout: string): Container[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const [id = '', project = '', service = '', state = '', status = '', name = '', image = '', workingDir = ''] = line.split('\t')
      return { id, project, service, state: state as ContainerState, status, health: healthOf(status), name, image, workingDir }
    })
}

export function containersFromApi(list: readonly ApiContainer[]): Container[] {
  return list.map((x) => {
    const label = (k: string) => x.Labels?.[k] ?? ''
    // The CLI's names of a container: its own, without the leading slash and without link aliases.
    const name = x.Names.map((n) => n.replace(/^\//, ''))
      .filter((n) => !n.includes('/'))
      .join(',')
    const [project, service, workingDir] = ['project', 'service', 'project.working_dir'].map((k) => label(`com.docker.compose.${k}`)) as [string, string, string]
    return { id: x.Id, project, service, state: x.State as ContainerState, status: x.Status, health: healthOf(x.Status), name, image: x.Image, workingDir }
  })
}

/** `listContainers`' answer. */
export const containerList: Reader<Container[], ApiData['list']> = { cli: parseContainers, api: containersFromApi }

/**
 * The host as it will be once the planned changes are made: what a dry run plans the next
 * step on, so that it prints what the real run would do there.
 */
export function projectedContainers(containers: readonly Container[], effects: readonly Effect[]): Container[] {
  let out = [...containers]
  for (const e of effects) {
    if (e.on === 'project') out = out.filter((c) => c.project !== e.project)
    else if (e.on === 'containers') {
      const hit = (c: Container) => e.names.includes(c.name) || e.names.includes(c.id)
      out = e.to === 'removed' ? out.filter((c) => !hit(c)) : out.map((c) => (hit(c) ? { ...c, state: e.to as ContainerState, status: `(planned) ${e.to}` } : c))
    } else {
      for (const service of e.services) {
        const mine = out.filter((c) => c.project === e.project && c.service === service)
        if (mine.length) out = out.map((c) => (mine.includes(c) ? { ...c, state: e.to, status: `(planned) ${e.to}` } : c))
        else {
          const name = `${e.project}-${service}-1`
          out.push({ id: name, project: e.project, service, state: e.to, status: `(planned) ${e.to}`, health: '', name, image: '', workingDir: '' })
        }
      }
    }
  }
  return out
}

/** Up: its processes run and a signal reaches them. */
const RUNNING: readonly ContainerState[] = ['running']
/** Up, or between two runs of a restart loop: what must be stopped to be sure it does not run. */
const ALIVE: readonly ContainerState[] = ['running', 'restarting']

export class Inventory {
  constructor(
    readonly config: Config,
    readonly all: readonly Container[],
  ) {}

  /** The containers of a project, optionally of some of its services only. */
  containers(p: Project, services?: readonly string[]): Container[] {
    const name = projectName(this.config, p)
    return this.all.filter((c) => c.project === name && (!services || services.includes(c.service)))
  }

  /** Services (not containers) of a project with at least one container in one of the states. */
  servicesIn(p: Project, services: readonly string[], states: readonly ContainerState[]): string[] {
    const found = this.containers(p, services)
    return services.filter((s) => found.some((c) => c.service === s && states.includes(c.state)))
  }

  runningServices(p: Project, services: readonly string[]): string[] {
    return this.servicesIn(p, services, RUNNING)
  }

  /** The containers (not services) of a project in one of the states. */
  containersIn(p: Project, services: readonly string[], states: readonly ContainerState[]): Container[] {
    return this.containers(p, services).filter((c) => states.includes(c.state))
  }
  /** Containers with processes: what a signal can reach. */
  runningContainers(p: Project, services: readonly string[]): Container[] {
    return this.containersIn(p, services, RUNNING)
  }
  /** Running or in a restart loop: what a stop must reach. */
  aliveContainers(p: Project, services: readonly string[]): Container[] {
    return this.containersIn(p, services, ALIVE)
  }
  /** Services with a container running or in a restart loop. */
  aliveServices(p: Project, services: readonly string[]): string[] {
    return this.servicesIn(p, services, ALIVE)
  }
  /** Frozen containers: what an unpause thaws. */
  pausedContainers(p: Project, services: readonly string[]): Container[] {
    return this.containersIn(p, services, ['paused'])
  }

  hasProject(p: Project): boolean {
    return this.containers(p).length > 0
  }
}

export const names = (cs: readonly Container[]) => cs.map((c) => c.name)

export interface RunState {
  readonly name: string
  readonly status: string
  readonly restarts: number
  readonly startedAt: string
  readonly exitCode: number
}

/** Parses `runState`: one line per container. */
export function parseRunState(stdout: string): RunState[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name = '', status = '', restarts = '0', startedAt = '', exitCode = '0'] = l.trim().split(' ')
      return { name: name.replace(/^\//, ''), status, restarts: Number(restarts), startedAt, exitCode: Number(exitCode) }
    })
}

/** `runState`'s answer: one per container that exists. */
export const runStates: Reader<RunState[], ApiData['inspect']> = {
  cli: parseRunState,
  api: (xs) =>
    xs.map((x) => ({
      name: x.Name.replace(/^\//, ''),
      status: x.State.Status ?? '',
      restarts: x.RestartCount ?? 0,
      startedAt: x.State.StartedAt ?? '',
      exitCode: x.State.ExitCode ?? 0,
    })),
}

/** `imageIds`' answer: the image ID each container runs, by container name. */
export const imagesByName: Reader<Map<string, string>, ApiData['inspect']> = {
  cli: (stdout) =>
    new Map(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^\//, '').split(' ') as [string, string]),
    ),
  api: (xs) => new Map(xs.map((x) => [x.Name.replace(/^\//, ''), x.Image])),
}

/** `volumeMounts`' answer: each container's named volumes by destination, by container name. */
export const volumesByName: Reader<Map<string, Map<string, string>>, ApiData['inspect']> = {
  cli: (stdout) =>
    new Map(
      stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [name = '', list = ''] = l.trim().split(' ')
          const pairs = list
            .split(',')
            .filter(Boolean)
            .map((m) => m.split(':').reverse() as [string, string])
          return [name.replace(/^\//, ''), new Map(pairs)]
        }),
    ),
  api: (xs) => new Map(xs.map((x) => [x.Name.replace(/^\//, ''), new Map((x.Mounts ?? []).flatMap((m) => (m.Type === 'volume' ? [[m.Destination, m.Name ?? ''] as const] : [])))])),
}

/** `healthStatus`' answer: the Docker healthcheck's status, empty when there is none. */
export const healthStatusOf: Reader<string, ApiData['inspect']> = { cli: (stdout) => stdout.trim(), api: (xs) => xs[0]?.State.Health?.Status ?? '' }

/** What is wrong with a container that should have stayed up since `before`; null when nothing is. */
export function notStayingUp(before: RunState, now: RunState | undefined): string | null {
  if (!now) return `${before.name} is gone`
  if (now.status !== 'running') return `${now.name} is ${now.status}${now.status === 'restarting' || now.status === 'exited' ? ` (exit code ${now.exitCode})` : ''}`
  if (now.restarts > before.restarts || now.startedAt !== before.startedAt) return `${now.name} restarted ${Math.max(1, now.restarts - before.restarts)} time(s)`
  return null
}
