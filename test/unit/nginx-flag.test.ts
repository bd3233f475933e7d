// nginx's flag switch (CALMSWAP_NGINX_SWITCH=flag): the upstream file names no live color, so a
// switch leaves it alone and only renames a flag file the conf tests on each request. With the
// real nginx when it is installed: the example conf passes `nginx -t` with either switch's file,
// a conf that still says `proxy_pass http://calmswap_web` keeps working with the reload switch,
// and a flag moves traffic on a kept-alive connection without closing it.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { Agent, createServer, request, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../lib/config-loader.ts'
import { nginxFlags, nginxLivePort, renderUpstream } from '../../lib/proxy/nginx.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-flag-'))
writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
const cfg = (env: Record<string, string> = {}) => loadConfig({ env, cwd: dir })
const flag = (env: Record<string, string> = {}) => cfg({ CALMSWAP_NGINX_SWITCH: 'flag', ...env })

describe('the flag switch renders a file that names no live color', () => {
  it('the same file whichever color is live, with or without a running backup', () => {
    const texts = new Set([renderUpstream(flag(), 'blue', null), renderUpstream(flag(), 'green', 'blue'), renderUpstream(flag(), 'green', null)])
    expect(texts.size).toBe(1)
  })
  it('one group per color, the other its backup', () => {
    const t = renderUpstream(flag(), 'blue', null)
    expect(t).toContain('upstream calmswap_web_blue {\n  server 127.0.0.1:18001 max_fails=0;\n  server 127.0.0.1:18002 backup max_fails=0;')
    expect(t).toContain('upstream calmswap_web_green {\n  server 127.0.0.1:18002 max_fails=0;\n  server 127.0.0.1:18001 backup max_fails=0;')
    // No group the old conf names: a conf still saying calmswap_web fails `nginx -t` loudly.
    expect(t).not.toMatch(/upstream calmswap_web \{/)
  })
  it("a canary's weights change the file (so it reloads), and the plain file after it again", () => {
    const canary = renderUpstream(flag(), 'green', 'blue', undefined, { share: 10 })
    expect(canary).toContain('upstream calmswap_web_green {\n  server 127.0.0.1:18002 weight=10;\n  server 127.0.0.1:18001 weight=90;')
    expect(canary).not.toBe(renderUpstream(flag(), 'green', 'blue'))
  })
  it('the flags sit beside the upstream file', () => {
    const c = flag()
    expect([nginxFlags(c).live('green'), nginxFlags(c).log]).toEqual([join(c.stateDir, 'nginx', 'live-green'), join(c.stateDir, 'nginx', 'log-on')])
  })
})

describe('the reload switch keeps what it wrote, and groups for a conf that reads flags', () => {
  it('calmswap_web names the live color; the per-color groups follow it', () => {
    const t = renderUpstream(cfg(), 'green', 'blue')
    expect(t).toMatch(/upstream calmswap_web \{\n {2}server 127\.0\.0\.1:18002;\n {2}server 127\.0\.0\.1:18001 backup;/)
    expect(t).toContain('map $host $calmswap_live { default "calmswap_web_green"; }')
    expect(nginxLivePort(t)).toBe(18002)
  })
  it("a canary's file names no live port (its other groups are not the live one)", () =>
    expect(nginxLivePort(renderUpstream(cfg(), 'green', 'blue', undefined, { share: 10 }))).toBeNull())
})

describe('CALMSWAP_NGINX_SWITCH', () => {
  it('defaults to reload, which any conf naming calmswap_web works with', () => expect(cfg().proxy.nginxSwitch).toBe('reload'))
  it.each([
    [{ CALMSWAP_PROXY: 'caddy' }, /CALMSWAP_NGINX_SWITCH=flag switches nginx/],
    [{ CALMSWAP_UPSTREAM_TEMPLATE: join(dir, 'compose.yml') }, /cannot be used with CALMSWAP_UPSTREAM_TEMPLATE/],
  ])('flag refuses %o', (env, re) => expect(() => flag(env)).toThrow(re))
})

// ---- the real nginx ----
const hasNginx = spawnSync('nginx', ['-v']).status === 0
const example = (name: string) => readFileSync(join(import.meta.dirname, '../../example', name), 'utf8')

/** An example conf made runnable here: its ports, pid, log and live folder in `root`. */
function localConf(text: string, root: string, port: number): string {
  return text
    .replaceAll('__PROXY_PORT__', String(port))
    .replace(/^user .*$/m, '')
    .replace(/^pid .*$/m, `pid ${root}/nginx.pid;`)
    .replaceAll('/var/log/calmswap-proxy/', `${root}/`)
    .replaceAll('/etc/calmswap/live/', `${root}/live/`)
    .replaceAll('/etc/calmswap/live', `${root}/live`)
}

const freePort = () =>
  new Promise<number>((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port
      s.close(() => res(p))
    })
  })

