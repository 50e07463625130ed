/**
 * What the data path needs to know about the cluster, as one narrow port: the ownership table, which members may
 * stand in as fallbacks, who is alive, and where to reach them. The node implements it over membership and
 * placement; tests implement it over plain maps.
 */
import type { Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { OwnershipTable } from '../partitioning/ownership-table.ts'

export interface ClusterView {
  readonly self: NodeId
  nowMs(): Millis
  table(): OwnershipTable | null
  /** Members that may hold replicas (not left, same Q), sorted by id. */
  members(): readonly NodeId[]
  /** Alive as far as membership knows; this node is always alive to itself. */
  isLive(id: NodeId): boolean
  /** Where to reach a member; null when unknown. */
  address(id: NodeId): PeerAddress | null
}
