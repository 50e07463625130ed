/**
 * The messages of the data path between replicas (kinds prefixed `replica-`). All of them travel as calls on the
 * stream channel: each has exactly one answer, and the transport turns silence into a call-result failure, so
 * the coordinator needs no timers of its own beyond the client's deadline.
 *
 *   coordinator ──replica-read──────► replica      ──replica-read-reply──►   (read quorum)
 *   coordinator ──replica-write─────► first live primary, which mints the dot, persists, replicates, and answers
 *                                                   ──replica-write-reply──► with the quorum's outcome
 *   primary     ──replica-merge─────► other targets (a fallback also keeps a hint for `hintFor`)
 *   coordinator ──replica-scan──────► a primary of each partition, for list-keys
 *
 * Objects travel encoded (object-codec.ts) and are decoded and validated by the receiver; contexts travel as the
 * same base64url text clients hold, so one decoder guards both doors.
 */
import type { NodeId } from '../primitives/ids.ts'
import type { ReplicaHandoff, ReplicaHandoffReply } from './handoff-messages.ts'

/** How a bucket resolves concurrent writes (DESIGN.md section 5). */
export type ConflictMode = 'siblings' | 'lww'

export interface ReplicaRead {
  readonly kind: 'replica-read'
  readonly from: NodeId
  readonly partition: number
  readonly bucket: string
  readonly key: string
}

export interface ReplicaReadReply {
  readonly kind: 'replica-read-reply'
  readonly from: NodeId
  /** `missing`: nothing stored; `failed`: storage could not answer (counts as no reply). */
  readonly outcome: 'found' | 'missing' | 'failed'
  /** The encoded object when found. */
  readonly object?: Uint8Array
}

export type WriteContent =
  | { readonly kind: 'value'; readonly value: Uint8Array; readonly contentType: string }
  | { readonly kind: 'tombstone' }

/** A client write forwarded to the first live primary, which coordinates it from there. */
export interface ReplicaWrite {
  readonly kind: 'replica-write'
  readonly from: NodeId
  readonly partition: number
  readonly bucket: string
  readonly key: string
  readonly conflict: ConflictMode
  /** Replicas for the bucket, and the resolved write quorums (already checked against n by the forwarder). */
  readonly n: number
  readonly w: number
  readonly pw: number
  readonly content: WriteContent
  /** The client's X-Context as it sent it; absent for a blind write. */
  readonly context?: string
  readonly clientRequestId?: string
  /** What is left of the client's deadline when the primary receives it. */
  readonly timeoutMs: number
  readonly returnBody: boolean
}

export type WriteResult =
  | { readonly kind: 'written'; readonly context: string; readonly object?: Uint8Array }
  | { readonly kind: 'unavailable'; readonly required: number; readonly acknowledged: number; readonly message: string }
  | { readonly kind: 'timeout'; readonly message: string }
  | { readonly kind: 'error'; readonly code: string; readonly message: string }

export interface ReplicaWriteReply {
  readonly kind: 'replica-write-reply'
  readonly from: NodeId
  readonly result: WriteResult
}

/** Merge this object into yours (never overwrite). A fallback also stores it as a hint for `hintFor`. */
export interface ReplicaMerge {
  readonly kind: 'replica-merge'
  readonly from: NodeId
  readonly partition: number
  readonly bucket: string
  readonly key: string
  readonly conflict: ConflictMode
  readonly object: Uint8Array
  readonly hintFor?: NodeId
}

export interface ReplicaMergeReply {
  readonly kind: 'replica-merge-reply'
  readonly from: NodeId
  readonly outcome: 'stored' | 'failed'
}

/** The keys of one bucket that this replica holds live values for in one partition. */
export interface ReplicaScan {
  readonly kind: 'replica-scan'
  readonly from: NodeId
  readonly partition: number
  readonly bucket: string
  readonly limit: number
}

export interface ReplicaScanReply {
  readonly kind: 'replica-scan-reply'
  readonly from: NodeId
  readonly outcome: 'complete' | 'truncated' | 'failed'
  readonly keys: readonly string[]
}

export type ReplicationMessage =
  | ReplicaRead
  | ReplicaReadReply
  | ReplicaWrite
  | ReplicaWriteReply
  | ReplicaMerge
  | ReplicaMergeReply
  | ReplicaScan
  | ReplicaScanReply
  | ReplicaHandoff
  | ReplicaHandoffReply

export type ReplicationRequest = ReplicaRead | ReplicaWrite | ReplicaMerge | ReplicaScan | ReplicaHandoff
