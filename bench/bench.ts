// make bench: deploys the example stack again and again, once per strategy, under steady
// traffic with a backlog of CPU-heavy tasks, and compares failed requests, latency, CPU
// pressure, beat overlap, lost tasks and the orchestrator's own cost. See bench/README.md.
//
//   node --import tsx bench/bench.ts [--smoke] [--only a,b] [--out DIR]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus, release } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { ensureDockerLock } from './lock.ts'
import { callKinds } from './metrics.ts'
import { FULL, type Params, PI_CPUS, portsFor, SMOKE } from './params.ts'
import { p99ByStep, table, targets } from './report.ts'
import { runStrategy, type StrategyResult } from './runner.ts'
import { stallSource } from './samplers.ts'
import { prepareImages, removeImages, sh, stackEnv, teardown } from './stack.ts'
import { type StartCost, startCosts } from './startcost.ts'
import { STRATEGIES, strategy } from './strategies.ts'
import { timelineSvg } from './svg.ts'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const USAGE = `make bench [ARGS="--smoke | --only naive,calmswap-stop | --out DIR"]

  --smoke        tiny run: calmswap-stop only, short windows (about a minute)
  --pi           Pi-class: the colored services and each orchestrator's process tree under a
                 CPU quota of ${PI_CPUS} CPU (like one Raspberry Pi 4 core; bench/params.ts says why)
  --only LIST    strategies to run, comma-separated: ${STRATEGIES.map((s) => s.name).join(', ')}
  --out DIR      where results.json, timeline.json, timeline.svg and logs/ go
                 (default bench/out, or bench/out/smoke with --smoke)

Holds ${'/tmp/calmswap-docker.lock'} for the whole run. Exit code 0 when every strategy ran
(missed targets are results, not errors), 1 when a run broke or left containers behind.`

