/**
 * The stored form of an object: the versioning module's opaque bytes plus the seq of the change-log entry
 * written in the same batch (readers use it to line objects up with the log). Framed and checksummed by
 * record-codec.ts; a corrupt object is an error for the reader, never data.
 */
import type { StoredObject } from '../core/node/storage-operation.ts'
import { assert } from '../core/primitives/assert.ts'
import { decodeRecord, encodeFlatRecord, isBytes, isObjectRecord, isUint53, copyBytes } from './record-codec.ts'
import { StorageError } from './storage-error.ts'

export function encodeObjectRecord(seq: number, value: Uint8Array): Uint8Array {
  assert(isUint53(seq) && seq > 0, () => `object seq must be positive, got ${seq}`)
  return encodeFlatRecord('object', { s: seq, v: value })
}

export function decodeObjectRecord(raw: Uint8Array, where: { partition: number; bucket: string; key: string }): StoredObject {
  const decoded = decodeRecord('object', raw, (payload) => {
    if (!isObjectRecord(payload)) return null
    const { s, v } = payload
    return isUint53(s) && s > 0 && isBytes(v) ? { seq: s, value: copyBytes(v) } : null
  })
  if (decoded.kind === 'corrupt') {
    throw new StorageError('CORRUPT_RECORD', `object ${where.bucket}/${where.key} in partition ${where.partition}: ${decoded.reason}`)
  }
  return { partition: where.partition, bucket: where.bucket, key: where.key, value: decoded.value.value, seq: decoded.value.seq }
}
