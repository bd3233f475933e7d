// The canary's settings and the weighted upstream file it writes.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderUpstream } from '../../lib/compose/traffic.ts'
import { loadConfig, parseCanary } from '../../lib/config-loader.ts'
import { ConfigError } from '../../lib/errors.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-canary-'))
writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
writeFileSync(join(dir, 'tpl'), 'upstream {{name}} {}\n')
const cfg = (env: Record<string, string> = {}) => loadConfig({ env, cwd: dir })
const problems = (env: Record<string, string>): string[] => {
  try {
    cfg(env)
    return []
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems]
    throw e
  }
}

describe('canary steps', () => {
  it.each([
    ['', []],
    ['10%', [10]],
    ['10', [10]],
    ['5%,25%,100%', [5, 25]],
    [' 5% , 50% ', [5, 50]],
    ['100%', []],
  ])('%j → %j', (text, steps) => expect(parseCanary(text)).toEqual(steps))
  it.each([
    ['0%', /1% to 100%/],
    ['101%', /1% to 100%/],
    ['10%,5%', /more than the one before/],
    ['10%,10%', /more than the one before/],
    ['abc', /not a share/],
    ['2.5%', /not a share/],
  ])('%j is refused', (text, why) => expect(parseCanary(text)).toMatch(why))
  it('a JSON array in the file', () => {
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ canary: ['5%', '25%'], canaryHold: 30 }))
    expect(loadConfig({ env: {}, cwd: dir, file }).canary).toMatchObject({ steps: [5, 25], holdMs: 30_000 })
  })
  it('defaults: no canary, a minute per step, not sticky', () => expect(cfg().canary).toEqual({ steps: [], holdMs: 60_000, sticky: { by: 'off' } }))
})

describe('settings refused', () => {
  it.each([
    [{ CALMSWAP_CANARY: '50%,20%' }, /CALMSWAP_CANARY="50%,20%": each step/],
    [{ CALMSWAP_CANARY_STICKY: 'cookie:' }, /off, ip or cookie:NAME/],
    [{ CALMSWAP_CANARY_STICKY: 'cookie:a-b' }, /off, ip or cookie:NAME/],
    [{ CALMSWAP_CANARY_STICKY: 'hash' }, /off, ip or cookie:NAME/],
    [{ CALMSWAP_CANARY_HOLD: '500ms' }, /at least 1s/],
    [{ CALMSWAP_WATCH: '2h' }, /at most 3600s/],
    [{ CALMSWAP_WATCH_5XX: '150' }, /percentage/],
    [{ CALMSWAP_WATCH_MIN_REQUESTS: '0' }, /from 1 to/],
    [{ CALMSWAP_CANARY: '10%', CALMSWAP_PROXY: 'command', CALMSWAP_SWITCH_COMMAND: '/bin/true' }, /needs a proxy calmswap drives/],
    [{ CALMSWAP_CANARY: '10%', CALMSWAP_UPSTREAM_TEMPLATE: 'tpl' }, /cannot be used with CALMSWAP_UPSTREAM_TEMPLATE/],
    [{ CALMSWAP_CANARY: '10%', CALMSWAP_ENGINE: 'swarm' }, /Swarm mode updates in place/],
  ])('%j', (env, why) => expect(problems(env).join('\n')).toMatch(why))
  it('the watch knobs', () =>
    expect(cfg({ CALMSWAP_WATCH: '2m', CALMSWAP_WATCH_5XX: '1', CALMSWAP_WATCH_MIN_REQUESTS: '50' }).watch).toMatchObject({
      ms: 120_000,
      max5xxPct: 1,
      minRequests: 50,
      logOwned: true,
    }))
  it("an operator's own log is only read", () =>
    expect(cfg({ CALMSWAP_PROXY_LOG: '/var/log/nginx/app.jsonl' }).watch).toMatchObject({ log: '/var/log/nginx/app.jsonl', logOwned: false }))
  it('the log lives beside the state dir, not in it', () => expect(cfg().watch.log).toBe(join(dir, '.calmswap-proxy-log', 'access.jsonl')))
})

describe('weighted upstream', () => {
  const up = (env: Record<string, string>, share?: number, log = false) => renderUpstream(cfg(env), 'green', 'blue', undefined, { share, log })
  it('the share of each color, both primaries', () =>
    expect(up({}, 10)).toMatch(/ {2}server 127\.0\.0\.1:18002 weight=10;\n {2}server 127\.0\.0\.1:18001 weight=90;\n {2}keepalive 8;/))
  it('no backup line in a canary', () => expect(up({}, 10)).not.toContain('backup'))
  it('the color header names the server that answered', () => expect(up({}, 10)).toContain('map $upstream_addr $calmswap_color { "~:18002$" "green"; default "blue"; }'))
  it('logging on and off', () => {
    expect(up({}, 10, true)).toContain('map $host $calmswap_log { default "1"; }')
    expect(up({})).toContain('map $host $calmswap_log { default "0"; }')
  })
  it('sticky by client address: hash before the servers', () => expect(up({ CALMSWAP_CANARY_STICKY: 'ip' }, 25)).toMatch(/\{\n {2}hash \$remote_addr consistent;\n {2}server/))
  it('sticky by cookie: the cookie, or the request id without one', () => {
    const text = up({ CALMSWAP_CANARY_STICKY: 'cookie:sessionid' }, 25)
    expect(text).toContain('hash $calmswap_sticky consistent;')
    expect(text).toContain('map $cookie_sessionid $calmswap_sticky { "" $request_id; default $cookie_sessionid; }')
  })
  it('stickiness only in a canary: the full switch keeps the backup', () => {
    const text = up({ CALMSWAP_CANARY_STICKY: 'ip' })
    expect(text).not.toContain('hash')
    expect(text).toContain('server 127.0.0.1:18001 backup;')
  })
})
