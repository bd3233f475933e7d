// The proxy drivers (lib/proxy/): what each writes for the live color, its backup, a canary's
// share and the watch's log; the commands that check and reload it; one line of each access log.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { countRequest, emptyTally } from '../../lib/compose/watch.ts'
import type { Config } from '../../lib/config.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { caddyLivePort, parseCaddyLine, renderCaddy } from '../../lib/proxy/caddy.ts'
import { shareCounts } from '../../lib/proxy/driver.ts'
import { proxyCheck, proxyCommands, proxyDriver } from '../../lib/proxy/index.ts'
import { parseNginxLine } from '../../lib/proxy/nginx.ts'
import { parseTraefikLine, renderTraefik, traefikConfig, traefikLivePort, traefikProblems, validateTraefik } from '../../lib/proxy/traefik.ts'
import { fromYaml, toYaml } from '../../lib/proxy/yaml.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-proxy-'))
writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
const cfg = (env: Record<string, string> = {}) => loadConfig({ env, cwd: dir })
const caddyCfg = (env: Record<string, string> = {}) => cfg({ CALMSWAP_PROXY: 'caddy', ...env })
const traefikCfg = (env: Record<string, string> = {}) => cfg({ CALMSWAP_PROXY: 'traefik', ...env })

describe('CALMSWAP_PROXY picks a driver and where it runs', () => {
  it.each([
    ['container', 'nginx', true, 'nginx/upstream.conf'],
    ['host', 'nginx', false, 'nginx/upstream.conf'],
    ['caddy', 'caddy', true, 'caddy/upstream.caddy'],
    ['caddy-host', 'caddy', false, 'caddy/upstream.caddy'],
    ['traefik', 'traefik', false, 'traefik/calmswap.yml'],
    ['none', 'none', false, 'nginx/upstream.conf'],
  ])('%s: %s, in a container: %s, writes %s', (mode, kind, inContainer, file) => {
    const c = cfg({ CALMSWAP_PROXY: mode, CALMSWAP_SWITCH_COMMAND: '/bin/true' })
    expect([c.proxy.kind, c.proxy.inContainer, proxyDriver(c).kind]).toEqual([kind, inContainer, kind])
    expect(c.proxy.upstreamFile.endsWith(file)).toBe(true)
  })
  it('an nginx template with another proxy is refused', () => {
    writeFileSync(join(dir, 't.conf'), 'upstream {{name}} {}')
    expect(() => cfg({ CALMSWAP_PROXY: 'caddy', CALMSWAP_UPSTREAM_TEMPLATE: 't.conf' })).toThrow(/CALMSWAP_UPSTREAM_TEMPLATE is an nginx upstream template: proxy=caddy/)
  })
  it('a canary with Caddy or Traefik is accepted', () => {
    expect(caddyCfg({ CALMSWAP_CANARY: '10%' }).canary.steps).toEqual([10])
    expect(traefikCfg({ CALMSWAP_CANARY: '10%' }).canary.steps).toEqual([10])
  })
})

describe('a canary share as whole counts of upstream entries (Caddy 2.6 has no weights)', () => {
  it.each([
    [10, [1, 9]],
    [25, [1, 3]],
    [50, [1, 1]],
    [33, [33, 67]],
    [5, [1, 19]],
    [100, [1, 0]],
  ])('%i%% → %j', (share, want) => expect(shareCounts(share)).toEqual(want))
  it('every share from 1 to 99 keeps its exact proportion', () => {
    for (let s = 1; s < 100; s++) {
      const [n, o] = shareCounts(s)
      expect((100 * n) / (n + o)).toBeCloseTo(s, 10)
    }
  })
})

