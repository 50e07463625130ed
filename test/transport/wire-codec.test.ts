/**
 * The wire codec's two promises: every message survives encode → decode unchanged, and untrusted bytes only
 * ever become a well-typed Message or a typed DecodeError (never another exception, never a half-valid object).
 * fast-check seeds are fixed so runs are deterministic; a failure prints the seed and path to replay.
 */
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import type { Message } from '../../src/core/node/message.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'
import { messageSchema } from '../../src/transport/schemas.ts'
import { validate } from '../../src/transport/schema.ts'
import {
  decodeMessage,
  encodeMessage,
  WIRE_VERSION,
  type Decoded,
  type DecodeErrorReason,
} from '../../src/transport/wire-codec.ts'
import { anyMessageArbitrary, messageArbitraries, messageKinds } from './message-arbitraries.ts'

const reasons: readonly DecodeErrorReason[] = [
  'empty', 'unknown-version', 'malformed-msgpack', 'schema', 'too-large', 'bad-checksum', 'bad-mac', 'truncated',
  'unauthenticated', 'bad-envelope',
]

const rawPackr = new Packr({ useRecords: false })
const withVersion = (value: unknown): Uint8Array => {
  const body = rawPackr.pack(value)
  const out = new Uint8Array(body.length + 1)
  out[0] = WIRE_VERSION
  out.set(body, 1)
  return out
}

/**
 * The whole contract for an arbitrary input: a typed error, or a message that is valid through and through.
 * Plain booleans rather than expect(): this runs 100,000 times and expect() costs more than the decode.
 */
function isTypedOutcome(result: Decoded<Message>): boolean {
  if (!result.ok) {
    return result.error.kind === 'decode-error' && reasons.includes(result.error.reason) && typeof result.error.detail === 'string'
  }
  if (Object.getPrototypeOf(result.value) !== Object.prototype || !validate(messageSchema, result.value).ok) return false
  const again = decodeMessage(encodeMessage(result.value))
  expect(again).toEqual(result)
  return true
}

/**
 * Mutations of valid encodings: flipped bits, overwritten, inserted and deleted bytes, truncation. The valid
 * encodings come from a fixed-seed corpus so that the 100,000 runs spend their time decoding, not generating.
 */
const corpus = fc.sample(anyMessageArbitrary, { numRuns: 500, seed: 8 }).map((message) => encodeMessage(message))
const mutatedEncoding = fc
  .tuple(fc.nat(corpus.length - 1), fc.array(fc.tuple(fc.nat(4), fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }))
  .map(([which, edits]) => {
    let bytes = Array.from(corpus[which] as Uint8Array)
    for (const [operation, at, value] of edits) {
      const index = bytes.length === 0 ? 0 : at % bytes.length
      if (operation === 0) bytes[index] = (bytes[index] ?? 0) ^ (1 << (value % 8))
      else if (operation === 1) bytes[index] = value
      else if (operation === 2) bytes.splice(index, 0, value)
      else if (operation === 3) bytes.splice(index, 1)
      else bytes = bytes.slice(0, index)
    }
    return Uint8Array.from(bytes)
  })

const randomBytes = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.uint8Array({ maxLength: 64 }).map((bytes) => Uint8Array.from([WIRE_VERSION, ...bytes])),
  fc.uint8Array({ minLength: 64, maxLength: 600 }).map((bytes) => Uint8Array.from([WIRE_VERSION, ...bytes])),
)

describe('wire codec', () => {
  for (const kind of messageKinds) {
    it(`round-trips every ${kind} message`, () => {
      fc.assert(
        fc.property(messageArbitraries[kind] as fc.Arbitrary<Message>, (message) => {
          const decoded = decodeMessage(encodeMessage(message))
          expect(decoded).toEqual({ ok: true, value: message })
          if (decoded.ok && 'payload' in decoded.value) {
            // A plain Uint8Array, not a Buffer view into the frame.
            expect(Object.getPrototypeOf(decoded.value.payload)).toBe(Uint8Array.prototype)
          }
        }),
        { numRuns: 300, seed: 1 },
      )
    })
  }

  it('turns 100,000 random and mutated buffers into typed outcomes only', () => {
    fc.assert(
      // decodeMessage throwing fails the property as well: fast-check reports any exception.
      fc.property(fc.oneof(randomBytes, mutatedEncoding), (bytes) => isTypedOutcome(decodeMessage(bytes))),
      { numRuns: 100_000, seed: 2 },
    )
  })

  it('rejects unknown fields, wrong types, missing fields and hostile shapes with a schema error', () => {
    const valid = { kind: 'echo', from: 'a', seq: 1, payload: new Uint8Array([1]) }
    const cases: unknown[] = [
      { ...valid, extra: true },
      { ...valid, seq: -1 },
      { ...valid, seq: 1.5 },
      { ...valid, seq: '1' },
      { ...valid, from: '' },
      { ...valid, payload: [1, 2] },
      { kind: 'echo', from: 'a', seq: 1 },
      { ...valid, kind: 'nope' },
      { ...valid, kind: 'toString' },
      { ...valid, kind: '__proto__' },
      { ...valid, from: 'x'.repeat(300) },
      [valid],
      null,
      42,
      new Map([['kind', 'echo']]),
    ]
    for (const value of cases) {
      const result = decodeMessage(withVersion(value))
      expect(result.ok, JSON.stringify(value)).toBe(false)
      if (!result.ok) expect(result.error.reason).toBe('schema')
    }
  })

  it('names the envelope problems', () => {
    const message: Message = { kind: 'echo', from: nodeId('a'), seq: 1, payload: new Uint8Array(3) }
    const encoded = encodeMessage(message)
    const reasonOf = (bytes: Uint8Array, max?: number): string | undefined => {
      const result = decodeMessage(bytes, max)
      return result.ok ? undefined : result.error.reason
    }
    expect(reasonOf(new Uint8Array(0))).toBe('empty')
    expect(reasonOf(Uint8Array.from([WIRE_VERSION + 1, ...encoded.subarray(1)]))).toBe('unknown-version')
    expect(reasonOf(encoded, encoded.length - 1)).toBe('too-large')
    expect(reasonOf(encoded.subarray(0, encoded.length - 2))).toBe('truncated')
    expect(reasonOf(Uint8Array.from([...encoded, 0]))).toBe('malformed-msgpack')
  })

  it('copies byte fields out of the input, so a reused input buffer cannot change a decoded message', () => {
    const message: Message = { kind: 'echo', from: nodeId('a'), seq: 7, payload: Uint8Array.from([1, 2, 3]) }
    const encoded = encodeMessage(message)
    const decoded = decodeMessage(encoded)
    encoded.fill(0)
    expect(decoded).toEqual({ ok: true, value: message })
  })
})
