/**
 * The hand-written record encoder against msgpackr: for every flat map, encodeFlatRecord writes exactly the bytes
 * encodeRecord does (so records on disk are the same whichever wrote them, and decodeRecord reads both).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { FlatValue } from '../../src/storage/record-codec.ts'
import { decodeRecord, encodeFlatRecord, encodeRecord } from '../../src/storage/record-codec.ts'

const flatValue: fc.Arbitrary<FlatValue> = fc.oneof(
  fc.constant(null),
  fc.nat({ max: 0xff }),
  fc.nat({ max: 0xffff_ffff }),
  fc.maxSafeNat(),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.string({ minLength: 200, maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.uint8Array({ maxLength: 300 }),
  fc.integer({ min: 0xfff0, max: 0x10010 }).map((length) => new Uint8Array(length).fill(7)),
)
/** Only what the hand-written path covers, so that most generated maps take it all the way. */
const coveredValue: fc.Arbitrary<FlatValue> = fc.oneof(
  fc.constant(null),
  fc.nat({ max: 0xffff_ffff }),
  fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff),
  // Lengths drawn uniformly, so that the fixstr/str8 and bin8/bin16 boundaries (32, 256) are met often.
  fc.integer({ min: 0, max: 255 }).chain((length) => fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((code) => String.fromCharCode(code)), minLength: length, maxLength: length })),
  fc.integer({ min: 0, max: 300 }).chain((length) => fc.uint8Array({ minLength: length, maxLength: length })),
)
const coveredKey = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 31 })
const flatKey = fc.oneof(fc.constantFrom('s', 'v', 'p', 'b', 'k', 'd'), fc.string({ minLength: 1, maxLength: 40 }))

describe('encodeFlatRecord', () => {
  it('writes the same bytes as msgpackr for any flat map, falling back for what it does not cover', () => {
    fc.assert(
      fc.property(fc.dictionary(flatKey, flatValue, { maxKeys: 17 }), (fields) => {
        const ours = Buffer.from(encodeFlatRecord('changeLogEntry', fields))
        const theirs = Buffer.from(encodeRecord('changeLogEntry', fields))
        // Compared as hex of a short prefix plus whole-buffer equality: element-wise diffs of 64 KiB arrays crawl.
        expect([ours.length, ours.subarray(0, 64).toString('hex'), ours.equals(theirs)]).toEqual([theirs.length, theirs.subarray(0, 64).toString('hex'), true])
      }),
      { seed: 11, numRuns: 1_000 },
    )
    fc.assert(
      fc.property(fc.dictionary(coveredKey, coveredValue, { maxKeys: 8 }), (fields) => {
        expect(Buffer.from(encodeFlatRecord('object', fields)).toString('hex')).toBe(Buffer.from(encodeRecord('object', fields)).toString('hex'))
      }),
      { seed: 12, numRuns: 2_000 },
    )
  })

  it('writes a record decodeRecord reads back: an object record and a change-log entry', () => {
    const value = new Uint8Array([1, 2, 3])
    const object = decodeRecord('object', encodeFlatRecord('object', { s: 70_000, v: value }), (payload) => payload)
    expect(object).toEqual({ kind: 'ok', value: { s: 70_000, v: value } })
    const odd = { s: 1, d: undefined } as unknown as Record<string, FlatValue>
    expect(encodeFlatRecord('object', odd)).toEqual(encodeRecord('object', odd))
    const entry = decodeRecord('changeLogEntry', encodeFlatRecord('changeLogEntry', { p: 3, s: 1, b: 'bucket', k: 'key', d: null }), (payload) => payload)
    expect(entry).toEqual({ kind: 'ok', value: { p: 3, s: 1, b: 'bucket', k: 'key', d: null } })
  })
})
