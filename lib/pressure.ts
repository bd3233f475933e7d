// CPU calm: PSI where the kernel has it, the load average where it does not; and whether
// a container has finished booting, from its own CPU use.
import { readFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { containerCpu, maxCpu } from './builders/reads.ts'
import { answer } from './command.ts'
import type { Config } from './config.ts'
import { anySignal, sleep } from './deadlines.ts'
import type { Executor } from './executor.ts'
import type { Ui } from './ui.ts'

/** What the waits read of a context: they measure the host, and touch no state, journal or engine. */
export interface Waits {
  readonly config: Config
  readonly exec: Executor
  readonly ui: Ui
  readonly signal: AbortSignal
}

export interface Pressure {
  readonly source: 'psi' | 'loadavg'
  /** PSI "some avg10" in % (or over a short window), or the 1-minute load per core in %. */
  readonly value: number
  /** PSI "some total" in µs (cumulative stall), when PSI exists. */
  readonly totalUs?: number
}

export function parsePsi(text: string): { avg10: number; total: number } | null {
  const m = /^some avg10=([\d.]+) avg60=[\d.]+ avg300=[\d.]+ total=(\d+)/m.exec(text)
  return m ? { avg10: Number(m[1]), total: Number(m[2]) } : null
}

/** Pressure now, as the kernel averages it (PSI avg10), or the load average. */
export function readPressure(psiFile = '/proc/pressure/cpu'): Pressure {
  try {
    const p = parsePsi(readFileSync(psiFile, 'utf8'))
    if (p) return { source: 'psi', value: p.avg10, totalUs: p.total }
  } catch {}
  return { source: 'loadavg', value: Math.round((loadavg()[0]! / availableParallelism()) * 1000) / 10 }
}

/**
 * Pressure over the last `windowMs`, from the growth of PSI's "some total" counter. avg10
 * lags by design (an exponential 10 s average): right after the old workers stop it still
 * reports their stall for seconds; the counter over a short window sees calm at once.
 */
export async function samplePressure(windowMs = 100, psiFile = '/proc/pressure/cpu', signal?: AbortSignal): Promise<Pressure> {
  const a = readPressure(psiFile)
  if (a.source !== 'psi') return a
  const t0 = performance.now()
  await sleep(windowMs, signal)
  const b = readPressure(psiFile)
  const elapsedUs = (performance.now() - t0) * 1000
  const value = Math.min(100, Math.round((((b.totalUs ?? 0) - (a.totalUs ?? 0)) / elapsedUs) * 1000) / 10)
  return { source: 'psi', value, totalUs: b.totalUs }
}

export interface CalmOptions {
  readonly threshold: number
  readonly waitMs: number
  /** One reading; for PSI it takes a short window, which also paces the loop. */
  readonly read?: () => Promise<Pressure>
  readonly pollMs?: number
  readonly signal?: AbortSignal
  readonly onWait?: (p: Pressure, elapsedMs: number) => void
}

export interface CalmResult {
  readonly calm: boolean
  readonly waitedMs: number
  readonly last: Pressure
}

/**
 * Waits until CPU pressure falls below the threshold, but never past waitMs: a deploy
 * that waits forever for a quiet CPU is as stuck as one that stalls it.
 */
export async function waitForCalm(o: CalmOptions): Promise<CalmResult> {
  const read = o.read ?? (() => samplePressure(100, undefined, o.signal))
  const t0 = performance.now()
  if (o.threshold <= 0) return { calm: true, waitedMs: 0, last: readPressure() }
  let last = await read()
  while (last.value >= o.threshold) {
    const elapsed = performance.now() - t0
    if (elapsed >= o.waitMs || o.signal?.aborted) return { calm: false, waitedMs: elapsed, last }
    o.onWait?.(last, elapsed)
    if (last.source !== 'psi') await sleep(Math.min(o.pollMs ?? 500, o.waitMs - elapsed), o.signal)
    last = await read()
  }
  return { calm: true, waitedMs: performance.now() - t0, last }
}

/** Before a step: waits for calm, says how long, and goes on anyway at the deadline. */
export async function calmBefore(ctx: Waits, step: string, read?: () => Promise<Pressure>): Promise<CalmResult | null> {
  const { threshold, waitMs } = ctx.config.calm
  if (threshold <= 0 || ctx.exec.dryRun) return null
  const r = await ctx.ui.wait(`waiting for CPU pressure below ${threshold}% before ${step}`, (update) =>
    waitForCalm({ threshold, waitMs, read, signal: ctx.signal, onWait: (p) => update(`waiting for calm before ${step}: ${p.source} ${p.value}% (threshold ${threshold}%)`) }),
  )
  if (r.waitedMs >= 100 || !r.calm) {
    ctx.ui.detail(`  ${r.calm ? 'calm' : 'still busy, going on'} after ${Math.round(r.waitedMs)}ms before ${step} (${r.last.source} ${r.last.value}%)`)
  }
  ctx.ui.event('calm', { step, calm: r.calm, waitedMs: Math.round(r.waitedMs), source: r.last.source, value: r.last.value })
  return r
}

/** A container using less than this share of one CPU has finished booting. */
const BOOTED_CPU_PCT = 20
/** How long one reading of a container's CPU spans. */
const BOOT_WINDOW_MS = 250

export interface Booted {
  readonly booted: boolean
  readonly waitedMs: number
  readonly cpu: number
}

/**
 * Waits until the containers use less than BOOTED_CPU_PCT of one CPU over one reading, i.e. have
 * finished booting, or the calm deadline passes, or `stop` aborts. PSI cannot see this: a
 * process booting alone on a CPU stalls nobody. Null when there is nothing to wait for (calm
 * waits off, a dry run, no containers). Quiet: see bootedAfter for the one that reports.
 */
export async function whenBooted(ctx: Waits, ids: readonly string[], stop?: AbortSignal, onBusy?: (cpu: number) => void): Promise<Booted | null> {
  if (ctx.config.calm.threshold <= 0 || ctx.exec.dryRun || ids.length === 0) return null
  const t0 = performance.now()
  const end = stop ? anySignal([ctx.signal, stop]) : ctx.signal
  for (;;) {
    const t = performance.now()
    const res = await ctx.exec.run(containerCpu(ctx.config, ids), end)
    // A reading spans a window; never poll faster than one.
    await sleep(BOOT_WINDOW_MS - (performance.now() - t), end)
    // Stats unreadable (the containers exited meanwhile): nothing left to wait for.
    const cpu = res.code === 0 ? answer(res, maxCpu) : 0
    const waitedMs = performance.now() - t0
    if (cpu < BOOTED_CPU_PCT || waitedMs >= ctx.config.calm.waitMs || stop?.aborted || ctx.signal.aborted) return { booted: cpu < BOOTED_CPU_PCT, waitedMs, cpu }
    onBusy?.(cpu)
  }
}

/** After a start: waits until the containers have finished booting, and says how long it took. */
export async function bootedAfter(ctx: Waits, what: string, ids: readonly string[]): Promise<Booted | null> {
  if (ctx.config.calm.threshold <= 0 || ctx.exec.dryRun || ids.length === 0) return null
  const r = await ctx.ui.wait(`waiting for ${what} to finish booting`, (update) =>
    whenBooted(ctx, ids, undefined, (cpu) => update(`waiting for ${what} to finish booting: ${cpu.toFixed(0)}% of a CPU`)),
  )
  if (r) {
    ctx.ui.detail(`  ${r.booted ? 'settled' : 'still busy, going on'} after ${Math.round(r.waitedMs)}ms: ${what} (${r.cpu.toFixed(0)}% of a CPU)`)
    ctx.ui.event('settled', { step: what, settled: r.booted, waitedMs: Math.round(r.waitedMs), cpuPct: Math.round(r.cpu) })
  }
  return r
}
