// The example stack as the bench drives it: env of a strategy's three compose projects,
// the release images, the CPU-heavy backlog, and a teardown that leaves nothing behind.
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Color } from '../lib/config.ts'
import { type Params, PI_CGROUP, type Ports } from './params.ts'

export const IMAGE = 'calmswap-example-app'
/** Release tags: the one set up first, the good new one, the failing one. */
export const RELEASES = { setup: 'bench-a', good: 'bench-b', failing: 'bench-c' } as const

export interface Sh {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

export function sh(argv: readonly string[], env: Record<string, string> = {}, cwd?: string, timeoutMs = 300_000): Promise<Sh> {
  return new Promise((resolve) =>
    execFile(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, cwd, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  )
}

async function must(argv: readonly string[], env: Record<string, string> = {}, cwd?: string): Promise<string> {
  const r = await sh(argv, env, cwd)
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`)
  return r.stdout
}

/**
 * The repo's .env (provision/images.sh points the images at the offline base image there).
 * Passed on explicitly so the bench's own compose calls see it whatever their cwd.
 */
export function dotEnv(root: string): Record<string, string> {
  const file = join(root, '.env')
  if (!existsSync(file)) return {}
  const out: Record<string, string> = {}
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (m) out[m[1]!] = m[2]!.trim().replace(/^(['"])(.*)\1$/, '$2')
  }
  return out
}

/** Everything the compose file and calmswap read, for one strategy's stack. */
export function stackEnv(root: string, p: Params, prefix: string, ports: Ports, stateDir: string): Record<string, string> {
  return {
    ...dotEnv(root),
    CALMSWAP_COMPOSE_FILE: resolve(root, p.composeFile),
    CALMSWAP_PREFIX: prefix,
    CALMSWAP_STATE_DIR: stateDir,
    CALMSWAP_BLUE_PORT: String(ports.blue),
    CALMSWAP_GREEN_PORT: String(ports.green),
    CALMSWAP_PROXY_URL: `http://127.0.0.1:${ports.proxy}`,
    // The release images are built once before the run, as for the bash strategies.
    CALMSWAP_BUILD: 'never',
    PROXY_PORT: String(ports.proxy),
    REDIS_PORT: String(ports.redis),
    APP_CPUSET: String(p.pinnedCpu),
    ...(p.cpuQuota ? { APP_CGROUP_PARENT: `/${PI_CGROUP}` } : {}),
    BOOT_DELAY: String(p.bootDelayS),
    WORKER_CONCURRENCY: String(p.workerConcurrency),
    BEAT_EVERY: '2',
    APP_FAULT: '',
    // The strategies compared here have no watch; bench/watch.ts measures it.
    CALMSWAP_WATCH: '0',
    // Plain output in the logs: no spinner, no color codes.
    CI: 'true',
    NO_COLOR: '1',
    ...p.calmswapEnv,
  }
}

/** One image, tagged once per release, so no strategy ever builds during a deploy. */
export async function prepareImages(root: string, composeFile: string): Promise<void> {
  await must(
    ['docker', 'compose', '-p', 'bench-build', '-f', composeFile, 'build', 'web'],
    { ...dotEnv(root), CALMSWAP_RELEASE: 'bench-build', CALMSWAP_PREFIX: 'bench-build' },
    root,
  )
  for (const tag of Object.values(RELEASES)) await must(['docker', 'tag', `${IMAGE}:bench-build`, `${IMAGE}:${tag}`])
}

export async function removeImages(): Promise<void> {
  await sh(['docker', 'image', 'rm', ...[...Object.values(RELEASES), 'bench-build'].map((t) => `${IMAGE}:${t}`)])
}

const PROJECTS = ['blue', 'green', 'shared'] as const

/** `down -v -t 1` of all three projects, then anything left by name. Returns what was left. */
export async function teardown(root: string, prefix: string, env: Record<string, string>): Promise<string[]> {
  for (const p of PROJECTS) {
    await sh(['docker', 'compose', '-p', `${prefix}-${p}`, '-f', env.CALMSWAP_COMPOSE_FILE!, 'down', '-v', '-t', '1', '--remove-orphans'], { ...env, DEPLOY_COLOR: p }, root)
  }
  const left: string[] = []
  for (const p of PROJECTS) {
    const ids = (await sh(['docker', 'ps', '-aq', '--filter', `label=com.docker.compose.project=${prefix}-${p}`])).stdout.split('\n').filter(Boolean)
    if (ids.length) {
      left.push(...ids)
      await sh(['docker', 'rm', '-f', '-v', ...ids])
    }
  }
  await sh(['docker', 'network', 'rm', `${prefix}-net`])
  return left
}

/** Queues `tasks` CPU-heavy tasks from inside the live web (it has the Celery app), counted as enqueued. */
export async function enqueueBacklog(prefix: string, color: Color, tasks: number, ms: number): Promise<void> {
  const code = ['import tasks', `for _ in range(${tasks}): tasks.burn.delay(${ms})`, `tasks._counters.incrby("calmswap:enqueued", ${tasks})`].join('\n')
  await must(['docker', 'exec', `${prefix}-${color}-web-1`, 'python3', '-c', code])
}
