import { describe, expect, it } from 'vitest'
import type { Sample } from '../../bench/load.ts'
import { latency, pooled, slowest } from '../../bench/metrics.ts'

const req = (t: number, ms: number, status = 200): Sample => ({ t, ms, status })
const steps = [
  { name: 'health', start: 1000, end: 2000 },
  { name: 'switch', start: 2000, end: 2200 },
]

describe('bench figures', () => {
  it('p99 is the nearest rank: of 200 requests, the third slowest', () =>
    expect(latency([...Array.from({ length: 197 }, (_, i) => req(i, 1)), req(0, 9), req(1, 20), req(2, 30)], 0, 1e9).p99).toBe(9))
  it('the slowest requests, slowest first, each with the step it was sent in', () =>
    expect(slowest([req(1500, 5), req(2100, 21), req(900, 30), req(2150, 7), req(2500, 8)], 1000, 3000, steps, 3)).toEqual([
      { atS: 1.1, ms: 21, step: 'switch' },
      { atS: 1.5, ms: 8, step: 'between steps' },
      { atS: 1.15, ms: 7, step: 'switch' },
    ]))
  it('a failed request counts as the p99 counts it, by the time it took', () =>
    expect(slowest([req(1500, 50, 502), req(1600, 4)], 1000, 3000, steps, 1)).toEqual([{ atS: 0.5, ms: 50, step: 'health' }]))
  it('pooled: each run windowed on its own clock, then one p99 of them all', () => {
    const run = (slow: number) => ({
      requests: [{ t: -5, ms: 50 }, ...Array.from({ length: 99 }, (_, i) => ({ t: -4 + i / 100, ms: 1 })), { t: 1, ms: slow }, { t: 2, ms: 2 }, { t: 9, ms: 70 }],
      steadyS: [-4, 0] as const,
      doneS: 5,
    })
    const p = pooled([run(30), run(3)])
    expect([p.steady.n, p.steady.max, p.deploy.n, p.deploy.p99, p.deploy.max]).toEqual([198, 1, 4, 30, 30])
  })
})
