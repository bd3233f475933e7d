// make bench-proxy: what the proxy's own reload and replacement cost, per real proxy, with no
// Docker: two small webs on loopback, nginx (Debian's nginx-light) and Caddy (Debian's caddy)
// on the host, calmswap's real switch step (CALMSWAP_PROXY=host / caddy-host: write, check,
// graceful reload) under GETs on fresh connections and POSTs on kept-alive connections, never
// retried. Then a proxy change: a second proxy beside the first on the same port
// (SO_REUSEPORT), the first stopped gracefully, as `calmswap proxy --replace` does with
// containers. Every failure is counted, by operation.
//
//   node --import tsx bench/proxy-reload.ts [--switches 40] [--rps 50] [--connections 8] [--only caddy|nginx|nginx-flag] [--out DIR]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { Client, request } from 'undici'
import { switchTraffic } from '../lib/compose/traffic.ts'
import type { Color } from '../lib/config.ts'
import { loadConfig } from '../lib/config-loader.ts'
import { makeContext } from '../lib/context.ts'
import { ProcessExecutor } from '../lib/executor.ts'
import { isMain } from '../lib/main.ts'
import { proxyDriver } from '../lib/proxy/index.ts'
import { StateStore } from '../lib/state.ts'
import { Ui } from '../lib/ui.ts'

const ROOT = resolve(import.meta.dirname, '..')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const log = (m: string) => process.stderr.write(`[bench-proxy] ${m}\n`)

const freePort = async () => {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const p = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return p
}

async function web(color: Color): Promise<Server> {
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(200, { 'x-deploy-color': color }).end(color))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return server
}

interface Count {
  gets: number
  posts: number
  failedGets: number
  failedPosts: number
  errors: Record<string, number>
}

/** GETs on fresh connections and POSTs on kept-alive ones, `rps` each, bounded by the caller's stop(). */
function load(url: string, rps: number, connections: number) {
  const clients = Array.from({ length: connections }, () => new Client(url, { keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000 }))
  const s: Count = { gets: 0, posts: 0, failedGets: 0, failedPosts: 0, errors: {} }
  const fail = (what: 'GET' | 'POST', why: string) => {
    if (what === 'GET') s.failedGets++
    else s.failedPosts++
    s.errors[`${what} ${why}`] = (s.errors[`${what} ${why}`] ?? 0) + 1
  }
  const inflight = new Set<Promise<void>>()
  const track = (p: Promise<void>) => {
    inflight.add(p)
    void p.finally(() => inflight.delete(p))
  }
  let i = 0
  const timer = setInterval(() => {
    s.gets++
    track(
      request(`${url}/`, { headers: { connection: 'close' }, headersTimeout: 10_000 })
        .then(async (r) => (await r.body.text(), r.statusCode === 200 ? undefined : fail('GET', String(r.statusCode))))
        .catch((e) => fail('GET', e.code ?? e.message)),
    )
    s.posts++
    track(
      clients[i++ % connections]!.request({ path: '/', method: 'POST', body: 'x=1', headersTimeout: 10_000 })
        .then(async (r) => (await r.body.text(), r.statusCode === 200 ? undefined : fail('POST', String(r.statusCode))))
        .catch((e) => fail('POST', e.code ?? e.message)),
    )
  }, 1000 / rps)
  return {
    snapshot: (): Count => ({ ...s, errors: { ...s.errors } }),
    async stop(): Promise<Count> {
      clearInterval(timer)
      await Promise.all(inflight)
      await Promise.all(clients.map((c) => c.close()))
      return s
    },
  }
}

const minus = (a: Count, b: Count): Count => ({
  gets: a.gets - b.gets,
  posts: a.posts - b.posts,
  failedGets: a.failedGets - b.failedGets,
  failedPosts: a.failedPosts - b.failedPosts,
  errors: Object.fromEntries(
    Object.entries(a.errors)
      .map(([k, v]) => [k, v - (b.errors[k] ?? 0)])
      .filter(([, v]) => (v as number) > 0),
  ),
})

interface ProxyUnderTest {
  readonly mode: 'host' | 'caddy-host'
  readonly env: Record<string, string>
  start(which: 1 | 2): ChildProcess
  /** The second instance's own check-and-reload passes: it runs and listens. */
  ready(which: 1 | 2): boolean
  readonly stopSignal: NodeJS.Signals
}

