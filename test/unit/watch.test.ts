// The watch's pure parts: the proxy log's lines, the tally by color, the verdict, the
// container events, and a log read from an offset while it is emptied and replaced.
import { appendFileSync, mkdtempSync, renameSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { formatWatch } from '../../lib/compose/status.ts'
import { containerTrouble, countRequest, describeErrors, emptyTally, judge, LogTail, parseNginxLine, wilsonLower } from '../../lib/compose/watch.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import type { Journal } from '../../lib/state.ts'
import { workersSignalled } from '../../lib/state.ts'

const dir = mkdtempSync(join(tmpdir(), 'calmswap-watch-'))
writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
const cfg = loadConfig({ env: {}, cwd: dir })
const line = (o: Record<string, unknown>) => JSON.stringify({ msec: 1.5, status: 200, upstream_addr: '127.0.0.1:18002', upstream_status: '200', request_uri: '/', ...o })
const limits = { max5xxPct: 5, minRequests: 20 }

describe('a proxy log line', () => {
  it('one try', () => expect(parseNginxLine(line({}))).toEqual({ status: 200, uri: '/', tries: [{ port: 18002, status: 200 }] }))
  it('a retry on the backup', () =>
    expect(parseNginxLine(line({ upstream_addr: '127.0.0.1:18002, 127.0.0.1:18001', upstream_status: '502, 200' }))?.tries).toEqual([
      { port: 18002, status: 502 },
      { port: 18001, status: 200 },
    ]))
  it('an internal redirect', () => expect(parseNginxLine(line({ upstream_addr: '127.0.0.1:18002 : 127.0.0.1:18001', upstream_status: '200 : 500' }))?.tries.length).toBe(2))
  it('without $upstream_status, the last try has the client status and earlier ones a 502', () =>
    expect(parseNginxLine(line({ status: 500, upstream_addr: '127.0.0.1:18002, 127.0.0.1:18001', upstream_status: undefined }))?.tries).toEqual([
      { port: 18002, status: 502 },
      { port: 18001, status: 500 },
    ]))
  it('no upstream at all', () => expect(parseNginxLine(line({ status: 499, upstream_addr: '', upstream_status: '' }))?.tries).toEqual([]))
  it.each(['', 'not json', '[]', '{"status":"x"}', 'null'])('%j is no record', (l) => expect(parseNginxLine(l)).toBeNull())
})

describe('the tally by color', () => {
  const tally = (...lines: string[]) => {
    const t = emptyTally()
    for (const l of lines) countRequest(t, parseNginxLine(l)!, cfg)
    return t
  }
  it('counts tries and answers per color', () =>
    expect(tally(line({}), line({ status: 500, upstream_status: '500' }), line({ upstream_addr: '127.0.0.1:18001' }))).toEqual({
      green: { requests: 2, errors: 1, answered: 2, failed: 1 },
      blue: { requests: 1, errors: 0, answered: 1, failed: 0 },
    }))
  it('a try the backup saved still counts against the new color', () =>
    expect(tally(line({ upstream_addr: '127.0.0.1:18002, 127.0.0.1:18001', upstream_status: '502, 200' }))).toEqual({
      green: { requests: 1, errors: 1, answered: 0, failed: 0 },
      blue: { requests: 1, errors: 0, answered: 1, failed: 0 },
    }))
  it('leaves out the health path', () => expect(tally(line({ request_uri: '/health/', status: 500 })).green.requests).toBe(0))
  it('leaves out other ports', () => expect(tally(line({ upstream_addr: '10.0.0.1:80' }))).toEqual(emptyTally()))
})

describe('the verdict', () => {
  it('Wilson: 0 of n is 0', () => expect(wilsonLower(0, 100)).toBe(0))
  it('Wilson: n of n is below 1', () => expect(wilsonLower(20, 20)).toBeCloseTo(0.751, 3))
  it('Wilson at 95%', () => expect(wilsonLower(20, 20, 1.96)).toBeCloseTo(0.839, 3))
  it('Wilson: nothing seen', () => expect(wilsonLower(0, 0)).toBe(0))
  it.each([
    // requests, errors, bad
    [19, 19, false], // not judged yet
    [20, 0, false],
    [20, 3, false], // 15%, but could be noise
    [20, 4, true], // 20%: at least 5.6%
    [50, 6, false],
    [50, 7, true],
    [100, 10, false],
    [100, 11, true],
    [1000, 45, false], // 4.5%: below the limit however many
    [1000, 68, true],
  ])('%i requests, %i 5xx → bad: %s', (requests, errors, bad) => expect(judge({ requests, errors }, limits).bad).toBe(bad))
  it('a limit of 0: any 5xx', () => expect(judge({ requests: 20, errors: 1 }, { max5xxPct: 0, minRequests: 20 }).bad).toBe(true))
  it('a limit of 100: never', () => expect(judge({ requests: 20, errors: 20 }, { max5xxPct: 100, minRequests: 20 }).bad).toBe(false))
  it('says why with the numbers', () =>
    expect(describeErrors({ requests: 40, errors: 12 }, limits)).toBe('12 of 40 requests (30%) answered 5xx, above the 5% limit (99% sure it is at least 15%)'))
})

// Noise and faults, judged request by request as the watch does (it judges every second,
// so every prefix of the stream counts): repetition, with a seeded generator.
describe('judged request by request, many times', () => {
  const rng = (seed: number) => () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    return seed / 2 ** 31
  }
  /** The request at which a release failing `p` of its requests is first judged bad, or null. */
  const firstBad = (p: number, n: number, r: () => number): number | null => {
    let errors = 0
    for (let i = 1; i <= n; i++) {
      if (r() < p) errors++
      if (judge({ requests: i, errors }, limits).bad) return i
    }
    return null
  }
  // 2400 requests: a 2-minute watch at 20 requests a second.
  it('a good release with a 1% 5xx baseline, 1000 windows: never rolled back', () => {
    const r = rng(1)
    expect(Array.from({ length: 1000 }, () => firstBad(0.01, 2400, r)).filter((x) => x !== null)).toEqual([])
  })
  it('with a 2% baseline (less than half the limit): at most 1 window in 100', () => {
    const r = rng(4)
    expect(Array.from({ length: 1000 }, () => firstBad(0.02, 2400, r)).filter((x) => x !== null).length).toBeLessThanOrEqual(10)
  })
  it('a release failing 20%: caught in every one of 1000 windows, within 120 requests', () => {
    const r = rng(2)
    const at = Array.from({ length: 1000 }, () => firstBad(0.2, 2400, r))
    expect(at.every((x) => x !== null)).toBe(true)
    expect(Math.max(...(at as number[]))).toBeLessThanOrEqual(120)
  })
  it('a release failing 100%: caught at the minimum number of requests', () => expect(firstBad(1, 100, rng(3))).toBe(20))
})

