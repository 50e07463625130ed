/**
 * The storage vocabulary the core speaks in its effects: semantic mutations and queries, not LevelDB keys.
 * src/storage turns a write effect into one atomic LevelDB batch (object + change-log entry + request-id record)
 * and answers with a storage-result input. Keeping key layout out of the core lets the simulator run the same
 * core against the memory store.
 *
 * Object values are opaque here: the versioning module encodes the merged object (siblings, dots, context) and
 * storage stores exactly those bytes. Storage does not merge; the core reads, merges and writes, so the core must
 * not have two read-merge-write cycles of one key in flight at once (a per-key waiting list), or the second
 * write would overwrite the first one's sibling.
 */
import type { NodeId } from '../primitives/ids.ts'

/** `durable`: one fsync before the storage-result. `unsafe`: no fsync, only for benchmarks, documented as such. */
export type Durability = 'durable' | 'unsafe'

// ---- mutations (the `write` effect) -----------------------------------------------------------------------

/** Replace a node metadata entry (ownership table, bucket properties). Names starting with `chorus.` are reserved. */
export interface PutMetaMutation {
  readonly kind: 'put-meta'
  readonly name: string
  readonly value: Uint8Array
}

/**
 * Store the merged object for (bucket, key) and append a change-log entry for it, in one batch. With a
 * `requestId` (the client's X-Request-Id, not the core's numeric RequestId) the mutation is applied at most once
 * per id within the request-id TTL: a repeat answers `duplicate` with the first outcome and writes nothing.
 */
export interface PutObjectMutation {
  readonly kind: 'put-object'
  readonly partition: number
  readonly bucket: string
  readonly key: string
  readonly value: Uint8Array
  /** Opaque causal tag recorded in the change-log entry (the dot that created this version); null if none. */
  readonly dot: Uint8Array | null
  readonly requestId?: string | undefined
  /**
   * Whether every sibling of the written object is a tombstone, as the writer knows it without decoding again.
   * Storage ignores it; the tombstone reaper remembers only such writes (a key whose object holds a live value is
   * not reapable, whenever it was written). Absent means unknown, and the reaper then remembers the write.
   */
  readonly tombstonesOnly?: boolean
}

/** Remove an object outright (reaped tombstone, partition dropped after handoff). No change-log entry. */
export interface DeleteObjectMutation {
  readonly kind: 'delete-object'
  readonly partition: number
  readonly bucket: string
  readonly key: string
}

/** Hold an object for a replica that is down; replayed to `target` in the order stored. */
export interface PutHintMutation {
  readonly kind: 'put-hint'
  readonly target: NodeId
  readonly partition: number
  readonly bucket: string
  readonly key: string
  readonly value: Uint8Array
}

/** The target acknowledged a replayed hint. Deleting an absent hint is not an error (acks can repeat). */
export interface DeleteHintMutation {
  readonly kind: 'delete-hint'
  readonly target: NodeId
  readonly hintId: number
}

/**
 * Every replica of the partition has everything below `lowWaterSeq`: drop the change-log segments that lie
 * entirely below it. Entries at or above it are never touched.
 */
export interface TruncateChangeLogMutation {
  readonly kind: 'truncate-change-log'
  readonly partition: number
  readonly lowWaterSeq: number
}

export type Mutation =
  | PutMetaMutation
  | PutObjectMutation
  | DeleteObjectMutation
  | PutHintMutation
  | DeleteHintMutation
  | TruncateChangeLogMutation

// ---- queries (the `read` effect) --------------------------------------------------------------------------

export interface GetMetaQuery {
  readonly kind: 'get-meta'
  readonly name: string
}

export interface GetObjectQuery {
  readonly kind: 'get-object'
  readonly partition: number
  readonly bucket: string
  readonly key: string
}

/** A page of one partition's objects in key order, for handoff, anti-entropy and key listing. */
export interface ScanPartitionQuery {
  readonly kind: 'scan-partition'
  readonly partition: number
  /** Start after this object; null starts at the beginning. */
  readonly after: { readonly bucket: string; readonly key: string } | null
  readonly limit: number
}

/** Change-log entries of a partition with seq > afterSeq (a replica's high-water mark), at most `limit`. */
export interface ReadChangeLogQuery {
  readonly kind: 'read-change-log'
  readonly partition: number
  readonly afterSeq: number
  readonly limit: number
}

