/**
 * Answers the core's read queries. Reads do not go through the commit queue: LevelDB readers see every batch
 * that has returned, and a durable batch returns only after its sync, so a read never shows a write that a crash
 * could still take back (in durable mode). Every record read is checked by its decoder before it is returned.
 */
import type { ReadQuery, StorageResult, StoredObject } from '../core/node/storage-operation.ts'
import { unreachable } from '../core/primitives/assert.ts'
import type { ChangeLog } from './change-log.ts'
import type { HintStore } from './hint-store.ts'
import { decodeObjectKey, metaKey, objectKey, objectPartitionRange } from './key-layout.ts'
import type { KvStore } from './kv-store.ts'
import type { ReadBatcher } from './read-batcher.ts'
import { maxScanLimit } from './kv-store.ts'
import { decodeObjectRecord } from './object-record.ts'
import { decodeRecord, isBytes, isObjectRecord, copyBytes } from './record-codec.ts'
import type { RequestIdStore } from './request-id-store.ts'
import { StorageError } from './storage-error.ts'

export interface StorageReaderParts {
  readonly store: KvStore
  /** Object reads go through here: inline while its budget lasts, else a turn's reads share one getMany. */
  readonly objects: ReadBatcher
  readonly changeLog: ChangeLog
  readonly hints: HintStore
  readonly requestIds: RequestIdStore
}

/**
 * The answer to `query` without waiting, when one is available now: an object read that the batcher may run
 * inline. undefined means "ask readQuery". Throws like readQuery.
 */
export function readQueryNow(parts: StorageReaderParts, query: ReadQuery): StorageResult | undefined {
  if (query.kind !== 'get-object') return undefined
  const { partition, bucket, key } = query
  const raw = parts.objects.getNow(objectKey(partition, bucket, key))
  if (raw === undefined) return undefined
  return { kind: 'object', object: raw === null ? null : decodeObjectRecord(raw, { partition, bucket, key }) }
}

export async function readQuery(parts: StorageReaderParts, query: ReadQuery): Promise<StorageResult> {
  switch (query.kind) {
    case 'get-meta':
      return { kind: 'meta', value: await readMeta(parts.store, query.name) }
    case 'get-object': {
      const { partition, bucket, key } = query
      const raw = await parts.objects.get(objectKey(partition, bucket, key))
      return { kind: 'object', object: raw === null ? null : decodeObjectRecord(raw, { partition, bucket, key }) }
    }
    case 'scan-partition':
      return scanPartition(parts.store, query)
    case 'read-change-log':
      checkLimit(query.limit)
      checkPosition(query.afterSeq)
      return parts.changeLog.readSince(query.partition, query.afterSeq, query.limit)
    case 'list-hints': {
      checkLimit(query.limit)
      checkPosition(query.afterHintId)
      const { hints, complete } = await parts.hints.list(query.target, query.afterHintId, query.limit)
      return { kind: 'hints', hints, complete }
    }
    case 'list-hint-targets':
      return { kind: 'hint-targets', targets: parts.hints.targets() }
    case 'get-request-record':
      return { kind: 'request-record', record: await parts.requestIds.lookup(query.requestId) }
    default:
      return unreachable(query)
  }
}

async function readMeta(store: KvStore, name: string): Promise<Uint8Array | null> {
  const raw = await store.get(metaKey(name))
  if (raw === null) return null
  const decoded = decodeRecord('meta', raw, (payload) => (isObjectRecord(payload) && isBytes(payload.value) ? copyBytes(payload.value) : null))
  if (decoded.kind === 'corrupt') throw new StorageError('CORRUPT_RECORD', `meta ${name}: ${decoded.reason}`)
  return decoded.value
}

async function scanPartition(store: KvStore, query: Extract<ReadQuery, { kind: 'scan-partition' }>): Promise<StorageResult> {
  checkLimit(query.limit)
  const range = objectPartitionRange(query.partition)
  // Start just after the last object seen: its key with a zero byte appended is the next possible key.
  const gte = query.after === null ? range.gte : appendZero(objectKey(query.partition, query.after.bucket, query.after.key))
  const rows = await store.scan({ gte, lt: range.lt, limit: query.limit })
  const objects: StoredObject[] = rows.map((row) => decodeObjectRecord(row.value, decodeObjectKey(row.key)))
  return { kind: 'objects', objects, complete: rows.length < query.limit }
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit <= 0 || limit > maxScanLimit) {
    throw new StorageError('INVALID_ARGUMENT', `limit must be 1..${maxScanLimit}, got ${limit}`)
  }
}

function checkPosition(position: number): void {
  if (!Number.isSafeInteger(position) || position < 0) throw new StorageError('INVALID_ARGUMENT', `bad position ${position}`)
}

function appendZero(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1)
  next.set(key)
  return next
}
