// One strategy, start to end: a fresh stack (set up by calmswap, not measured), then a
// good deploy and a failing deploy, each under the same load, backlog and samplers, then
// a teardown that leaves no container behind.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Color } from '../lib/config.ts'
import { failed, startLoad } from './load.ts'
import * as m from './metrics.ts'
import { type OrchestratorRun, runOrchestrator } from './orchestrator.ts'
import type { Params, Ports } from './params.ts'
import { type Counters, Redis, readCounters } from './redis.ts'
import { cpuSeries, cpuWindow, now, readContainers, readCpu, runningOf, type StallSource, sampleEvery } from './samplers.ts'
import { enqueueBacklog, RELEASES, stackEnv, teardown } from './stack.ts'
import type { Strategy } from './strategies.ts'

export type PhaseName = 'good' | 'failing'

/** Busy % of the unpinned CPUs in the steady window above which something else was running. */
const STEADY_UNPINNED_MAX = 40

export interface Tasks {
  readonly enqueued: number
  readonly executed: number
  readonly lost: number
  readonly queuedAtEnd: number
  readonly unackedAtEnd: number
  readonly drained: boolean
  readonly drainS: number
  readonly beatTicks: number
}

export interface Timeline {
  /** Seconds relative to the deploy start. */
  readonly cpu: { t: number; stallMsPerS: number; busyPct: number }[]
  readonly requests: { t: number; ms: number; failed: boolean }[]
  readonly beats: { t: number; n: number }[]
  readonly steps: ReturnType<typeof m.steps>
  readonly steadyS: [number, number]
  readonly doneS: number
  readonly cleanupS: [number, number] | null
  readonly switchedS: number | null
}

export interface PhaseResult {
  readonly phase: PhaseName
  readonly from: Color
  readonly to: Color
  readonly release: string
  readonly deploy: {
    readonly exitCode: number
    readonly asExpected: boolean
    readonly doneS: number
    readonly switchedS: number | null
    readonly steps: ReturnType<typeof m.steps>
  }
  readonly cleanup: (m.Orchestrator & { readonly s: number }) | null
  readonly requests: m.Requests
  readonly latencyMs: { readonly steady: m.Latency; readonly deploy: m.Latency }
  /** Latency of the requests sent during each step of the deploy: where the p99 goes. */
  readonly latencyByStep: readonly ({ readonly step: string } & m.Latency)[]
  /** The deploy's slowest requests, with their step: what its p99 is made of. */
  readonly slowest: readonly m.SlowRequest[]
  readonly cpu: m.Cpu
  readonly beatMaxAtOnce: number
  readonly workerMaxAtOnce: number
  readonly tasks: Tasks
  readonly orchestrator: m.Orchestrator
  /**
   * The longest stretch, from the deploy's start to the end of the tail, in which no task
   * finished while tasks waited (Redis counters every 250 ms): what the site's tasks felt.
   */
  readonly processingGapS: number | null
  /** What calmswap itself reported at the end (--json op-end): its gap and its process's cost. */
  readonly reported: {
    readonly gapS: number | null
    readonly gapTo: string | null
    readonly noTaskS?: number | null
    readonly maxRssMb: number | null
    readonly cpuS: number | null
  } | null
  /** Peak RSS of `status` and `health` alone (node's own, MB), run after the good deploy (calmswap only). */
  readonly readers: { readonly status: ReturnType<typeof m.spread>; readonly health: ReturnType<typeof m.spread> } | null
  readonly dockerCommands: string[]
  /** Doubts about this phase's figures (a disturbed steady window, an undrained queue). */
  readonly warnings: string[]
  readonly timeline: Timeline
}

export interface StrategyResult {
  readonly name: string
  readonly summary: string
  readonly prefix: string
  readonly ports: Ports
  /** Calm web boot, from the unmeasured setup deploy: `up` of the web until its first healthy answer. */
  readonly webBootS: number | null
  readonly phases: { good: PhaseResult | null; failing: PhaseResult | null }
  readonly leftBehind: string[]
  readonly error?: string
}

