// make bench-watch: the watch and the canary under load, on the example stack. What a bad
// release costs (failed requests, their share, how long it was exposed) with and without a
// canary; how many good releases, clean or with a 1% 5xx baseline, get rolled back (none
// should); what the watch costs the box (CPU of the deploy process over its window, read
// from /proc, not from calmswap itself). Writes bench/out/watch/results.json and
// timeline.svg: traffic share and 5xx rate per color over time, the switch and the
// rollback marked.
//
//   node --import tsx bench/watch.ts [--repeat 10] [--rps 20] [--window 60s] [--out DIR]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { type Background, events, ROOT, Stack, waitFor } from '../test/e2e/stack.ts'
import { ensureDockerLock } from './lock.ts'
import { type Lane, watchTimelineSvg } from './watch-svg.ts'

const USAGE = `make bench-watch [ARGS="--repeat 10 --rps 20 --window 60s --out DIR"]

  --repeat N    good deploys in a row, alternately clean and with a 1% 5xx baseline (APP_FAULT=fail:1)
  --rps N       requests per second through the proxy during every deploy
  --window D    CALMSWAP_WATCH of the CPU measurement and of the bad deploys
  --out DIR     where results.json and timeline.svg go (default bench/out/watch)

Holds /tmp/calmswap-docker.lock. Loopback ports from E2E_PORTS (default 19000-19999).`

const t0 = Date.now()
const log = (m: string) => process.stderr.write(`[bench-watch ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${m}\n`)
const CLK_TCK = 100

/** utime + stime of a process, in ms (its own CPU; the watch starts no children). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK
}

const stepAt = (ev: Record<string, any>[], type: string, step: string) => {
  const e = ev.find((x) => x.type === type && x.step === step)
  return e ? Date.parse(e.at) : null
}

interface Deployed {
  readonly code: number
  readonly ev: Record<string, any>[]
  readonly stderr: string
  readonly load: Awaited<ReturnType<ReturnType<Stack['load']>['stop']>>
  readonly t0: number
  readonly t1: number
  /** CPU of the deploy process over the watch's window, measured from outside. */
  readonly windowCpu: { ms: number; cpuMs: number } | null
}

async function deployUnderLoad(stack: Stack, rps: number, env: Record<string, string>): Promise<Deployed> {
  const load = stack.load({ rps, maxMs: 600_000 })
  const start = Date.now()
  const bg: Background = stack.spawn('deploy', ['--json'], env)
  let windowCpu: Deployed['windowCpu'] = null
  const measured = bg
    .waitForStderr(/watching \w+ for/, 300_000)
    .then(async () => {
      const a = { t: Date.now(), cpu: cpuMs(bg.pid) }
      await bg.waitForStderr(/watched \w+ for/, 3_600_000)
      windowCpu = { ms: Date.now() - a.t, cpuMs: cpuMs(bg.pid) - a.cpu }
    })
    .catch(() => {})
  const r = await bg.done
  await measured
  // Some more traffic after the end: the picture shows where it settled.
  await new Promise((res) => setTimeout(res, 2000))
  return { code: r.code ?? -1, ev: events(r), stderr: r.stderr, load: await load.stop(), t0: start, t1: Date.now(), windowCpu }
}

interface Exposure {
  readonly failed: number
  readonly requests: number
  readonly sharePct: number
  readonly exposedMs: number
}

/** Failed requests between the first one the new color answered and the end of the rollback. */
function exposure(d: Deployed, color: string): Exposure {
  const from = d.load.log.find((x) => x.color === color)?.t ?? d.t1
  const to = stepAt(d.ev, 'step-end', d.ev.find((e) => e.type === 'step-end' && String(e.step).startsWith('rollback to'))?.step ?? '') ?? d.t1
  const inside = d.load.log.filter((x) => x.t >= from && x.t <= to)
  const failed = inside.filter((x) => x.status >= 500 || x.status === 0).length
  return { failed, requests: inside.length, sharePct: inside.length ? (100 * failed) / inside.length : 0, exposedMs: to - from }
}

function lane(title: string, d: Deployed, caption: string, to: string): Lane {
  const marks: { t: number; label: string; bad?: boolean }[] = []
  const mark = (type: string, step: string, label: string) => {
    const t = stepAt(d.ev, type, step)
    if (t) marks.push({ t: (t - d.t0) / 1000, label })
  }
  mark('step-end', 'health', 'healthy')
  mark('step-start', 'canary', 'canary')
  mark('step-end', 'switch', 'switch')
  mark('step-start', 'watch', 'window')
  const rb = d.ev.find((e) => e.type === 'step-start' && String(e.step).startsWith('rollback to'))
  if (rb) marks.push({ t: (Date.parse(rb.at) - d.t0) / 1000, label: 'rollback', bad: true })
  const role = (color?: string) => (color === to ? 'new' : color ? 'old' : '?')
  return {
    title,
    caption,
    t1: (d.t1 - d.t0) / 1000,
    requests: d.load.log.map((x) => ({ t: (x.t - d.t0) / 1000, role: role(x.color), failed: x.status >= 500 || x.status === 0 })),
    marks,
  }
}

