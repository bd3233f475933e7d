import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { sha256Hex } from '../../lib/sha256.ts'

describe('sha256Hex', () => {
  // The lock's address is this hash of the state folder: it must stay what node:crypto gave,
  // or a calmswap before this change and one after it would not exclude each other.
  it.each(['', 'abc', '/var/lib/calmswap/.calmswap', 'ü'.repeat(40), 'x'.repeat(55), 'x'.repeat(56), 'x'.repeat(64), 'y'.repeat(1000)])('matches node:crypto for %j', (s) =>
    expect(sha256Hex(s)).toBe(createHash('sha256').update(s).digest('hex')),
  )
})
