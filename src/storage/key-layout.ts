/**
 * How Chorus lays its key spaces out in one LevelDB. Every key starts with a one-byte space tag, then
 * fixed-width big-endian numbers and length-prefixed strings, so that byte order equals the order we need:
 * a partition's objects are contiguous (handoff and anti-entropy scan them), a partition's change log is
 * ordered by sequence number (readSince is one range scan, truncation one range delete), a target's hints are
 * in the order they were stored (replay order), and request-id expiries are ordered by time (cleanup scans a
 * prefix). Length prefixes make every encoding injective: bucket "a" key "bc" never meets bucket "ab" key "c".
 *
 * Changing a tag or a field width is a format change: bump `storageFormatVersion` (storage-engine.ts checks it).
 */
import { assert } from '../core/primitives/assert.ts'
import { allocateBytes, utf8Bytes } from '../core/primitives/byte-pool.ts'

export const keySpace = {
  meta: 0x01,
  object: 0x02,
  changeLog: 0x03,
  changeLogRetained: 0x04,
  hint: 0x05,
  request: 0x06,
  requestExpiry: 0x07,
} as const

export type KeySpace = keyof typeof keySpace

/** Largest sequence number, hint id or timestamp we encode: integers above 2^53 lose precision in JavaScript. */
export const maxUint53 = Number.MAX_SAFE_INTEGER
const maxStringBytes = 0xffff
const decoder = new TextDecoder('utf-8', { fatal: true })

export function utf8(text: string): Uint8Array {
  return utf8Bytes(text)
}

/** Builds a key from parts; numbers are written big-endian at the width given. */
type KeyPart = { u8: number } | { u16: number } | { u32: number } | { u64: number } | { bytes: Uint8Array }

function buildKey(parts: readonly KeyPart[]): Uint8Array {
  let length = 0
  for (const part of parts) length += 'u8' in part ? 1 : 'u16' in part ? 2 : 'u32' in part ? 4 : 'u64' in part ? 8 : part.bytes.length
  const key = new Uint8Array(length)
  const view = new DataView(key.buffer)
  let at = 0
  for (const part of parts) {
    if ('u8' in part) view.setUint8(at++, part.u8)
    else if ('u16' in part) (view.setUint16(at, part.u16), (at += 2))
    else if ('u32' in part) (view.setUint32(at, part.u32), (at += 4))
    else if ('u64' in part) (writeUint53(view, at, part.u64), (at += 8))
    else (key.set(part.bytes, at), (at += part.bytes.length))
  }
  return key
}

function writeUint53(view: DataView, at: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, () => `not a uint53: ${value}`)
  view.setUint32(at, Math.floor(value / 0x1_0000_0000))
  view.setUint32(at + 4, value >>> 0)
}

export function readUint53(bytes: Uint8Array, at: number): number {
  assert(at + 8 <= bytes.length, 'uint53 runs past the end of the key')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return view.getUint32(at) * 0x1_0000_0000 + view.getUint32(at + 4)
}

function readUint32(bytes: Uint8Array, at: number): number {
  assert(at + 4 <= bytes.length, 'uint32 runs past the end of the key')
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at)
}

function readUint16(bytes: Uint8Array, at: number): number {
  assert(at + 2 <= bytes.length, 'uint16 runs past the end of the key')
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(at)
}

function lengthPrefixed(text: string): KeyPart[] {
  const bytes = utf8(text)
  assert(bytes.length <= maxStringBytes, () => `key component longer than ${maxStringBytes} bytes`)
  return [{ u16: bytes.length }, { bytes }]
}

function checkPartition(partition: number): void {
  assert(Number.isInteger(partition) && partition >= 0 && partition <= 0xffff_ffff, () => `bad partition ${partition}`)
}

/** [tag] .. [tag + 1): the whole key space. */
export function spaceRange(space: KeySpace): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: buildKey([{ u8: keySpace[space] }]), lt: buildKey([{ u8: keySpace[space] + 1 }]) }
}

export function metaKey(name: string): Uint8Array {
  return buildKey([{ u8: keySpace.meta }, { bytes: utf8(name) }])
}

/**
 * The same bytes as buildKey([object tag, u32 partition, u16 length + bucket, key]), written straight into one
 * array: every read and write of an object builds this key, so it skips the parts list and the copies.
 */
