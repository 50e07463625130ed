/**
 * The simulated disk behind one node: what survives a crash. Writes land in an unsynced layer (the page cache)
 * and move to the synced layer (the platter) only when a durable batch's fsync completes, which also makes every
 * earlier batch durable (LevelDB's log is one sequential file). A crash throws the unsynced layer away. That is
 * the failure durable acknowledgements exist for: a node that replied before its fsync returned loses an
 * acknowledged write here, and invariant 1 catches it.
 *
 * It speaks the core's storage vocabulary directly (mutations and queries, keyed by their kind), synchronously,
 * so that an operation completes exactly when the sim node's scheduled completion event says so and no promise
 * ever decides an ordering. Semantics follow src/storage (sequence numbers per partition that never repeat,
 * segment-aligned change-log truncation, request-id records with a TTL, bounded hints) without its byte layout.
 * The interface is deliberately small (write, read, crash) so that a fuller simulated disk built on
 * src/storage's memory store can replace this one.
 */
import { unreachable } from '../core/primitives/assert.ts'
import type { Millis, NodeId } from '../core/primitives/ids.ts'
import type {
  ChangeLogEntry, Durability, Mutation, MutationOutcome, PutObjectMutation, ReadQuery, RequestRecord, StorageResult,
  StoredHint, StoredObject,
} from '../core/node/storage-operation.ts'

export interface SimDisk {
  /** Applies the batch atomically at `nowMs`; `durable` also syncs everything written before it, as an fsync does. */
  write(mutations: readonly Mutation[], durability: Durability, nowMs: Millis): StorageResult
  /** Reads the latest state, synced or not (a process reads its own writes through the page cache). */
  read(query: ReadQuery, nowMs: Millis): StorageResult
  /** The machine lost power or the process died: everything not yet synced is gone. */
  crash(): void
}

export interface MemorySimDiskOptions {
  /** How long a request id is remembered (NodeConfig.requestIdTtlMs). */
  readonly requestIdTtlMs: Millis
  /** Change-log seqs per segment; truncation removes whole segments, like src/storage's change log. */
  readonly segmentEntries: number
  /** Hints kept before new ones are dropped (anti-entropy repairs what a dropped hint would have). */
  readonly maxHints: number
  /** Largest page a scan may ask for (src/storage's maxScanLimit). */
  readonly maxScanLimit: number
}

export const defaultMemorySimDiskOptions: MemorySimDiskOptions = {
  requestIdTtlMs: 10 * 60 * 1_000,
  // Small segments, so that simulated runs of a few thousand writes actually truncate.
  segmentEntries: 64,
  maxHints: 10_000,
  maxScanLimit: 100_000,
}

export interface SimDiskStats {
  readonly batchesWritten: number
  readonly syncs: number
  /** Entries whose unsynced state a crash threw away. */
  readonly entriesLostOnCrash: number
}

type DiskRecord =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'object'; readonly object: StoredObject }
  | { readonly kind: 'change'; readonly entry: ChangeLogEntry }
  | { readonly kind: 'hint'; readonly hint: StoredHint }
  | { readonly kind: 'request'; readonly record: RequestRecord }
  | { readonly kind: 'counter'; readonly value: number }

/** A map with a page-cache layer over a durable one; null in the upper layer is a deletion not yet synced. */
class LayeredMap {
  private readonly synced = new Map<string, DiskRecord>()
  private readonly unsynced = new Map<string, DiskRecord | null>()

  get(key: string): DiskRecord | undefined {
    const upper = this.unsynced.get(key)
    if (upper !== undefined) return upper ?? undefined
    return this.synced.get(key)
  }

  set(key: string, record: DiskRecord): void {
    this.unsynced.set(key, record)
  }

  delete(key: string): void {
    this.unsynced.set(key, null)
  }

  /** Live keys starting with `prefix`, sorted, so scans are ordered like LevelDB's and never by insertion. */
  keysWithPrefix(prefix: string): string[] {
    const keys = new Set<string>()
    for (const key of this.synced.keys()) if (key.startsWith(prefix)) keys.add(key)
    for (const key of this.unsynced.keys()) if (key.startsWith(prefix)) keys.add(key)
    return [...keys].filter((key) => this.get(key) !== undefined).sort()
  }

  sync(): void {
    for (const [key, record] of this.unsynced) {
      if (record === null) this.synced.delete(key)
      else this.synced.set(key, record)
    }
    this.unsynced.clear()
  }

  /** Drops the unsynced layer; returns how many entries it held. */
  dropUnsynced(): number {
    const lost = this.unsynced.size
    this.unsynced.clear()
    return lost
  }
}

export class MemorySimDisk implements SimDisk {
  private readonly map = new LayeredMap()
  private batchesWritten = 0
  private syncs = 0
  private entriesLostOnCrash = 0

  constructor(private readonly options: MemorySimDiskOptions = defaultMemorySimDiskOptions) {}

