// The switch through each proxy driver, as plans: the same deploy, only the proxy's file and
// its validate-and-reload differ; a rejected check puts the old file back and rolls back.
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { changeProxy } from '../../lib/compose/proxy.ts'
import { rollback } from '../../lib/compose/rollback.ts'
import { BEAT_LANE, BLUE_TO_GREEN, BOOT_GREEN, blueLive, DRAIN_BLUE, HAND_OVER, type Harness, harness } from './world.ts'

let h: Harness
afterEach(() => h?.close())

const caddyExec = (a: readonly string[]) => a[1] === 'exec' && a.join(' ').includes('caddy reload')

describe('Caddy in the shared project (CALMSWAP_PROXY=caddy)', () => {
  it('blue → green: the same plan as nginx, the snippet names green then blue, one exec validates and reloads', async () => {
    h = await harness({ state: { live: 'blue', release: 'r1' }, setup: blueLive, env: { CALMSWAP_PROXY: 'caddy' } })
    await deploy(h.ctx)
    expect(h.plan()).toEqual(BLUE_TO_GREEN)
    const snippet = h.exec.files.get(h.config.proxy.upstreamFile)!
    expect(snippet).toMatch(new RegExp(`^reverse_proxy 127\\.0\\.0\\.1:${h.config.ports.green} 127\\.0\\.0\\.1:${h.config.ports.blue} \\{$`, 'm'))
    const exec = h.exec.events.flatMap((e) => ('cmd' in e && caddyExec(e.cmd.argv) ? [e.cmd.argv] : []))
    expect(exec).toEqual([
      ['docker', 'exec', 'app-shared-proxy-1', 'sh', '-c', expect.stringMatching(/^caddy validate .* \|\| exit 65; exec caddy reload /), 'sh', '/etc/caddy/Caddyfile'],
    ])
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', previous: 'blue' })
  })

  it('caddy validate rejecting the snippet: the old one back, nothing reloaded, rolled back', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: { CALMSWAP_PROXY: 'caddy' } })
    h.world.failOn = (a) => (caddyExec(a) ? 65 : undefined)
    const before = 'reverse_proxy 127.0.0.1:1\n'
    h.exec.files.set(h.config.proxy.upstreamFile, before)
    await expect(deploy(h.ctx)).rejects.toThrow(/rolled back/)
    expect(h.out.join('')).toMatch(/caddy validate rejected the new Caddyfile snippet; the old one is back in place, nothing was reloaded/)
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue', upstream: { color: 'blue', port: 1 } })
  })

  it('rollback points Caddy back at blue alone', async () => {
    h = await harness({ state: { live: 'blue', release: 'r1' }, setup: blueLive, env: { CALMSWAP_PROXY: 'caddy' } })
    await deploy(h.ctx)
    await rollback(h.ctx)
    expect(h.exec.files.get(h.config.proxy.upstreamFile)).toMatch(new RegExp(`^reverse_proxy 127\\.0\\.0\\.1:${h.config.ports.blue} \\{$`, 'm'))
    expect(h.ctx.state.load()).toMatchObject({ live: 'blue' })
  })
})

describe("Traefik's file provider (CALMSWAP_PROXY=traefik)", () => {
  it('blue → green: the dynamic file is written and nothing runs (Traefik watches it); the check through the proxy passes', async () => {
    h = await harness({ state: { live: 'blue', release: 'r1' }, setup: blueLive, env: { CALMSWAP_PROXY: 'traefik' } })
    await deploy(h.ctx)
    expect(h.plan()).toEqual([...BOOT_GREEN, ...DRAIN_BLUE, ...BEAT_LANE, 'write', ...HAND_OVER])
    const file = h.exec.files.get(h.config.proxy.upstreamFile)!
    expect(file).toContain('failover:\n        service: "calmswap_web-green"\n        fallback: "calmswap_web-blue"')
    expect(h.ctx.state.load()).toMatchObject({ live: 'green', previous: 'blue' })
  })
})

describe('calmswap proxy: the proxy changes without a gap', () => {
  it('a changed config: the live route rendered again, validated and reloaded; the same image is not replaced', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: { CALMSWAP_PROXY: 'caddy' } })
    h.world.failOn = (a) => (a.includes('image') && a.includes('inspect') ? 1 : undefined)
    const r = await changeProxy(h.ctx)
    expect(r).toEqual({ reloaded: 'blue' })
    expect(h.plan()).toEqual(['write', 'reload'])
  })

  it('a config the proxy rejects: the old file back, nothing replaced', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: { CALMSWAP_PROXY: 'caddy' } })
    h.world.failOn = (a) => (caddyExec(a) ? 65 : undefined)
    await expect(changeProxy(h.ctx, { replace: true })).rejects.toThrow(/caddy validate rejected the new Caddyfile snippet; the old one is back in place/)
    expect(h.plan()).not.toContain('shared up')
    expect(h.plan().some((p) => p.includes('--scale'))).toBe(false)
  })

  it('--replace on a host proxy is refused: there is no container to replace', async () => {
    h = await harness({ state: { live: 'blue', upstream: { color: 'blue', port: 1, backup: null } }, setup: blueLive, env: { CALMSWAP_PROXY: 'caddy-host' } })
    await expect(changeProxy(h.ctx, { replace: true })).rejects.toThrow(/proxy=caddy-host has no container of calmswap's to replace/)
  })

  it('nothing deployed yet: nothing to change', async () => {
    h = await harness({ env: { CALMSWAP_PROXY: 'caddy' } })
    await expect(changeProxy(h.ctx)).rejects.toThrow(/nothing is deployed yet/)
  })
})
