// Periodic samplers on one clock (performance.now(), ms): CPU pressure and CPU time from
// /proc, and which colored containers run (from the Docker socket, so sampling spawns no
// process of its own that would show up in the CPU figures).
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { request } from 'node:http'
import { cpus } from 'node:os'

export const now = () => performance.now()

// ---------------------------------------------------------------- CPU

export type StallSource = 'psi' | 'procs_running'

export interface CpuSample {
  readonly t: number
  /** PSI "some total" (µs of stall, cumulative); null without PSI. */
  readonly stallUs: number | null
  /** Runnable tasks right now (/proc/stat procs_running), the fallback without PSI. */
  readonly running: number
  /** Jiffies, all CPUs: busy (everything but idle and iowait) and total. */
  readonly busy: number
  readonly total: number
  /** The same for the CPU the colored services are pinned to. */
  readonly pinnedBusy: number
  readonly pinnedTotal: number
}

const PSI_FILE = '/proc/pressure/cpu'

export function stallSource(): StallSource {
  try {
    return /^some .*total=\d+/m.test(readFileSync(PSI_FILE, 'utf8')) ? 'psi' : 'procs_running'
  } catch {
    return 'procs_running'
  }
}

function jiffies(line: string | undefined): { busy: number; total: number } {
  const f = (line ?? '').trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal (guest time is already in user)
  const total = f.slice(0, 8).reduce((a, b) => a + (b || 0), 0)
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total }
}

export function readCpu(pinnedCpu: number, source: StallSource): CpuSample {
  const t = now()
  const stat = readFileSync('/proc/stat', 'utf8').split('\n')
  const all = jiffies(stat.find((l) => l.startsWith('cpu ')))
  const pinned = jiffies(stat.find((l) => l.startsWith(`cpu${pinnedCpu} `)))
  const running = Number(/^procs_running (\d+)/m.exec(stat.join('\n'))?.[1] ?? 0)
  let stallUs: number | null = null
  if (source === 'psi') stallUs = Number(/^some .*total=(\d+)/m.exec(readFileSync(PSI_FILE, 'utf8'))?.[1] ?? NaN)
  return { t, stallUs, running, busy: all.busy, total: all.total, pinnedBusy: pinned.busy, pinnedTotal: pinned.total }
}

export interface CpuWindow {
  /** ms of "some" CPU stall per second of wall time (0..1000). */
  readonly stallMsPerS: number
  readonly busyPct: number
  readonly pinnedBusyPct: number
  /** The CPUs the colored services are not pinned to: the orchestrator, docker, nginx, redis, the bench. */
  readonly unpinnedBusyPct: number
  readonly seconds: number
}

/**
 * Stall per second between two samples. Without PSI: the share of samples in which more
 * tasks were runnable than there are CPUs (the sampler itself counts as one), as ms/s.
 */
function stallBetween(a: CpuSample, b: CpuSample, samples: readonly CpuSample[], ncpu: number): number {
  const secs = (b.t - a.t) / 1000
  if (secs <= 0) return 0
  if (a.stallUs !== null && b.stallUs !== null) return (b.stallUs - a.stallUs) / 1000 / secs
  const inside = samples.filter((s) => s.t > a.t && s.t <= b.t)
  return inside.length ? (1000 * inside.filter((s) => s.running - 1 > ncpu).length) / inside.length : 0
}

export function cpuWindow(samples: readonly CpuSample[], from: number, to: number, ncpu = cpus().length): CpuWindow | null {
  const a = [...samples].reverse().find((s) => s.t <= from) ?? samples.find((s) => s.t >= from)
  const b = samples.find((s) => s.t >= to) ?? samples.at(-1)
  if (!a || !b || b.t <= a.t) return null
  const pct = (busy: number, total: number) => (total > 0 ? (100 * busy) / total : 0)
  return {
    stallMsPerS: stallBetween(a, b, samples, ncpu),
    busyPct: pct(b.busy - a.busy, b.total - a.total),
    pinnedBusyPct: pct(b.pinnedBusy - a.pinnedBusy, b.pinnedTotal - a.pinnedTotal),
    unpinnedBusyPct: pct(b.busy - a.busy - (b.pinnedBusy - a.pinnedBusy), b.total - a.total - (b.pinnedTotal - a.pinnedTotal)),
    seconds: (b.t - a.t) / 1000,
  }
}

/** The worst stall (ms/s) over any `windowMs` slice of [from, to]. */
export function peakStall(samples: readonly CpuSample[], from: number, to: number, windowMs = 1000, ncpu = cpus().length): number | null {
  let peak: number | null = null
  for (const a of samples) {
    if (a.t < from || a.t + windowMs > to + 1) continue
    const w = cpuWindow(samples, a.t, a.t + windowMs, ncpu)
    if (w && (peak === null || w.stallMsPerS > peak)) peak = w.stallMsPerS
  }
  return peak
}