  write(mutations: readonly Mutation[], durability: Durability, nowMs: Millis): StorageResult {
    const outcomes = mutations.map((mutation) => this.apply(mutation, nowMs))
    this.batchesWritten++
    if (durability === 'durable') {
      this.map.sync()
      this.syncs++
    }
    return { kind: 'written', outcomes }
  }

  read(query: ReadQuery, nowMs: Millis): StorageResult {
    if ('limit' in query && !(Number.isInteger(query.limit) && query.limit > 0 && query.limit <= this.options.maxScanLimit)) {
      return { kind: 'failed', code: 'INVALID_ARGUMENT', message: `limit ${query.limit} must be in 1..${this.options.maxScanLimit}` }
    }
    switch (query.kind) {
      case 'get-meta': {
        const record = this.map.get(metaKey(query.name))
        return { kind: 'meta', value: record?.kind === 'bytes' ? record.bytes.slice() : null }
      }
      case 'get-object': {
        const record = this.map.get(objectKey(query.partition, query.bucket, query.key))
        return { kind: 'object', object: record?.kind === 'object' ? record.object : null }
      }
      case 'scan-partition':
        return this.scanPartition(query.partition, query.after, query.limit)
      case 'read-change-log':
        return this.readChangeLog(query.partition, query.afterSeq, query.limit)
      case 'list-hints':
        return this.listHints(query.target, query.afterHintId, query.limit)
      case 'list-hint-targets':
        return this.listHintTargets()
      case 'get-request-record':
        return { kind: 'request-record', record: this.liveRequestRecord(query.requestId, nowMs) }
      default:
        return unreachable(query)
    }
  }

  crash(): void {
    this.entriesLostOnCrash += this.map.dropUnsynced()
  }

  stats(): SimDiskStats {
    return { batchesWritten: this.batchesWritten, syncs: this.syncs, entriesLostOnCrash: this.entriesLostOnCrash }
  }

  // ---- mutations -------------------------------------------------------------------------------------------

  private apply(mutation: Mutation, nowMs: Millis): MutationOutcome {
    switch (mutation.kind) {
      case 'put-meta':
        // Copy in, so a caller that reuses its buffer cannot change what is "on disk".
        this.map.set(metaKey(mutation.name), { kind: 'bytes', bytes: mutation.value.slice() })
        return { kind: 'meta-written' }
      case 'put-object':
        return this.putObject(mutation, nowMs)
      case 'delete-object':
        this.map.delete(objectKey(mutation.partition, mutation.bucket, mutation.key))
        return { kind: 'object-deleted' }
      case 'put-hint':
        return this.putHint({ ...mutation, value: mutation.value.slice() })
      case 'delete-hint':
        this.map.delete(hintKey(mutation.target, mutation.hintId))
        return { kind: 'hint-deleted' }
      case 'truncate-change-log':
        return this.truncateChangeLog(mutation.partition, mutation.lowWaterSeq)
      default:
        return unreachable(mutation)
    }
  }

  private putObject(mutation: PutObjectMutation, nowMs: Millis): MutationOutcome {
    const { partition, bucket, key, requestId } = mutation
    if (requestId !== undefined) {
      const first = this.liveRequestRecord(requestId, nowMs)
      if (first !== null) return { kind: 'duplicate', requestId, partition: first.partition, seq: first.seq }
    }
    const seq = this.counter(lastSeqKey(partition)) + 1
    this.map.set(lastSeqKey(partition), { kind: 'counter', value: seq })
    const object: StoredObject = { partition, bucket, key, value: mutation.value.slice(), seq }
    this.map.set(objectKey(partition, bucket, key), { kind: 'object', object })
    const entry: ChangeLogEntry = { partition, seq, bucket, key, dot: mutation.dot === null ? null : mutation.dot.slice() }
    this.map.set(changeKey(partition, seq), { kind: 'change', entry })
    if (requestId !== undefined) {
      const record: RequestRecord = { requestId, partition, seq, expiresAtMs: nowMs + this.options.requestIdTtlMs }
      this.map.set(requestKey(requestId), { kind: 'request', record })
    }
    return { kind: 'object-written', partition, seq }
  }

  private putHint(fields: Omit<StoredHint, 'hintId'>): MutationOutcome {
    if (this.map.keysWithPrefix('h/').length >= this.options.maxHints) return { kind: 'hint-dropped' }
    const hintId = this.counter('hint-last-id') + 1
    this.map.set('hint-last-id', { kind: 'counter', value: hintId })
    this.map.set(hintKey(fields.target, hintId), { kind: 'hint', hint: { ...fields, hintId } })
    return { kind: 'hint-stored', hintId }
  }