const t0 = Date.now()
const log = (msg: string) => process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`)

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { smoke: { type: 'boolean' }, pi: { type: 'boolean' }, only: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const base: Params = values.smoke ? SMOKE : FULL
  const params: Params = {
    ...base,
    // A smaller backlog and no failing deploy: at 0.3 CPU, 100 tasks of 200 ms alone take 67 s to drain.
    ...(values.pi ? { cpuQuota: PI_CPUS, prefix: `${base.prefix}-pi`, backlog: { tasks: 30, ms: 200 }, failing: false } : {}),
    ...(values.only ? { strategies: values.only.split(',').map((s) => strategy(s.trim()).name) } : {}),
  }
  const out = resolve(ROOT, values.out ?? (values.smoke ? 'bench/out/smoke' : 'bench/out'))

  await ensureDockerLock(log)
  if (!existsSync(join(ROOT, 'dist/deploy.mjs'))) throw new Error('dist/deploy.mjs is missing: run `node build.mjs` (make bench does)')
  const docker = await sh(['docker', 'info', '--format', '{{.ServerVersion}}'])
  if (docker.code !== 0) throw new Error(`Docker is not reachable (${docker.stderr.trim()}); run provision/docker.sh`)
  const compose = (await sh(['docker', 'compose', 'version', '--short'])).stdout.trim()
  const stall = stallSource()
  if (stall !== 'psi') log('! /proc/pressure/cpu (PSI) is missing: CPU stall falls back to sampling procs_running (share of samples with more runnable tasks than CPUs)')
  mkdirSync(out, { recursive: true })

  // Ctrl-C: the children get it too; take every stack down before leaving.
  let interrupted = false
  const onSignal = async (sig: NodeJS.Signals) => {
    if (interrupted) process.exit(130)
    interrupted = true
    log(`${sig}: tearing down every bench stack, then exiting (again to exit at once)`)
    for (const name of params.strategies) {
      const prefix = `${params.prefix}-${name}`
      await teardown(
        ROOT,
        prefix,
        stackEnv(
          ROOT,
          params,
          prefix,
          portsFor(
            params,
            STRATEGIES.findIndex((s) => s.name === name),
          ),
          join(out, 'state', name),
        ),
      )
    }
    await removeImages()
    process.exit(130)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  log(
    `${params.mode} run${params.cpuQuota ? ` (Pi-class: ${params.cpuQuota} CPU quota)` : ''}: ${params.strategies.join(', ')}; ${params.composeFile}; ${params.rate} req/s, backlog ${params.backlog.tasks}×${params.backlog.ms}ms, BOOT_DELAY=${params.bootDelayS}s, APP_CPUSET=${params.pinnedCpu}; output in ${out}`,
  )
  await prepareImages(ROOT, params.composeFile)
  let startCost: StartCost[] = []
  if (params.mode === 'full') {
    log('start cost of a script: npx tsx vs node --import tsx vs the dist bundle (--help, 5 runs each)')
    startCost = await startCosts(ROOT, join(out, 'startcost.rusage.json'))
  }
  const results: StrategyResult[] = []
  const startedAt = new Date().toISOString()
  try {
    for (const name of params.strategies) {
      const s = strategy(name)
      results.push(await runStrategy({ root: ROOT, out, params, stall, log }, s, portsFor(params, STRATEGIES.indexOf(s))))
    }
  } finally {
    await removeImages()
  }

  const ts = targets(results)
  // calmswap-stop and its bash twin should make the same calls; a drift shows here.
  const callsOf = (name: string) => results.find((r) => r.name === name)?.phases.good?.dockerCommands
  const equivalence =
    callsOf('calmswap-stop') && callsOf('calmswap-equivalent')
      ? { 'calmswap-stop': callKinds(callsOf('calmswap-stop')!), 'calmswap-equivalent': callKinds(callsOf('calmswap-equivalent')!) }
      : null
  const boots = results.map((r) => r.webBootS).filter((b): b is number => b !== null)
  const summary = {
    version: 1,
    mode: params.mode,
    startedAt,
    durationS: (Date.now() - t0) / 1000,
    host: { cpus: cpus().length, kernel: release(), node: process.version, docker: docker.stdout.trim(), compose, stallSource: stall, psi: stall === 'psi' },
    params,
    webBoot: {
      configuredS: params.bootDelayS,
      measuredS: boots.length ? Math.max(...boots) : null,
      note: 'calm boot: from `up` of the web to its first healthy answer, in the unmeasured setup deploy',
    },
    strategies: results.map((r) => ({
      ...r,
      phases: Object.fromEntries(Object.entries(r.phases).map(([k, p]) => [k, p && (({ timeline: _t, ...rest }) => rest)(p)])),
    })),
    targets: ts,
    equivalence,
    startCost,
  }
  const timeline = results.map((r) => ({ name: r.name, good: r.phases.good?.timeline ?? null, failing: r.phases.failing?.timeline ?? null }))
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(summary, null, 2)}\n`)
  writeFileSync(join(out, 'timeline.json'), `${JSON.stringify(timeline)}\n`)
  writeFileSync(
    join(out, 'timeline.svg'),
    timelineSvg(
      results,
      `calmswap bench (${params.mode}), ${startedAt.slice(0, 16).replace('T', ' ')}: ${params.rate} req/s, backlog ${params.backlog.tasks}×${params.backlog.ms}ms, colored services on CPU ${params.pinnedCpu}, BOOT_DELAY=${params.bootDelayS}s`,
    ),
  )

  const bootNote = `BOOT_DELAY=${params.bootDelayS}s, measured calm boot ${results.map((r) => `${r.name} ${r.webBootS?.toFixed(1) ?? '—'}s`).join(', ')}`
  process.stdout.write(`\n${table(results, ts, { stallSource: stall === 'psi' ? '/proc/pressure/cpu "some total"' : 'procs_running samples (no PSI)', webBoot: bootNote })}\n\n`)
  process.stdout.write(`web p99 ms by deploy step (requests sent in it):\n${p99ByStep(results)}\n\n`)
  if (equivalence) {
    const kinds = [...new Set(Object.values(equivalence).flatMap((k) => Object.keys(k)))].sort()
    process.stdout.write(
      `docker calls of the good deploy, calmswap-stop vs calmswap-equivalent.sh:\n${kinds.map((k) => `  ${k.padEnd(26)} ${String(equivalence['calmswap-stop'][k] ?? 0).padStart(3)} ${String(equivalence['calmswap-equivalent'][k] ?? 0).padStart(3)}`).join('\n')}\n\n`,
    )
  }
  if (startCost.length) {
    process.stdout.write(
      `start cost (--help, median of ${startCost[0]!.runs}):\n${startCost.map((c) => `  ${c.command.padEnd(42)} ${c.cpuS.toFixed(2)} CPU-s  ${c.wallS.toFixed(2)} s  ${c.maxRssMb.toFixed(0)} MB`).join('\n')}\n\n`,
    )
  }
  process.stdout.write(`results:  ${join(out, 'results.json')}\ntimeline: ${join(out, 'timeline.svg')}\nlogs:     ${join(out, 'logs')}/\n`)

  const broken = results.filter((r) => r.error || r.leftBehind.length)
  for (const r of broken) log(`! ${r.name}: ${r.error ?? ''}${r.leftBehind.length ? ` (removed ${r.leftBehind.length} containers left behind)` : ''}`)
  return broken.length ? 1 : 0
}

main().then(
  (code) => process.exit(code),
  (e) => {
    log(`error: ${(e as Error).message}`)
    process.exit(1)
  },
)
