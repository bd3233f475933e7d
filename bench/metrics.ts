// Turns a phase's raw samples into the figures of the table: pure functions, no I/O.
import { failed, type Sample } from './load.ts'
import type { OrchestratorRun } from './orchestrator.ts'
import { type ContainerSample, type CpuSample, type CpuWindow, cpuWindow, peakStall, runningOf, type StallSource } from './samplers.ts'

export interface Latency {
  readonly n: number
  readonly p50: number
  readonly p99: number
  readonly max: number
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN
  // Nearest rank: the p99 of 100 values is the 99th, never interpolated past the data.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export function latency(samples: readonly Sample[], from: number, to: number): Latency {
  return summary(samples.filter((s) => s.t >= from && s.t <= to).map((s) => s.ms))
}

function summary(latencies: readonly number[]): Latency {
  const ms = [...latencies].sort((a, b) => a - b)
  return { n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.length ? ms.at(-1)! : NaN }
}

/** A run's requests, seconds from its deploy's start, and the windows that make its figures. */
export interface PoolRun {
  readonly requests: readonly { readonly t: number; readonly ms: number }[]
  readonly steadyS: readonly [number, number]
  readonly doneS: number
}

/**
 * The steady and deploy latencies of several runs taken together: one deploy of 7 s at 20
 * requests/s sends about 135 requests, so its p99 is its second slowest and moves with one
 * request; three deploys' 400 make a p99 that one request cannot make alone.
 */
export function pooled(runs: readonly PoolRun[]): { steady: Latency; deploy: Latency } {
  const within = (w: (r: PoolRun) => readonly [number, number]) =>
    summary(
      runs.flatMap((r) => {
        const [from, to] = w(r)
        return r.requests.filter((x) => x.t >= from && x.t <= to).map((x) => x.ms)
      }),
    )
  return { steady: within((r) => r.steadyS), deploy: within((r) => [0, r.doneS]) }
}

/** A slow request of a deploy: seconds after the deploy began, its latency, the step it was sent in. */
export interface SlowRequest {
  readonly atS: number
  readonly ms: number
  readonly step: string
}

/**
 * The `n` slowest requests sent in [from, to], each with the step it was sent in: a p99 of a
 * few hundred requests is one or two of them, and this says which and when. Counted as
 * `latency` counts them: a failed request by the time its failure took.
 */
export function slowest(samples: readonly Sample[], from: number, to: number, steps: readonly { name: string; start: number; end?: number }[], n: number): SlowRequest[] {
  return samples
    .filter((s) => s.t >= from && s.t <= to)
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n)
    .map((s) => ({ atS: (s.t - from) / 1000, ms: s.ms, step: steps.find((x) => s.t >= x.start && s.t <= (x.end ?? to))?.name ?? 'between steps' }))
}

export interface Requests {
  readonly total: number
  readonly failed: number
  /** "502", "ECONNRESET", ... → count. */
  readonly failures: Record<string, number>
  /** Answered by the new color's web (X-Calmswap-Upstream). */
  readonly servedByNew: number
}

export function requests(samples: readonly Sample[], newPort: number): Requests {
  const failures: Record<string, number> = {}
  for (const s of samples.filter(failed)) {
    const k = s.error ?? String(s.status)
    failures[k] = (failures[k] ?? 0) + 1
  }
  return {
    total: samples.length,
    failed: samples.filter(failed).length,
    failures,
    servedByNew: samples.filter((s) => !failed(s) && s.upstreamPort === newPort).length,
  }
}

/** Seconds from t0 until the first answer from the new color arrived; null if none did. */
export function switchedAfter(samples: readonly Sample[], newPort: number, t0: number): number | null {
  const first = samples.filter((s) => s.t >= t0 && !failed(s) && s.upstreamPort === newPort).sort((a, b) => a.t + a.ms - (b.t + b.ms))[0]
  return first ? (first.t + first.ms - t0) / 1000 : null
}

export interface Cpu {
  readonly source: StallSource
  readonly steady: CpuWindow | null
  readonly deploy: CpuWindow | null
  /** Deploy stall / steady stall (steady floored at 1 ms/s, so an idle steady state does not divide by ~0). */
  readonly stallRatio: number | null
  /** Worst 1 s of the deploy, and of the steady window (ms/s): an average over a long, idle deploy hides a spike. */
  readonly peakStallMsPerS: { readonly steady: number | null; readonly deploy: number | null }
  /** Stall the deploy added over the steady rate, in seconds: (deploy − steady) ms/s × deploy seconds. */
  readonly extraStallS: number | null
}

