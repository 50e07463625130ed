import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { crc32c } from '../../src/transport/crc32c.ts'

const ascii = (text: string): Uint8Array => new TextEncoder().encode(text)

/** The byte-at-a-time definition, to check the slicing-by-8 version against. */
function naiveCrc32c(bytes: Uint8Array): number {
  let crc = 0xffff_ffff
  for (const byte of bytes) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f6_3b78 : crc >>> 1
  }
  return ~crc >>> 0
}

describe('crc32c', () => {
  it('matches the published check value and the RFC 3720 vectors', () => {
    expect(crc32c(ascii('123456789'))).toBe(0xe306_9283)
    expect(crc32c(new Uint8Array(0))).toBe(0)
    expect(crc32c(new Uint8Array(32))).toBe(0x8a91_36aa)
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8_ab43)
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd_794e)
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113f_db5c)
  })

  it('agrees with the bitwise definition and continues across pieces', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (bytes, cut) => {
        const split = Math.min(cut, bytes.length)
        expect(crc32c(bytes)).toBe(naiveCrc32c(bytes))
        expect(crc32c(bytes.subarray(split), crc32c(bytes.subarray(0, split)))).toBe(crc32c(bytes))
      }),
      { numRuns: 500, seed: 42 },
    )
  })
})
