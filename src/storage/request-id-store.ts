/**
 * Idempotent receiver: a write carrying a request id (the client's X-Request-Id) is applied once; a retry
 * within the TTL gets the first outcome back and writes nothing. The record is written in the same batch as the
 * object it guards, so after a crash either both exist or neither does, and a retry after restart is still
 * recognised. Records carry a wall-clock expiry (it must survive restarts, so the monotonic clock will not do)
 * and an index ordered by expiry, which the background sweep scans from the start up to now.
 *
 * This module only reads and plans operations; deciding "already applied?" without races is the engine's job
 * (its in-flight map covers requests that are queued but not yet committed).
 */
import type { RequestRecord } from '../core/node/storage-operation.ts'
import type { Clock } from '../core/primitives/clock.ts'
import type { Millis } from '../core/primitives/ids.ts'
import { assert } from '../core/primitives/assert.ts'
import { decodeRequestExpiryKey, requestExpiredRange, requestExpiryKey, requestKey } from './key-layout.ts'
import type { KvOperation, KvStore } from './kv-store.ts'
import { decodeRecord, encodeRecord, isObjectRecord, isUint53 } from './record-codec.ts'
import { StorageError } from './storage-error.ts'

export interface RequestIdStoreOptions {
  /** How long a request id is remembered. 10 minutes outlasts any client's retry loop by far. */
  readonly ttlMs: Millis
  /** Longest request id accepted, in bytes of UTF-8; ids are client input and become keys. */
  readonly maxRequestIdBytes: number
}

export const defaultRequestIdStoreOptions: RequestIdStoreOptions = { ttlMs: 10 * 60 * 1_000, maxRequestIdBytes: 256 }

/** Where lookups read from: the store itself, or the engine's ReadBatcher so they may run inline. */
export interface PointReader {
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]>
}

export class RequestIdStore {
  constructor(
    private readonly store: KvStore,
    private readonly clock: Clock,
    private readonly options: RequestIdStoreOptions = defaultRequestIdStoreOptions,
    private readonly reader: PointReader = store,
  ) {
    assert(options.ttlMs > 0, 'request-id TTL must be positive')
  }

  validate(requestId: string): void {
    const bytes = new TextEncoder().encode(requestId).length
    if (bytes === 0 || bytes > this.options.maxRequestIdBytes) {
      throw new StorageError('INVALID_ARGUMENT', `request id must be 1..${this.options.maxRequestIdBytes} bytes, got ${bytes}`)
    }
  }

  /** The live record for this id, or null if there is none or it has expired (even if not yet swept). */
  async lookup(requestId: string): Promise<RequestRecord | null> {
    const raw = await this.store.get(requestKey(requestId))
    if (raw === null) return null
    const record = decodeRequestRecord(raw, requestId)
    return record.expiresAtMs > this.clock.wallClockMs() ? record : null
  }

  /** lookup for many ids with one read, in the same order. */
  async lookupMany(requestIds: readonly string[]): Promise<(RequestRecord | null)[]> {
    const raws = await this.reader.getMany(requestIds.map(requestKey))
    const nowMs = this.clock.wallClockMs()
    return raws.map((raw, i) => {
      if (raw === null) return null
      const record = decodeRequestRecord(raw, requestIds[i] ?? '')
      return record.expiresAtMs > nowMs ? record : null
    })
  }

  /** The record and its expiry-index entry, to be written in the same batch as the object. */
  plan(requestId: string, outcome: { partition: number; seq: number }): { record: RequestRecord; operations: KvOperation[] } {
    const expiresAtMs = Math.floor(this.clock.wallClockMs() + this.options.ttlMs)
    const record: RequestRecord = { requestId, partition: outcome.partition, seq: outcome.seq, expiresAtMs }
    const value = encodeRecord('request', { r: requestId, p: record.partition, s: record.seq, e: expiresAtMs })
    return {
      record,
      operations: [
        { kind: 'put', key: requestKey(requestId), value },
        { kind: 'put', key: requestExpiryKey(expiresAtMs, requestId), value: new Uint8Array(0) },
      ],
    }
  }

  /**
   * Deletes for up to `limit` expired records. A record re-created after its first expiry has a newer expiry
   * than the index entry found here; only the index entry goes then, the live record stays.
   */
  async planSweep(limit: number): Promise<{ expired: number; operations: KvOperation[] }> {
    const rows = await this.store.scan({ ...requestExpiredRange(this.clock.wallClockMs()), limit, keysOnly: true })
    const indexed = rows.map((row) => ({ indexKey: row.key, ...decodeRequestExpiryKey(row.key) }))
    const records = await this.store.getMany(indexed.map((entry) => requestKey(entry.requestId)))
    const operations: KvOperation[] = []
    let expired = 0
    indexed.forEach((entry, i) => {
      operations.push({ kind: 'del', key: entry.indexKey })
      const raw = records[i]
      if (raw === null || raw === undefined) return
      const record = decodeRequestRecord(raw, entry.requestId)
      if (record.expiresAtMs > entry.expiresAtMs) return
      operations.push({ kind: 'del', key: requestKey(entry.requestId) })
      expired++
    })
    return { expired, operations }
  }
}

function decodeRequestRecord(raw: Uint8Array, requestId: string): RequestRecord {
  const decoded = decodeRecord<RequestRecord>('request', raw, (payload) => {
    if (!isObjectRecord(payload)) return null
    const { r, p, s, e } = payload
    if (r !== requestId || !isUint53(p) || !isUint53(s) || !isUint53(e)) return null
    return { requestId, partition: p, seq: s, expiresAtMs: e }
  })
  // A request record we cannot read means we cannot tell a retry from a new write: fail the request loudly.
  if (decoded.kind === 'corrupt') throw new StorageError('CORRUPT_RECORD', `request record ${requestId}: ${decoded.reason}`)
  return decoded.value
}
