/**
 * Causal contexts come from clients, so decoding must survive anything: random strings, random bytes dressed up
 * as base64url, and valid contexts with a byte flipped. It returns a typed outcome and never throws; anything it
 * accepts re-encodes to exactly the input (one encoding per vector). Base64url is checked against Node's Buffer,
 * which the core cannot use but the test can.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeBase64Url, encodeBase64Url } from '../../../src/core/versioning/base64url.ts'
import { decodeCausalContext, encodeCausalContext } from '../../../src/core/versioning/causal-context.ts'
import type { VersionVector } from '../../../src/core/versioning/version-vector.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import { nodeCountArb, opArb, ReplicaCluster } from './replica-cluster.ts'

const contextArb = fc
  .tuple(nodeCountArb, fc.array(opArb({ wipes: true, restarts: true, compactions: false }), { maxLength: 40, size: 'max' }))
  .map(([nodeCount, ops]) => {
    const cluster = new ReplicaCluster(nodeCount)
    for (const op of ops) cluster.apply(op)
    return cluster.objects.flatMap((object) => object.history).length > 0 ? cluster.objects.reduce((a, b) => (b.history.length > a.history.length ? b : a)).history : []
  })

function expectTyped(outcome: ReturnType<typeof decodeCausalContext>, input: unknown): void {
  expect(['decoded', 'malformed', 'too-large']).toContain(outcome.kind)
  if (outcome.kind === 'decoded') expect(encodeCausalContext(outcome.context)).toBe(input)
  else expect(outcome.code).toBe('MALFORMED_CONTEXT')
}

describe('base64url', () => {
  it('matches Buffer and round-trips every byte string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const text = encodeBase64Url(bytes)
        expect(text).toBe(Buffer.from(bytes).toString('base64url'))
        expect(decodeBase64Url(text)).toEqual(bytes)
      }),
      { seed: 0xb64, numRuns: 500 },
    )
  })

  it('rejects padding, foreign characters, impossible lengths and non-zero trailing bits', () => {
    for (const bad of ['AQ==', 'A', 'AB+/', 'AB/C', 'A B', 'AR', 'AQF', 'é']) expect(decodeBase64Url(bad)).toBeNull()
    expect(decodeBase64Url('')).toEqual(new Uint8Array(0))
  })
})

describe('causal context', () => {
  it('round-trips the histories replicas really hold', () => {
    fc.assert(
      fc.property(contextArb, (context) => {
        const text = encodeCausalContext(context)
        expect(text).toMatch(/^[A-Za-z0-9_-]+$/)
        const outcome = decodeCausalContext(text)
        expect(outcome).toEqual({ kind: 'decoded', context, writeIds: [] })
      }),
      { seed: 0xc7_0001, numRuns: 200 },
    )
  })

  it('never throws on random strings and returns only typed outcomes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 64 }), fc.base64String({ maxLength: 64 })), (text) => {
        expectTyped(decodeCausalContext(text), text)
      }),
      { seed: 0xc7_0002, numRuns: 1_000 },
    )
  })

  it('never throws on random bytes in valid base64url, nor on valid contexts with one byte changed or cut short', () => {
    const mutatedArb = fc.tuple(contextArb, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean()).map(([context, at, value, truncate]) => {
      const bytes = decodeBase64Url(encodeCausalContext(context)) as Uint8Array
      const index = at % bytes.length
      const mutated = truncate ? bytes.slice(0, index) : Uint8Array.from(bytes, (b, i) => (i === index ? value : b))
      return encodeBase64Url(mutated)
    })
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 64 }).map(encodeBase64Url), mutatedArb), (text) => {
        expectTyped(decodeCausalContext(text), text)
      }),
      { seed: 0xc7_0003, numRuns: 1_000 },
    )
  })

  it('never throws on values that are not strings at all', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const outcome = decodeCausalContext(value)
        expect(['decoded', 'malformed', 'too-large']).toContain(outcome.kind)
      }),
      { seed: 0xc7_0004, numRuns: 300 },
    )
  })

  it('rejects an oversized context before decoding it, with a typed outcome', () => {
    expect(decodeCausalContext('A'.repeat(100), 16)).toMatchObject({ kind: 'too-large', code: 'MALFORMED_CONTEXT' })
    const big: VersionVector = Array.from({ length: 600 }, (_, i) => ({ node: nodeId(`node-${String(i).padStart(4, '0')}`), generation: 1_700_000_000, counter: 12 }))
    expect(decodeCausalContext(encodeCausalContext(big)).kind).toBe('too-large')
  })

  it('rejects unsorted entries, zero counters, an unknown version and trailing bytes', () => {
    const encode = (bytes: number[]): string => encodeBase64Url(Uint8Array.from(bytes))
    const b = 0x62
    const a = 0x61
    expect(decodeCausalContext(encode([1, 0])).kind).toBe('decoded')
    expect(decodeCausalContext(encode([2, 0])).kind).toBe('malformed')
    expect(decodeCausalContext(encode([1, 0, 0])).kind).toBe('malformed')
    expect(decodeCausalContext(encode([1, 2, 1, b, 1, 1, 1, a, 1, 1])).kind).toBe('malformed')
    expect(decodeCausalContext(encode([1, 1, 1, a, 1, 0])).kind).toBe('malformed')
    expect(decodeCausalContext(encode([1, 1, 1, a, 0x81, 0x00, 1])).kind).toBe('malformed')
    expect(decodeCausalContext(encode([1, 1, 2, 0xc3, 0x28, 1, 1])).kind).toBe('malformed')
    expect(decodeCausalContext(encode([1, 1, 1, a, 1, 1]))).toEqual({ kind: 'decoded', context: [{ node: 'a', generation: 1, counter: 1 }], writeIds: [] })
  })
})
