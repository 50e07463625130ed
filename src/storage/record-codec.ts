/**
 * Every value Chorus writes to LevelDB is a framed record: [type u8][crc32c u32 big-endian][msgpack payload],
 * the CRC covering the type byte and the payload. LevelDB checksums its own blocks, but that does not catch a
 * bug of ours writing the wrong bytes or a record read under the wrong key space, and a checksum of our own
 * travels with the record into replies and hints. Records are checked twice (STYLE rule 10): writers assert
 * the fields going in, and every read verifies type, CRC and shape before a field is used.
 *
 * A record that fails its CRC is reported as `corrupt` (a named outcome, not an exception): the change log
 * counts and skips such entries, other readers turn it into a CORRUPT_RECORD error.
 */
import { Packr } from 'msgpackr'
import { allocateBytes } from '../core/primitives/byte-pool.ts'
import { crc32c } from '../transport/crc32c.ts'

export const recordType = {
  meta: 1,
  object: 2,
  changeLogEntry: 3,
  changeLogRetained: 4,
  hint: 5,
  request: 6,
} as const

export type RecordType = keyof typeof recordType

const headerBytes = 5
// Plain maps and arrays only: no msgpackr record extensions, so the bytes stay readable by any msgpack decoder.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false })

export type DecodedRecord<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'corrupt'; readonly reason: string }

export function encodeRecord(type: RecordType, payload: unknown): Uint8Array {
  const body = packr.pack(payload)
  const record = allocateBytes(headerBytes + body.length)
  record[0] = recordType[type]
  record.set(body, headerBytes)
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength)
  view.setUint32(1, crc32c(body, crc32c(record.subarray(0, 1))))
  return record
}

/**
 * Checks the frame and decodes the payload; `validate` narrows the untyped payload to T or returns null. A record
 * of another type, a bad CRC, undecodable msgpack or a payload of the wrong shape are all `corrupt`.
 */
export function decodeRecord<T>(type: RecordType, raw: Uint8Array, validate: (payload: unknown) => T | null): DecodedRecord<T> {
  if (raw.length < headerBytes) return { kind: 'corrupt', reason: `record of ${raw.length} bytes is shorter than its header` }
  if (raw[0] !== recordType[type]) return { kind: 'corrupt', reason: `expected a ${type} record, found type ${raw[0]}` }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  const body = raw.subarray(headerBytes)
  const expected = view.getUint32(1)
  const actual = crc32c(body, crc32c(raw.subarray(0, 1)))
  if (expected !== actual) return { kind: 'corrupt', reason: `crc32c mismatch: stored ${expected}, computed ${actual}` }
  let payload: unknown
  try {
    payload = packr.unpack(body)
  } catch (error) {
    return { kind: 'corrupt', reason: `undecodable payload: ${error instanceof Error ? error.message : String(error)}` }
  }
  const value = validate(payload)
  return value === null ? { kind: 'corrupt', reason: `${type} record has the wrong shape` } : { kind: 'ok', value }
}

// ---- small validators for payload fields -------------------------------------------------------------------

export function isObjectRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
}

export function isUint53(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

export function isBytes(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array
}

/** msgpackr hands bytes back as Buffer views into its read buffer; copy so a record never aliases another. */
export function copyBytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value)
}