function nginxSetup(dir: string, port: number, live: string): ProxyUnderTest {
  const conf = (n: 1 | 2) => join(dir, `nginx${n}.conf`)
  for (const n of [1, 2] as const) {
    const example = readFileSync(join(ROOT, 'example/nginx/nginx.conf'), 'utf8')
    writeFileSync(
      conf(n),
      example
        .replace('user root;', '')
        .replace('pid /tmp/nginx.pid;', `pid ${dir}/nginx${n}.pid;`)
        .replaceAll('/etc/calmswap/live/', `${live}/`)
        .replace('/var/log/calmswap-proxy/access.jsonl', `${dir}/access.jsonl`)
        .replaceAll('__PROXY_PORT__', String(port))
        .replace('http {', `http {\n  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;`),
    )
  }
  // calmswap runs `$CALMSWAP_NGINX -t` and `-s reload`: a wrapper names the config.
  const wrap = join(dir, 'nginx-1')
  writeFileSync(wrap, `#!/bin/sh\nexec /usr/sbin/nginx -c ${conf(1)} -e stderr "$@"\n`)
  chmodSync(wrap, 0o755)
  return {
    mode: 'host',
    env: { CALMSWAP_NGINX: wrap, CALMSWAP_UPSTREAM_FILE: join(live, 'upstream.conf') },
    start: (n) => spawn('/usr/sbin/nginx', ['-c', conf(n), '-e', 'stderr', '-g', 'daemon off;'], { stdio: 'ignore' }),
    ready: (n) => spawnSync('/usr/sbin/nginx', ['-c', conf(n), '-e', 'stderr', '-s', 'reload']).status === 0,
    stopSignal: 'SIGQUIT',
  }
}

function caddySetup(dir: string, port: number, live: string): ProxyUnderTest {
  const conf = (n: 1 | 2) => join(dir, `Caddyfile${n}`)
  for (const n of [1, 2] as const) {
    const example = readFileSync(join(ROOT, 'example/caddy/Caddyfile'), 'utf8')
    writeFileSync(
      conf(n),
      example
        .replace('unix//tmp/caddy-admin.sock', `unix/${dir}/admin${n}.sock`)
        .replace('/var/log/calmswap-proxy/access.jsonl', `${dir}/access.jsonl`)
        .replace('/etc/calmswap/live/*.caddy', `${live}/*.caddy`),
    )
  }
  const env = { ...process.env, PROXY_PORT: String(port), HOME: dir }
  process.env.PROXY_PORT = String(port)
  return {
    mode: 'caddy-host',
    env: { CALMSWAP_CADDY_CONFIG: conf(1), CALMSWAP_UPSTREAM_FILE: join(live, 'upstream.caddy') },
    start: (n) => spawn('caddy', ['run', '--config', conf(n), '--adapter', 'caddyfile'], { env, stdio: 'ignore' }),
    ready: (n) => spawnSync('caddy', ['reload', '--config', conf(n), '--adapter', 'caddyfile'], { env }).status === 0,
    stopSignal: 'SIGTERM',
  }
}

type Kind = 'nginx' | 'nginx-flag' | 'caddy'

