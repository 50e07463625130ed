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

/** A value encodeFlatRecord writes itself; anything else goes through msgpackr. */
export type FlatValue = number | string | Uint8Array | null

/**
 * encodeRecord for a flat map of the values every write stores (object records, change-log entries): the same
 * bytes msgpackr writes (a property test holds them equal), written straight into one pooled array. msgpackr's
 * pack, the copy out of its buffer and the map walk were a few percent of a replica write. A field it does not
 * cover (an integer of 2^32 or more, a long or non-ASCII key) hands the whole record to encodeRecord.
 */
export function encodeFlatRecord(type: RecordType, fields: Readonly<Record<string, FlatValue>>): Uint8Array {
  let count = 0
  // msgpackr writes every object as a map16, whatever its size: so do we.
  let bodyBytes = 3
  for (const key in fields) {
    const value = fields[key] as FlatValue
    const valueBytes = flatValueBytes(value)
    if (valueBytes < 0 || !isShortAsciiKey(key)) return encodeRecord(type, fields)
    count++
    bodyBytes += 1 + key.length + valueBytes
  }
  if (count > 0xffff) return encodeRecord(type, fields)
  const record = allocateBytes(headerBytes + bodyBytes)
  record[0] = recordType[type]
  let at = headerBytes
  record[at++] = 0xde
  record[at++] = count >>> 8
  record[at++] = count & 0xff
  for (const key in fields) {
    record[at++] = 0xa0 | key.length
    for (let i = 0; i < key.length; i++) record[at++] = key.charCodeAt(i)
    at = writeFlatValue(record, at, fields[key] as FlatValue)
  }
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength)
  view.setUint32(1, crc32c(record.subarray(headerBytes), crc32c(record.subarray(0, 1))))
  return record
}

function isShortAsciiKey(key: string): boolean {
  if (key.length === 0 || key.length > 31) return false
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) >= 0x80) return false
  return true
}

/** Encoded size of a value, or −1 when this writer leaves it to msgpackr. */
function flatValueBytes(value: FlatValue): number {
  if (value === null) return 1
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff ? uintBytes(value) : -1
  if (typeof value === 'string') {
    if (value.length > 0xff) return -1
    for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) >= 0x80) return -1
    return (value.length < 32 ? 1 : 2) + value.length
  }
  // Anything else the type does not admit (undefined, from a caller's bug) goes to msgpackr; a Buffer stays here.
  if (!(value instanceof Uint8Array)) return -1
  const length = value.length
  return (length <= 0xff ? 2 : length <= 0xffff ? 3 : 5) + length
}

function uintBytes(value: number): number {
  return value < 0x80 ? 1 : value <= 0xff ? 2 : value <= 0xffff ? 3 : 5
}

function writeFlatValue(out: Uint8Array, at: number, value: FlatValue): number {
  if (value === null) {
    out[at] = 0xc0
    return at + 1
  }
  if (typeof value === 'number') return writeUint(out, at, value)
  if (typeof value === 'string') {
    if (value.length < 32) out[at++] = 0xa0 | value.length
    else {
      out[at++] = 0xd9
      out[at++] = value.length
    }
    for (let i = 0; i < value.length; i++) out[at++] = value.charCodeAt(i)
    return at
  }
  const length = value.length
  if (length <= 0xff) {
    out[at++] = 0xc4
    out[at++] = length
  } else if (length <= 0xffff) {
    out[at++] = 0xc5
    out[at++] = length >>> 8
    out[at++] = length & 0xff
  } else {
    out[at++] = 0xc6
    at = writeBigEndian32(out, at, length)
  }
  out.set(value, at)
  return at + length
}

function writeUint(out: Uint8Array, at: number, value: number): number {
  if (value < 0x80) {
    out[at] = value
    return at + 1
  }
  if (value <= 0xff) {
    out[at] = 0xcc
    out[at + 1] = value
    return at + 2
  }
  if (value <= 0xffff) {
    out[at] = 0xcd
    out[at + 1] = value >>> 8
    out[at + 2] = value & 0xff
    return at + 3
  }
  out[at] = 0xce
  return writeBigEndian32(out, at + 1, value)
}

function writeBigEndian32(out: Uint8Array, at: number, value: number): number {
  out[at] = value >>> 24
  out[at + 1] = (value >>> 16) & 0xff
  out[at + 2] = (value >>> 8) & 0xff
  out[at + 3] = value & 0xff
  return at + 4
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