export interface RunContext {
  readonly root: string
  readonly out: string
  readonly params: Params
  readonly stall: StallSource
  readonly log: (msg: string) => void
}

/**
 * Waits until every task ran, or nothing is left to run: the queue and the unacked set
 * are empty and `executed` has not moved for 3 s (what is still missing then is lost).
 */
async function drain(redis: Redis, base: Counters, timeoutS: number): Promise<{ c: Counters; drained: boolean; s: number }> {
  const t0 = now()
  let last = -1
  let since = now()
  for (;;) {
    const c = await readCounters(redis)
    if (c.executed !== last) [last, since] = [c.executed, now()]
    const empty = c.queued === 0 && c.unacked === 0
    const done = empty && (c.executed - base.executed >= c.enqueued - base.enqueued || now() - since > 3000)
    if (done || now() - t0 > timeoutS * 1000) return { c, drained: empty, s: (now() - t0) / 1000 }
    await sleep(500)
  }
}

/** Waits (2 s at least, 30 s at most) until the CPU stall over the last second is below 100 ms/s. */
async function settle(ctx: RunContext): Promise<number> {
  const t0 = now()
  let prev = readCpu(ctx.params.pinnedCpu, ctx.stall)
  for (;;) {
    await sleep(1000)
    const cur = readCpu(ctx.params.pinnedCpu, ctx.stall)
    const w = cpuWindow([prev, cur], prev.t, cur.t)
    prev = cur
    if ((now() - t0 >= 2000 && (w?.stallMsPerS ?? 0) < 100) || now() - t0 > 30_000) return (now() - t0) / 1000
  }
}

/** Seconds from the setup's `up` of the web until the first passing health try. */
function bootFrom(setup: OrchestratorRun): number | null {
  const up = setup.steps.find((s) => s.name === 'up-core')
  const ok = setup.events.find((e) => e.type === 'health-try' && e.ok === true && up && e.t > up.start)
  return up && ok ? (ok.t - up.start) / 1000 : null
}