/** Hints for one target in replay order, with hintId > afterHintId. */
export interface ListHintsQuery {
  readonly kind: 'list-hints'
  readonly target: NodeId
  readonly afterHintId: number
  readonly limit: number
}

/** Which targets have hints waiting, and how many (after a restart the core learns what to replay). */
export interface ListHintTargetsQuery {
  readonly kind: 'list-hint-targets'
}

export interface GetRequestRecordQuery {
  readonly kind: 'get-request-record'
  readonly requestId: string
}

export type ReadQuery =
  | GetMetaQuery
  | GetObjectQuery
  | ScanPartitionQuery
  | ReadChangeLogQuery
  | ListHintsQuery
  | ListHintTargetsQuery
  | GetRequestRecordQuery

// ---- results (the `storage-result` input) -----------------------------------------------------------------

export interface ChangeLogEntry {
  readonly partition: number
  readonly seq: number
  readonly bucket: string
  readonly key: string
  readonly dot: Uint8Array | null
}

export interface StoredObject {
  readonly partition: number
  readonly bucket: string
  readonly key: string
  readonly value: Uint8Array
  /** Seq of the change-log entry written with this version. */
  readonly seq: number
}

export interface StoredHint {
  readonly target: NodeId
  readonly hintId: number
  readonly partition: number
  readonly bucket: string
  readonly key: string
  readonly value: Uint8Array
}

/** What a request id remembers: the outcome of its first application. */
export interface RequestRecord {
  readonly requestId: string
  readonly partition: number
  readonly seq: number
  readonly expiresAtMs: number
}

/** One per mutation, in the order of the write effect's mutations. */
export type MutationOutcome =
  | { readonly kind: 'meta-written' }
  | { readonly kind: 'object-written'; readonly partition: number; readonly seq: number }
  | { readonly kind: 'duplicate'; readonly requestId: string; readonly partition: number; readonly seq: number }
  | { readonly kind: 'object-deleted' }
  | { readonly kind: 'hint-stored'; readonly hintId: number }
  /** The hint store is at its limit; the hint was counted and dropped (anti-entropy will repair the replica). */
  | { readonly kind: 'hint-dropped' }
  | { readonly kind: 'hint-deleted' }
  | { readonly kind: 'change-log-truncated'; readonly firstRetainedSeq: number; readonly removedSegments: number }

/** Stable codes of a failed storage operation (src/storage/storage-error.ts raises exactly these). */
export type StorageFailureCode =
  | 'STORAGE_CLOSED'
  | 'STORAGE_OVERLOADED'
  | 'STORAGE_FAILED'
  | 'CORRUPT_RECORD'
  | 'WRONG_DATA_DIRECTORY'
  | 'INVALID_ARGUMENT'

export type StorageResult =
  | { readonly kind: 'written'; readonly outcomes: readonly MutationOutcome[] }
  | { readonly kind: 'meta'; readonly value: Uint8Array | null }
  | { readonly kind: 'object'; readonly object: StoredObject | null }
  | { readonly kind: 'objects'; readonly objects: readonly StoredObject[]; readonly complete: boolean }
  | {
      readonly kind: 'change-log'
      readonly entries: readonly ChangeLogEntry[]
      /** Entries in this page that failed their CRC: counted, reported and skipped, never returned. */
      readonly corruptedEntries: number
      /** Pass as the next afterSeq; covers skipped corrupt entries so paging cannot stall on one. */
      readonly nextAfterSeq: number
      /** The partition's highest seq when the page was read. */
      readonly highWaterSeq: number
      readonly complete: boolean
    }
  /** The entries after afterSeq were truncated: the reader must fall back to a full anti-entropy exchange. */
  | { readonly kind: 'change-log-truncated'; readonly firstRetainedSeq: number }
  | { readonly kind: 'hints'; readonly hints: readonly StoredHint[]; readonly complete: boolean }
  | { readonly kind: 'hint-targets'; readonly targets: readonly { readonly target: NodeId; readonly count: number }[] }
  | { readonly kind: 'request-record'; readonly record: RequestRecord | null }
  | { readonly kind: 'failed'; readonly code: StorageFailureCode; readonly message: string }
