import { describe, expect, test } from 'vitest'
import { anySignalFallback } from '../../lib/deadlines.ts'
import { nodeProblem } from '../../lib/main.ts'

describe('nodeProblem: the one line a too-old Node gets', () => {
  // Debian 12's and Raspberry Pi OS's nodejs (18.19 at release, 18.20 since) runs it.
  test.each(['18.19.0', 'v18.19.0', '18.20.4', '20.18.0', '20.19.0', '22.0.0'])('%s runs calmswap', (v) => expect(nodeProblem(v)).toBeNull())
  test.each(['18.18.2', '17.9.1', 'v16.20.2', 'v12.22.12'])('%s is refused, saying what to install', (v) => {
    expect(nodeProblem(v)).toBe(`calmswap needs Node.js 18.19.0 or newer, this is ${v}: sudo apt install nodejs npm (Debian 12 / Raspberry Pi OS), or nodejs.org, and run again`)
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