export async function runStrategy(ctx: RunContext, s: Strategy, ports: Ports): Promise<StrategyResult> {
  const p = ctx.params
  const prefix = `${p.prefix}-${s.name}`
  const stateDir = join(ctx.out, 'state', s.name)
  const env = { ...stackEnv(ctx.root, p, prefix, ports, stateDir), ...s.env }
  const logs = join(ctx.out, 'logs')
  mkdirSync(logs, { recursive: true })
  const result: StrategyResult = { name: s.name, summary: s.summary, prefix, ports, webBootS: null, phases: { good: null, failing: null }, leftBehind: [] }
  let redis: Redis | null = null

  const orchestrate = (label: string, argv: string[], extra: Record<string, string>) =>
    runOrchestrator({
      label,
      argv,
      env: { ...env, ...extra },
      cwd: ctx.root,
      logFile: join(logs, `${s.name}.log`),
      usageFile: join(logs, `${s.name}-${label}.rusage.json`),
      cpuQuota: p.cpuQuota,
    })

  /** `status` and `health` of the live color, each run `n` times: node's own peak RSS. */
  const readers = async (n: number, live: Color) => {
    const rss = async (label: string, argv: string[]) => {
      const runs: number[] = []
      for (let i = 0; i < n; i++) {
        const r = await orchestrate(label, argv, {})
        if (r.nodeMaxRssMb !== null) runs.push(r.nodeMaxRssMb)
      }
      return m.spread(runs)
    }
    return { status: await rss('status', ['node', 'dist/status.cjs']), health: await rss('health', ['node', 'dist/health.cjs', '--color', live]) }
  }

  try {
    await teardown(ctx.root, prefix, env)
    rmSync(stateDir, { recursive: true, force: true })
    rmSync(join(logs, `${s.name}.log`), { force: true })

    ctx.log(`${s.name}: setting up ${prefix} (blue, release ${RELEASES.setup}) with calmswap`)
    const setup = await orchestrate('setup', ['node', 'dist/deploy.mjs', '--json'], { CALMSWAP_RELEASE: RELEASES.setup })
    if (setup.code !== 0) throw new Error(`setup deploy failed (exit ${setup.code}); see ${join(logs, `${s.name}.log`)}`)
    ;(result as { webBootS: number | null }).webBootS = bootFrom(setup)
    redis = await Redis.connect(ports.redis)
    // The setup's worker and beat are still booting: let the CPU settle before the steady state.
    const settled = await settle(ctx)
    ctx.log(`${s.name}: settled after ${settled.toFixed(1)}s`)

    const phase = async (name: PhaseName, from: Color, to: Color): Promise<PhaseResult> => {
      const release = name === 'good' ? RELEASES.good : RELEASES.failing
      const extra = { CALMSWAP_RELEASE: release, APP_FAULT: name === 'failing' ? 'health500' : '', BENCH_FROM: from, BENCH_TO: to }
      const base = await readCounters(redis!)
      const cpuSampler = sampleEvery(p.cpuSampleMs, () => readCpu(p.pinnedCpu, ctx.stall))
      const boxSampler = sampleEvery(p.containerSampleMs, () => readContainers(prefix))
      const taskSampler = sampleEvery(250, async () => ({ t: now(), ...(await readCounters(redis!)) }))
      const maxSeconds = p.warmupS + p.steadyS + p.tailS + 240
      const load = startLoad({ port: ports.proxy, rate: p.rate, maxSeconds })
      const loadT0 = now()
      try {
        await sleep(p.warmupS * 1000)
        await enqueueBacklog(prefix, from, p.backlog.tasks, p.backlog.ms)
        const steadyFrom = now()
        await sleep(p.steadyS * 1000)
        const steadyTo = now()

        ctx.log(`${s.name}: ${name} deploy ${from} → ${to} (release ${release}${extra.APP_FAULT ? `, APP_FAULT=${extra.APP_FAULT}` : ''})`)
        const dep = await orchestrate(`${name}-deploy`, s.deploy({ from, to }), extra)
        const cleanArgv = name === 'good' ? s.cleanup({ from, to }) : null
        const clean = cleanArgv ? await orchestrate(`${name}-cleanup`, cleanArgv, extra) : null
        await sleep(p.tailS * 1000)
        await load.stop()
        const loadT1 = now()
        await cpuSampler.stop()
        await boxSampler.stop()
        await taskSampler.stop()
        const opEnd = dep.events.find((e) => e.type === 'op-end') as { gap?: { ms: number; to: string; noTaskMs?: number }; usage?: { maxRssMb: number; cpuS: number } } | undefined
        const read = name === 'good' && s.name.startsWith('calmswap-') && dep.code === 0 ? await readers(p.mode === 'smoke' ? 2 : 5, to) : null
        const d = await drain(redis!, base, p.drainTimeoutS)

        const t0 = dep.t0
        const rel = (t: number) => (t - t0) / 1000
        const newPort = ports[to]
        const switchedS = m.switchedAfter(load.samples, newPort, t0)
        const cpu = m.cpu(cpuSampler.samples, ctx.stall, [steadyFrom, steadyTo], [dep.t0, dep.t1])
        const warnings: string[] = []
        // PSI is system-wide, and the Docker lock does not keep other work (builds, unit tests) off the box.
        if ((cpu.steady?.unpinnedBusyPct ?? 0) > STEADY_UNPINNED_MAX) {
          warnings.push(
            `steady window disturbed: the unpinned CPUs were ${cpu.steady!.unpinnedBusyPct.toFixed(0)}% busy (about 10-20% when only the stack, load and bench run), so something else ran; its stall ratio is not trustworthy`,
          )
        }
        if (!d.drained) warnings.push(`queue not drained within ${p.drainTimeoutS}s`)
        const enqueued = d.c.enqueued - base.enqueued
        const executed = d.c.executed - base.executed
        const r: PhaseResult = {
          phase: name,
          from,
          to,
          release,
          deploy: { exitCode: dep.code, asExpected: name === 'good' ? dep.code === 0 : dep.code !== 0, doneS: rel(dep.t1), switchedS, steps: m.steps(dep, t0) },
          cleanup: clean ? { ...m.orchestrator(clean), s: clean.wallS } : null,
          requests: m.requests(load.samples, newPort),
          latencyMs: { steady: m.latency(load.samples, steadyFrom, steadyTo), deploy: m.latency(load.samples, dep.t0, dep.t1) },
          latencyByStep: dep.steps.map((x) => ({ step: x.name, ...m.latency(load.samples, x.start, x.end ?? dep.t1) })),
          slowest: m.slowest(load.samples, dep.t0, dep.t1, dep.steps, 5),
          cpu,
          beatMaxAtOnce: m.maxRunning(boxSampler.samples, 'beat', loadT0, loadT1),
          workerMaxAtOnce: m.maxRunning(boxSampler.samples, 'worker', loadT0, loadT1),
          tasks: {
            enqueued,
            executed,
            lost: enqueued - executed,
            queuedAtEnd: d.c.queued,
            unackedAtEnd: d.c.unacked,
            drained: d.drained,
            drainS: d.s,
            beatTicks: d.c.ticks - base.ticks,
          },
          orchestrator: m.orchestrator(dep),
          processingGapS: m.processingGapS(taskSampler.samples, dep.t0, loadT1),
          reported: opEnd
            ? {
                gapS: opEnd.gap ? opEnd.gap.ms / 1000 : null,
                gapTo: opEnd.gap?.to ?? null,
                noTaskS: opEnd.gap?.noTaskMs != null ? opEnd.gap.noTaskMs / 1000 : null,
                maxRssMb: opEnd.usage?.maxRssMb ?? null,
                cpuS: opEnd.usage?.cpuS ?? null,
              }
            : null,
          readers: read,
          dockerCommands: dep.commands.map((c) => c.text),
          warnings,
          timeline: {
            cpu: cpuSeries(cpuSampler.samples, 500).map((x) => ({ ...x, t: rel(x.t) })),
            requests: load.samples.map((x) => ({ t: rel(x.t), ms: x.ms, failed: failed(x) })),
            beats: boxSampler.samples.map((x) => ({ t: rel(x.t), n: runningOf(x, 'beat') })),
            steps: m.steps(dep, t0),
            steadyS: [rel(steadyFrom), rel(steadyTo)],
            doneS: rel(dep.t1),
            cleanupS: clean ? [rel(clean.t0), rel(clean.t1)] : null,
            switchedS,
          },
        }
        for (const w of warnings) ctx.log(`! ${s.name} ${name}: ${w}`)
        ctx.log(
          `${s.name}: ${name} done: exit ${dep.code} in ${r.deploy.doneS.toFixed(1)}s, switched ${switchedS === null ? '—' : `${switchedS.toFixed(1)}s`}, ` +
            `${r.requests.failed}/${r.requests.total} failed, stall ${r.cpu.deploy?.stallMsPerS.toFixed(0)} vs ${r.cpu.steady?.stallMsPerS.toFixed(0)} ms/s, ` +
            `beats ${r.beatMaxAtOnce}, lost ${r.tasks.lost}${d.drained ? '' : ' (not drained)'}, orchestrator ${r.orchestrator.cpuS.toFixed(2)} CPU-s`,
        )
        return r
      } finally {
        await load.stop()
        await cpuSampler.stop()
        await boxSampler.stop()
        await taskSampler.stop()
      }
    }

    result.phases.good = await phase('good', 'blue', 'green')
    // A failing release on top of a good one; pointless when the good one did not land.
    if (p.failing && s.failing && result.phases.good.deploy.asExpected) result.phases.failing = await phase('failing', 'green', 'blue')
  } catch (e) {
    ;(result as { error?: string }).error = (e as Error).message
    ctx.log(`${s.name}: FAILED: ${(e as Error).message}`)
  } finally {
    redis?.close()
    result.leftBehind.push(...(await teardown(ctx.root, prefix, env)))
  }
  return result
}
