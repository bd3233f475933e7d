// nginx's flag switch (CALMSWAP_NGINX_SWITCH=flag) as plans: with the groups nginx loaded in
// place, a deploy's switch, a rollback and recover write the flag and reload nothing; a
// canary's weights still reload; a dry run prints the flag's write.
import { rmSync, writeFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { deploy } from '../../lib/compose/deploy.ts'
import { composeEngine } from '../../lib/compose/engine.ts'
import { changeProxy } from '../../lib/compose/proxy.ts'
import { rollback } from '../../lib/compose/rollback.ts'
import { status } from '../../lib/compose/status.ts'
import { switchTraffic, upstreamFileColor } from '../../lib/compose/traffic.ts'
import { writeFileAtomic } from '../../lib/files.ts'
import { nginxFlags, renderUpstream } from '../../lib/proxy/nginx.ts'
import { dryRun } from './dry-run.ts'
import { BOOT_GREEN, blueLive, DRAIN_BLUE, HAND_OVER, type Harness, harness, withoutBeatLane } from './world.ts'

const recover = (ctx: Parameters<typeof composeEngine.recover>[0]) => composeEngine.recover(ctx)

let h: Harness
afterEach(() => h?.close())

const env = { CALMSWAP_NGINX_SWITCH: 'flag' }

/** The recorder's writes land on disk too, as a real run's would: the next switch reads them. */
function onDisk(h: Harness) {
  const { writeFile, removeFile } = h.exec
  h.exec.writeFile = async (p, c) => (await writeFile.call(h.exec, p, c), writeFileAtomic(p, c))
  h.exec.removeFile = async (p) => (await removeFile.call(h.exec, p), rmSync(p, { force: true }))
}

/** blue live, the upstream file nginx loaded at its last reload, and blue's flag. */
async function blueFlagged(extra: Record<string, string> = {}) {
  h = await harness({ state: { live: 'blue', release: 'r1' }, setup: blueLive, env: { ...env, ...extra } })
  writeFileAtomic(h.config.proxy.upstreamFile, renderUpstream(h.config, 'blue', null))
  writeFileSync(nginxFlags(h.config).live('blue'), 'blue\n')
  onDisk(h)
}

const flagWrites = (h: Harness) => h.exec.events.flatMap((e) => ('write' in e && /live-|log-on/.test(e.write) ? [e.write.split('/').at(-1)] : []))

describe('the flag switch', () => {
  it("a deploy's switch writes live-green, removes live-blue, and reloads nothing", async () => {
    await blueFlagged()
    await deploy(h.ctx)
    expect(withoutBeatLane(h.plan())).toEqual(withoutBeatLane([...BOOT_GREEN, ...DRAIN_BLUE, 'write', 'rm nginx/live-blue', 'rm nginx/log-on', ...HAND_OVER]))
    expect(flagWrites(h)).toEqual(['live-green'])
    expect(h.exec.calls.some((c) => c.argv.join(' ').includes('nginx'))).toBe(false)
    expect([upstreamFileColor(h.config), h.ctx.state.load().live]).toEqual(['green', 'green'])
  })

  it('a rollback after it: live-blue back, no reload', async () => {
    await blueFlagged()
    await deploy(h.ctx)
    h.exec.events.length = 0
    await rollback(h.ctx)
    expect(h.plan().filter((l) => l === 'reload' || l.startsWith('rm nginx/'))).toEqual(['rm nginx/live-green', 'rm nginx/log-on'])
    expect(flagWrites(h)).toEqual(['live-blue'])
    expect([upstreamFileColor(h.config), h.ctx.state.load().live]).toEqual(['blue', 'blue'])
  })

  it("the watch's log is a flag too: on for the watch, off after it, no reload", async () => {
    await blueFlagged({ CALMSWAP_WATCH: '1s' })
    await deploy(h.ctx)
    expect(h.plan()).not.toContain('reload')
    expect(flagWrites(h)).toEqual(['live-green', 'log-on', 'live-green'])
    expect(h.plan()).toContain('rm nginx/log-on')
  })

  it("a canary's weights reload, and so does the plain file after them; then a flag alone again", async () => {
    await blueFlagged()
    const reloads = () => h.plan().filter((l) => l === 'reload').length
    await switchTraffic(h.ctx, 'green', 'blue', { share: 10, log: true })
    expect([reloads(), upstreamFileColor(h.config)]).toEqual([1, 'green'])
    await switchTraffic(h.ctx, 'green', 'blue', { log: false })
    expect(reloads()).toBe(2)
    await switchTraffic(h.ctx, 'blue', null)
    expect([reloads(), upstreamFileColor(h.config)]).toEqual([2, 'blue'])
  })

  it('without the loaded groups (a first start, new ports) it writes the file and reloads first', async () => {
    await blueFlagged()
    rmSync(h.config.proxy.upstreamFile)
    await deploy(h.ctx)
    expect(withoutBeatLane(h.plan()).slice(BOOT_GREEN.length + DRAIN_BLUE.length, BOOT_GREEN.length + DRAIN_BLUE.length + 2)).toEqual(['write', 'reload'])
    expect(flagWrites(h)).toEqual(['live-green'])
  })

  it('calmswap proxy still reloads: its config changed, whatever the upstream file says', async () => {
    await blueFlagged()
    h.ctx.state.recordUpstream({ color: 'blue', port: h.config.ports.blue, backup: null })
    await changeProxy(h.ctx)
    expect(h.plan().filter((l) => l === 'reload')).toEqual(['reload'])
    expect(upstreamFileColor(h.config)).toBe('blue')
  })

  it('the intent is journaled before the flag is written, and cleared with the record', async () => {
    await blueFlagged()
    const seen: unknown[] = []
    const write = h.exec.writeFile
    h.exec.writeFile = async (p, c) => (p === nginxFlags(h.config).live('green') && seen.push(h.ctx.state.load().switching?.color), write(p, c))
    await switchTraffic(h.ctx, 'green', 'blue')
    expect(seen).toEqual(['green'])
    expect(h.ctx.state.load().switching).toBeUndefined()
  })

  it('a power cut after the flag, before the record: status shows the flag apart, recover puts it back with no reload', async () => {
    await blueFlagged()
    h.ctx.state.recordUpstream({ color: 'blue', port: h.config.ports.blue, backup: null })
    writeFileSync(nginxFlags(h.config).live('green'), 'green\n')
    const flag = nginxFlags(h.config).live('green')
    expect((await status(h.ctx)).problems).toContain(`the flag ${flag} sends traffic to green, but the state records blue`)
    const r = await recover(h.ctx)
    expect(r.changes).toEqual([`proxy pointed back at blue (the flag ${flag} sends traffic to green)`])
    expect(h.plan()).toEqual(['write', 'rm nginx/live-green', 'rm nginx/log-on'])
    expect(upstreamFileColor(h.config)).toBe('blue')
  })

  it('a dry run prints the flag, and no reload', async () => {
    await blueFlagged()
    const dry = dryRun(h)
    await deploy(dry.ctx)
    const changes = dry.changes()
    expect(changes).toContain(`write ${nginxFlags(h.config).live('green')}`)
    expect(changes.some((l) => /nginx -s reload/.test(l))).toBe(false)
  })
})
