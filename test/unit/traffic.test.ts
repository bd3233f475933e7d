import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { renderUpstream, upstreamMismatch } from '../../lib/compose/traffic.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { proxyCommands } from '../../lib/proxy/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-traffic-'))
writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
const cfg = (env: Record<string, string> = {}) => loadConfig({ env, cwd: dir })

describe('upstream file', () => {
  it('points at the live color', () => expect(renderUpstream(cfg(), 'green', null)).toMatch(/upstream calmswap_web \{\n {2}server 127\.0\.0\.1:18002;\n {2}keepalive/))
  it('keeps the old color as backup', () => expect(renderUpstream(cfg(), 'green', 'blue')).toContain('server 127.0.0.1:18001 backup;'))
  it('names the color for the proxy header', () => expect(renderUpstream(cfg(), 'blue', null)).toContain('map $host $calmswap_color { default "blue"; }'))
  it('takes a template', () =>
    expect(renderUpstream(cfg(), 'blue', 'green', 'upstream {{name}} { server 127.0.0.1:{{port}}; {{backup}} } # {{color}}')).toBe(
      'upstream calmswap_web { server 127.0.0.1:18001; server 127.0.0.1:18002 backup; } # blue',
    ))
})

describe('proxy commands', () => {
  it('container: nginx -t, then the reload only if it passed, in one exec', () => {
    const p = proxyCommands(cfg(), 'blue', 'app-shared-proxy-1')!
    expect([p.test, p.reload.argv, p.rejected]).toEqual([null, ['docker', 'exec', 'app-shared-proxy-1', 'sh', '-c', 'nginx -t || exit 65; exec nginx -s reload'], 65])
  })
  it('container without a running proxy has nothing to run', () => expect(proxyCommands(cfg(), 'blue', undefined)).toBeNull())
  it('host nginx', () =>
    expect(proxyCommands(cfg({ CALMSWAP_PROXY: 'host', CALMSWAP_NGINX: '/usr/sbin/nginx' }), 'blue', undefined)!.reload.argv).toEqual(['/usr/sbin/nginx', '-s', 'reload']))
  it('a user command gets the color and port', () => {
    const p = proxyCommands(cfg({ CALMSWAP_PROXY: 'command', CALMSWAP_SWITCH_COMMAND: '/usr/local/bin/flip --fast' }), 'green', undefined)!
    expect([p.test, p.reload.argv, p.reload.env?.CALMSWAP_PORT]).toEqual([null, ['/usr/local/bin/flip', '--fast'], '18002'])
  })
  it('none', () => expect(proxyCommands(cfg({ CALMSWAP_PROXY: 'none' }), 'blue', undefined)).toBeNull())
})

describe('who answered through the proxy', () => {
  it.each([
    [{ 'x-calmswap-color': 'green', 'x-calmswap-upstream': '127.0.0.1:18002' }, null],
    [{}, null],
    [{ 'x-calmswap-color': 'blue' }, 'proxy still routes to blue'],
    [{ 'x-calmswap-upstream': '127.0.0.1:18002, 127.0.0.1:18001' }, 'answered by 127.0.0.1:18001, not green (:18002)'],
  ])('%j → %s', (headers, want) => expect(upstreamMismatch(headers, 'green', 18002)).toBe(want))
})
