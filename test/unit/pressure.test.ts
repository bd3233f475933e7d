import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type Pressure, parsePsi, samplePressure, waitForCalm } from '../../lib/pressure.ts'

const psi = async (v: number): Promise<Pressure> => ({ source: 'loadavg', value: v })

describe('PSI', () => {
  it('parses some avg10 and total', () =>
    expect(parsePsi('some avg10=12.50 avg60=3.00 avg300=1.00 total=12345\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n')).toEqual({ avg10: 12.5, total: 12345 }))
  it('rejects other text', () => expect(parsePsi('cpu 1 2 3')).toBeNull())
})

describe('waitForCalm', () => {
  it('goes at once when calm', async () => expect((await waitForCalm({ threshold: 50, waitMs: 1000, read: () => psi(10) })).waitedMs).toBeLessThan(50))
  it('waits until pressure falls', async () => {
    const values = [90, 80, 30]
    const r = await waitForCalm({ threshold: 50, waitMs: 5000, pollMs: 5, read: () => psi(values.shift() ?? 30) })
    expect([r.calm, r.last.value]).toEqual([true, 30])
  })
  it('never waits past its deadline', async () => {
    const r = await waitForCalm({ threshold: 50, waitMs: 60, pollMs: 10, read: () => psi(99) })
    expect(r.calm).toBe(false)
  })
  it('threshold 0 turns it off', async () => expect((await waitForCalm({ threshold: 0, waitMs: 1000, read: () => psi(100) })).calm).toBe(true))
  it('measures PSI over a short window, not the lagging avg10', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'calmswap-psi-'))
    const file = join(dir, 'cpu')
    writeFileSync(file, 'some avg10=95.00 avg60=50.00 avg300=10.00 total=1000000\n')
    // The counter does not grow during the window: the CPU is calm now, whatever avg10 says.
    const p = await samplePressure(50, file)
    expect([p.source, p.value]).toEqual(['psi', 0])
  })
  it('sees stall that grows during the window', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'calmswap-psi-'))
    const file = join(dir, 'cpu')
    writeFileSync(file, 'some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n')
    setTimeout(() => writeFileSync(file, 'some avg10=0.00 avg60=0.00 avg300=0.00 total=100000\n'), 10)
    const p = await samplePressure(200, file)
    expect(p.value).toBeGreaterThan(20)
  })
})
