import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { combineDigests, digest64, digest64OfPair, digest64OfText, writeDigest } from '../../../src/core/anti-entropy/digest64.ts'

const digest = fc.record({ hi: fc.nat({ max: 0xffff_ffff }), lo: fc.nat({ max: 0xffff_ffff }) })

describe('combineDigests', () => {
  it('equals digest64 over the two digests as 16 big-endian bytes (the form peers compare)', () => {
    fc.assert(
      fc.property(digest, digest, (a, b) => {
        const bytes = new Uint8Array(16)
        writeDigest(bytes, 0, a)
        writeDigest(bytes, 8, b)
        expect(combineDigests(a, b)).toEqual(digest64(bytes, 0x5bd1e995))
      }),
      { seed: 6, numRuns: 1_000 },
    )
  })
})

describe('digest64OfText', () => {
  it('equals digest64 over the UTF-8 bytes, for ASCII and for any Unicode text (lone surrogates included)', () => {
    const encoder = new TextEncoder()
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })), fc.nat({ max: 0xffff_ffff }), (text, seed) => {
        expect(digest64OfText(text, seed)).toEqual(digest64(encoder.encode(text), seed))
      }),
      { seed: 7, numRuns: 2_000 },
    )
  })
})

describe('digest64OfPair', () => {
  it('equals digest64OfText of the two texts joined by a NUL (a Merkle entry id), for any texts', () => {
    const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }))
    fc.assert(
      fc.property(text, text, fc.nat({ max: 0xffff_ffff }), (first, second, seed) => {
        expect(digest64OfPair(first, second, seed)).toEqual(digest64OfText(`${first}\u0000${second}`, seed))
      }),
      { seed: 8, numRuns: 2_000 },
    )
  })
})
