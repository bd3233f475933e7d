#!/usr/bin/env -S node --import tsx
// What a web's first real request costs, and what the warm-up (CALMSWAP_WARMUP) takes on
// itself: the live web container is restarted, its health page asked until it answers, then
// a page asked a few times in a row, each timed. Needs the example stack deployed
// (`make deploy`); the restart is of the live web, so run it on a box that serves no one.
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { sh } from './stack.ts'

const HELP = `Usage: node --import tsx bench/first-request.ts [--times N] [--requests N] [--path /] [--color blue|green]

Restarts the example stack's web of --color (default: the one serving) N times (default 3); after
each, waits for /health/ on its published port, then GETs --path (default /) --requests times
(default 5) one after another and prints each one's time.`

const { values: o } = parseArgs({
  options: {
    times: { type: 'string', default: '3' },
    requests: { type: 'string', default: '5' },
    path: { type: 'string', default: '/' },
    color: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
})
if (o.help) {
  console.log(HELP)
  process.exit(0)
}

const PORTS = { blue: 18001, green: 18002 } as const
const prefix = process.env.CALMSWAP_PREFIX ?? 'calmswap'

async function timed(url: string): Promise<{ ms: number; status: number }> {
  const t0 = performance.now()
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  await r.arrayBuffer()
  return { ms: performance.now() - t0, status: r.status }
}

async function serving(): Promise<'blue' | 'green'> {
  for (const color of ['blue', 'green'] as const) {
    const r = await timed(`http://127.0.0.1:${PORTS[color]}/health/`).catch(() => null)
    if (r?.status === 200) return color
  }
  throw new Error('neither web answers /health/: deploy the example stack first (make deploy)')
}

const color = (o.color as 'blue' | 'green' | undefined) ?? (await serving())
const base = `http://127.0.0.1:${PORTS[color]}`
const container = `${prefix}-${color}-web-1`
for (let i = 1; i <= Number(o.times); i++) {
  const r = await sh(['docker', 'restart', '-t', '1', container])
  if (r.code !== 0) throw new Error(`docker restart ${container}: ${r.stderr.trim()}`)
  const deadline = Date.now() + 60_000
  while ((await timed(`${base}/health/`).catch(() => null))?.status !== 200) {
    if (Date.now() > deadline) throw new Error(`${container} did not answer /health/ within 60 s`)
    await sleep(100)
  }
  const health = await timed(`${base}/health/`)
  const pages: string[] = []
  for (let j = 0; j < Number(o.requests); j++) {
    const p = await timed(`${base}${o.path}`)
    pages.push(`${p.ms.toFixed(1)}${p.status === 200 ? '' : ` (${p.status})`}`)
  }
  console.log(`restart ${i}: /health/ ${health.ms.toFixed(1)} ms once up; ${o.path} ${pages.join(', ')} ms`)
}
