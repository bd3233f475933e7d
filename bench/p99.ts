#!/usr/bin/env -S node --import tsx
// What costs the web's p99 during a deploy, one action at a time: steady GETs through the proxy
// while a single thing a deploy does is repeated, and the latency of the requests sent in the
// `--window` after each repetition against the rest. Needs the example stack deployed
// (`make deploy`); it changes nothing that stays changed: the proxy reloads its unchanged
// config, the spare beat container is started and stopped again.
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { type Load, type Sample, startLoad } from './load.ts'
import { type Latency, latency } from './metrics.ts'
import { now } from './samplers.ts'
import { sh } from './stack.ts'

const HELP = `Usage: node --import tsx bench/p99.ts [--actions a,b] [--times N] [--rate R] [--window MS] [--nice N]

Repeats each action N times (default 15), 2.5 s apart, under R GETs/s (default 20) through the
example stack's proxy (http://127.0.0.1:\${PROXY_PORT:-8080}/), and prints the p50/p99/max of the requests sent
within --window ms (default 400) after each repetition against the others.

Actions (default: all):
  none        nothing: the noise floor
  reload      what an nginx switch runs: nginx -t, then nginx -s reload, in the proxy container
  start       docker start of a stopped container of the live color (its beat), on the pinned CPU
              as a deploy's new beat and workers are; stopped again after 1.5 s, outside the window
  compose     docker compose config --format json: what each calmswap step script reads first
  node        node dist/deploy.mjs --help: the start of calmswap's own process

--nice N runs each action's command at that niceness (what is done inside dockerd is not).

Run it on a quiet box: the figures are only comparable within one run.`

const { values: o } = parseArgs({
  options: {
    actions: { type: 'string', default: 'none,reload,start,compose,node' },
    times: { type: 'string', default: '15' },
    rate: { type: 'string', default: '20' },
    window: { type: 'string', default: '400' },
    nice: { type: 'string', default: '0' },
    help: { type: 'boolean', short: 'h' },
  },
})

const prefix = process.env.CALMSWAP_PREFIX ?? 'calmswap'
const must = async (argv: string[]) => {
  const r = await sh(Number(o.nice) ? ['nice', '-n', o.nice!, ...argv] : argv, {}, process.cwd(), 60_000)
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: exit ${r.code}: ${r.stderr.trim().split('\n').at(-1)}`)
}
const live = async (): Promise<string> => {
  const r = await sh(['docker', 'ps', '--filter', `name=^${prefix}-(blue|green)-web-1$`, '--format', '{{.Names}}'])
  const name = r.stdout.trim().split('\n')[0]
  if (!name) throw new Error(`no ${prefix}-blue or ${prefix}-green web runs: run \`make deploy\` first`)
  return name.replace(/-web-1$/, '')
}

// The spare beat's stops still to come: awaited before the live beat is started again.
const stops: Promise<unknown>[] = []
const ACTIONS: Record<string, (color: string) => Promise<unknown>> = {
  none: async () => {},
  reload: () => must(['docker', 'exec', `${prefix}-shared-proxy-1`, 'sh', '-c', 'nginx -t 2>/dev/null || exit 65; exec nginx -s reload']),
  start: async (color) => {
    await must(['docker', 'start', `${color}-beat-1`])
    // Stopped outside the window: a stop is not what this action measures.
    stops.push(new Promise((r) => setTimeout(() => void sh(['docker', 'stop', '-t', '1', `${color}-beat-1`]).then(r), 1500)))
  },
  compose: () => must(['docker', 'compose', 'config', '--format', 'json']),
  node: () => must(['node', 'dist/deploy.mjs', '--help']),
}

function figures(l: Latency): string {
  return `n ${String(l.n).padStart(4)}  p50 ${l.p50.toFixed(1).padStart(5)}  p99 ${l.p99.toFixed(1).padStart(5)}  max ${l.max.toFixed(1).padStart(6)} ms`
}

async function measure(action: string, color: string, load: Load, times: number, windowMs: number): Promise<string> {
  const marks: number[] = []
  const from = now()
  for (let i = 0; i < times; i++) {
    marks.push(now())
    await ACTIONS[action]!(color)
    await sleep(2500)
  }
  const to = now()
  const mine = load.samples.filter((s: Sample) => s.t >= from && s.t <= to && !s.error)
  const near = (s: Sample) => marks.some((m) => s.t >= m && s.t <= m + windowMs)
  const failed = load.samples.filter((s) => s.t >= from && s.t <= to && (s.error || s.status !== 200)).length
  const after = latency(mine.filter(near), from, to)
  const otherwise = latency(
    mine.filter((s) => !near(s)),
    from,
    to,
  )
  return `${action.padEnd(8)} after it: ${figures(after)}   otherwise: ${figures(otherwise)}   failed ${failed}`
}

async function main(): Promise<void> {
  if (o.help) return void process.stdout.write(`${HELP}\n`)
  const actions = o.actions!.split(',').filter(Boolean)
  const unknown = actions.filter((a) => !(a in ACTIONS))
  if (unknown.length) {
    process.stderr.write(`unknown action ${unknown.join(', ')}\n\n${HELP}\n`)
    process.exitCode = 2
    return
  }
  const color = await live()
  // A stopped spare: the live beat itself is left running once the runs are over.
  await must(['docker', 'stop', '-t', '1', `${color}-beat-1`])
  const times = Number(o.times)
  const load = startLoad({ port: Number(process.env.PROXY_PORT ?? 8080), rate: Number(o.rate), maxSeconds: actions.length * times * 4 + 30 })
  try {
    await sleep(2000)
    for (const a of actions) process.stdout.write(`${await measure(a, color, load, times, Number(o.window))}\n`)
  } finally {
    await load.stop()
    await Promise.all(stops)
    await sh(['docker', 'start', `${color}-beat-1`])
  }
}

main().catch((e: Error) => {
  process.stderr.write(`${e.message}\n`)
  process.exitCode = 1
})
