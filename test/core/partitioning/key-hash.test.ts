import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fmix64, fmix64Halves, fnv1a64, keyHash, keyIdentity, partitionOf } from '../../../src/core/partitioning/key-hash.ts'

const hex = (h: { high: number; low: number }): string => h.high.toString(16).padStart(8, '0') + h.low.toString(16).padStart(8, '0')
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

/** A naive BigInt reference of FNV-1a 64, to check the limb arithmetic against. */
function referenceFnv(input: Uint8Array): string {
  let h = 0xcbf29ce484222325n
  for (const byte of input) h = BigInt.asUintN(64, (h ^ BigInt(byte)) * 0x100000001b3n)
  return h.toString(16).padStart(16, '0')
}

describe('fnv1a64', () => {
  it('matches the published test vectors', () => {
    expect(hex(fnv1a64(bytes('')))).toBe('cbf29ce484222325')
    expect(hex(fnv1a64(bytes('a')))).toBe('af63dc4c8601ec8c')
    expect(hex(fnv1a64(bytes('foobar')))).toBe('85944171f73967e8')
  })

  it('matches a BigInt reference on arbitrary bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (input) => hex(fnv1a64(input)) === referenceFnv(input)), { seed: 1, numRuns: 500 })
  })
})

describe('partitionOf', () => {
  it('is stable: these values must never change while clusters hold data', () => {
    expect([partitionOf('users', 'alice', 256), partitionOf('users', 'bob', 256), partitionOf('', '', 256)]).toMatchSnapshot()
  })

  it('agrees with the BigInt reference (hash mod Q) on arbitrary keys and partition counts', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 1, max: 65_536 }), (bucket, key, q) => partitionOf(bucket, key, q) === Number(keyHash(bucket, key) % BigInt(q))),
      { seed: 3, numRuns: 2_000 },
    )
  })

  it('computes fmix64 on halves exactly as the BigInt form does', () => {
    const halves = fc.record({ high: fc.nat({ max: 0xffff_ffff }), low: fc.nat({ max: 0xffff_ffff }) })
    fc.assert(
      fc.property(halves, (hash) => {
        const { high, low } = fmix64Halves(hash)
        return ((BigInt(high) << 32n) | BigInt(low)) === fmix64(hash)
      }),
      { seed: 4, numRuns: 2_000 },
    )
    for (const edge of [{ high: 0, low: 0 }, { high: 0xffff_ffff, low: 0xffff_ffff }, { high: 0x8000_0000, low: 1 }]) {
      const { high, low } = fmix64Halves(edge)
      expect((BigInt(high) << 32n) | BigInt(low)).toBe(fmix64(edge))
    }
  })

  it('prefixes the bucket with its UTF-8 length as a varint', () => {
    expect([...keyIdentity('ab', 'c')]).toEqual([2, 0x61, 0x62, 0x63])
    const long = keyIdentity('b'.repeat(200), 'k')
    expect([...long.subarray(0, 2)]).toEqual([0xc8, 0x01])
    expect(long.length).toBe(2 + 200 + 1)
    expect([...keyIdentity('é', '')]).toEqual([2, 0xc3, 0xa9])
  })

  it('separates bucket from key', () => {
    expect(Buffer.from(keyIdentity('ab', 'c'))).not.toEqual(Buffer.from(keyIdentity('a', 'bc')))
  })

  it('stays in range', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.integer({ min: 1, max: 65_536 }), (bucket, key, q) => {
        const p = partitionOf(bucket, key, q)
        return Number.isInteger(p) && p >= 0 && p < q
      }),
      { seed: 2, numRuns: 500 },
    )
  })

  it('spreads sequential keys evenly over 256 partitions (chi-squared)', () => {
    const counts = new Array<number>(256).fill(0)
    const keys = 256 * 200
    for (let i = 0; i < keys; i++) counts[partitionOf('bucket', `key-${i}`, 256)]! += 1
    const chiSquared = counts.reduce((sum, c) => sum + (c - 200) ** 2 / 200, 0)
    // 255 degrees of freedom: p = 0.001 at about 330.
    expect(chiSquared).toBeLessThan(330)
  })
})
