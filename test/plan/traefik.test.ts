// Traefik cannot be installed here, so the switch through its file provider runs against a
// stand-in: a small HTTP proxy that reads the dynamic file the way Traefik's file provider
// does for the fields calmswap writes (http.services: loadBalancer.servers[].url and its
// healthCheck, weighted.services[].name/weight, failover.service/fallback), reloads it when
// it changes, and routes as Traefik documents. The real switch step writes the file; the
// stand-in serves through the switch, a canary, and the death of the new web.
import { type FSWatcher, mkdtempSync, readFileSync, watch, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { afterEach, describe, expect, it } from 'vitest'
import { switchTraffic } from '../../lib/compose/traffic.ts'
import type { Color } from '../../lib/config.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { makeContext } from '../../lib/context.ts'
import { ProcessExecutor } from '../../lib/executor.ts'
import { fromYaml } from '../../lib/proxy/yaml.ts'
import { StateStore } from '../../lib/state.ts'
import { Ui } from '../../lib/ui.ts'

type Svc = {
  loadBalancer?: { servers: { url: string }[]; healthCheck?: { path: string } }
  weighted?: { services: { name: string; weight: number }[] }
  failover?: { service: string; fallback: string }
}

/** The stand-in: Traefik's routing of the services calmswap defines, from the file as it changes. */
class StandIn {
  services: Record<string, Svc> = {}
  readonly down = new Set<string>()
  reloads = 0
  private rr = new Map<string, number>()
  private timer?: NodeJS.Timeout
  private watcher?: FSWatcher
  server!: Server
  constructor(
    private readonly file: string,
    private readonly entry: string,
  ) {}

  private load() {
    try {
      const doc = fromYaml(readFileSync(this.file, 'utf8')) as { http: { services: Record<string, Svc> } }
      this.services = doc.http.services
      this.reloads++
    } catch {
      // Traefik keeps the last good configuration when a file does not parse.
    }
  }

  /** Active health checks, as Traefik runs them for a loadBalancer with a healthCheck. */
  private async check() {
    for (const [name, s] of Object.entries(this.services)) {
      const hc = s.loadBalancer?.healthCheck
      if (!hc) continue
      const ok = await request(`${s.loadBalancer!.servers[0]!.url}${hc.path}`, { headersTimeout: 500 })
        .then(async (r) => (await r.body.text(), r.statusCode < 400))
        .catch(() => false)
      if (ok) this.down.delete(name)
      else this.down.add(name)
    }
  }

  private healthy(name: string): boolean {
    const s = this.services[name]
    if (!s) return false
    if (s.failover) return this.healthy(s.failover.service) || this.healthy(s.failover.fallback)
    return !this.down.has(name)
  }

  /** The server URL a request goes to. */
  pick(name: string): string {
    const s = this.services[name]
    if (!s) throw new Error(`no service ${name}`)
    if (s.loadBalancer) {
      const i = this.rr.get(name) ?? 0
      this.rr.set(name, i + 1)
      return s.loadBalancer.servers[i % s.loadBalancer.servers.length]!.url
    }
    if (s.failover) return this.pick(this.healthy(s.failover.service) ? s.failover.service : s.failover.fallback)
    const total = s.weighted!.services.reduce((a, w) => a + w.weight, 0)
    let r = Math.random() * total
    for (const w of s.weighted!.services) if ((r -= w.weight) < 0) return this.pick(w.name)
    return this.pick(s.weighted!.services.at(-1)!.name)
  }

  async start(): Promise<number> {
    this.load()
    // providers.file.watch: Traefik watches the folder, so a rename into place is seen.
    this.watcher = watch(join(this.file, '..'), () => this.load())
    this.timer = setInterval(() => void this.check(), 100)
    this.server = createServer(async (req, res) => {
      try {
        const r = await request(`${this.pick(this.entry)}${req.url}`, { headersTimeout: 2000 })
        const body = await r.body.text()
        res.writeHead(r.statusCode, { 'x-color': String(r.headers['x-color']) }).end(body)
      } catch {
        res.writeHead(502).end('bad gateway')
      }
    })
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    return (this.server.address() as AddressInfo).port
  }

  close() {
    this.watcher?.close()
    clearInterval(this.timer)
    this.server?.closeAllConnections()
    this.server?.close()
  }
}

const webs: Server[] = []
let standIn: StandIn | undefined
afterEach(() => {
  standIn?.close()
  for (const s of webs.splice(0)) {
    s.closeAllConnections()
    s.close()
  }
})

async function web(color: Color): Promise<{ port: number; server: Server }> {
  const server = createServer((_, res) => res.writeHead(200, { 'x-color': color }).end(color))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  webs.push(server)
  return { port: (server.address() as AddressInfo).port, server }
}

async function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'calmswap-traefik-'))
  writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
  const [blue, green] = [await web('blue'), await web('green')]
  const config = loadConfig({
    cwd: dir,
    env: {
      CALMSWAP_PROXY: 'traefik',
      CALMSWAP_BLUE_PORT: String(blue.port),
      CALMSWAP_GREEN_PORT: String(green.port),
      CALMSWAP_STATE_DIR: join(dir, 'state'),
      CALMSWAP_PROXY_URL: '',
    },
  })
  const sink = { write: () => true } as unknown as NodeJS.WritableStream
  const ctx = makeContext({ config, exec: new ProcessExecutor(), state: new StateStore(config.stateDir), ui: new Ui({ err: sink, out: sink, color: false, interactive: false }) })
  await switchTraffic(ctx, 'blue', null)
  standIn = new StandIn(config.proxy.upstreamFile, config.proxy.upstreamName)
  const port = await standIn.start()
  const get = async () => {
    const r = await request(`http://127.0.0.1:${port}/`)
    await r.body.text()
    return r.statusCode === 200 ? String(r.headers['x-color']) : `status ${r.statusCode}`
  }
  const count = async (n: number) => {
    const seen: Record<string, number> = {}
    for (let i = 0; i < n; i++) {
      const c = await get()
      seen[c] = (seen[c] ?? 0) + 1
    }
    return seen
  }
  const until = async (want: string) => {
    for (let i = 0; i < 100; i++) {
      if ((await get()) === want) return
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`the stand-in never answered ${want}`)
  }
  return { ctx, green, count, until, get }
}

