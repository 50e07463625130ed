/**
 * The per-partition change log (Replication Log, Segmented Log, Low-Water Mark). Every object write appends an
 * entry (partition, seq, bucket, key, dot) in the same batch as the object, so the log and the objects never
 * disagree after a crash. Replicas pull `readSince(partition, highWaterSeq)` to catch up; handoff and watches read
 * it the same way.
 *
 * Sequence numbers are allocated here, in memory, in commit-queue order, and never repeat across restarts:
 * recovery resumes after the highest seq on disk, or after the truncation marker when every entry of a partition
 * has been truncated (that is why the marker exists and is written before the range delete).
 *
 * A segment is `segmentEntries` consecutive seqs. Truncation below a low-water mark L removes the segments that
 * end at or below L, as one range delete; the segment holding L and everything after it are kept. The order is:
 * write the marker (durably), then clear. A crash in between, or power loss undoing the unsynced clear, leaves
 * entries below the marker; recovery clears below every marker again, so the delete is idempotent.
 *
 * Every entry carries a CRC32C (record-codec.ts). An entry that fails it is reported, counted and skipped.
 */
import type { ChangeLogEntry, StorageResult } from '../core/node/storage-operation.ts'
import { assert } from '../core/primitives/assert.ts'
import {
  changeLogKey,
  changeLogRange,
  changeLogRetainedKey,
  decodeChangeLogKey,
  decodeChangeLogRetainedKey,
  keySpace,
  maxUint53,
  spaceRange,
} from './key-layout.ts'
import type { KvOperation, KvRange, KvStore } from './kv-store.ts'
import { maxScanLimit } from './kv-store.ts'
import { copyBytes, decodeRecord, encodeFlatRecord, encodeRecord, isBytes, isObjectRecord, isUint53 } from './record-codec.ts'

export interface ChangeLogOptions {
  /** Seqs per segment. 4,096 entries is about 0.5 MiB of log: truncation deletes in useful chunks while a
   *  replica at most one segment behind the low-water mark still catches up from the log. */
  readonly segmentEntries: number
}

export const defaultChangeLogOptions: ChangeLogOptions = { segmentEntries: 4_096 }

/** A corrupt entry found while reading: what to log, beyond the counter. */
export interface CorruptEntryReport {
  readonly partition: number
  readonly seq: number
  readonly reason: string
}

export type ReadSinceResult = Extract<StorageResult, { kind: 'change-log' } | { kind: 'change-log-truncated' }>

export interface TruncationPlan {
  readonly partition: number
  readonly firstRetainedSeq: number
  readonly removedSegments: number
  /** Written durably (through the commit queue) before `range` is cleared. */
  readonly marker: KvOperation
  readonly range: KvRange
}

interface PartitionLog {
  /** Highest seq handed out (0: none yet). */
  lastSeq: number
  /** Lowest seq that may still be stored; every seq below it is gone (1: nothing truncated). */
  firstRetainedSeq: number
}

export class ChangeLog {
  private readonly partitions = new Map<number, PartitionLog>()
  private corrupted = 0

  private constructor(
    private readonly store: KvStore,
    readonly options: ChangeLogOptions,
    private readonly onCorruptEntry: (report: CorruptEntryReport) => void,
  ) {
    assert(Number.isInteger(options.segmentEntries) && options.segmentEntries > 0, 'segmentEntries must be positive')
  }

  /** Rebuilds the per-partition counters from disk and finishes any interrupted truncation. */
  static async recover(store: KvStore, options: ChangeLogOptions, onCorruptEntry: (report: CorruptEntryReport) => void): Promise<ChangeLog> {
    const log = new ChangeLog(store, options, onCorruptEntry)
    await log.recoverMarkers()
    await log.recoverLastSeqs()
    return log
  }

  get corruptedEntries(): number {
    return this.corrupted
  }

  lastSeq(partition: number): number {
    return this.partitions.get(partition)?.lastSeq ?? 0
  }

  firstRetainedSeq(partition: number): number {
    return this.partitions.get(partition)?.firstRetainedSeq ?? 1
  }

  /** Allocates the next seq and returns the entry with the operation that stores it. Call in commit order. */
  append(partition: number, fields: { bucket: string; key: string; dot: Uint8Array | null }): { entry: ChangeLogEntry; operation: KvOperation } {
    const state = this.partition(partition)
    const seq = state.lastSeq + 1
    assert(seq <= maxUint53, 'change-log seq overflow')
    state.lastSeq = seq
    const entry: ChangeLogEntry = { partition, seq, bucket: fields.bucket, key: fields.key, dot: fields.dot }
    return { entry, operation: { kind: 'put', key: changeLogKey(partition, seq), value: encodeEntry(entry) } }
  }

