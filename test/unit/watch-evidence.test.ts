// The watch's evidence at low traffic and against a baseline: its own probes counted apart,
// the old color's share as the line when it is higher than the limit, and a window that ends
// early once its verdict is certain. Simulated windows judged request by request, as the
// watch judges every second, with a seeded generator.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { assess, type Baseline, judge, type Limits, lastWatchOf, wilsonLower, wilsonUpper } from '../../lib/compose/watch.ts'
import { isProbe, probeToken, probeUrl } from '../../lib/compose/watch-probes.ts'
import { loadConfig } from '../../lib/config-loader.ts'
import type { HistoryEntry } from '../../lib/history.ts'

const limits: Limits = { max5xxPct: 5, minRequests: 20 }
const rng = (seed: number) => () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
  return seed / 2 ** 31
}

/** The first request at which a release failing `p` is judged bad, or good, or neither in `n`. */
function firstVerdict(p: number, n: number, r: () => number, l: Limits, baseline?: Baseline): { bad?: number; good?: number } {
  let errors = 0
  for (let i = 1; i <= n; i++) {
    if (r() < p) errors++
    const j = judge({ requests: i, errors }, l, baseline)
    if (j.bad) return { bad: i }
    if (j.good) return { good: i }
  }
  return {}
}
const windows = (k: number, f: () => { bad?: number; good?: number }) => Array.from({ length: k }, f)

describe('Wilson upper bound', () => {
  it('0 of n: under 5% from 127 requests on, not before', () => {
    expect(wilsonUpper(0, 127)).toBeLessThan(0.05)
    expect(wilsonUpper(0, 126)).toBeGreaterThan(0.05)
  })
  it('mirrors the lower bound', () => expect(wilsonUpper(3, 40)).toBeCloseTo(1 - wilsonLower(37, 40), 12))
  it('nothing seen: anything is possible', () => expect(wilsonUpper(0, 0)).toBe(1))
})

describe('against the old color (a baseline from the same log)', () => {
  const strict: Limits = { max5xxPct: 1, minRequests: 20 }
  // Yesterday's release: 2% of its requests answered 5xx.
  const old: Baseline = { color: 'blue', requests: 1200, errors: 24 }
  it('a release that keeps the old 2% under a 1% limit: at most 1 window in 100 rolled back', () => {
    const r = rng(11)
    expect(windows(1000, () => firstVerdict(0.02, 2400, r, strict, old)).filter((x) => x.bad).length).toBeLessThanOrEqual(10)
  })
  it('the same release judged on the limit alone is rolled back nearly every time', () => {
    const r = rng(11)
    expect(windows(1000, () => firstVerdict(0.02, 2400, r, strict)).filter((x) => x.bad).length).toBeGreaterThan(950)
  })
  it('a release 2.5 times worse than the old one: caught in every window', () => {
    const r = rng(2)
    expect(windows(1000, () => firstVerdict(0.05, 2400, r, strict, old)).every((x) => x.bad)).toBe(true)
  })
  it('a baseline with fewer requests than the minimum is not used', () =>
    expect(judge({ requests: 100, errors: 30 }, limits, { color: 'blue', requests: 10, errors: 5 })).toMatchObject({ bad: true, linePct: 5 }))
  it('an old share under the limit does not lower the line', () => expect(judge({ requests: 100, errors: 0 }, limits, { color: 'blue', requests: 500, errors: 0 }).linePct).toBe(5))
  it('the old share that raised the line is in the reason', () =>
    expect(assess({ requests: 300, errors: 60 }, { requests: 0, errors: 0 }, strict, { real: old }).bad).toBe(
      "60 of 300 requests (20%) answered 5xx, above the 1% limit and blue's share before it (24 of 1200 requests, at most 3.3%), 99% sure it is at least 15%",
    ))
})

describe('a window that ends early', () => {
  it('a clean release: certain at 127 requests', () => expect(firstVerdict(0, 2400, rng(1), limits)).toEqual({ good: 127 }))
  it('a good release with a 1% baseline: certain in every one of 1000 windows, within 600 requests', () => {
    const r = rng(1)
    const at = windows(1000, () => firstVerdict(0.01, 2400, r, limits))
    expect(at.every((x) => x.good !== undefined)).toBe(true)
    expect(Math.max(...at.map((x) => x.good!))).toBeLessThanOrEqual(600)
  })
  it('a release at the limit is never ended early as good', () => {
    const r = rng(4)
    expect(windows(1000, () => firstVerdict(0.05, 2400, r, limits)).filter((x) => x.good).length).toBe(0)
  })
  it('a release failing 20% is never judged good first', () => {
    const r = rng(3)
    expect(windows(1000, () => firstVerdict(0.2, 2400, r, limits)).every((x) => x.bad !== undefined)).toBe(true)
  })
})

