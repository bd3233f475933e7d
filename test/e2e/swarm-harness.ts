// End-to-end harness of swarm mode: a real single-node swarm, the example stack under a
// throwaway name, and cleanup. SWARM_DOCKER_HOST points it at a daemon of its own (a
// throwaway dockerd while developing); by default it is the daemon `docker` talks to,
// which it makes a swarm manager only if it is in no swarm yet, and then leaves again.
//
// Nothing is published on the host: Swarm cannot publish on loopback only, so the stack's
// proxy runs without its `ports:` and is reached at its docker_gwbridge address, a bridge
// of this host's own.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileText, pipeFiles, ROOT, type RunResult, type Sampler, sampleBeats, waitFor } from './harness.ts'
import { builtScript } from './stack.ts'

export const SWARM_HOST = process.env.SWARM_DOCKER_HOST
const APP = 'calmswap-example-app'

/** The docker CLI against the swarm's daemon. */
export const sd = (args: string[], timeoutMs = 120_000) => execFileText('docker', args, { ...process.env, ...(SWARM_HOST ? { DOCKER_HOST: SWARM_HOST } : {}) }, timeoutMs)
/** The docker CLI against the daemon this box builds images with. */
const hostDocker = (args: string[]) => execFileText('docker', args, process.env, 600_000)

async function must(r: Promise<RunResult>, what: string): Promise<string> {
  const x = await r
  if (x.code !== 0) throw new Error(`${what} failed (exit ${x.code}): ${x.stderr.trim()}`)
  return x.stdout
}

function dotEnv(): Record<string, string> {
  try {
    return Object.fromEntries(
      readFileSync(join(ROOT, '.env'), 'utf8')
        .split('\n')
        .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    )
  } catch {
    return {}
  }
}

export class SwarmStack {
  readonly name = `e2esw${Math.random().toString(36).slice(2, 6)}`
  readonly dir = mkdtempSync(join(tmpdir(), 'calmswap-e2e-swarm-'))
  readonly stateDir = join(this.dir, 'state')
  readonly file = join(this.dir, 'stack.json')
  private initialised = false
  /** docker_gwbridge was there before this run's swarm init: it stays after the leave. */
  private hadGwbridge = true
  private readonly tags: string[] = []
  proxyUrl = ''
  private readonly base = dotEnv()

  /** The swarm (joined or made), the image and its release tags, and the stack file. */
  async setUp(releases: readonly string[]): Promise<void> {
    const state = (await must(sd(['info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}']), 'docker info')).trim()
    if (state.startsWith('inactive')) {
      this.hadGwbridge = (await sd(['network', 'inspect', 'docker_gwbridge'])).code === 0
      await must(sd(['swarm', 'init', '--advertise-addr', '127.0.0.1']), 'docker swarm init')
      this.initialised = true
    } else if (state !== 'active true') throw new Error(`the daemon is in a swarm but not its manager (${state}): set SWARM_DOCKER_HOST to a manager`)

    const python = this.base.PYTHON_IMAGE ?? 'python:3.12-slim'
    const image = `${APP}:e2e-swarm`
    await must(hostDocker(['build', '-q', '-t', image, '--build-arg', `PYTHON_IMAGE=${python}`, join(ROOT, 'example/app')]), 'docker build of the example app')
    if (SWARM_HOST) {
      // Another daemon: it gets the images the way a registry-less node would, saved and loaded.
      const base = this.baseImage()
      for (const img of [base, image]) {
        const there = await sd(['image', 'inspect', img])
        const here = await hostDocker(['image', 'inspect', '--format', '{{.Id}}', img])
        if (there.code === 0 && there.stdout.includes(here.stdout.trim())) continue
        const save = { file: 'docker', args: ['save', img], env: process.env }
        const load = { file: 'docker', args: ['load', '-q'], env: { ...process.env, DOCKER_HOST: SWARM_HOST } }
        await must(pipeFiles(save, load, 300_000), `loading ${img}`)
      }
    }
    for (const r of releases) {
      await must(sd(['tag', image, `${APP}:${r}`]), 'docker tag')
      this.tags.push(`${APP}:${r}`)
    }
    // The example stack, minus the proxy's published port (see the header).
    const printed = await must(
      hostDocker(['compose', '-f', join(ROOT, 'example/swarm/compose.yml'), 'config', '--format', 'json', '--no-interpolate', '--no-normalize', '--no-path-resolution']),
      'docker compose config',
    )
    const stack = JSON.parse(printed) as Record<string, any>
    delete stack.services.proxy.ports
    writeFileSync(this.file, JSON.stringify(stack, null, 2))
    copyFileSync(join(ROOT, 'example/swarm/nginx.conf'), join(this.dir, 'nginx.conf'))
  }

  private baseImage(): string {
    return this.base.REDIS_IMAGE ?? 'redis:7-alpine'
  }