describe('Caddy snippet', () => {
  const c = caddyCfg()
  it('live color first, the old one as the fallback of lb_policy first', () => {
    const t = renderCaddy(c, 'green', 'blue', {})
    expect(t).toMatch(/^reverse_proxy 127\.0\.0\.1:18002 127\.0\.0\.1:18001 \{$/m)
    expect(t).toContain('\tlb_policy first\n')
    expect(t).toContain('\tfail_duration 5s\n')
    expect(t).toContain('\tmax_fails 3\n')
    // A retried POST needs its body again (test/e2e/caddy-host.test.ts).
    expect(t).toContain('\tbuffer_requests\n')
    expect(t).toContain('\theader_down X-Calmswap-Color green\n')
    expect(t).toContain('\theader_down X-Calmswap-Upstream {http.reverse_proxy.upstream.hostport}\n')
  })
  it('no backup: one upstream', () => expect(renderCaddy(c, 'blue', null, {})).toMatch(/^reverse_proxy 127\.0\.0\.1:18001 \{$/m))
  it('the access log only while watched: skip_log otherwise', () => {
    expect(renderCaddy(c, 'green', 'blue', {})).toMatch(/^skip_log$/m)
    expect(renderCaddy(c, 'green', 'blue', { log: true })).not.toMatch(/skip_log/)
  })
  it('a 10% canary: green once, blue nine times, round robin, the color header from the port', () => {
    const t = renderCaddy(c, 'green', 'blue', { share: 10, log: true })
    const ups = /^reverse_proxy (.*) \{$/m.exec(t)![1]!.split(' ')
    expect(ups.filter((u) => u.endsWith(':18002')).length).toBe(1)
    expect(ups.filter((u) => u.endsWith(':18001')).length).toBe(9)
    expect(t).toContain('\tlb_policy round_robin\n')
    expect(t).toContain('map {http.reverse_proxy.upstream.port} {calmswap_color} {\n\t18002 green\n\tdefault blue\n}')
    expect(t).toContain('\theader_down X-Calmswap-Color {calmswap_color}\n')
  })
  it.each([
    ['ip', 'ip_hash'],
    ['cookie:sid', 'cookie calmswap_sid'],
  ])('sticky %s: lb_policy %s', (sticky, policy) =>
    expect(renderCaddy(caddyCfg({ CALMSWAP_CANARY_STICKY: sticky }), 'green', 'blue', { share: 10 })).toContain(`\tlb_policy ${policy}\n`),
  )
  it('the live port it names; none in a canary', () => {
    expect(caddyLivePort(renderCaddy(c, 'green', 'blue', {}))).toBe(18002)
    expect(caddyLivePort(renderCaddy(c, 'green', 'blue', { share: 10 }))).toBeNull()
  })
  it('validate then reload in one exec in the container; the Caddyfile an argument, not script text', () => {
    const p = proxyCommands(c, 'green', 'app-shared-proxy-1')!
    expect(p.test).toBeNull()
    expect(p.rejected).toBe(65)
    expect(p.reload.argv).toEqual([
      'docker',
      'exec',
      'app-shared-proxy-1',
      'sh',
      '-c',
      'caddy validate --config "$1" --adapter caddyfile >&2 || exit 65; exec caddy reload --config "$1" --adapter caddyfile',
      'sh',
      '/etc/caddy/Caddyfile',
    ])
  })
  it('on the host: caddy validate, then caddy reload', () => {
    const p = proxyCommands(caddyCfg({ CALMSWAP_PROXY: 'caddy-host', CALMSWAP_CADDY: '/usr/bin/caddy', CALMSWAP_CADDY_CONFIG: '/etc/caddy/Caddyfile' }), 'green', undefined)!
    expect([p.test!.argv, p.reload.argv]).toEqual([
      ['/usr/bin/caddy', 'validate', '--config', '/etc/caddy/Caddyfile', '--adapter', 'caddyfile'],
      ['/usr/bin/caddy', 'reload', '--config', '/etc/caddy/Caddyfile', '--adapter', 'caddyfile'],
    ])
  })
  it('doctor validates without changing anything', () => {
    expect(proxyCheck(c, 'p')).toMatchObject({ argv: ['docker', 'exec', 'p', 'caddy', 'validate', '--config', '/etc/caddy/Caddyfile', '--adapter', 'caddyfile'], mutates: false })
    expect(proxyCheck(c, undefined)).toBeNull()
  })
})

// Recorded from Debian bookworm's Caddy 2.6.2 with example/caddy/Caddyfile and the snippet above.
const CADDY_LINE =
  '{"level":"info","ts":1796424344.6030824,"logger":"http.log.access.log0","msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"49848","proto":"HTTP/1.1","method":"GET","host":"127.0.0.1:28080","uri":"/x","headers":{"User-Agent":["curl/7.88.1"],"Accept":["*/*"]}},"user_id":"","duration":0.00075742,"size":6,"status":200,"resp_headers":{"Server":["Caddy"],"X-Calmswap-Color":["green"],"X-Calmswap-Upstream":["127.0.0.1:28002"],"Content-Length":["6"],"X-Deploy-Color":["green"],"Date":["Fri, 04 Dec 2026 22:45:44 GMT"]}}'

describe("Caddy's JSON access log", () => {
  it('a request and the upstream that answered', () => expect(parseCaddyLine(CADDY_LINE)).toEqual({ status: 200, uri: '/x', tries: [{ port: 28002, status: 200 }] }))
  it("a 502 of Caddy's own: no upstream to blame", () => {
    const x = JSON.parse(CADDY_LINE)
    x.status = 502
    x.resp_headers = { Server: ['Caddy'] }
    expect(parseCaddyLine(JSON.stringify(x))?.tries).toEqual([])
  })
  it.each(['', 'not json', '{"level":"info","msg":"serving initial configuration"}', '{"status":200}'])('%j is no record', (l) => expect(parseCaddyLine(l)).toBeNull())
  it('counts for the color on that port, the health path left out', () => {
    const c = caddyCfg({ CALMSWAP_BLUE_PORT: '28001', CALMSWAP_GREEN_PORT: '28002' })
    const t = emptyTally()
    const x = JSON.parse(CADDY_LINE)
    for (const [uri, status] of [
      ['/x', 200],
      ['/y', 500],
      ['/health/', 500],
    ] as const)
      countRequest(t, proxyDriver(c).parse(JSON.stringify({ ...x, status, request: { ...x.request, uri } }), c.ports)!, c)
    expect(t.green).toEqual({ requests: 2, errors: 1, answered: 2, failed: 1 })
  })
})

describe('the nginx driver reads what it always read', () => {
  it('parse is the watch parseNginxLine', () => {
    const line = JSON.stringify({ status: 200, upstream_addr: '127.0.0.1:18002', upstream_status: '200', request_uri: '/' })
    expect(proxyDriver(cfg()).parse(line)).toEqual(parseNginxLine(line))
  })
})

// Caddy itself, where it is installed (Debian bookworm: apt-get install caddy): what calmswap
// writes must pass `caddy validate` inside a Caddyfile like the example's.
const hasCaddy = spawnSync('caddy', ['version']).status === 0
describe.skipIf(!hasCaddy)('caddy validate accepts every snippet', () => {
  const validate = (snippet: string) => {
    const d = mkdtempSync(join(tmpdir(), 'calmswap-caddy-'))
    writeFileSync(join(d, 'upstream.caddy'), snippet)
    writeFileSync(
      join(d, 'Caddyfile'),
      `{\n\tadmin off\n\tauto_https off\n}\nhttp://127.0.0.1:1 {\n\tlog {\n\t\toutput file ${d}/access.jsonl\n\t\tformat json\n\t}\n\timport ${d}/upstream.caddy\n}\n`,
    )
    return spawnSync('caddy', ['validate', '--config', join(d, 'Caddyfile'), '--adapter', 'caddyfile'], { encoding: 'utf8' })
  }
  const c = caddyCfg()
  it.each([
    ['switch with backup', renderCaddy(c, 'green', 'blue', {})],
    ['no backup, logging', renderCaddy(c, 'blue', null, { log: true })],
    ['canary 10%', renderCaddy(c, 'green', 'blue', { share: 10, log: true })],
    ['canary 33%, sticky by ip', renderCaddy(caddyCfg({ CALMSWAP_CANARY_STICKY: 'ip' }), 'green', 'blue', { share: 33 })],
    ['canary, sticky by cookie', renderCaddy(caddyCfg({ CALMSWAP_CANARY_STICKY: 'cookie:sid' }), 'green', 'blue', { share: 50 })],
  ])('%s', (_, snippet) => {
    const r = validate(snippet)
    expect(r.status, r.stderr).toBe(0)
  })
  it('and refuses a broken one, so the switch puts the old file back', () => expect(validate('reverse_proxy 127.0.0.1:1 {\n\tlb_policy nonsense\n}\n').status).not.toBe(0))
})

describe('Traefik dynamic configuration', () => {
  const c = traefikCfg()
  const services = (t: string) => (fromYaml(t) as { http: { services: Record<string, unknown> } }).http.services
  it('a failover service: the live color, health-checked, the old color its fallback', () => {
    const s = services(renderTraefik(c, 'green', 'blue', {}))
    expect(s.calmswap_web).toEqual({ failover: { service: 'calmswap_web-green', fallback: 'calmswap_web-blue' } })
    expect(s['calmswap_web-green']).toEqual({
      loadBalancer: { servers: [{ url: 'http://127.0.0.1:18002' }], passHostHeader: true, healthCheck: { path: '/health/', interval: '1s', timeout: '2s' } },
    })
    expect(s['calmswap_web-blue']).toEqual({ loadBalancer: { servers: [{ url: 'http://127.0.0.1:18001' }], passHostHeader: true } })
  })
  it('no other color: the live one alone', () =>
    expect(services(renderTraefik(c, 'blue', null, {}))).toEqual({ calmswap_web: { loadBalancer: { servers: [{ url: 'http://127.0.0.1:18001' }], passHostHeader: true } } }))
  it('a canary: a weighted service, sticky by a cookie of its own', () => {
    const s = services(renderTraefik(traefikCfg({ CALMSWAP_CANARY_STICKY: 'cookie:sid' }), 'green', 'blue', { share: 10 }))
    expect(s.calmswap_web).toEqual({
      weighted: {
        services: [
          { name: 'calmswap_web-green', weight: 10 },
          { name: 'calmswap_web-blue', weight: 90 },
        ],
        sticky: { cookie: { name: 'calmswap_sid' } },
      },
    })
  })
  it.each([
    ['failover', renderTraefik(c, 'green', 'blue', {})],
    ['single', renderTraefik(c, 'blue', null, {})],
    ['canary', renderTraefik(c, 'green', 'blue', { share: 50 })],
  ])('%s passes the documented schema', (_, t) => expect(validateTraefik(t)).toEqual([]))
  it('the schema check finds what Traefik would refuse or ignore', () => {
    const bad = traefikConfig(c, 'green', 'blue', {}) as { http: { services: Record<string, Record<string, unknown>> } }
    const broken = JSON.parse(JSON.stringify(bad))
    broken.http.services.calmswap_web.failover.fallback = 'nowhere'
    delete broken.http.services['calmswap_web-green'].loadBalancer.healthCheck
    broken.http.services['calmswap_web-blue'].loadBalancer.servers[0].url = '127.0.0.1:18001'
    broken.http.services['calmswap_web-blue'].loadBalancer.weight = 3
    broken.http.services.extra = { loadBalancer: { servers: [] }, weighted: { services: [{ name: 'x', weight: 1.5 }] } }
    expect(traefikProblems(broken)).toEqual([
      'http.services.calmswap_web.failover.fallback: service "nowhere" is not defined',
      'http.services.calmswap_web.failover.service: calmswap_web-green has no healthCheck, so Traefik would never fail over',
      'http.services.calmswap_web-blue.loadBalancer: unknown field weight',
      'http.services.calmswap_web-blue.loadBalancer.servers[0].url: an http:// or https:// URL',
      'http.services.extra: exactly one of loadBalancer, weighted, failover, mirroring (has loadBalancer, weighted)',
      'http.services.extra.loadBalancer.servers: at least one server',
      'http.services.extra.weighted.services[0].name: service "x" is not defined',
      'http.services.extra.weighted.services[0].weight: a whole number ≥ 0',
    ])
  })
  it('the YAML reads back as written', () => {
    const doc = traefikConfig(c, 'green', 'blue', { share: 25 })
    expect(fromYaml(toYaml(doc))).toEqual(doc)
  })
  it('nothing to run: Traefik watches the file', () => expect([proxyCommands(c, 'green', undefined), proxyCheck(c, undefined)]).toEqual([null, null]))
  it('the live port: the failover main service, none in a canary', () => {
    expect(traefikLivePort(renderTraefik(c, 'green', 'blue', {}))).toBe(18002)
    expect(traefikLivePort(renderTraefik(c, 'green', 'blue', { share: 10 }))).toBeNull()
  })
})

describe("Traefik's JSON access log (accessLog.format=json, its documented field names)", () => {
  const line = (x: Record<string, unknown>) =>
    JSON.stringify({
      ClientHost: '127.0.0.1',
      DownstreamStatus: 200,
      OriginStatus: 200,
      RequestMethod: 'GET',
      RequestPath: '/x',
      RouterName: 'app@file',
      ServiceName: 'calmswap_web-green@file',
      ServiceURL: 'http://127.0.0.1:18002',
      RetryAttempts: 0,
      level: 'info',
      msg: '',
      ...x,
    })
  const ports = (c: Config) => c.ports
  it('by the service URL', () => expect(parseTraefikLine(line({}), ports(traefikCfg()))).toEqual({ status: 200, uri: '/x', tries: [{ port: 18002, status: 200 }] }))
  it('by the service name when the URL is dropped', () =>
    expect(parseTraefikLine(line({ ServiceURL: undefined, ServiceName: 'calmswap_web-blue@file' }), ports(traefikCfg()))?.tries).toEqual([{ port: 18001, status: 200 }]))
  it("the server's status, not the client's", () => expect(parseTraefikLine(line({ OriginStatus: 500, DownstreamStatus: 500 }))?.tries[0]?.status).toBe(500))
  it('no service (no router matched): no try', () => expect(parseTraefikLine(line({ ServiceURL: '', ServiceName: '', DownstreamStatus: 404, OriginStatus: 0 }))?.tries).toEqual([]))
  it.each(['', 'x', '{"level":"info","msg":"Configuration loaded from file"}'])('%j is no record', (l) => expect(parseTraefikLine(l)).toBeNull())
})
