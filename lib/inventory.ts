// What runs where, from one `docker ps` of all three projects.
import type { Config } from './config.ts'
import { projectName, type Project } from './compose.ts'

export type ContainerState = 'running' | 'paused' | 'exited' | 'created' | 'restarting' | 'removing' | 'dead'

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
}

export function parseInventory(stdout: string): Container[] {
  return stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const [id = '', project = '', service = '', state = '', status = '', name = '', image = ''] = line.split('\t')
      const h = /\((healthy|unhealthy|health: starting)\)/.exec(status)?.[1]
      const health = h === 'health: starting' ? 'starting' : ((h ?? '') as Container['health'])
      return { id, project, service, state: state as ContainerState, status, health, name, image }
    })
}

const RUNNING: readonly ContainerState[] = ['running', 'restarting']

export class Inventory {
  constructor(
    readonly config: Config,
    readonly containers: readonly Container[],
  ) {}

  of(p: Project, services?: readonly string[]): Container[] {
    const name = projectName(this.config, p)
    return this.containers.filter((c) => c.project === name && (!services || services.includes(c.service)))
  }

  /** Services (not containers) of a project whose containers are all in one of the states. */
  services(p: Project, services: readonly string[], states: readonly ContainerState[]): string[] {
    const found = this.of(p, services)
    return services.filter((s) => {
      const cs = found.filter((c) => c.service === s)
      return cs.length > 0 && cs.some((c) => states.includes(c.state))
    })
  }

  running(p: Project, services: readonly string[]) {
    return this.services(p, services, RUNNING)
  }
  /** The containers (not services) of a project that run: what a signal can reach. */
  runningContainers(p: Project, services: readonly string[]): Container[] {
    return this.of(p, services).filter((c) => RUNNING.includes(c.state))
  }
  paused(p: Project, services: readonly string[]) {
    return this.services(p, services, ['paused'])
  }
  /** Names of the frozen containers of these services: what an unpause thaws. */
  pausedNames(p: Project, services: readonly string[]): string[] {
    return this.of(p, services)
      .filter((c) => c.state === 'paused')
      .map((c) => c.name)
  }
  stopped(p: Project, services: readonly string[]) {
    return this.services(p, services, ['exited', 'created', 'dead'])
  }
  exists(p: Project): boolean {
    return this.of(p).length > 0
  }
}
