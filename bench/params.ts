// What a bench run does, in one place: the full run (`make bench`) and the smoke run
// (`make bench ARGS=--smoke`, used by test/e2e/bench-smoke.test.ts).
import { cpus } from 'node:os'

export interface Params {
  readonly mode: 'full' | 'smoke'
  /** Strategy names, in run order (see strategies.ts). */
  readonly strategies: readonly string[]
  /** Requests per second through the proxy, each enqueuing one Celery task. */
  readonly rate: number
  /** Simulated web boot (compose BOOT_DELAY), seconds. */
  readonly bootDelayS: number
  readonly workerConcurrency: number
  /** The CPU the colored services are pinned to (compose APP_CPUSET). */
  readonly pinnedCpu: number
  /** CPU-heavy tasks (tasks.burn) waiting in Redis when the deploy starts. */
  readonly backlog: { readonly tasks: number; readonly ms: number }
  /** Traffic before the backlog is queued; then the steady-state window. */
  readonly warmupS: number
  readonly steadyS: number
  /** Traffic that goes on after the deploy (and cleanup) finished. */
  readonly tailS: number
  /** Longest wait for the queue to drain after a phase. */
  readonly drainTimeoutS: number
  /** Run the failing deploy (APP_FAULT=health500) and its rollback too. */
  readonly failing: boolean
  /** Extra env for calmswap in this mode (smoke shortens the health deadline). */
  readonly calmswapEnv: Readonly<Record<string, string>>
  /** The compose file every strategy runs (relative to the repo root). */
  readonly composeFile: string
  /** Ports: strategy i gets portBase + 10*i .. +3 (proxy, redis, blue, green). */
  readonly portBase: number
  readonly prefix: string
  /** Samplers. */
  readonly cpuSampleMs: number
  readonly containerSampleMs: number
  /**
   * Pi-class mode (--pi): the CPUs that the colored containers (compose cgroup_parent) and the
   * orchestrator's process tree share, one cgroup's CFS quota, like one Raspberry Pi 4 core;
   * null: no quota.
   */
  readonly cpuQuota: number | null
}

/**
 * One Cortex-A72 core at 1.5 GHz (Raspberry Pi 4) runs single-threaded work at about a third
 * of a current x86 server core (Geekbench 5 single-core about 250-300 vs 900-1300): a CFS quota
 * of 0.3 CPU here is about as slow as a Pi 4 core, and it throttles in bursts like a busy one.
 */
export const PI_CPUS = 0.3
/** The cgroup of --pi, under each controller's root (cgroup v1 with Docker's cgroupfs driver). */
export const PI_CGROUP = 'calmswap-bench-pi'

const pinned = Math.min(1, cpus().length - 1)

export const FULL: Params = {
  mode: 'full',
  strategies: ['naive', 'original', 'calmswap-stop', 'calmswap-pause', 'calmswap-equivalent'],
  rate: 20,
  bootDelayS: 5,
  // One process per worker on the one pinned CPU: with two, the steady state would already
  // keep the CPU saturated (PSI ~100%), and nothing a deploy does could show.
  workerConcurrency: 1,
  pinnedCpu: pinned,
  backlog: { tasks: 100, ms: 200 },
  warmupS: 2,
  steadyS: 10,
  tailS: 3,
  drainTimeoutS: 90,
  failing: true,
  calmswapEnv: {},
  composeFile: 'compose.yml',
  portBase: 20000,
  prefix: 'bench',
  cpuSampleMs: 250,
  containerSampleMs: 500,
  cpuQuota: null,
}

export const SMOKE: Params = {
  ...FULL,
  mode: 'smoke',
  strategies: ['calmswap-stop'],
  rate: 15,
  bootDelayS: 1,
  backlog: { tasks: 8, ms: 100 },
  warmupS: 1,
  steadyS: 3,
  tailS: 1,
  drainTimeoutS: 30,
  calmswapEnv: { CALMSWAP_HEALTH_DEADLINE: '6s', CALMSWAP_STOP_GRACE: '10s' },
  portBase: 20900,
  prefix: 'bench-smoke',
}

export interface Ports {
  readonly proxy: number
  readonly redis: number
  readonly blue: number
  readonly green: number
}

export const portsFor = (p: Params, index: number): Ports => {
  const base = p.portBase + 10 * index
  return { proxy: base, redis: base + 1, blue: base + 2, green: base + 3 }
}
