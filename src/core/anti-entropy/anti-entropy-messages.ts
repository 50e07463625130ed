/**
 * Messages of the anti-entropy exchange (kinds start with `ae-`). All are calls: the initiator of a round asks,
 * the other replica answers from its Merkle tree (hashes, leaf entries) or its storage (objects). Pushing an object
 * back uses the data path's own `replica-merge`, so both directions merge through the per-key serialized path.
 *
 *   ae-hashes  (level, nodes)   → the children hashes of each node, 8 bytes per child, concatenated
 *   ae-keys    (leaves)         → the (bucket, key, digest) entries of leading leaves, `leavesCovered` of them
 *   ae-fetch   (keys)           → the stored objects of those keys (absent ones without `object`)
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

export type AntiEntropyMessage = AeHashes | AeHashesReply | AeKeys | AeKeysReply | AeFetch | AeFetchReply

/** Wire limits, shared by the core (what it asks and answers) and the schemas (what a peer may claim). */
export const antiEntropyLimits = {
  /** Inner nodes per ae-hashes request: 16 × 32 children × 8 bytes = 4 KiB of hashes per answer. */
  maxNodesPerRequest: 16,
  /** Leaves per ae-keys request. */
  maxLeavesPerRequest: 16,
  /** Entries per ae-keys answer; a leaf is never split, so one oversized leaf may exceed it alone. */
  maxEntriesPerReply: 4_096,
  /** Keys per ae-fetch request: at most this many objects in flight per exchange. */
  maxKeysPerFetch: 32,
  /** What a schema accepts at most, far above what a sane peer sends (one huge leaf). */
  maxWireEntries: 100_000,
  maxWireHashBytes: 256 * 256 * 8,
} as const