describe.skipIf(!hasNginx)('the real nginx', () => {
  const root = mkdtempSync(join(tmpdir(), 'calmswap-nginx-'))
  mkdirSync(join(root, 'live'))
  // nginx's workers (nobody, when it starts as root) stat the flags: a folder they cannot
  // search reads as "no flag", silently.
  chmodSync(root, 0o755)
  const test = (conf: string, upstream: string) => {
    writeFileSync(join(root, 'live', 'upstream.conf'), upstream)
    writeFileSync(join(root, 'nginx.conf'), conf)
    return spawnSync('nginx', ['-t', '-p', root, '-c', join(root, 'nginx.conf')], { encoding: 'utf8' })
  }
  const legacy = (t: string) => t.replace('proxy_pass http://$calmswap_live;', 'proxy_pass http://calmswap_web;')

  it.each(['nginx/nginx.conf', 'django/nginx/calmswap.conf'])('%s passes nginx -t with either switch, in a canary too', (name) => {
    const conf = localConf(example(name), root, 1)
    for (const c of [cfg(), flag()]) {
      for (const route of [{}, { share: 10, log: true }]) {
        const r = test(conf, renderUpstream(c, 'green', 'blue', undefined, route))
        expect(r.status, r.stderr).toBe(0)
      }
    }
  })
  it('a conf that still names calmswap_web works with the reload switch, and the flag switch refuses it at nginx -t', () => {
    const conf = localConf(legacy(example('nginx/nginx.conf')), root, 1)
    expect(test(conf, renderUpstream(cfg(), 'green', 'blue')).status).toBe(0)
    expect(test(conf, renderUpstream(flag(), 'green', 'blue')).stderr).toMatch(/calmswap_web/)
  })

  describe('a flag moves traffic on a kept-alive connection, with no reload', () => {
    let nginx: ChildProcess
    const webs: Server[] = []
    let port = 0
    const ports = { blue: 0, green: 0 }
    beforeAll(async () => {
      for (const color of ['blue', 'green'] as const) {
        ports[color] = await freePort()
        const s = createServer((_, res) => res.end(color)).listen(ports[color], '127.0.0.1')
        webs.push(s)
      }
      port = await freePort()
      const c = cfg({ CALMSWAP_NGINX_SWITCH: 'flag', CALMSWAP_BLUE_PORT: String(ports.blue), CALMSWAP_GREEN_PORT: String(ports.green) })
      expect(test(localConf(example('nginx/nginx.conf'), root, port), renderUpstream(c, 'blue', null)).status).toBe(0)
      nginx = spawn('nginx', ['-p', root, '-c', join(root, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' })
      for (let i = 0; i < 50; i++) {
        if (await get(new Agent()).catch(() => null)) break
        await new Promise((r) => setTimeout(r, 100))
      }
    })
    afterAll(() => {
      nginx?.kill('SIGQUIT')
      for (const s of webs) s.close()
      rmSync(root, { recursive: true, force: true })
    })
    const get = (agent: Agent) =>
      new Promise<{ body: string; color: string; socket: unknown; up?: unknown }>((res, rej) => {
        const req = request({ host: '127.0.0.1', port, path: '/', agent, method: 'POST' }, (r) => {
          let body = ''
          r.on('data', (d) => {
            body += d
          })
          r.on('end', () => res({ body, color: String(r.headers['x-calmswap-color']), socket: req.socket, up: r.headers['x-calmswap-upstream'] }))
        })
        req.on('error', rej)
        req.end('x')
      })

    it('no flag: the upstream file default; live-green: green; back to blue by renaming; the same socket throughout', async () => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 })
      const live = (col: string) => join(root, 'live', `live-${col}`)
      const a = await get(agent)
      writeFileSync(live('blue'), 'blue\n')
      const b = await get(agent)
      writeFileSync(live('green'), 'green\n')
      const c = await get(agent)
      rmSync(live('blue'))
      renameSync(live('green'), live('blue'))
      const d = await get(agent)
      expect([a, b, c, d].map((x) => `${x.body}/${x.color}`)).toEqual(['blue/blue', 'blue/blue', 'green/green', 'blue/blue'])
      expect(new Set([a, b, c, d].map((x) => x.socket)).size).toBe(1)
      agent.destroy()
    })
  })
})