describe('the switch through Traefik (a stand-in reading the file as its file provider does)', () => {
  it('blue → green: every request goes to green once the file is replaced; none fails meanwhile', async () => {
    const s = await setup()
    expect(await s.count(5)).toEqual({ blue: 5 })
    const during: Promise<Record<string, number>> = s.count(200)
    await switchTraffic(s.ctx, 'green', 'blue')
    const seen = await during
    expect(Object.keys(seen).filter((k) => k.startsWith('status'))).toEqual([])
    await s.until('green')
    expect(await s.count(20)).toEqual({ green: 20 })
  })

  it('a green that dies is failed over to blue, the fallback, by its health check', async () => {
    const s = await setup()
    await switchTraffic(s.ctx, 'green', 'blue')
    await s.until('green')
    s.green.server.closeAllConnections()
    s.green.server.close()
    await s.until('blue')
    expect(await s.count(20)).toEqual({ blue: 20 })
  })

  it('a 25% canary: about a quarter to green; then all of it', async () => {
    const s = await setup()
    await switchTraffic(s.ctx, 'green', 'blue', { share: 25 })
    await new Promise((r) => setTimeout(r, 300))
    const seen = await s.count(400)
    // 400 draws at p = 0.25: 100 ± 26 is beyond 3 standard deviations (8.7).
    expect(seen.green).toBeGreaterThan(74)
    expect(seen.green).toBeLessThan(126)
    expect((seen.green ?? 0) + (seen.blue ?? 0)).toBe(400)
    await switchTraffic(s.ctx, 'green', 'blue')
    await s.until('green')
    expect(await s.count(20)).toEqual({ green: 20 })
  })

  it('a back-to-blue rollback leaves blue alone in the file', async () => {
    const s = await setup()
    await switchTraffic(s.ctx, 'green', 'blue')
    await s.until('green')
    await switchTraffic(s.ctx, 'blue', null)
    await s.until('blue')
    expect(await s.count(20)).toEqual({ blue: 20 })
  })
})