async function benchOne(kind: Kind, o: { switches: number; rps: number; connections: number }) {
  const dir = mkdtempSync(join(tmpdir(), `calmswap-bench-proxy-${kind}-`))
  // nginx's workers (nobody, under root) stat the flag files.
  chmodSync(dir, 0o755)
  const live = join(dir, 'live')
  mkdirSync(live)
  writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
  const webs = { blue: await web('blue'), green: await web('green') }
  const port = await freePort()
  const p = kind === 'caddy' ? caddySetup(dir, port, live) : nginxSetup(dir, port, live)
  const wport = (s: Server) => String((s.address() as AddressInfo).port)
  const config = loadConfig({
    cwd: dir,
    env: {
      CALMSWAP_PROXY: p.mode,
      CALMSWAP_BLUE_PORT: wport(webs.blue),
      CALMSWAP_GREEN_PORT: wport(webs.green),
      CALMSWAP_STATE_DIR: join(dir, 'state'),
      CALMSWAP_PROXY_URL: `http://127.0.0.1:${port}`,
      ...p.env,
      // nginx-flag: the switch renames a flag file the example conf reads per request, no reload.
      ...(kind === 'nginx-flag' ? { CALMSWAP_NGINX_SWITCH: 'flag' } : {}),
    },
  })
  const sink = { write: () => true } as unknown as NodeJS.WritableStream
  const ctx = makeContext({ config, exec: new ProcessExecutor(), state: new StateStore(config.stateDir), ui: new Ui({ err: sink, out: sink, color: false, interactive: false }) })
  writeFileSync(config.proxy.upstreamFile, proxyDriver(config).render(config, 'blue', null, {}))
  let proc = p.start(1)
  for (
    let i = 0;
    i < 100 &&
    !(await request(`http://127.0.0.1:${port}/`)
      .then(async (r) => (await r.body.text(), true))
      .catch(() => false));
    i++
  )
    await sleep(100)
  const url = `http://127.0.0.1:${port}`
  const l = load(url, o.rps, o.connections)
  await sleep(1000)
  const before = l.snapshot()
  // Deploys and rollbacks as the proxy sees them: a switch to the other color with the old one as backup, then back.
  let color: Color = 'blue'
  let missed = 0
  for (let i = 0; i < o.switches; i++) {
    const next: Color = color === 'blue' ? 'green' : 'blue'
    await switchTraffic(ctx, next, color)
    // The switch took: a fresh request right after it is answered by the new color.
    const answer = await request(`http://127.0.0.1:${port}/`).then((r) => r.body.text())
    if (answer !== next) missed++
    color = next
    await sleep(500)
  }
  const afterSwitches = l.snapshot()
  // The proxy change: a second one beside, ready, the first stopped gracefully.
  const t0 = Date.now()
  const second = p.start(2)
  while (!p.ready(2) && Date.now() - t0 < 30_000) await sleep(100)
  const ready = Date.now() - t0
  proc.kill(p.stopSignal)
  await new Promise((r) => proc.once('exit', r))
  const gone = Date.now() - t0
  proc = second
  await sleep(2000)
  const s = await l.stop()
  proc.kill(p.stopSignal)
  for (const w of Object.values(webs)) {
    w.closeAllConnections()
    w.close()
  }
  return { switches: { count: o.switches, notSwitched: missed, ...minus(afterSwitches, before) }, replace: { readyMs: ready, oldGoneMs: gone, ...minus(s, afterSwitches) } }
}

const USAGE = `node --import tsx bench/proxy-reload.ts [--switches 40] [--rps 50] [--connections 8] [--only caddy|nginx|nginx-flag] [--out DIR]

Needs Debian's nginx-light and caddy on the host (apt-get install nginx-light caddy); no Docker.`

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      switches: { type: 'string', default: '40' },
      rps: { type: 'string', default: '50' },
      connections: { type: 'string', default: '8' },
      only: { type: 'string' },
      out: { type: 'string', default: join(ROOT, 'bench/out/proxy') },
      help: { type: 'boolean' },
    },
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    process.exit(0)
  }
  const o = { switches: Number(values.switches), rps: Number(values.rps), connections: Number(values.connections) }
  const kinds = (values.only ? [values.only] : ['nginx', 'nginx-flag', 'caddy']) as Kind[]
  const results: Record<string, unknown> = { ...o, at: new Date().toISOString() }
  for (const k of kinds) {
    const bin = k === 'caddy' ? 'caddy' : '/usr/sbin/nginx'
    if (spawnSync(bin, k === 'caddy' ? ['version'] : ['-v']).status !== 0) {
      log(`${k}: not installed, skipped`)
      continue
    }
    log(`${k}: ${o.switches} switches, then a second ${k} beside the first, under ${o.rps} GETs/s and ${o.rps} kept-alive POSTs/s`)
    const r = await benchOne(k, o)
    results[k] = r
    log(`${k}: ${JSON.stringify(r)}`)
  }
  mkdirSync(values.out!, { recursive: true })
  writeFileSync(join(values.out!, 'results.json'), `${JSON.stringify(results, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`)
}
