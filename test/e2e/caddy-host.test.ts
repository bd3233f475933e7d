// CALMSWAP_PROXY=caddy-host against the real binary (Debian's caddy 2.6.2, where installed):
// no Docker, two small webs on loopback, a Caddy on the host with a Caddyfile like the
// example's, and the real switch step (write, `caddy validate`, `caddy reload`). Under GETs
// and kept-alive POSTs: switches, a canary and the death of the new web fail nothing, a
// rejected snippet leaves the old one serving, and the watch reads Caddy's own log lines.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, request } from 'undici'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { switchTraffic } from '../../lib/compose/traffic.ts'
import { countRequest, emptyTally } from '../../lib/compose/watch.ts'
import type { Color, Config } from '../../lib/config.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { type Ctx, makeContext } from '../../lib/context.ts'
import { ProcessExecutor } from '../../lib/executor.ts'
import { proxyDriver } from '../../lib/proxy/index.ts'
import { StateStore } from '../../lib/state.ts'
import { Ui } from '../../lib/ui.ts'

const hasCaddy = spawnSync('caddy', ['version']).status === 0

/**
 * A reload of Caddy 2.6 opens new SO_REUSEPORT listeners and closes the old ones; the kernel
 * resets a connection still queued on a closing one (LWN 542629), so now and then a request of
 * a reload gets no answer. Those resets are what Caddy itself does, measured by
 * bench/proxy-reload.ts; anything else (a 5xx: no web to send it to) is calmswap's to prevent.
 */
const notAReloadReset = (f: string) => !/^(GET|POST) (ECONNRESET|UND_ERR_SOCKET)$/.test(f)

const freePort = async () => {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const p = (s.address() as AddressInfo).port
  await new Promise((r) => s.close(r))
  return p
}

