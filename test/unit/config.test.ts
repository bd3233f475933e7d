import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { SETTINGS } from '../../lib/config.ts'
import { loadConfig, parseDuration } from '../../lib/config-loader.ts'
import { ConfigError } from '../../lib/errors.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-config-'))
writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
const load = (env: Record<string, string> = {}) => loadConfig({ env, cwd: dir })
const problems = (env: Record<string, string>): string[] => {
  try {
    load(env)
    return []
  } catch (e) {
    if (e instanceof ConfigError) return [...e.problems]
    throw e
  }
}

describe('defaults', () => {
  const c = load()
  it('ports match the original script', () => expect(c.ports).toEqual({ blue: 18001, green: 18002 }))
  it('roles', () => expect(c.roles).toEqual({ web: ['web'], core: [], jobs: [], workers: ['worker'], singletons: ['beat'], shared: ['redis', 'proxy'] }))
  it('health: 2s per try, 250ms apart at most (a pause is time the switch may wait after the web is ready)', () =>
    expect([c.health.timeoutMs, c.health.intervalMs, c.health.path]).toEqual([2000, 250, '/health/']))
  it('stop mode with a 30s grace', () => expect([c.pauseMode, c.stopGraceS]).toEqual(['stop', 30]))
  it('upstream file lives in the state dir', () => expect(c.proxy.upstreamFile).toBe(join(dir, '.calmswap', 'nginx', 'upstream.conf')))
  it('is frozen all the way down', () => expect(Object.isFrozen(c.roles.web)).toBe(true))
  it('every setting has an env name and a doc', () => expect(SETTINGS.every((s) => s.env.startsWith('CALMSWAP_') && s.doc.length > 10)).toBe(true))
})

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['30', 30_000],
    ['soon', undefined],
    ['-1s', undefined],
    ['', undefined],
  ])('%s → %s', (text, ms) => expect(parseDuration(text)).toBe(ms))
})

// The table of bad inputs: each row must be refused, naming the variable.
describe('bad input is refused', () => {
  it.each([
    ['CALMSWAP_PREFIX', 'My App'],
    ['CALMSWAP_PREFIX', 'app;rm -rf /'],
    ['CALMSWAP_PREFIX', '$(reboot)'],
    ['CALMSWAP_PREFIX', '-leading-dash'],
    ['CALMSWAP_WEB', 'web`id`'],
    ['CALMSWAP_WORKERS', 'worker,Worker2'],
    ['CALMSWAP_SHARED', 'redis,redis'],
    ['CALMSWAP_BLUE_PORT', '0'],
    ['CALMSWAP_BLUE_PORT', '70000'],
    ['CALMSWAP_GREEN_PORT', '80a'],
    ['CALMSWAP_PORT_VAR', '1PORT'],
    ['CALMSWAP_PORT_VAR', 'WEB PORT'],
    ['CALMSWAP_PAUSE_MODE', 'freeze'],
    ['CALMSWAP_PROXY', 'haproxy'],
    ['CALMSWAP_STOP_GRACE', 'forever'],
    ['CALMSWAP_STOP_GRACE', '2h'],
    ['CALMSWAP_HEALTH_TIMEOUT', '0'],
    ['CALMSWAP_HEALTH_DEADLINE', '3 s'],
    ['CALMSWAP_HEALTH_PATH', 'health/'],
    ['CALMSWAP_HEALTH_HOST', 'exa mple.com'],
    ['CALMSWAP_HEALTH_STATUS', '99'],
    ['CALMSWAP_HEALTH_BODY', '(unclosed'],
    ['CALMSWAP_HEALTH_PASSES', '0'],
    ['CALMSWAP_PROXY_URL', 'ftp://127.0.0.1'],
    ['CALMSWAP_PROXY_URL', 'not a url'],
    ['CALMSWAP_CPU_CALM', '150'],
    ['CALMSWAP_CPU_CALM', 'high'],
    ['CALMSWAP_CPU_WAIT', '1h'],
    ['CALMSWAP_BUILD', 'sometimes'],
    ['CALMSWAP_RELEASE', 'v1; reboot'],
    ['CALMSWAP_LOG_TAIL', '-5'],
    ['CALMSWAP_COMPOSE_FILE', 'missing.yml'],
    ['CALMSWAP_UPSTREAM_TEMPLATE', 'missing.tpl'],
  ])('%s=%j', (name, value) => expect(problems({ [name]: value }).join('\n')).toContain(name))
})

describe('cross-field checks', () => {
  it('same port for both colors', () => expect(problems({ CALMSWAP_BLUE_PORT: '9000', CALMSWAP_GREEN_PORT: '9000' })[0]).toMatch(/each color needs its own port/))
  it('a service with two roles', () => expect(problems({ CALMSWAP_WORKERS: 'web' })[0]).toMatch(/"web" has two roles/))
  it('no web service', () => expect(problems({ CALMSWAP_WEB: '' })[0]).toMatch(/at least one web/))
  it('container proxy must be shared', () => expect(problems({ CALMSWAP_SHARED: 'redis' })[0]).toMatch(/proxy service "proxy" among CALMSWAP_SHARED/))
  it('command proxy needs a command', () => expect(problems({ CALMSWAP_PROXY: 'command' })[0]).toMatch(/needs CALMSWAP_SWITCH_COMMAND/))
  it('try timeout above deadline', () => expect(problems({ CALMSWAP_HEALTH_TIMEOUT: '30s', CALMSWAP_HEALTH_DEADLINE: '10s' })[0]).toMatch(/longer than/))
  it('reports every problem at once', () => expect(problems({ CALMSWAP_PREFIX: 'A B', CALMSWAP_BLUE_PORT: 'x', CALMSWAP_PAUSE_MODE: 'nap' })).toHaveLength(3))
})