export function objectKey(partition: number, bucket: string, key: string): Uint8Array {
  checkPartition(partition)
  const bucketBytes = utf8(bucket)
  const keyBytes = utf8(key)
  assert(bucketBytes.length <= maxStringBytes, () => `key component longer than ${maxStringBytes} bytes`)
  const out = allocateBytes(7 + bucketBytes.length + keyBytes.length)
  out[0] = keySpace.object
  out[1] = partition >>> 24
  out[2] = (partition >>> 16) & 0xff
  out[3] = (partition >>> 8) & 0xff
  out[4] = partition & 0xff
  out[5] = bucketBytes.length >>> 8
  out[6] = bucketBytes.length & 0xff
  out.set(bucketBytes, 7)
  out.set(keyBytes, 7 + bucketBytes.length)
  return out
}

export function objectPartitionRange(partition: number): { gte: Uint8Array; lt: Uint8Array } {
  checkPartition(partition)
  return {
    gte: buildKey([{ u8: keySpace.object }, { u32: partition }]),
    lt: partition === 0xffff_ffff ? spaceRange('object').lt : buildKey([{ u8: keySpace.object }, { u32: partition + 1 }]),
  }
}

export function decodeObjectKey(raw: Uint8Array): { partition: number; bucket: string; key: string } {
  assert(raw[0] === keySpace.object && raw.length >= 7, 'not an object key')
  const partition = readUint32(raw, 1)
  const bucketLength = readUint16(raw, 5)
  assert(7 + bucketLength <= raw.length, 'object key bucket runs past the end')
  const bucket = decoder.decode(raw.subarray(7, 7 + bucketLength))
  const key = decoder.decode(raw.subarray(7 + bucketLength))
  return { partition, bucket, key }
}

export function changeLogKey(partition: number, seq: number): Uint8Array {
  checkPartition(partition)
  return buildKey([{ u8: keySpace.changeLog }, { u32: partition }, { u64: seq }])
}

export function decodeChangeLogKey(raw: Uint8Array): { partition: number; seq: number } {
  assert(raw[0] === keySpace.changeLog && raw.length === 13, 'not a change-log key')
  return { partition: readUint32(raw, 1), seq: readUint53(raw, 5) }
}

/** Change-log keys of one partition with seq in [fromSeq, toSeq). */
export function changeLogRange(partition: number, fromSeq: number, toSeq: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: changeLogKey(partition, fromSeq), lt: changeLogKey(partition, toSeq) }
}

export function changeLogRetainedKey(partition: number): Uint8Array {
  checkPartition(partition)
  return buildKey([{ u8: keySpace.changeLogRetained }, { u32: partition }])
}

export function decodeChangeLogRetainedKey(raw: Uint8Array): number {
  assert(raw[0] === keySpace.changeLogRetained && raw.length === 5, 'not a change-log-retained key')
  return readUint32(raw, 1)
}

export function hintKey(target: string, hintId: number): Uint8Array {
  return buildKey([{ u8: keySpace.hint }, ...lengthPrefixed(target), { u64: hintId }])
}

/** Hints for one target with id in [fromHintId, maxUint53]. */
export function hintTargetRange(target: string, fromHintId = 0): { gte: Uint8Array; lt: Uint8Array } {
  const prefix = buildKey([{ u8: keySpace.hint }, ...lengthPrefixed(target)])
  const lt = new Uint8Array(prefix.length + 9).fill(0xff)
  lt.set(prefix, 0)
  return { gte: hintKey(target, fromHintId), lt }
}

export function decodeHintKey(raw: Uint8Array): { target: string; hintId: number } {
  assert(raw[0] === keySpace.hint && raw.length >= 3, 'not a hint key')
  const targetLength = readUint16(raw, 1)
  assert(raw.length === 3 + targetLength + 8, 'hint key has the wrong length')
  return { target: decoder.decode(raw.subarray(3, 3 + targetLength)), hintId: readUint53(raw, 3 + targetLength) }
}

export function requestKey(requestId: string): Uint8Array {
  return buildKey([{ u8: keySpace.request }, { bytes: utf8(requestId) }])
}

export function requestExpiryKey(expiresAtMs: number, requestId: string): Uint8Array {
  return buildKey([{ u8: keySpace.requestExpiry }, { u64: Math.max(0, Math.floor(expiresAtMs)) }, { bytes: utf8(requestId) }])
}

/** Expiry-index keys of every record that expired strictly before `nowMs`. */
export function requestExpiredRange(nowMs: number): { gte: Uint8Array; lt: Uint8Array } {
  return {
    gte: spaceRange('requestExpiry').gte,
    lt: buildKey([{ u8: keySpace.requestExpiry }, { u64: Math.max(0, Math.floor(nowMs)) }]),
  }
}

export function decodeRequestExpiryKey(raw: Uint8Array): { expiresAtMs: number; requestId: string } {
  assert(raw[0] === keySpace.requestExpiry && raw.length >= 9, 'not a request-expiry key')
  return { expiresAtMs: readUint53(raw, 1), requestId: decoder.decode(raw.subarray(9)) }
}