async function web(color: Color): Promise<Server> {
  const server = createServer((req, res) => {
    let n = 0
    req.on('data', (d) => (n += d.length))
    req.on('end', () => res.writeHead(200, { 'x-deploy-color': color }).end(`${color} ${n}`))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return server
}

describe.skipIf(!hasCaddy)('Caddy on the host, the real binary', () => {
  let dir: string
  let caddy: ChildProcess
  let config: Config
  let ctx: Ctx
  let proxyPort: number
  const webs = {} as Record<Color, Server>

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'calmswap-caddy-host-'))
    writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
    webs.blue = await web('blue')
    webs.green = await web('green')
    proxyPort = await freePort()
    const port = (s: Server) => String((s.address() as AddressInfo).port)
    config = loadConfig({
      cwd: dir,
      env: {
        CALMSWAP_PROXY: 'caddy-host',
        CALMSWAP_BLUE_PORT: port(webs.blue),
        CALMSWAP_GREEN_PORT: port(webs.green),
        CALMSWAP_STATE_DIR: join(dir, 'state'),
        CALMSWAP_CADDY_CONFIG: join(dir, 'Caddyfile'),
        CALMSWAP_PROXY_URL: `http://127.0.0.1:${proxyPort}`,
        CALMSWAP_HEALTH_PASSES: '1',
      },
    })
    mkdirSync(join(dir, 'log'))
    // The example's Caddyfile, with this test's folders.
    const example = readFileSync(new URL('../../example/caddy/Caddyfile', import.meta.url), 'utf8')
    writeFileSync(
      join(dir, 'Caddyfile'),
      example
        .replace('unix//tmp/caddy-admin.sock', `unix/${dir}/admin.sock`)
        .replace('/var/log/calmswap-proxy/access.jsonl', join(dir, 'log', 'access.jsonl'))
        .replace('/etc/calmswap/live/*.caddy', join(config.stateDir, 'caddy', '*.caddy')),
    )
    const sink = { write: () => true } as unknown as NodeJS.WritableStream
    ctx = makeContext({ config, exec: new ProcessExecutor(), state: new StateStore(config.stateDir), ui: new Ui({ err: sink, out: sink, color: false, interactive: false }) })
    mkdirSync(join(config.stateDir, 'caddy'), { recursive: true })
    writeFileSync(config.proxy.upstreamFile, proxyDriver(config).render(config, 'blue', null, {}))
    caddy = spawn('caddy', ['run', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], {
      env: { ...process.env, PROXY_PORT: String(proxyPort), HOME: dir },
      stdio: 'ignore',
    })
    for (let i = 0; i < 100; i++) {
      const ok = await request(`http://127.0.0.1:${proxyPort}/`)
        .then(async (r) => (await r.body.text(), true))
        .catch(() => false)
      if (ok) break
      await new Promise((r) => setTimeout(r, 100))
    }
    // `caddy validate` and `caddy reload` read {$PROXY_PORT} from the environment calmswap runs them in.
    process.env.PROXY_PORT = String(proxyPort)
  }, 30_000)

  afterAll(() => {
    caddy?.kill('SIGTERM')
    for (const s of Object.values(webs)) {
      s.closeAllConnections()
      s.close()
    }
  })

  /** GETs on fresh connections and POSTs on 4 kept-alive ones, at 50/s each, until stopped. */
  function load() {
    const clients = Array.from({ length: 4 }, () => new Client(`http://127.0.0.1:${proxyPort}`, { keepAliveTimeout: 120_000, keepAliveMaxTimeout: 600_000 }))
    const s = { gets: 0, posts: 0, failed: [] as string[], colors: {} as Record<string, number> }
    const inflight = new Set<Promise<void>>()
    let i = 0
    const track = (p: Promise<void>) => {
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
    }
    const timer = setInterval(() => {
      s.gets++
      track(
        request(`http://127.0.0.1:${proxyPort}/x`, { headers: { connection: 'close' } })
          .then(async (r) => {
            await r.body.text()
            const col = String(r.headers['x-deploy-color'])
            s.colors[col] = (s.colors[col] ?? 0) + 1
            if (r.statusCode !== 200) s.failed.push(`GET ${r.statusCode}`)
          })
          .catch((e) => void s.failed.push(`GET ${e.code ?? e.message}`)),
      )
      s.posts++
      track(
        clients[i++ % clients.length]!.request({ path: '/p', method: 'POST', body: 'x=1' })
          .then(async (r) => {
            await r.body.text()
            if (r.statusCode !== 200) s.failed.push(`POST ${r.statusCode}`)
          })
          .catch((e) => void s.failed.push(`POST ${e.code ?? e.message}`)),
      )
    }, 20)
    return {
      async stop() {
        clearInterval(timer)
        await Promise.all(inflight)
        await Promise.all(clients.map((c) => c.close()))
        return s
      },
    }
  }

  it('switches blue → green → blue, a canary and back, under load: no 5xx, only the resets of its reloads', async () => {
    const l = load()
    const pause = () => new Promise((r) => setTimeout(r, 400))
    await switchTraffic(ctx, 'green', 'blue', { log: true })
    await pause()
    await switchTraffic(ctx, 'blue', 'green', { share: 50, log: true })
    await pause()
    await switchTraffic(ctx, 'blue', 'green')
    await pause()
    await switchTraffic(ctx, 'blue', null)
    await pause()
    const s = await l.stop()
    console.log(`caddy-host, 4 switches under load: ${s.gets} GETs, ${s.posts} kept-alive POSTs, failed ${JSON.stringify(s.failed)}, colors ${JSON.stringify(s.colors)}`)
    expect(s.failed.filter(notAReloadReset)).toEqual([])
    expect(s.colors.green).toBeGreaterThan(0)
  })

  it('a new web that dies after the switch: Caddy retries every GET on the old color and keeps it up', async () => {
    await switchTraffic(ctx, 'green', 'blue')
    const l = load()
    await new Promise((r) => setTimeout(r, 300))
    webs.green.closeAllConnections()
    webs.green.close()
    await new Promise((r) => setTimeout(r, 1000))
    const s = await l.stop()
    console.log(`caddy-host, green dies under load: ${s.gets} GETs, ${s.posts} kept-alive POSTs, failed ${JSON.stringify(s.failed)}, colors ${JSON.stringify(s.colors)}`)
    // A POST already sent on a kept-alive upstream connection as green closes it is not replayed
    // (Caddy, like nginx, retries a non-idempotent request only when it never reached the web):
    // at most one per client connection. Never a GET, and never a 503: blue is not marked down
    // (without buffer_requests one failed retry took it down for fail_duration, every request 503).
    expect(s.failed.filter((f) => !f.startsWith('POST 502'))).toEqual([])
    expect(s.failed.length).toBeLessThanOrEqual(4)
    expect(s.colors.blue).toBeGreaterThan(0)
  })

  it('a second Caddy beside the first (SO_REUSEPORT), the first stopped gracefully: no 5xx, only resets of the listener hand-over', async () => {
    // What `calmswap proxy --replace` does with containers, here with two processes on the host.
    await switchTraffic(ctx, 'blue', null)
    const second = join(dir, 'Caddyfile2')
    writeFileSync(second, readFileSync(join(dir, 'Caddyfile'), 'utf8').replace(`unix/${dir}/admin.sock`, `unix/${dir}/admin2.sock`))
    const l = load()
    await new Promise((r) => setTimeout(r, 300))
    const t0 = Date.now()
    const next = spawn('caddy', ['run', '--config', second, '--adapter', 'caddyfile'], { env: { ...process.env, HOME: dir }, stdio: 'ignore' })
    // Ready when its own reload passes: its admin endpoint answers once its config and listeners are up.
    for (let i = 0; i < 100 && spawnSync('caddy', ['reload', '--config', second, '--adapter', 'caddyfile'], { env: process.env }).status !== 0; i++)
      await new Promise((r) => setTimeout(r, 100))
    const ready = Date.now() - t0
    const old = caddy
    caddy = next
    old.kill('SIGTERM')
    await new Promise((r) => old.once('exit', r))
    const handOver = Date.now() - t0
    await new Promise((r) => setTimeout(r, 500))
    const s = await l.stop()
    console.log(
      `caddy-host, a second Caddy ready in ${ready} ms, the first gone at ${handOver} ms: ${s.gets} GETs, ${s.posts} kept-alive POSTs, failed ${JSON.stringify(s.failed)}`,
    )
    expect(s.failed.filter(notAReloadReset)).toEqual([])
  })

  it('a snippet caddy validate refuses: the old one back, the proxy serves as before', async () => {
    const before = readFileSync(config.proxy.upstreamFile, 'utf8')
    // A port no Caddyfile accepts: the render is right, the config around it is not.
    writeFileSync(join(dir, 'Caddyfile'), `${readFileSync(join(dir, 'Caddyfile'), 'utf8')}\nnot a directive {\n`)
    await expect(switchTraffic(ctx, 'blue', null)).rejects.toThrow(/caddy validate rejected the new Caddyfile snippet; the old one is back in place, nothing was reloaded/)
    expect(readFileSync(config.proxy.upstreamFile, 'utf8')).toBe(before)
    const r = await request(`http://127.0.0.1:${proxyPort}/x`)
    await r.body.text()
    expect(r.statusCode).toBe(200)
  })

  it("the watch reads Caddy's own log lines (written while the route logs) and gives each request its color", async () => {
    const lines = readFileSync(join(dir, 'log', 'access.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
    const t = emptyTally()
    for (const l of lines) {
      const rec = proxyDriver(config).parse(l, config.ports)
      if (rec) countRequest(t, rec, config)
    }
    expect(t.blue.answered + t.green.answered).toBeGreaterThan(0)
    expect(t.green.answered).toBeGreaterThan(0)
  })
})