  /** The env of a calmswap script against this stack. */
  env(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {}
    for (const [k, v] of Object.entries(process.env)) if (!/^(CALMSWAP_|APP_FAULT$|DOCKER_HOST$|DOCKER_CONTEXT$)/.test(k)) env[k] = v
    Object.assign(env, {
      CALMSWAP_ENGINE: 'swarm',
      CALMSWAP_COMPOSE_FILE: this.file,
      CALMSWAP_PREFIX: this.name,
      CALMSWAP_STATE_DIR: this.stateDir,
      // One box, images that are only on it: nothing to ask a registry.
      CALMSWAP_SWARM_RESOLVE_IMAGE: 'never',
      CALMSWAP_PROXY_URL: this.proxyUrl,
      CALMSWAP_CPU_CALM: '0',
      APP_IMAGE: APP,
      REDIS_IMAGE: this.baseImage(),
      NGINX_IMAGE: this.base.NGINX_IMAGE ?? 'nginx:1.27-alpine',
      NO_COLOR: '1',
      CI: 'true',
      ...(SWARM_HOST ? { DOCKER_HOST: SWARM_HOST } : {}),
    })
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k]
      else env[k] = v
    }
    return env
  }

  run(script: string, args: string[] = [], extra: Record<string, string | undefined> = {}): Promise<RunResult> {
    return execFileText(process.execPath, [builtScript(script), ...args], this.env(extra), 280_000)
  }

  /** The running container of a service of this stack (single node: the only one). */
  async container(service: string): Promise<string> {
    return (await waitFor(`a running ${service} container`, async () => {
      const ids = (await sd(['ps', '-q', '--no-trunc', '--filter', `label=com.docker.swarm.service.name=${this.name}_${service}`, '--filter', 'status=running'])).stdout
        .split('\n')
        .filter(Boolean)
      return ids[0]
    })) as string
  }

  /** The proxy task's address on docker_gwbridge, where the load and the verify step reach it. */
  async findProxy(): Promise<string> {
    const id = await this.container('proxy')
    const nets = JSON.parse((await must(sd(['network', 'inspect', 'docker_gwbridge', '--format', '{{json .Containers}}']), 'network inspect')).trim()) as Record<
      string,
      { IPv4Address: string }
    >
    const ip = nets[id]?.IPv4Address.split('/')[0]
    if (!ip) throw new Error(`the proxy container ${id} has no docker_gwbridge address`)
    const url = `http://${ip}:8080`
    // The address must lead to this stack's proxy, not to whatever else this host routes it to
    // (a daemon of another network namespace has bridges this host cannot see).
    const r = await execFileText('curl', ['-fsS', '-m', '3', `${url}/health/`])
    if (r.code !== 0 || !r.stdout.includes('"release"'))
      throw new Error(`${url} does not answer as the proxy of ${this.name} (${r.stderr.trim() || r.stdout.slice(0, 80)}): is it routed to the swarm's daemon?`)
    this.proxyUrl = url
    return url
  }

  /** Image of every running task, per service. */
  async images(): Promise<Record<string, string[]>> {
    const out = await must(
      sd(['ps', '--filter', `label=com.docker.stack.namespace=${this.name}`, '--format', '{{.Label "com.docker.swarm.service.name"}} {{.Image}}']),
      'docker ps',
    )
    const m: Record<string, string[]> = {}
    for (const l of out.split('\n').filter(Boolean)) {
      const [svc, img] = l.split(' ')
      const s = svc!.slice(this.name.length + 1)
      ;(m[s] ??= []).push(img!.replace(/@sha256:.*/, ''))
    }
    for (const v of Object.values(m)) v.sort()
    return m
  }

  async redis(...args: string[]): Promise<string> {
    return (await must(sd(['exec', await this.container('redis'), 'redis-cli', ...args]), `redis-cli ${args.join(' ')}`)).trim()
  }

  async counter(name: 'enqueued' | 'executed' | 'ticks'): Promise<number> {
    return Number((await this.redis('GET', `calmswap:${name}`)) || 0)
  }

  /** Beat containers running across the swarm, every `everyMs`, until stopped. */
  sampleBeats(everyMs = 300): Sampler {
    const running = async () =>
      (await sd(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${this.name}_beat`, '--filter', 'status=running'])).stdout.split('\n').filter(Boolean)
    return sampleBeats(running, everyMs)
  }

  /** The stack, its release tags and, if this run made the swarm, the swarm. Never throws. */
  async tearDown(): Promise<void> {
    try {
      await sd(['stack', 'rm', this.name])
      await waitFor(
        'the stack to be gone',
        async () => {
          const left = await sd(['ps', '-aq', '--filter', `label=com.docker.stack.namespace=${this.name}`])
          const nets = await sd(['network', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${this.name}`])
          return !left.stdout.trim() && !nets.stdout.trim()
        },
        90_000,
        1_000,
      ).catch((e) => console.error(`swarm teardown: ${(e as Error).message}`))
      if (this.tags.length) await sd(['rmi', ...this.tags])
      if (this.initialised) {
        await sd(['swarm', 'leave', '--force'])
        // `swarm init` created it and `swarm leave` keeps it.
        if (!this.hadGwbridge) await sd(['network', 'rm', 'docker_gwbridge'])
      }
    } finally {
      rmSync(this.dir, { recursive: true, force: true })
    }
  }
}
