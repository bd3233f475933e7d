// make soak: N deploys in a row under load, counting for each what the stop path must never
// do: a worker killed at the end of its grace, a failed request, a lost task. The example
// stack (Celery 5.2 / kombu 5.2 of Debian bookworm), or the Django one.
//
//   node --import tsx bench/soak.ts [--deploys 20] [--rps 15] [--stack example|django] [--env K=V ...] [--out FILE]
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DJANGO_DIR, DJANGO_STACK, describeLoad, execFileText, ROOT, Stack, waitFor } from '../test/e2e/stack.ts'

const USAGE = `make soak [ARGS="--deploys 20 --rps 15 --stack example|django --env CALMSWAP_QUIESCE=off --out FILE"]

Deploys the stack N times in a row, each under --rps requests/s through the proxy (each
request enqueues one Celery task), and counts per deploy: grace expiries (a worker SIGKILLed
at CALMSWAP_STOP_GRACE), failed requests, and tasks lost (enqueued and never run, after the
queue drained). --env adds a setting to every deploy (repeatable), e.g. to compare
CALMSWAP_QUIESCE=off. Exit 0 when every count is 0, 1 otherwise.`

const t0 = Date.now()
const log = (m: string) => process.stderr.write(`[soak ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${m}\n`)

interface Row {
  readonly deploy: number
  readonly exit: number
  readonly seconds: number
  readonly graceExpiries: number
  readonly requests: number
  readonly failed: number
  readonly enqueued: number
  readonly executed: number
  readonly lost: number
}

/** How the soak reads one stack's task counters. */
interface Tasks {
  counts(): Promise<{ enqueued: number; executed: number; pending: number }>
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      deploys: { type: 'string' },
      rps: { type: 'string' },
      stack: { type: 'string' },
      env: { type: 'string', multiple: true },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const deploys = Number(values.deploys ?? 20)
  const rps = Number(values.rps ?? 15)
  const kind = values.stack ?? 'example'
  if (!['example', 'django'].includes(kind) || !(deploys > 0) || !(rps > 0)) {
    process.stderr.write(`${USAGE}\n`)
    return 2
  }
  const out = resolve(ROOT, values.out ?? `bench/out/soak-${kind}.json`)
  const extra = Object.fromEntries((values.env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))

  const django = kind === 'django'
  const dir = DJANGO_DIR
  const stack = await Stack.create(`soak-${kind}`, django ? DJANGO_STACK : {})
  const rows: Row[] = []
  try {
    let tasks: Tasks
    if (django) {
      execFileSync(join(ROOT, 'provision/django-image.sh'), { stdio: 'inherit' })
      // The plain project first, then adopted: the way a user arrives.
      const up = await execFileText('docker', ['compose', '-p', stack.project('shared'), '-f', join(dir, 'plain.yml'), 'up', '-d', '--build'], stack.scriptEnv(), 600_000)
      if (up.code !== 0) throw new Error(up.stderr)
      await waitFor('the plain project', async () => (await stack.get('/health/').catch(() => null))?.status === 200, 120_000, 1_000)
      const a = await stack.run('adopt', ['--proxy-from', 'nginx'])
      if (a.code !== 0) throw new Error(`adopt failed:\n${a.stderr}`)
      tasks = {
        async counts() {
          const s = JSON.parse((await stack.get('/stats/')).body)
          return { enqueued: s.orders, executed: s.orders - s.unprocessed, pending: s.unprocessed }
        },
      }
    } else {
      await stack.bootstrap()
      tasks = {
        async counts() {
          const [enqueued, executed] = [await stack.counter('enqueued'), await stack.counter('executed')]
          const pending = Number(await stack.redis('LLEN', 'celery')) + Number(await stack.redis('HLEN', 'unacked'))
          return { enqueued, executed, pending }
        },
      }
    }
    log(`${kind} stack up (${stack.prefix}); ${deploys} deploys at ${rps} req/s`)
    for (let i = 1; i <= deploys; i++) {
      const before = await tasks.counts()
      const load = stack.load({ rps })
      const t = Date.now()
      const r = await stack.run('deploy', [], { ...extra, CALMSWAP_RELEASE: `soak${i}` })
      const seconds = (Date.now() - t) / 1000
      const traffic = await load.stop()
      // Drained: nothing queued or held, or a minute passed (a lost task never drains).
      await waitFor('the queue to drain', async () => (await tasks.counts()).pending === 0, 60_000, 500).catch(() => {})
      const after = await tasks.counts()
      const row: Row = {
        deploy: i,
        exit: r.code ?? -1,
        seconds,
        graceExpiries: (r.stderr.match(/after its SIGTERM \(CALMSWAP_STOP_GRACE=\d+s\) and was killed/g) ?? []).length,
        requests: traffic.sent,
        failed: traffic.failed,
        enqueued: after.enqueued - before.enqueued,
        executed: after.executed - before.executed,
        lost: after.enqueued - after.executed,
      }
      rows.push(row)
      log(
        `deploy ${i}: exit ${row.exit}, ${seconds.toFixed(1)} s, grace expiries ${row.graceExpiries}, requests ${row.requests} (failed ${row.failed}), tasks ${row.enqueued} enqueued / ${row.executed} run, lost so far ${row.lost}`,
      )
      if (traffic.failed) log(`  ${describeLoad(traffic)}`)
      if (r.code !== 0) log(`  deploy failed:\n${r.stderr.split('\n').slice(-15).join('\n')}`)
    }
  } finally {
    await stack.teardown()
    if (django) await execFileText('docker', ['compose', '-p', stack.project('shared'), '-f', join(dir, 'plain.yml'), 'down', '-v', '-t', '1'], stack.scriptEnv(), 120_000)
  }
  const total = {
    deploys: rows.length,
    failedDeploys: rows.filter((r) => r.exit !== 0).length,
    graceExpiries: rows.reduce((a, r) => a + r.graceExpiries, 0),
    requests: rows.reduce((a, r) => a + r.requests, 0),
    failed: rows.reduce((a, r) => a + r.failed, 0),
    tasks: rows.reduce((a, r) => a + r.enqueued, 0),
    lost: rows.at(-1)?.lost ?? 0,
    secondsMedian: [...rows.map((r) => r.seconds)].sort((a, b) => a - b)[Math.floor(rows.length / 2)] ?? 0,
  }
  mkdirSync(dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), stack: kind, rps, env: extra, total, rows }, null, 2)}\n`)
  process.stdout.write(
    `${kind}${
      Object.keys(extra).length
        ? ` (${Object.entries(extra)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')})`
        : ''
    }: ${total.deploys} deploys at ${rps} req/s: ${total.failedDeploys} failed, ${total.graceExpiries} grace expiries, ${total.failed}/${total.requests} failed requests, ${total.lost}/${total.tasks} tasks lost, median deploy ${total.secondsMedian.toFixed(1)} s (${out})\n`,
  )
  return total.failedDeploys || total.graceExpiries || total.failed || total.lost ? 1 : 0
}

main().then(
  (code) => (process.exitCode = code),
  (e: Error) => {
    log(`soak broke: ${e.stack ?? e.message}`)
    process.exitCode = 1
  },
)
