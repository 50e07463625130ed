/**
 * The messages of ownership handoff (ownership-handoff.ts), a `replica-` call like the rest of the data path so
 * that node.ts routes them without a new prefix:
 *
 *   old owner ──replica-handoff (a page of encoded objects, `last` on the final page)──► new owner
 *             ◄──replica-handoff-reply (stored once every object of the page is merged and durable)──
 *
 * `tableVersion` names the ownership table the sender hands off under, so a receiver counts a completed stream
 * only toward the table change it belongs to.
 */
import type { NodeId } from '../primitives/ids.ts'
import type { TableVersion } from '../partitioning/ownership-table.ts'

export interface HandoffObject {
  readonly bucket: string
  readonly key: string
  /** The encoded object (object-codec.ts); the receiver decodes it and merges it, never overwrites. */
  readonly object: Uint8Array
}

export interface ReplicaHandoff {
  readonly kind: 'replica-handoff'
  readonly from: NodeId
  readonly partition: number
  readonly tableVersion: TableVersion
  readonly objects: readonly HandoffObject[]
  /** This page ends the partition: after it is stored, the receiver holds everything the sender had. */
  readonly last: boolean
}

export interface ReplicaHandoffReply {
  readonly kind: 'replica-handoff-reply'
  readonly from: NodeId
  readonly outcome: 'stored' | 'failed'
}
