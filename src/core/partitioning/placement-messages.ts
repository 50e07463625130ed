/**
 * Messages that spread cluster metadata: the ownership table and bucket properties (kinds prefixed
 * `placement-`). A small digest goes to one random member every few seconds; whoever sees that the other side
 * differs answers with its full state and asks for the other's, so a table change or a props change that missed
 * some node by push reaches it within a few gossip rounds (push-pull anti-entropy for metadata). A state travels as
 * a call, answered with the receiver's state when that still differs, or with its digest.
 */
import type { NodeId } from '../primitives/ids.ts'
import type { BucketPropsEntry } from '../replication/bucket-props-registry.ts'
import type { OwnershipTable, TableVersion } from './ownership-table.ts'

export interface PlacementDigest {
  readonly kind: 'placement-digest'
  readonly from: NodeId
  /** Absent while the sender holds no table yet. */
  readonly version?: TableVersion
  /** A summary of the sender's bucket properties; different summaries mean the two sides must exchange. */
  readonly propsDigest: string
}

export interface PlacementState {
  readonly kind: 'placement-state'
  readonly from: NodeId
  readonly table?: OwnershipTable
  readonly buckets: readonly BucketPropsEntry[]
}

/** Ask the leader to drop a node from the ownership table (`chorus remove`). */
export interface PlacementRemove {
  readonly kind: 'placement-remove'
  readonly from: NodeId
  readonly node: NodeId
}

export interface PlacementRemoveReply {
  readonly kind: 'placement-remove-reply'
  readonly from: NodeId
  readonly outcome: 'accepted' | 'not-leader' | 'unknown-node'
}

export type PlacementMessage = PlacementDigest | PlacementState | PlacementRemove | PlacementRemoveReply
