import { describe, expect, test } from 'vitest'
import { anySignalFallback } from '../../lib/deadlines.ts'
import { nodeProblem } from '../../lib/main.ts'

describe('nodeProblem: the one line a too-old Node gets', () => {
  test.each(['20.18.1', 'v20.18.1', '20.19.0', '21.0.0', '22.0.0'])('%s runs calmswap', (v) => expect(nodeProblem(v)).toBeNull())
  test.each(['20.18.0', '18.20.4', '18.19.0', 'v12.22.12'])('%s is refused, saying what to install', (v) => {
    expect(nodeProblem(v)).toBe(`calmswap needs Node.js 20.18.1 or newer, this is ${v}: install it (Debian 12 / Raspberry Pi OS ship 18: nodejs.org or NodeSource) and run again`)
  })
})

describe("anySignal's fallback (Node 18 has no AbortSignal.any)", () => {
  test('aborts with the reason of the first signal that aborts, and only then', () => {
    const a = new AbortController()
    const b = new AbortController()
    const any = anySignalFallback([a.signal, b.signal])
    expect(any.aborted).toBe(false)
    b.abort('second')
    expect(any.aborted).toBe(true)
    expect(any.reason).toBe('second')
    a.abort('first')
    expect(any.reason).toBe('second')
  })

  test('a signal already aborted gives an aborted signal with its reason', () => {
    const a = new AbortController()
    a.abort('gone')
    const any = anySignalFallback([new AbortController().signal, a.signal])
    expect(any.aborted).toBe(true)
    expect(any.reason).toBe('gone')
  })
})
