import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { allocateBytes, utf8Bytes } from '../../../src/core/primitives/byte-pool.ts'

describe('allocateBytes', () => {
  it('hands out zero-filled slices that never overlap, small ones from shared chunks, big ones on their own', () => {
    const slices = Array.from({ length: 500 }, (_, i) => allocateBytes((i * 37) % 700))
    for (const slice of slices) expect(slice.every((byte) => byte === 0)).toBe(true)
    slices.forEach((slice, i) => slice.fill((i % 255) + 1))
    slices.forEach((slice, i) => expect(slice.every((byte) => byte === (i % 255) + 1)).toBe(true))
    expect(new Set(slices.map((slice) => slice.buffer)).size).toBeLessThan(slices.length / 4)
    const big = allocateBytes(64 * 1024)
    expect(big.byteOffset).toBe(0)
    expect(big.buffer.byteLength).toBe(64 * 1024)
  })
})

describe('utf8Bytes', () => {
  it('equals TextEncoder on any well-formed string, ASCII or not', () => {
    const encoder = new TextEncoder()
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 100 }), fc.string({ unit: 'grapheme', maxLength: 50 }), fc.string({ maxLength: 6_000 })), (text) => {
        expect(Array.from(utf8Bytes(text))).toEqual(Array.from(encoder.encode(text)))
      }),
      { seed: 5, numRuns: 300 },
    )
  })
})