describe('container events', () => {
  const ev = (Action: string, attrs: Record<string, string> = {}) =>
    JSON.stringify({ Type: 'container', Action, Actor: { Attributes: { 'com.docker.compose.service': 'worker', name: 'app-green-worker-1', ...attrs } } })
  const watched = ['web', 'worker', 'beat']
  it('a die, with its exit code', () => expect(containerTrouble(ev('die', { exitCode: '137' }), watched)).toBe('app-green-worker-1 exited (code 137)'))
  it('an OOM kill', () => expect(containerTrouble(ev('oom'), watched)).toMatch(/OOM/))
  it('unhealthy', () => expect(containerTrouble(ev('health_status: unhealthy'), watched)).toMatch(/unhealthy/))
  it.each(['start', 'create', 'health_status: healthy', 'exec_start: sh'])('%s is fine', (a) => expect(containerTrouble(ev(a), watched)).toBeNull())
  it('a service not watched (a one-off job)', () => expect(containerTrouble(ev('die', { 'com.docker.compose.service': 'migrations' }), watched)).toBeNull())
  it('not an event', () => expect(containerTrouble('{"message":"bad filter"}', watched)).toBeNull())
})

describe('the log, read from an offset', () => {
  const file = join(dir, 'access.jsonl')
  it('only what was added, whole lines, through truncation and replacement', () => {
    writeFileSync(file, 'old\n')
    const fromEnd = new LogTail(file, false)
    const fromStart = new LogTail(file, true)
    expect(fromStart.read()).toEqual(['old'])
    appendFileSync(file, 'a\nb')
    expect(fromEnd.read()).toEqual(['a'])
    appendFileSync(file, 'c\n')
    expect(fromEnd.read()).toEqual(['bc'])
    expect(fromEnd.read()).toEqual([])
    truncateSync(file, 0)
    appendFileSync(file, 'd\n')
    expect(fromEnd.read()).toEqual(['d'])
    appendFileSync(file, 'e\n')
    renameSync(file, `${file}.1`)
    writeFileSync(file, 'f\n')
    expect(fromEnd.read()).toEqual(['e', 'f'])
    fromEnd.close()
    fromStart.close()
  })
  it('a file that appears later is read from its start', () => {
    const later = join(dir, 'later.jsonl')
    const t = new LogTail(later, false)
    expect(t.found).toBe(false)
    expect(t.read()).toEqual([])
    writeFileSync(later, 'x\n')
    expect(t.read()).toEqual(['x'])
    expect(t.found).toBe(true)
    t.close()
  })
})

describe('the journal', () => {
  const j = (o: Partial<Journal>): Journal => ({ op: 'deploy', from: 'blue', to: 'green', release: 'r', startedAt: 't', pid: 1, done: ['pause-workers'], ...o })
  it('after pause-workers the old workers may be stopping', () => expect(workersSignalled(j({}))).toBe(true))
  it('resumed for a canary, they are not', () => expect(workersSignalled(j({ resumedAt: 't' }))).toBe(false))
  it('signalled again at promotion, they are', () => expect(workersSignalled(j({ resumedAt: 't', signalledAt: 't2' }))).toBe(true))
})

describe('status', () => {
  it('shows a watch in progress', () =>
    expect(
      formatWatch(
        { phase: 'canary 10%', color: 'green', since: '2026-01-01T00:00:00Z', until: '2026-01-01T00:01:00Z', requests: 120, errors: 2 },
        Date.parse('2026-01-01T00:00:26Z'),
      ),
    ).toBe('green (canary 10%): 34s of 60s left, 120 requests, 2 5xx (1.7%) so far'))
})