export function cpu(samples: readonly CpuSample[], source: StallSource, steady: [number, number], deploy: [number, number]): Cpu {
  const s = cpuWindow(samples, ...steady)
  const d = cpuWindow(samples, ...deploy)
  return {
    source,
    steady: s,
    deploy: d,
    stallRatio: s && d ? d.stallMsPerS / Math.max(1, s.stallMsPerS) : null,
    peakStallMsPerS: { steady: peakStall(samples, ...steady), deploy: peakStall(samples, ...deploy) },
    extraStallS: s && d ? ((d.stallMsPerS - s.stallMsPerS) * d.seconds) / 1000 : null,
  }
}

export function maxRunning(samples: readonly ContainerSample[], service: string, from: number, to: number): number {
  return Math.max(0, ...samples.filter((s) => s.t >= from && s.t <= to).map((s) => runningOf(s, service)))
}

/** What the report keeps of a run: its resource figures as measured, plus call counts. */
export interface Orchestrator extends Pick<OrchestratorRun, 'wallS' | 'cpuS' | 'userS' | 'sysS' | 'maxRssMb' | 'treePeakRssMb' | 'nodeSelfCpuS' | 'nodeMaxRssMb'> {
  readonly exitCode: number
  /** Processes started: docker CLI calls, of which docker compose. */
  readonly dockerCalls: number
  readonly composeCalls: number
  /** Calls through the Engine API socket instead (no process). */
  readonly apiCalls: number
}

export function orchestrator(r: OrchestratorRun): Orchestrator {
  return {
    exitCode: r.code,
    wallS: r.wallS,
    cpuS: r.cpuS,
    userS: r.userS,
    sysS: r.sysS,
    maxRssMb: r.maxRssMb,
    treePeakRssMb: r.treePeakRssMb,
    nodeSelfCpuS: r.nodeSelfCpuS,
    nodeMaxRssMb: r.nodeMaxRssMb,
    dockerCalls: r.commands.filter((c) => /^\S*docker /.test(c.text)).length,
    composeCalls: r.commands.filter((c) => /^\S*docker compose /.test(c.text)).length,
    apiCalls: r.commands.filter((c) => c.text.startsWith('[api] ')).length,
  }
}

export const steps = (r: OrchestratorRun, t0: number) =>
  r.steps.map((s) => ({ name: s.name, startS: (s.start - t0) / 1000, endS: ((s.end ?? r.t1) - t0) / 1000, ok: s.ok ?? false }))

/** "compose up", "ps", "exec nginx -t", ...: a docker call without its project, ids and flags. */
export function callKind(text: string): string {
  if (text.startsWith('[api] ')) return `${callKind(text.slice(6))} (api)`
  const a = text.split(' ').slice(1)
  if (a[0] === 'compose') {
    const sub = a.slice(1).find((x, i, all) => !x.startsWith('-') && !['-p', '-f'].includes(all[i - 1] ?? ''))
    return `compose ${sub ?? '?'}`
  }
  if (a[0] === 'exec') return `exec ${a.slice(2).join(' ')}`
  if (a[0] === 'inspect') return a.includes('{{.Name}}') ? 'inspect (image ids)' : 'inspect (healthcheck)'
  return a[0] ?? '?'
}

export function callKinds(texts: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const t of texts) out[callKind(t)] = (out[callKind(t)] ?? 0) + 1
  return out
}

/**
 * The longest stretch in which no task finished while tasks were waiting: from the last
 * `executed` increase before each pause to the next one, between `from` and `to` (bench ms).
 * Samples every 250 ms: the figure is good to about that.
 */
export function processingGapS(samples: readonly { t: number; executed: number; queued: number }[], from: number, to: number): number | null {
  let last: { t: number; executed: number } | null = null
  let worst = 0
  for (const s of samples) {
    if (last && s.executed > last.executed) {
      if (s.t > from) worst = Math.max(worst, Math.min(s.t, to) - Math.max(last.t, from))
      last = s
    } else if (!last || s.queued === 0) last = s
    if (s.t > to) break
  }
  // Still nothing by the end while tasks waited: the gap runs to the end.
  if (last && samples.some((s) => s.t > last!.t && s.t <= to && s.queued > 0)) worst = Math.max(worst, to - Math.max(last.t, from))
  return last ? worst / 1000 : null
}

/** Minimum, median and maximum. */
export const spread = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s.at(-1)!, n: s.length } : null
}
