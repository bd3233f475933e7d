#!/usr/bin/env -S node --import tsx
// Issue 20's figures over several `make bench` runs taken together: each run's own figures,
// then the web's p99 over all their requests at once, for a judgement that one request of one
// run cannot swing. Reads what bench.ts wrote (results.json, timeline.json); runs nothing.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type PoolRun, pooled } from './metrics.ts'
import type { PhaseResult, Timeline } from './runner.ts'

const HELP = `Usage: node --import tsx bench/pool.ts [--strategy NAME] [--phase good|failing] DIR...

DIR: a bench run's output (bench.ts --out DIR). For the strategy (default calmswap-stop) and
phase (default good), prints each run's deploy time against the seed order's, its p99 in the
deploy and steady, the gap calmswap reported and no task processed; then the p99 of all runs'
deploy requests against all their steady ones.

  for i in 1 2 3; do node --import tsx bench/bench.ts --only original,calmswap-stop --out bench/out/run$i; done
  node --import tsx bench/pool.ts bench/out/run1 bench/out/run2 bench/out/run3`

const { values: o, positionals: dirs } = parseArgs({
  allowPositionals: true,
  options: { strategy: { type: 'string', default: 'calmswap-stop' }, phase: { type: 'string', default: 'good' }, help: { type: 'boolean', short: 'h' } },
})
if (o.help || !dirs.length || (o.phase !== 'good' && o.phase !== 'failing')) {
  process.stderr.write(`${HELP}\n`)
  process.exit(o.help ? 0 : 2)
}
const phase = o.phase as 'good' | 'failing'

interface Run {
  readonly dir: string
  readonly result: PhaseResult
  readonly seedS: number | null
  readonly timeline: Timeline
}

const read = (dir: string): Run => {
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'))
  const timelines = JSON.parse(readFileSync(join(dir, 'timeline.json'), 'utf8'))
  const r = results.strategies.find((s: { name: string }) => s.name === o.strategy)
  const t = timelines.find((s: { name: string }) => s.name === o.strategy)?.[phase]
  if (!r?.phases[phase] || !t) throw new Error(`${dir}: no ${phase} phase of ${o.strategy}`)
  const seed = results.strategies.find((s: { name: string }) => s.name === 'original')?.phases.good?.deploy
  return { dir, result: r.phases[phase], seedS: seed?.asExpected ? seed.doneS : null, timeline: t }
}

const f = (v: number | null | undefined, d = 1) => (v == null || Number.isNaN(v) ? '—' : v.toFixed(d))
try {
  const runs = dirs.map(read)
  for (const { dir, result: p, seedS } of runs) {
    const l = p.latencyMs
    process.stdout.write(
      `${dir}: deploy ${f(p.deploy.doneS)} s${seedS ? ` (${f(p.deploy.doneS / seedS, 2)}× ${f(seedS)} s)` : ''}; p99 ${f(l.deploy.p99)} / ${f(l.steady.p99)} ms (${f(l.deploy.p99 / l.steady.p99, 2)}×, n ${l.deploy.n} / ${l.steady.n}); gap reported ${f(p.reported?.gapS, 2)} s (no task run ≤ ${f(p.reported?.noTaskS, 2)} s); no task processed ${f(p.processingGapS, 2)} s\n`,
    )
  }
  const all = pooled(runs.map((r): PoolRun => r.timeline))
  process.stdout.write(
    `pooled over ${runs.length} run(s): p99 ${f(all.deploy.p99)} ms in the deploys (n ${all.deploy.n}, max ${f(all.deploy.max)}) / ${f(all.steady.p99)} ms steady (n ${all.steady.n}, max ${f(all.steady.max)}): ${f(all.deploy.p99 / all.steady.p99, 2)}× (target ≤ 1.2×)\n`,
  )
} catch (e) {
  process.stderr.write(`pool: ${(e as Error).message}\n`)
  process.exitCode = 2
}
