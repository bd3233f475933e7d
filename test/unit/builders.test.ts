import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import * as dc from '../../lib/builders/index.ts'
import { render } from '../../lib/command.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import { proxyCommands } from '../../lib/proxy/index.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-compose-'))
const file = join(dir, 'compose.yml')
writeFileSync(file, 'services: {}\n')
const c = loadConfig({ env: { CALMSWAP_PREFIX: 'shop', CALMSWAP_STOP_GRACE: '45s' }, cwd: dir })
const head = (p: string) => ['docker', 'compose', '-p', p, '-f', file]

describe('argv builders', () => {
  it('colored up: --no-deps, fresh containers, no build', () =>
    expect(dc.up(c, 'green', ['web']).argv).toEqual([...head('shop-green'), 'up', '-d', '--no-deps', '--force-recreate', '--no-build', 'web']))
  it('shared up never recreates what runs', () =>
    expect(dc.up(c, 'shared', ['redis', 'proxy']).argv).toEqual([...head('shop-shared'), 'up', '-d', '--no-recreate', '--wait', 'redis', 'proxy']))
  it('stop passes the grace period', () => expect(dc.stop(c, 'blue', ['worker', 'beat']).argv).toEqual([...head('shop-blue'), 'stop', '-t', '45', 'worker', 'beat']))
  it('pause by container', () => expect(dc.pauseContainers(c, ['shop-blue-worker-1']).argv).toEqual(['docker', 'pause', 'shop-blue-worker-1']))
  it('signal by container, no project load', () => expect(dc.kill(c, ['a', 'b']).argv).toEqual(['docker', 'kill', '--signal', 'SIGTERM', 'a', 'b']))
  it('SIGKILL', () => expect(dc.kill(c, ['a'], 'SIGKILL').argv).toEqual(['docker', 'kill', '--signal', 'SIGKILL', 'a']))
  it('unpause by container', () => expect(dc.unpauseContainers(c, ['shop-blue-worker-1']).argv).toEqual(['docker', 'unpause', 'shop-blue-worker-1']))
  it('start', () => expect(dc.start(c, 'blue', ['worker']).argv.slice(-2)).toEqual(['start', 'worker']))
  it('down keeps volumes', () => expect(dc.down(c, 'blue').argv).toEqual([...head('shop-blue'), 'down', '-t', '45', '--remove-orphans']))
  it('build', () => expect(dc.build(c, 'green', ['web', 'worker']).argv.slice(-3)).toEqual(['build', 'web', 'worker']))
  it('config is read-only', () => expect(dc.composeConfig(c).mutates).toBe(false))
  it('up mutates', () => expect(dc.up(c, 'blue', ['web']).mutates).toBe(true))
  it('logs', () => expect(dc.logs(c, 'green', ['web'], 5).argv.slice(-6)).toEqual(['logs', '--no-color', '--timestamps', '--tail', '5', 'web']))
  it('exec in the proxy', () => expect(dc.dockerExec(c, 'shop-shared-proxy-1', ['nginx', '-t'], false).argv).toEqual(['docker', 'exec', 'shop-shared-proxy-1', 'nginx', '-t']))
  it('inventory is one docker ps', () => expect(dc.listContainers(c).argv.slice(0, 3)).toEqual(['docker', 'ps', '-a']))
  it('CALMSWAP_DOCKER replaces the binary', () => {
    const c2 = loadConfig({ env: { CALMSWAP_DOCKER: '/opt/bin/docker' }, cwd: dir })
    expect(dc.stop(c2, 'blue', ['worker']).argv[0]).toBe('/opt/bin/docker')
  })
})

describe('compose env', () => {
  it('a color gets its port and name', () => expect(dc.composeEnv(c, 'green')).toMatchObject({ DEPLOY_COLOR: 'green', WEB_PORT: '18002', CALMSWAP_PREFIX: 'shop' }))
  it('shared gets no color', () => expect(dc.composeEnv(c, 'shared')).not.toHaveProperty('DEPLOY_COLOR'))
  it('the port variable is configurable', () => {
    const c2 = loadConfig({ env: { CALMSWAP_PORT_VAR: 'APP_PORT' }, cwd: dir })
    expect(dc.composeEnv(c2, 'blue')).toMatchObject({ APP_PORT: '18001' })
  })
  it('the upstream dir is the state dir', () => expect(dc.composeEnv(c, 'shared').CALMSWAP_UPSTREAM_DIR).toBe(join(dir, '.calmswap', 'nginx')))
})

describe('render', () => {
  it('quotes what a shell would split', () => expect(render({ argv: ['docker', 'ps', '--format', '{{.ID}} x'] })).toBe("docker ps --format '{{.ID}} x'"))
  it('shows env first', () => expect(render({ argv: ['docker'], env: { A: '1' } })).toBe('A=1 docker'))
  it('escapes single quotes', () => expect(render({ argv: ["it's"] })).toBe(`'it'\\''s'`))
})

describe('every command is data with a deadline', () => {
  const all = [
    dc.composeConfig(c),
    dc.up(c, 'blue', ['web']),
    dc.create(c, 'blue', ['worker']),
    dc.build(c, 'blue', ['web']),
    dc.stop(c, 'blue', ['worker']),
    dc.start(c, 'blue', ['worker']),
    dc.down(c, 'blue'),
    dc.logs(c, 'blue', ['web']),
    dc.startContainers(c, ['a']),
    dc.kill(c, ['a']),
    dc.pauseContainers(c, ['a']),
    dc.unpauseContainers(c, ['a']),
    dc.waitExit(c, ['a'], 5000),
    dc.listContainers(c),
    dc.dockerVersion(c),
    dc.healthStatus(c, 'a'),
    dc.imageIds(c, ['a']),
    dc.containerCpu(c, ['a']),
    dc.dockerExec(c, 'p', ['nginx', '-t'], false),
    dc.gitRevision(dir),
  ]
  it.each(all.map((x) => [x.argv.slice(0, 3).join(' '), x]))('%s', (_, x) => {
    expect(x.timeoutMs).toBeGreaterThan(0)
    expect(JSON.parse(JSON.stringify(x))).toEqual(x)
  })
  it('a change says what it does to the host', () => expect(dc.pauseContainers(c, ['a']).effect).toEqual({ on: 'containers', names: ['a'], to: 'paused' }))
  it('SIGTERM asks, SIGKILL ends', () => expect([dc.kill(c, ['a']).effect, dc.kill(c, ['a'], 'SIGKILL').effect?.to]).toEqual([undefined, 'exited']))
  it('the switch command has its own deadline', () => {
    const c2 = loadConfig({ env: { CALMSWAP_PROXY: 'command', CALMSWAP_SWITCH_COMMAND: '/bin/flip', CALMSWAP_SWITCH_TIMEOUT: '7s' }, cwd: dir })
    expect(proxyCommands(c2, 'blue', undefined)!.reload.timeoutMs).toBe(7000)
  })
})