describe('config file', () => {
  it('is read, and env wins over it', () => {
    const file = join(dir, 'calmswap.test.json')
    writeFileSync(file, JSON.stringify({ prefix: 'fromfile', workers: ['w1', 'w2'], CALMSWAP_BLUE_PORT: 9001 }))
    const c = loadConfig({ env: { CALMSWAP_BLUE_PORT: '9100' }, cwd: dir, file })
    expect([c.prefix, c.roles.workers, c.ports.blue]).toEqual(['fromfile', ['w1', 'w2'], 9100])
  })
  it('unknown keys are refused', () => {
    const file = join(dir, 'calmswap.bad.json')
    writeFileSync(file, JSON.stringify({ prefx: 'typo' }))
    expect(() => loadConfig({ env: {}, cwd: dir, file })).toThrow(/unknown setting "prefx"/)
  })
  it('broken JSON is a config error', () => {
    const file = join(dir, 'calmswap.broken.json')
    writeFileSync(file, '{ nope')
    expect(() => loadConfig({ env: {}, cwd: dir, file })).toThrow(ConfigError)
  })
})

describe('durations have floors', () => {
  it.each([
    ['CALMSWAP_HEALTH_INTERVAL', '0', 'at least 100ms'],
    ['CALMSWAP_HEALTH_INTERVAL', '10ms', 'at least 100ms'],
    ['CALMSWAP_HEALTH_TIMEOUT', '0', 'at least 100ms'],
    ['CALMSWAP_HEALTH_DEADLINE', '500ms', 'at least 1s'],
    ['CALMSWAP_STOP_GRACE', '0', 'at least 1s'],
    ['CALMSWAP_SWITCH_TIMEOUT', '0', 'at least 1s'],
  ])('%s=%s is refused: %s', (name, value, why) => expect(problems({ [name]: value }).join('\n')).toContain(why))
  it('the calm wait may be 0', () => expect(load({ CALMSWAP_CPU_WAIT: '0' }).calm.waitMs).toBe(0))
})

describe('a misspelled variable is not ignored', () => {
  it('names the nearest setting', () =>
    expect(problems({ CALMSWAP_HEALTH_PAHT: '/x' })).toEqual(['unknown setting "CALMSWAP_HEALTH_PAHT"; did you mean CALMSWAP_HEALTH_PATH? (`--help` lists every setting)']))
  it('far from any: no guess', () => expect(problems({ CALMSWAP_FROBNICATE: '1' })[0]).toBe('unknown setting "CALMSWAP_FROBNICATE" (`--help` lists every setting)'))
  it('variables calmswap hands to others are not settings, nor typos', () =>
    expect(problems({ CALMSWAP_UPSTREAM_DIR: '/x', CALMSWAP_COLOR: 'blue', CALMSWAP_BASE_IMAGE: 'x' })).toEqual([]))
  it('other prefixes are none of its business', () => expect(problems({ CALMSWAPX: '1', MY_CALMSWAP_THING: '2' })).toEqual([]))
})

describe('the config file is typed', () => {
  const fileProblems = (content: unknown): string[] => {
    const file = join(dir, `typed-${Math.random().toString(36).slice(2)}.json`)
    writeFileSync(file, JSON.stringify(content))
    try {
      loadConfig({ env: {}, cwd: dir, file })
      return []
    } catch (e) {
      if (e instanceof ConfigError) return [...e.problems]
      throw e
    }
  }
  const fromFile = (content: unknown) => {
    const file = join(dir, `typed-${Math.random().toString(36).slice(2)}.json`)
    writeFileSync(file, JSON.stringify(content))
    return loadConfig({ env: {}, cwd: dir, file })
  }
  it('null is refused, not read as "null"', () => expect(fileProblems({ stateDir: null })[0]).toMatch(/"stateDir" must be a string, not null/))
  it('an object is refused, not read as [object Object]', () => expect(fileProblems({ prefix: { a: 1 } })[0]).toMatch(/"prefix" must be a string, not an object/))
  it('a boolean is refused', () => expect(fileProblems({ web: true })[0]).toMatch(/"web" must be an array of strings or a string, not boolean/))
  it('a number where a number is meant', () => expect(fromFile({ bluePort: 9001, stopGrace: 45 })).toMatchObject({ ports: { blue: 9001 }, stopGraceS: 45 }))
  it('a number where a name is meant is refused', () => expect(fileProblems({ prefix: 12 })[0]).toMatch(/must be a string, not number/))
  it('an array of names', () => expect(fromFile({ workers: ['w1', 'w2'] }).roles.workers).toEqual(['w1', 'w2']))
  it('a list holding a non-string is refused', () => expect(fileProblems({ workers: ['w1', 2] })[0]).toMatch(/must be an array of strings/))
  it('a switch command array is argv as written: spaces and commas kept', () =>
    expect(fromFile({ proxy: 'command', switchCommand: ['/usr/local/bin/flip', '--label', 'a b,c'] }).proxy.command).toEqual(['/usr/local/bin/flip', '--label', 'a b,c']))
  it('a file key that is a typo names the setting', () => expect(fileProblems({ healthPaht: '/x' })[0]).toMatch(/unknown setting "healthPaht"; did you mean healthPath\?/))
})