  private truncateChangeLog(partition: number, lowWaterSeq: number): MutationOutcome {
    const size = this.options.segmentEntries
    const current = this.firstRetainedSeq(partition)
    // Whole segments only, as src/storage does: the segment holding the low-water mark is kept.
    const firstRetainedSeq = Math.floor(lowWaterSeq / size) * size
    if (firstRetainedSeq <= current) return { kind: 'change-log-truncated', firstRetainedSeq: current, removedSegments: 0 }
    for (const key of this.map.keysWithPrefix(changePrefix(partition))) {
      const record = this.map.get(key)
      if (record?.kind === 'change' && record.entry.seq < firstRetainedSeq) this.map.delete(key)
    }
    this.map.set(retainedKey(partition), { kind: 'counter', value: firstRetainedSeq })
    // Seqs below the marker must never be handed out again, even if the log held nothing above it.
    this.map.set(lastSeqKey(partition), { kind: 'counter', value: Math.max(this.counter(lastSeqKey(partition)), firstRetainedSeq - 1) })
    return { kind: 'change-log-truncated', firstRetainedSeq, removedSegments: Math.ceil((firstRetainedSeq - current) / size) }
  }

  // ---- queries ---------------------------------------------------------------------------------------------

  private scanPartition(partition: number, after: { readonly bucket: string; readonly key: string } | null, limit: number): StorageResult {
    const afterKey = after === null ? '' : objectKey(partition, after.bucket, after.key)
    const keys = this.map.keysWithPrefix(objectPrefix(partition)).filter((key) => key > afterKey)
    const objects: StoredObject[] = []
    for (const key of keys.slice(0, limit)) {
      const record = this.map.get(key)
      if (record?.kind === 'object') objects.push(record.object)
    }
    return { kind: 'objects', objects, complete: keys.length <= limit }
  }

  private readChangeLog(partition: number, afterSeq: number, limit: number): StorageResult {
    const firstRetainedSeq = this.firstRetainedSeq(partition)
    if (afterSeq + 1 < firstRetainedSeq) return { kind: 'change-log-truncated', firstRetainedSeq }
    const entries: ChangeLogEntry[] = []
    let remaining = 0
    for (const key of this.map.keysWithPrefix(changePrefix(partition))) {
      const record = this.map.get(key)
      if (record?.kind !== 'change' || record.entry.seq <= afterSeq) continue
      if (entries.length < limit) entries.push(record.entry)
      else remaining++
    }
    const nextAfterSeq = entries[entries.length - 1]?.seq ?? afterSeq
    const highWaterSeq = Math.max(this.counter(lastSeqKey(partition)), nextAfterSeq)
    return { kind: 'change-log', entries, corruptedEntries: 0, nextAfterSeq, highWaterSeq, complete: remaining === 0 }
  }

  private listHints(target: NodeId, afterHintId: number, limit: number): StorageResult {
    const hints: StoredHint[] = []
    let remaining = 0
    for (const key of this.map.keysWithPrefix(hintPrefix(target))) {
      const record = this.map.get(key)
      if (record?.kind !== 'hint' || record.hint.hintId <= afterHintId) continue
      if (hints.length < limit) hints.push(record.hint)
      else remaining++
    }
    return { kind: 'hints', hints, complete: remaining === 0 }
  }

  private listHintTargets(): StorageResult {
    const counts = new Map<NodeId, number>()
    for (const key of this.map.keysWithPrefix('h/')) {
      const record = this.map.get(key)
      if (record?.kind === 'hint') counts.set(record.hint.target, (counts.get(record.hint.target) ?? 0) + 1)
    }
    return { kind: 'hint-targets', targets: [...counts].map(([target, count]) => ({ target, count })) }
  }

  private liveRequestRecord(requestId: string, nowMs: Millis): RequestRecord | null {
    const record = this.map.get(requestKey(requestId))
    return record?.kind === 'request' && record.record.expiresAtMs > nowMs ? record.record : null
  }

  private counter(key: string): number {
    const record = this.map.get(key)
    return record?.kind === 'counter' ? record.value : 0
  }

  private firstRetainedSeq(partition: number): number {
    return Math.max(1, this.counter(retainedKey(partition)))
  }
}

// Keys are named by record kind, then fixed-width numbers, so that sorted string order is the order a scan
// must return (partition, then bucket and key, or seq, or hint id), as in src/storage's byte layout.
const width = 16
const pad = (n: number): string => n.toString().padStart(width, '0')
const metaKey = (name: string): string => `m/${name}`
const objectPrefix = (partition: number): string => `o/${pad(partition)}/`
const objectKey = (partition: number, bucket: string, key: string): string => `${objectPrefix(partition)}${bucket}\u0000${key}`
const changePrefix = (partition: number): string => `c/${pad(partition)}/`
const changeKey = (partition: number, seq: number): string => `${changePrefix(partition)}${pad(seq)}`
const lastSeqKey = (partition: number): string => `s/${pad(partition)}`
const retainedKey = (partition: number): string => `t/${pad(partition)}`
const hintPrefix = (target: NodeId): string => `h/${target}\u0000`
const hintKey = (target: NodeId, hintId: number): string => `${hintPrefix(target)}${pad(hintId)}`
const requestKey = (requestId: string): string => `r/${requestId}`
