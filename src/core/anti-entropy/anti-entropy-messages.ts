/**
 * Messages of the anti-entropy exchange (kinds start with `ae-`). All are calls: the initiator of a round asks,
 * the other replica answers from its Merkle tree (hashes, leaf entries) or its storage (objects). Pushing an object
 * back uses the data path's own `replica-merge`, so both directions merge through the per-key serialized path.
 *
 *   ae-roots   (partitions)     → the answerer's root hash of each partition: one call per peer opens many rounds
 *                                 at once, and only partitions whose roots differ go on to ae-hashes; it carries
 *                                 each round's announcement as a level-0 ae-hashes would
 *   ae-hashes  (level, nodes)   → the children hashes of each node, 8 bytes per child, concatenated
 *   ae-keys    (leaves)         → the (bucket, key, digest) entries of leading leaves, `leavesCovered` of them
 *   ae-fetch   (keys)           → the stored objects of those keys (absent ones without `object`)
 *   ae-log     (afterSeq)       → the answerer's change-log entries of the partition after afterSeq, one page,
 *                                 deduplicated by key, each with the digest its Merkle tree holds for the key now
 *                                 (change-log catch-up, change-log-catch-up.ts); `truncated` when the log no longer
 *                                 reaches back to afterSeq + 1
 *
 * `not-ready` means the answering node is still rebuilding its tree after a start: the round is retried later.
 */
import type { NodeId } from '../primitives/ids.ts'

export type AntiEntropyOutcome = 'ok' | 'not-ready' | 'failed'

export interface AeHashes {
  readonly kind: 'ae-hashes'
  readonly from: NodeId
  readonly partition: number
  readonly level: number
  readonly nodes: readonly number[]
  /**
   * Sent on level 0 by the round's initiator: the tombstone low-water mark it holds for the partition (wall ms,
   * tombstone-reaper.ts), so that every owner learns it and reaps locally.
   */
  readonly lowWaterMs?: number
  /** The owner list the mark was computed over, comma-joined; a receiver adopts the mark only for the same list. */
  readonly lowWaterOwners?: string
  /** Sent on level 0: the wall-clock start of the round this exchange belongs to (the mark it may become). */
  readonly roundMs?: number
}

export interface AeHashesReply {
  readonly kind: 'ae-hashes-reply'
  readonly from: NodeId
  readonly outcome: AntiEntropyOutcome
  readonly hashes: Uint8Array
  /**
   * On level 0: the answerer's change-log seq of the partition up to which every entry is durable (a lower bound;
   * 0 when unknown). An exchange that then ends in-sync or repaired leaves the asker holding everything those
   * entries name, so it may start its next catch-up from this peer there (change-log-catch-up.ts).
   */
  readonly logSeq?: number
}

export interface AeKeys {
  readonly kind: 'ae-keys'
  readonly from: NodeId
  readonly partition: number
  readonly leaves: readonly number[]
}

export interface AeKeyEntry {
  readonly bucket: string
  readonly key: string
  readonly digest: Uint8Array
}

export interface AeKeysReply {
  readonly kind: 'ae-keys-reply'
  readonly from: NodeId
  readonly outcome: AntiEntropyOutcome
  /** How many of the requested leaves (from the first) `entries` covers completely. */
  readonly leavesCovered: number
  readonly entries: readonly AeKeyEntry[]
}

export interface AeKeyAddress {
  readonly bucket: string
  readonly key: string
}

export interface AeFetch {
  readonly kind: 'ae-fetch'
  readonly from: NodeId
  readonly partition: number
  readonly keys: readonly AeKeyAddress[]
}

export interface AeFetchedObject {
  readonly bucket: string
  readonly key: string
  readonly object?: Uint8Array
}

export interface AeFetchReply {
  readonly kind: 'ae-fetch-reply'
  readonly from: NodeId
  readonly outcome: AntiEntropyOutcome
  readonly objects: readonly AeFetchedObject[]
}

export interface AeLog {
  readonly kind: 'ae-log'
  readonly from: NodeId
  readonly partition: number
  /** The asker's high-water mark for this peer and partition: entries with a higher seq are wanted. */
  readonly afterSeq: number
}

