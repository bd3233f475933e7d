// make swarm-lab-bench: the same change (release b1 → b2 of the example stack) deployed on a
// three-node swarm (provision/swarm-lab.sh: three dockerd in their own network namespaces on
// this machine, images from the lab registry), once by a plain `docker stack deploy` of the
// file and once by calmswap's swarm mode, alternating. Measured, from the host: requests
// through the proxy (20/s), beats and workers running at once across the nodes, each node's
// CPU stall (the PSI of its cgroup), and tasks enqueued against tasks executed.
// Not part of `make test`. bench/README.md says how to read it.
import { execFile } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { failed, startLoad } from './load.ts'

const run = promisify(execFile)
const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)))
const NODES = [1, 2, 3]
const REG = '10.77.0.254:5000'
const PROXY = { host: '10.77.0.1', port: 8080 }
const FILE = join(ROOT, 'example/swarm/compose.yml')

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '2' },
    steady: { type: 'string', default: '10' },
    backlog: { type: 'string', default: '60' },
    boot: { type: 'string', default: '0' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
const log = (m: string) => process.stderr.write(`[swarm-lab-bench] ${m}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const now = () => performance.now()

/** GET on a node's Docker socket, JSON. */
function api<T>(node: number, path: string): Promise<T> {
  return new Promise((res, rej) => {
    const req = request({ socketPath: `/run/cs-node${node}/docker.sock`, path, headers: { host: 'docker' } }, (r) => {
      const chunks: Buffer[] = []
      r.on('data', (c) => chunks.push(c))
      r.on('end', () => res(JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as T))
    })
    req.on('error', rej)
    req.end()
  })
}

const docker = (node: number, argv: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000) =>
  run('docker', argv, { env: { ...process.env, ...env, DOCKER_HOST: `unix:///run/cs-node${node}/docker.sock` }, maxBuffer: 64 << 20, timeout: timeoutMs })

/** A cgroup's PSI "some total" (µs) of node n: the stall its containers felt. */
const readOr0 = (f: string, read: (text: string) => number) => {
  try {
    return read(readFileSync(f, 'utf8'))
  } catch {
    return 0
  }
}
const stallUs = (n: number) => readOr0(`/sys/fs/cgroup/unified/cs-node${n}/cpu.pressure`, (t) => Number(/^some .* total=(\d+)/m.exec(t)?.[1] ?? 0))
const cpuNs = (n: number) => readOr0(`/sys/fs/cgroup/cpuacct/cs-node${n}/cpuacct.usage`, Number)

interface Tick {
  t: number
  stall: number[]
  cpu: number[]
  beats: number
  workers: number
}

/** An app container as the sampler saw it: when it first ran, and when it first reported healthy. */
interface Seen {
  service: string
  node: number
  first: number
  healthy: number | null
}

/** Every 200 ms: each node's stall and CPU counters, and the stack's running beats and workers on all nodes. */
function sample(stack: string) {
  const ticks: Tick[] = []
  const seen = new Map<string, Seen>()
  let stop = false
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.stack.namespace=${stack}`] }))
  const loop = (async () => {
    while (!stop) {
      const t = now()
      const lists = await Promise.all(
        NODES.map((n) => api<{ Id: string; Status: string; Labels: Record<string, string> }[]>(n, `/containers/json?filters=${filters}`).catch(() => [])),
      )
      for (const [i, list] of lists.entries()) {
        for (const c of list) {
          const s = seen.get(c.Id) ?? { service: c.Labels['com.docker.swarm.service.name']!.slice(stack.length + 1), node: NODES[i]!, first: t, healthy: null }
          if (s.healthy === null && /\(healthy\)/.test(c.Status)) s.healthy = t
          seen.set(c.Id, s)
        }
      }
      const count = (svc: string) => lists.flat().filter((c) => c.Labels['com.docker.swarm.service.name'] === `${stack}_${svc}`).length
      ticks.push({ t, stall: NODES.map(stallUs), cpu: NODES.map(cpuNs), beats: count('beat'), workers: count('worker') })
      await sleep(Math.max(0, 200 - (now() - t)))
    }
  })()
  return {
    ticks,
    seen,
    async stop() {
      stop = true
      await loop
    },
  }
}

/** Per node, stall in ms per second over [from, to]. */
function stallRate(ticks: readonly Tick[], from: number, to: number): number[] {
  const w = ticks.filter((k) => k.t >= from && k.t <= to)
  if (w.length < 2) return NODES.map(() => 0)
  const a = w[0]!
  const b = w.at(-1)!
  return NODES.map((_, i) => (b.stall[i]! - a.stall[i]!) / 1000 / ((b.t - a.t) / 1000))
}

/** Per node, the worst second of stall (ms of stall per s, over windows of about 1 s) within [from, to]. */
function worstSecond(ticks: readonly Tick[], from: number, to: number): number[] {
  const w = ticks.filter((k) => k.t >= from && k.t <= to)
  return NODES.map((_, i) => {
    let worst = 0
    for (const a of w) {
      const b = w.find((k) => k.t >= a.t + 1000)
      if (b) worst = Math.max(worst, (b.stall[i]! - a.stall[i]!) / (b.t - a.t))
    }
    return Math.round(worst)
  })
}

const env = (release: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  APP_IMAGE: `${REG}/calmswap-example-app`,
  REDIS_IMAGE: `${REG}/calmswap-base:bookworm`,
  NGINX_IMAGE: `${REG}/calmswap-base:bookworm`,
  WORKER_REPLICAS: '2',
  // Seconds the example web takes to start: a Django app's imports and checks.
  BOOT_DELAY: String(args.boot),
  CALMSWAP_RELEASE: release,
  ...extra,
})

/** Until every service of the stack has its replicas running the image of `release`, and no update is in progress. */
async function converged(stack: string, release: string, timeoutMs = 240_000): Promise<void> {
  const t0 = now()
  for (;;) {
    const services = await api<
      { ID: string; Spec: { Name: string; Mode: { Replicated?: { Replicas: number } }; TaskTemplate: { ContainerSpec: { Image: string } } }; UpdateStatus?: { State: string } }[]
    >(1, `/services?filters=${encodeURIComponent(JSON.stringify({ label: [`com.docker.stack.namespace=${stack}`] }))}`)
    const tasks = await api<{ ServiceID: string; DesiredState: string; Status: { State: string }; Spec: { ContainerSpec: { Image: string } } }[]>(1, '/tasks')
    const ok =
      services.length === 5 &&
      services.every((s) => {
        const want = s.Spec.Mode.Replicated?.Replicas ?? 1
        const mine = tasks.filter((t) => t.ServiceID === s.ID && t.DesiredState === 'running' && t.Status.State === 'running')
        const app = /calmswap-example-app/.test(s.Spec.TaskTemplate.ContainerSpec.Image)
        return mine.length === want && (!app || mine.every((t) => t.Spec.ContainerSpec.Image.includes(`:${release}`))) && s.UpdateStatus?.State !== 'updating'
      })
    if (ok) return
    if (now() - t0 > timeoutMs) throw new Error(`stack ${stack} did not converge on ${release} within ${timeoutMs / 1000}s`)
    await sleep(250)
  }
}

/** The node and id of a running container of a stack service. */
async function containerOf(stack: string, service: string): Promise<[number, string]> {
  const f = encodeURIComponent(JSON.stringify({ label: [`com.docker.swarm.service.name=${stack}_${service}`] }))
  for (const n of NODES) {
    const list = await api<{ Id: string }[]>(n, `/containers/json?filters=${f}`)
    if (list[0]) return [n, list[0].Id]
  }
  throw new Error(`no running ${service} container`)
}

async function counters(stack: string): Promise<{ enqueued: number; executed: number; queued: number }> {
  const [n, id] = await containerOf(stack, 'redis')
  const out = (
    await docker(n, ['exec', id, 'redis-cli', 'EVAL', "return {redis.call('GET','calmswap:enqueued'),redis.call('GET','calmswap:executed'),redis.call('LLEN','celery')}", '0'])
  ).stdout
  const [enqueued = 0, executed = 0, queued = 0] = out.split('\n').map((l) => Number(l.trim() || 0))
  return { enqueued, executed, queued }
}

async function removeStack(stack: string): Promise<void> {
  await docker(1, ['stack', 'rm', stack]).catch(() => {})
  const f = encodeURIComponent(JSON.stringify({ label: [`com.docker.stack.namespace=${stack}`] }))
  for (let i = 0; i < 120; i++) {
    const left = (await Promise.all(NODES.map((n) => api<unknown[]>(n, `/containers/json?all=1&filters=${f}`)))).flat().length
    const nets = (await api<unknown[]>(1, `/networks?filters=${f}`)).length
    if (!left && !nets) return
    await sleep(1000)
  }
}

type Strategy = 'plain' | 'calmswap'

async function once(strategy: Strategy, i: number) {
  const stack = `bench${i}`
  const stateDir = join(ROOT, 'bench/out/swarm-lab-state', stack)
  rmSync(stateDir, { recursive: true, force: true })
  log(`run ${i}: ${strategy}, stack ${stack}: creating it with b1 (plain stack deploy, not measured)`)
  await removeStack(stack)
  await docker(1, ['stack', 'deploy', '-c', FILE, stack], env('b1'))
  await converged(stack, 'b1')
  await sleep(5000)
  const sampler = sample(stack)
  const load = startLoad({ ...PROXY, rate: 20, maxSeconds: 600 })
  const tSteady = now()
  await sleep(Number(args.steady) * 1000)
  // CPU-heavy tasks waiting when the deploy starts, as a real queue would be.
  const [wn, wid] = await containerOf(stack, 'worker')
  await docker(wn, ['exec', wid, 'python3', '-c', `from tasks import burn\nfor _ in range(${args.backlog}): burn.delay(200)`])
  const t0 = now()
  let out = ''
  if (strategy === 'plain') {
    const r = await docker(1, ['stack', 'deploy', '-c', FILE, stack], env('b2'))
    out = r.stderr
    await converged(stack, 'b2')
  } else {
    const r = await run(process.execPath, [join(ROOT, 'dist/deploy.mjs')], {
      cwd: ROOT,
      maxBuffer: 64 << 20,
      timeout: 600_000,
      env: {
        ...process.env,
        ...env('b2', {
          DOCKER_HOST: 'unix:///run/cs-node1/docker.sock',
          CALMSWAP_ENGINE: 'swarm',
          CALMSWAP_COMPOSE_FILE: FILE,
          CALMSWAP_PREFIX: stack,
          CALMSWAP_STATE_DIR: stateDir,
          CALMSWAP_PROXY_URL: `http://${PROXY.host}:${PROXY.port}`,
          CALMSWAP_NODE_PSI: '/sys/fs/cgroup/unified/{node}/cpu.pressure',
          NO_COLOR: '1',
          CI: 'true',
        }),
      },
    }).catch((e: { stderr?: string; message: string }) => {
      throw new Error(`calmswap deploy failed: ${e.stderr ?? e.message}`)
    })
    out = r.stderr
    await converged(stack, 'b2')
  }
  const t1 = now()
  await sleep(5000)
  await load.stop()
  await sampler.stop()
  const ticks = sampler.ticks
  const during = ticks.filter((k) => k.t >= t0 && k.t <= t1)
  const steady = stallRate(ticks, tSteady, t0)
  const deploy = stallRate(ticks, t0, t1)
  const reqs = load.samples
  let c = await counters(stack)
  // Every GET enqueues one task, and the backlog was queued besides: all of them must run.
  const backlog = Number(args.backlog)
  for (let w = 0; w < 180 && (c.executed < c.enqueued + backlog || c.queued > 0); w++) {
    await sleep(1000)
    c = await counters(stack)
  }
  // The new release's containers: how many started within the same 2 s, and whether a new
  // worker or beat started before the new web was healthy.
  const fresh = [...sampler.seen.values()].filter((s) => s.first >= t0 && ['web', 'worker', 'beat'].includes(s.service)).sort((a, b) => a.first - b.first)
  const together = Math.max(0, ...fresh.map((a) => fresh.filter((b) => b.first >= a.first && b.first < a.first + 2000).length))
  const webUp = fresh.find((s) => s.service === 'web')?.healthy ?? null
  const firstRest = fresh.find((s) => s.service !== 'web')?.first ?? null
  const result = {
    strategy,
    startsWithin2s: together,
    restAfterWebHealthyS: webUp !== null && firstRest !== null ? Math.round((firstRest - webUp) / 100) / 10 : null,
    startOrder: fresh.map((s) => `${s.service}@node${s.node}+${Math.round((s.first - t0) / 100) / 10}s`),
    stack,
    doneAfterS: Math.round((t1 - t0) / 100) / 10,
    requests: reqs.length,
    failedRequests: reqs.filter(failed).length,
    failures: reqs.filter(failed).slice(0, 5),
    maxBeats: Math.max(0, ...during.map((k) => k.beats)),
    maxWorkers: Math.max(0, ...during.map((k) => k.workers)),
    stallSteadyMsPerS: steady.map((x) => Math.round(x)),
    stallDeployMsPerS: deploy.map((x) => Math.round(x)),
    addedStallCpuS: Math.round(deploy.reduce((a, x, n) => a + (x - steady[n]!), 0) * ((t1 - t0) / 1000)) / 1000,
    worstSecondMs: worstSecond(ticks, t0, t1),
    nodeCpuS: NODES.map((_, n) => Math.round((during.at(-1)!.cpu[n]! - during[0]!.cpu[n]!) / 1e8) / 10),
    enqueued: c.enqueued,
    executed: c.executed,
    lost: c.enqueued + backlog - c.executed,
    log: out.split('\n').slice(-40).join('\n'),
  }
  log(
    `run ${i} ${strategy}: done ${result.doneAfterS}s, ${result.failedRequests}/${result.requests} failed, beats ${result.maxBeats}, workers ${result.maxWorkers}, stall ${result.stallDeployMsPerS.join('/')} ms/s (steady ${result.stallSteadyMsPerS.join('/')}), lost ${result.lost}`,
  )
  await removeStack(stack)
  return result
}

