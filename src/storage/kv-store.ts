/**
 * The KvStore port: an ordered map of byte keys to byte values with atomic batches, which is all Chorus asks
 * of LevelDB. Two implementations pass one contract suite (test/storage/kv-store-contract.ts): LevelStore on
 * classic-level for real nodes and MemoryStore on memory-level for tests and the simulator (wrapped by
 * SimDiskStore, which also models what a crash loses).
 *
 * Durability is an explicit argument of every write (abstract-level's `sync`): `sync: true` returns only once
 * the batch is on stable storage, and it also makes every earlier batch durable, because LevelDB's log is one
 * sequential file. Keys compare as unsigned bytes, which is what key-layout.ts relies on for its ranges.
 */

export type KvOperation =
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: 'del'; readonly key: Uint8Array }

export interface KvWriteOptions {
  /** true: return only after the batch (and all before it) reached stable storage. */
  readonly sync: boolean
}

/** A half-open key range [gte, lt); both bounds are required so no scan runs off into another key space. */
export interface KvRange {
  readonly gte: Uint8Array
  readonly lt: Uint8Array
}

export interface KvScan extends KvRange {
  /** Every scan is bounded (STYLE rule 7): callers page with the last key they saw. */
  readonly limit: number
  readonly reverse?: boolean
  /** Skip reading values, for recovery scans that only need the keys. */
  readonly keysOnly?: boolean
}

export interface KvEntry {
  readonly key: Uint8Array
  /** Empty when the scan was keysOnly. */
  readonly value: Uint8Array
}

export interface KvStore {
  open(): Promise<void>
  close(): Promise<void>
  get(key: Uint8Array): Promise<Uint8Array | null>
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]>
  /**
   * A read on the calling thread, where the store can do one (LevelDB can: about 2 µs when the block is cached,
   * against 15-25 µs of CPU for an async get's trip through the thread pool). It blocks the event loop for as
   * long as the lookup takes, disk reads included, so read-batcher.ts budgets it. Absent on stores that cannot.
   */
  readonly getSync?: (key: Uint8Array) => Uint8Array | null
  /** Applies every operation or none. */
  write(operations: readonly KvOperation[], options: KvWriteOptions): Promise<void>
  /** Entries in [gte, lt) in key order (or reversed), at most `limit` of them. */
  scan(scan: KvScan): Promise<KvEntry[]>
  /** Deletes every key in [gte, lt). Not atomic and not synced: callers make it idempotent (see change-log.ts). */
  clear(range: KvRange): Promise<void>
}

/** Largest `limit` a single scan may ask for; bigger reads page. */
export const maxScanLimit = 100_000