/** Stall ms/s and busy % in fixed bins, for the timeline. */
export function cpuSeries(samples: readonly CpuSample[], binMs: number, ncpu = cpus().length): { t: number; stallMsPerS: number; busyPct: number }[] {
  const out: { t: number; stallMsPerS: number; busyPct: number }[] = []
  if (samples.length < 2) return out
  for (let t = samples[0]!.t; t + binMs <= samples.at(-1)!.t + 1; t += binMs) {
    const w = cpuWindow(samples, t, t + binMs, ncpu)
    if (w) out.push({ t: t + binMs / 2, stallMsPerS: w.stallMsPerS, busyPct: w.busyPct })
  }
  return out
}

// ---------------------------------------------------------------- containers

export interface ContainerSample {
  readonly t: number
  /** Running (not paused) containers per "<color>/<service>". */
  readonly running: Record<string, number>
  readonly paused: Record<string, number>
}

interface ApiContainer {
  State: string
  Labels: Record<string, string>
}

function dockerSocket(): string | null {
  const host = process.env.DOCKER_HOST
  if (host?.startsWith('unix://')) return host.slice('unix://'.length)
  if (host) return null
  return existsSync('/var/run/docker.sock') ? '/var/run/docker.sock' : null
}

/** Running and paused containers of the compose projects "<prefix>-*". */
export function listContainers(prefix: string): Promise<{ project: string; service: string; state: string }[]> {
  const socket = dockerSocket()
  const filters = encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project'] }))
  const pick = (list: ApiContainer[]) =>
    list
      .map((c) => ({ project: c.Labels['com.docker.compose.project'] ?? '', service: c.Labels['com.docker.compose.service'] ?? '', state: c.State }))
      .filter((c) => c.project.startsWith(`${prefix}-`))
  if (!socket) {
    // No local socket: the CLI (costs a process per sample, but still works).
    return new Promise((resolve, reject) =>
      execFile('docker', ['ps', '--filter', 'label=com.docker.compose.project', '--format', '{{json .}}'], (err, stdout) => {
        if (err) return reject(err)
        const rows = stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { Labels: string; State: string })
        const label = (all: string, k: string) => new RegExp(`(?:^|,)${k.replace(/\./g, '\\.')}=([^,]*)`).exec(all)?.[1] ?? ''
        resolve(
          pick(
            rows.map((r) => ({
              State: r.State,
              Labels: { 'com.docker.compose.project': label(r.Labels, 'com.docker.compose.project'), 'com.docker.compose.service': label(r.Labels, 'com.docker.compose.service') },
            })),
          ),
        )
      }),
    )
  }
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path: `/containers/json?filters=${filters}`, timeout: 5000 }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d) => (body += d))
      res.on('end', () => {
        try {
          resolve(pick(JSON.parse(body) as ApiContainer[]))
        } catch (e) {
          reject(e)
        }
      })
    })
    req.on('timeout', () => req.destroy(new Error('docker socket: no answer within 5s')))
    req.on('error', reject)
    req.end()
  })
}

export async function readContainers(prefix: string): Promise<ContainerSample> {
  const t = now()
  const running: Record<string, number> = {}
  const paused: Record<string, number> = {}
  for (const c of await listContainers(prefix)) {
    const key = `${c.project.slice(prefix.length + 1)}/${c.service}`
    const into = c.state === 'paused' ? paused : c.state === 'running' ? running : null
    if (into) into[key] = (into[key] ?? 0) + 1
  }
  return { t, running, paused }
}

/** How many containers of a service run across all colors (paused ones do not run). */
export const runningOf = (s: ContainerSample, service: string) =>
  Object.entries(s.running).reduce((n, [k, v]) => n + (k.endsWith(`/${service}`) && !k.startsWith('shared/') ? v : 0), 0)

// ---------------------------------------------------------------- the loop

/** Calls `read` every intervalMs until stop(); a slow read delays the next, never overlaps. */
export function sampleEvery<T>(intervalMs: number, read: () => T | Promise<T>): { samples: T[]; errors: number; stop: () => Promise<void> } {
  const samples: T[] = []
  let stopped = false
  let errors = 0
  let timer: NodeJS.Timeout | undefined
  let current: Promise<void> = Promise.resolve()
  const tick = () => {
    current = (async () => {
      try {
        samples.push(await read())
      } catch {
        errors++
      }
      if (!stopped) timer = setTimeout(tick, intervalMs)
    })()
  }
  tick()
  return {
    samples,
    get errors() {
      return errors
    },
    async stop() {
      stopped = true
      clearTimeout(timer)
      await current
    },
  }
}