export type AeLogOutcome = 'ok' | 'truncated' | 'not-ready' | 'failed'

export interface AeLogReply {
  readonly kind: 'ae-log-reply'
  readonly from: NodeId
  readonly outcome: AeLogOutcome
  /** Keys the page names, once each; `digest` is the answerer's current object digest (8 bytes). */
  readonly entries: readonly AeKeyEntry[]
  /** Where the next page starts (pass as afterSeq); everything up to it is covered by `entries`. */
  readonly nextAfterSeq: number
  /** The answerer's highest seq when it read the page: how far behind the asker is. */
  readonly highWaterSeq: number
  /** No entries after nextAfterSeq existed when the page was read. */
  readonly complete: boolean
  /** With `truncated`: the lowest seq the log still holds; everything below it was dropped. */
  readonly firstRetainedSeq?: number
}

/**
 * Opens the rounds of many partitions with one peer at once (parallel arrays, one element per partition). The
 * announcement fields mean what they mean on a level-0 ae-hashes: lowWaterMs 0 and lowWaterOwners '' mean no mark.
 */
export interface AeRoots {
  readonly kind: 'ae-roots'
  readonly from: NodeId
  /** The wall-clock start shared by every round this call opens. */
  readonly roundMs: number
  readonly partitions: readonly number[]
  /** The asker's root of each partition, 8 bytes each (informational: the asker compares, the answerer need not). */
  readonly roots: Uint8Array
  readonly lowWaterMs: readonly number[]
  readonly lowWaterOwners: readonly string[]
}

export interface AeRootsReply {
  readonly kind: 'ae-roots-reply'
  readonly from: NodeId
  readonly outcome: AntiEntropyOutcome
  /** The answerer's root of each asked partition, 8 bytes each, in the asked order (zeros where not ready). */
  readonly roots: Uint8Array
  /** Indices (into the asked partitions) whose tree the answerer is still rebuilding. */
  readonly notReady: readonly number[]
  /** The answerer's durable change-log position of each asked partition (as AeHashesReply.logSeq). */
  readonly logSeqs: readonly number[]
}

export type AntiEntropyMessage =
  | AeRoots | AeRootsReply | AeHashes | AeHashesReply | AeKeys | AeKeysReply | AeFetch | AeFetchReply | AeLog | AeLogReply

/** Wire limits, shared by the core (what it asks and answers) and the schemas (what a peer may claim). */
export const antiEntropyLimits = {
  /**
   * Partitions per ae-roots call: 256 × (4 + 8 + a mark and an owner list of ~30 bytes) ≈ 11 KiB at most, one
   * frame; a node that opens more rounds with one peer at once sends several calls.
   */
  maxRootsPerCall: 256,
  /** Inner nodes per ae-hashes request: 16 × 32 children × 8 bytes = 4 KiB of hashes per answer. */
  maxNodesPerRequest: 16,
  /** Leaves per ae-keys request. */
  maxLeavesPerRequest: 16,
  /** Entries per ae-keys answer; a leaf is never split, so one oversized leaf may exceed it alone. */
  maxEntriesPerReply: 4_096,
  /** Keys per ae-fetch request: at most this many objects in flight per exchange. */
  maxKeysPerFetch: 32,
  /**
   * Change-log entries read per ae-log page. A page names at most this many keys (bucket + key ≤ ~1.3 KiB each,
   * so a worst-case page stays far below a frame) and the asker then fetches the differing ones maxKeysPerFetch at
   * a time, so one catch-up holds at most one page in memory.
   */
  maxLogEntriesPerPage: 256,
  /**
   * A catch-up further behind than this many of the peer's entries falls back to the Merkle exchange instead: past
   * roughly a partition's worth of writes, listing every write costs more than comparing trees does.
   */
  maxCatchUpEntries: 100_000,
  /** What a schema accepts at most, far above what a sane peer sends (one huge leaf). */
  maxWireEntries: 100_000,
  maxWireHashBytes: 256 * 256 * 8,
} as const