  /** Entries with seq > afterSeq in seq order, at most `limit`; `change-log-truncated` if some are gone. */
  async readSince(partition: number, afterSeq: number, limit: number): Promise<ReadSinceResult> {
    assert(isUint53(afterSeq), () => `bad afterSeq ${afterSeq}`)
    assert(Number.isInteger(limit) && limit > 0 && limit <= maxScanLimit, () => `bad limit ${limit}`)
    const firstRetainedSeq = this.firstRetainedSeq(partition)
    if (afterSeq + 1 < firstRetainedSeq) return { kind: 'change-log-truncated', firstRetainedSeq }
    const highWaterSeq = this.lastSeq(partition)
    const range = changeLogRange(partition, afterSeq + 1, maxUint53)
    const rows = await this.store.scan({ ...range, limit })
    const entries: ChangeLogEntry[] = []
    let corruptedEntries = 0
    let nextAfterSeq = afterSeq
    for (const row of rows) {
      const { seq } = decodeChangeLogKey(row.key)
      assert(seq > nextAfterSeq, 'change-log scan went backwards')
      nextAfterSeq = seq
      const decoded = decodeEntry(row.value, partition, seq)
      if (decoded.kind === 'ok') entries.push(decoded.value)
      else {
        corruptedEntries++
        this.corrupted++
        this.onCorruptEntry({ partition, seq, reason: decoded.reason })
      }
    }
    // A truncation can race this read; if it did, the caller must not take the page as contiguous.
    if (afterSeq + 1 < this.firstRetainedSeq(partition)) return { kind: 'change-log-truncated', firstRetainedSeq: this.firstRetainedSeq(partition) }
    return { kind: 'change-log', entries, corruptedEntries, nextAfterSeq, highWaterSeq: Math.max(highWaterSeq, nextAfterSeq), complete: rows.length < limit }
  }

  /** The whole segments below lowWaterSeq not yet removed; null when there is nothing to remove. */
  planTruncation(partition: number, lowWaterSeq: number): TruncationPlan | null {
    assert(isUint53(lowWaterSeq), () => `bad lowWaterSeq ${lowWaterSeq}`)
    const size = this.options.segmentEntries
    // Never past what exists: seqs handed out later (possibly still uncommitted) must not fall in the range.
    const boundedLowWaterSeq = Math.min(lowWaterSeq, this.lastSeq(partition) + 1)
    const firstRetainedSeq = Math.floor(boundedLowWaterSeq / size) * size
    const current = this.firstRetainedSeq(partition)
    if (firstRetainedSeq <= current) return null
    const removedSegments = Math.ceil((firstRetainedSeq - current) / size)
    return {
      partition,
      firstRetainedSeq,
      removedSegments,
      marker: { kind: 'put', key: changeLogRetainedKey(partition), value: encodeRecord('changeLogRetained', { firstRetainedSeq }) },
      range: changeLogRange(partition, 0, firstRetainedSeq),
    }
  }

  /** Call once the plan's marker is committed: from now on readers see the truncation, then the range goes. */
  async completeTruncation(plan: TruncationPlan): Promise<void> {
    const state = this.partition(plan.partition)
    state.firstRetainedSeq = Math.max(state.firstRetainedSeq, plan.firstRetainedSeq)
    // seqs below the marker must never be handed out again, even if the log held nothing above it.
    state.lastSeq = Math.max(state.lastSeq, plan.firstRetainedSeq - 1)
    await this.store.clear(plan.range)
  }

  private partition(partition: number): PartitionLog {
    let state = this.partitions.get(partition)
    if (state === undefined) {
      state = { lastSeq: 0, firstRetainedSeq: 1 }
      this.partitions.set(partition, state)
    }
    return state
  }

  private async recoverMarkers(): Promise<void> {
    const rows = await this.store.scan({ ...spaceRange('changeLogRetained'), limit: maxScanLimit })
    for (const row of rows) {
      const partition = decodeChangeLogRetainedKey(row.key)
      const decoded = decodeRecord('changeLogRetained', row.value, (payload) =>
        isObjectRecord(payload) && isUint53(payload.firstRetainedSeq) ? { firstRetainedSeq: payload.firstRetainedSeq } : null,
      )
      // A marker we cannot read would let seqs repeat: refuse to start rather than guess.
      assert(decoded.kind === 'ok', () => `change-log marker of partition ${partition} is corrupt`)
      const state = this.partition(partition)
      state.firstRetainedSeq = decoded.value.firstRetainedSeq
      state.lastSeq = Math.max(state.lastSeq, decoded.value.firstRetainedSeq - 1)
      await this.store.clear(changeLogRange(partition, 0, decoded.value.firstRetainedSeq))
    }
  }

  /** Skip-scan: the last key of the log space names the highest partition; then look just below that partition. */
  private async recoverLastSeqs(): Promise<void> {
    let lt = spaceRange('changeLog').lt
    const gte = spaceRange('changeLog').gte
    for (;;) {
      const [last] = await this.store.scan({ gte, lt, limit: 1, reverse: true, keysOnly: true })
      if (last === undefined) return
      const { partition, seq } = decodeChangeLogKey(last.key)
      const state = this.partition(partition)
      state.lastSeq = Math.max(state.lastSeq, seq)
      if (partition === 0) return
      lt = changeLogKey(partition, 0)
      assert(lt[0] === keySpace.changeLog, 'skip-scan left the change-log space')
    }
  }
}

function encodeEntry(entry: ChangeLogEntry): Uint8Array {
  assert(isUint53(entry.seq) && entry.seq > 0, 'entry seq must be positive')
  return encodeFlatRecord('changeLogEntry', { p: entry.partition, s: entry.seq, b: entry.bucket, k: entry.key, d: entry.dot })
}

/** Decodes and cross-checks the entry against its key (assertion pair with encodeEntry). */
function decodeEntry(raw: Uint8Array, partition: number, seq: number) {
  return decodeRecord<ChangeLogEntry>('changeLogEntry', raw, (payload) => {
    if (!isObjectRecord(payload)) return null
    const { p, s, b, k, d } = payload
    if (p !== partition || s !== seq || typeof b !== 'string' || typeof k !== 'string') return null
    if (d !== null && !isBytes(d)) return null
    return { partition, seq, bucket: b, key: k, dot: d === null ? null : copyBytes(d) }
  })
}