describe('real requests and the watch’s own, judged apart', () => {
  const none = { requests: 0, errors: 0 }
  it('no real traffic, every probe answers 500: bad on the probes alone, at the minimum', () => {
    expect(assess(none, { requests: 19, errors: 19 }, limits).bad).toBeNull()
    expect(assess(none, { requests: 20, errors: 20 }, limits).bad).toBe(
      "20 of 20 of the watch's own requests (100%) answered 5xx, above the 5% limit (99% sure it is at least 75%)",
    )
  })
  it('probes that pass do not dilute real failures', () => {
    // Together 30 of 230 would be 13% with a lower bound near 8%; real alone is far worse.
    expect(assess({ requests: 30, errors: 30 }, { requests: 200, errors: 0 }, limits).bad).toMatch(/^30 of 30 requests/)
  })
  it('enough probes make the verdict at no real traffic', () => expect(assess(none, { requests: 20, errors: 0 }, limits)).toMatchObject({ judged: true, bad: null, good: false }))
  it('certain good on one side needs no 5xx on the other', () => {
    expect(assess({ requests: 300, errors: 0 }, { requests: 10, errors: 0 }, limits).good).toBe(true)
    expect(assess({ requests: 300, errors: 0 }, { requests: 10, errors: 1 }, limits).good).toBe(false)
    expect(assess({ requests: 3, errors: 1 }, { requests: 200, errors: 0 }, limits).good).toBe(false)
  })
})

describe('the probe marker', () => {
  const token = probeToken()
  it('is found back in the URI nginx logs', () => {
    const u = new URL(probeUrl('http://127.0.0.1:8080', '/shop/?page=2', token))
    expect(isProbe(u.pathname + u.search, token)).toBe(true)
    expect(u.searchParams.get('page')).toBe('2')
  })
  it('another token, or none, is real traffic', () => {
    expect(isProbe(`/?calmswap-probe=${probeToken()}`, token)).toBe(false)
    expect(isProbe('/?calmswap-probe=', token)).toBe(false)
    expect(isProbe('/calmswap-probe', token)).toBe(false)
  })
  it('a token per watch', () => expect(probeToken()).not.toBe(token))
})

describe('probe paths in the config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'calmswap-probe-'))
  writeFileSync(join(dir, 'compose.yml'), 'services: {}\n')
  const load = (env: Record<string, string>) => loadConfig({ cwd: dir, env })
  it('the root by default, once a second', () => expect(load({}).watch.probe).toEqual({ paths: ['/'], everyMs: 1000 }))
  it('a list', () => expect(load({ CALMSWAP_WATCH_PROBE: '/, /shop/?q=1' }).watch.probe.paths).toEqual(['/', '/shop/?q=1']))
  it('empty: none', () => expect(load({ CALMSWAP_WATCH_PROBE: '' }).watch.probe.paths).toEqual([]))
  it('the default root is left out when it is the health path', () => expect(load({ CALMSWAP_HEALTH_PATH: '/' }).watch.probe.paths).toEqual([]))
  it.each(['/health/', '/health/?x=1', '/x/../health/', '/a/,//health/'])('%s names the health path: refused', (p) =>
    expect(() => load({ CALMSWAP_WATCH_PROBE: p })).toThrow(/CALMSWAP_WATCH_PROBE names the health path \/health\//),
  )
  it.each(['shop', '/a b', '/#x'])('%s is not a path', (p) => expect(() => load({ CALMSWAP_WATCH_PROBE: p })).toThrow(/CALMSWAP_WATCH_PROBE/))
})

describe("the old color's baseline from history", () => {
  const entry = (to: 'blue' | 'green', result: HistoryEntry['result'], requests: number, errors: number): HistoryEntry =>
    ({
      op: 'deploy',
      to,
      result,
      watch: [{ phase: 'watch', color: to, counts: { blue: { requests, errors }, green: { requests, errors } } }],
    }) as unknown as HistoryEntry
  it('its last kept watch', () =>
    expect(lastWatchOf([entry('blue', 'ok', 10, 1), entry('green', 'ok', 5, 0), entry('blue', 'ok', 300, 6)], 'blue')).toEqual({ color: 'blue', requests: 300, errors: 6 }))
  it('not a release that was rolled back', () =>
    expect(lastWatchOf([entry('blue', 'ok', 300, 6), entry('blue', 'rolled-back', 50, 40)], 'blue')).toEqual({ color: 'blue', requests: 300, errors: 6 }))
  it('none', () => expect(lastWatchOf([], 'blue')).toBeNull())
})