const reasonOf = (d: Deployed) => /✗ (the (watch|canary)[^\n]*)/.exec(d.stderr)?.[1] ?? null

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { repeat: { type: 'string' }, rps: { type: 'string' }, window: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const repeat = Number(values.repeat ?? 10)
  const rps = Number(values.rps ?? 20)
  const window = values.window ?? '60s'
  const out = resolve(ROOT, values.out ?? 'bench/out/watch')
  await ensureDockerLock(log)
  mkdirSync(out, { recursive: true })

  const stack = await Stack.create('watch-bench', { env: () => ({ CALMSWAP_RELEASE: 'e2e-watch' }) })
  const results: Record<string, unknown> = { at: new Date().toISOString(), rps, window }
  const lanes: Lane[] = []
  try {
    await stack.bootstrap()
    log(`stack ${stack.prefix} up; ${rps} req/s`)
    await new Promise((res) => setTimeout(res, 5000))

    // A good release watched for the whole window: the CPU the watch costs.
    const next = () => (stack.state().live === 'blue' ? 'green' : 'blue')
    const goodTo = next()
    const good = await deployUnderLoad(stack, rps, { CALMSWAP_WATCH: window })
    if (good.code !== 0) throw new Error(`the good deploy failed:\n${good.stderr}`)
    const w = good.windowCpu
    results.watchCpu = w ? { windowMs: w.ms, cpuMs: w.cpuMs, pctOfCore: (100 * w.cpuMs) / w.ms } : null
    log(`watch CPU: ${w ? `${w.cpuMs} ms over ${(w.ms / 1000).toFixed(1)} s (${((100 * w.cpuMs) / w.ms).toFixed(3)}% of a core)` : 'not measured'}`)
    lanes.push(
      lane(
        'a good release, watched',
        good,
        `${good.load.failed} failed of ${good.load.sent} requests; the watch used ${w ? `${w.cpuMs} ms of CPU in ${(w.ms / 1000).toFixed(0)} s` : '?'}`,
        goodTo,
      ),
    )

    // A release failing 30% of its requests, health passing: no canary, then a 10% canary. No
    // warm-up: it stops a release whose every page fails before the watch sees it.
    for (const [name, env] of [
      ['bad release (30% 5xx), watched', { APP_FAULT: 'fail:30', CALMSWAP_WATCH: window, CALMSWAP_WARMUP: '' }],
      ['bad release (30% 5xx), 10% canary', { APP_FAULT: 'fail:30', CALMSWAP_WATCH: window, CALMSWAP_WARMUP: '', CALMSWAP_CANARY: '10%', CALMSWAP_CANARY_HOLD: window }],
      ['bad release (100% 5xx), 10% canary', { APP_FAULT: 'fail:100', CALMSWAP_WATCH: window, CALMSWAP_WARMUP: '', CALMSWAP_CANARY: '10%', CALMSWAP_CANARY_HOLD: window }],
    ] as const) {
      const live = stack.state().live as 'blue' | 'green'
      const d = await deployUnderLoad(stack, rps, env)
      const e = exposure(d, live === 'blue' ? 'green' : 'blue')
      results[name] = { exit: d.code, reason: reasonOf(d), ...e, failedTotal: d.load.failed, requestsTotal: d.load.sent, deployS: (d.t1 - d.t0) / 1000 }
      log(
        `${name}: exit ${d.code}; ${e.failed} failed of ${e.requests} requests while exposed (${e.sharePct.toFixed(1)}%) over ${(e.exposedMs / 1000).toFixed(1)} s; ${reasonOf(d)}`,
      )
      lanes.push(
        lane(name, d, `${e.failed} of ${e.requests} requests failed while exposed (${e.sharePct.toFixed(1)}%), ${(e.exposedMs / 1000).toFixed(1)} s until rolled back`, next()),
      )
      await waitFor(`${live} to serve again`, async () => (await stack.servingColor(3, '/health/')) === live, 30_000)
    }

    // Good releases, many times: none may be rolled back.
    const rows: { fault: string; exit: number; verdict: string; requests: number; errors: number }[] = []
    for (let i = 0; i < repeat; i++) {
      const fault = i % 2 ? 'fail:1' : ''
      const d = await deployUnderLoad(stack, rps, { APP_FAULT: fault, CALMSWAP_WATCH: '20s' })
      const history = (await stack.run('history', ['--json', '--last', '1'])).stdout.trim()
      const watch = JSON.parse(history).watch?.[0]
      const to = d.ev.find((e) => e.type === 'op-start')?.to as 'blue' | 'green'
      rows.push({ fault: fault || 'clean', exit: d.code, verdict: watch?.verdict ?? '?', requests: watch?.counts?.[to]?.requests ?? 0, errors: watch?.counts?.[to]?.errors ?? 0 })
      log(`good ${i + 1}/${repeat} (${fault || 'clean'}): exit ${d.code}, ${rows.at(-1)!.verdict}, ${rows.at(-1)!.requests} requests, ${rows.at(-1)!.errors} 5xx`)
    }
    results.good = { deploys: rows.length, rolledBack: rows.filter((r) => r.exit !== 0).length, rows }
  } finally {
    await stack.teardown()
  }
  writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(join(out, 'timeline.svg'), watchTimelineSvg(lanes))
  writeFileSync(join(out, 'lanes.json'), `${JSON.stringify(lanes)}\n`)
  const good = results.good as { deploys: number; rolledBack: number }
  process.stdout.write(`${JSON.stringify(results, (k, v) => (k === 'rows' ? undefined : v), 2)}\n${out}/results.json, ${out}/timeline.svg\n`)
  return good.rolledBack ? 1 : 0
}

main().then(
  (code) => (process.exitCode = code),
  (e: Error) => {
    log(`bench-watch broke: ${e.stack ?? e.message}`)
    process.exitCode = 1
  },
)