async function main() {
  log('provision/swarm-lab.sh up (three nodes, registry)')
  await run(join(ROOT, 'provision/swarm-lab.sh'), ['up'], { cwd: ROOT, maxBuffer: 64 << 20, timeout: 600_000 })
  for (const r of ['b1', 'b2']) await run('docker', ['tag', 'calmswap-example-app:swarmlab', `calmswap-example-app:${r}`])
  await run(join(ROOT, 'provision/swarm-lab.sh'), ['push', 'calmswap-example-app:b1', 'calmswap-example-app:b2'], { cwd: ROOT, timeout: 600_000 })
  // The registry has them now; the host daemon keeps no tags of this bench.
  await run('docker', ['rmi', 'calmswap-example-app:b1', 'calmswap-example-app:b2']).catch(() => {})
  const order: Strategy[] = (args.only ? args.only.split(',') : ['plain', 'calmswap']) as Strategy[]
  const results: Awaited<ReturnType<typeof once>>[] = []
  try {
    for (let i = 0; i < Number(args.runs); i++) for (const s of order) results.push(await once(s, results.length + 1))
  } finally {
    if (!args.keep) {
      log('provision/swarm-lab.sh down')
      await run(join(ROOT, 'provision/swarm-lab.sh'), ['down'], { cwd: ROOT, timeout: 300_000 }).catch((e) => log(`down failed: ${e.message}`))
    }
  }
  mkdirSync(join(ROOT, 'bench/out'), { recursive: true })
  writeFileSync(join(ROOT, 'bench/out/swarm-lab.json'), `${JSON.stringify({ at: new Date().toISOString(), results }, null, 2)}\n`)
  const rows: [string, (r: (typeof results)[number]) => string][] = [
    ['failed requests', (r) => `${r.failedRequests} / ${r.requests}`],
    ['beats at once (max)', (r) => String(r.maxBeats)],
    ['app containers started within 2 s (max)', (r) => String(r.startsWithin2s)],
    ['first new beat/worker vs new web healthy', (r) => (r.restAfterWebHealthyS === null ? '-' : `${r.restAfterWebHealthyS > 0 ? '+' : ''}${r.restAfterWebHealthyS} s`)],
    ['workers at once (max, 2 wanted)', (r) => String(r.maxWorkers)],
    ['stall during deploy, ms/s node1/2/3', (r) => r.stallDeployMsPerS.join(' / ')],
    ['stall steady, ms/s node1/2/3', (r) => r.stallSteadyMsPerS.join(' / ')],
    ['stall the deploy added, CPU-s', (r) => String(r.addedStallCpuS)],
    ['worst second of stall, ms node1/2/3', (r) => r.worstSecondMs.join(' / ')],
    ['node CPU during deploy, s node1/2/3', (r) => r.nodeCpuS.join(' / ')],
    ['done after', (r) => `${r.doneAfterS} s`],
    ['tasks lost', (r) => String(r.lost)],
  ]
  const head = `| | ${results.map((r) => `${r.strategy} (${r.stack})`).join(' | ')} |`
  process.stdout.write(`${head}\n|${'---|'.repeat(results.length + 1)}\n${rows.map(([name, f]) => `| ${name} | ${results.map(f).join(' | ')} |`).join('\n')}\n`)
}

main().catch((e) => {
  log((e as Error).stack ?? String(e))
  process.exitCode = 1
})
