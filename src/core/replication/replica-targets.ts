/**
 * Which replicas a request goes to: the first `n` nodes of the partition's preference list (a bucket may ask for
 * fewer replicas than the table holds), with each primary that membership does not consider alive replaced by
 * the next live fallback (sloppy quorum, Dynamo section 4.6). The fallback order comes from
 * preference-list.ts, so every coordinator picks the same fallback for the same partition and down node, which
 * keeps a key's hints on few nodes.
 */
import type { NodeId } from '../primitives/ids.ts'
import type { OwnershipTable } from '../partitioning/ownership-table.ts'
import { fallbackOrder } from '../partitioning/preference-list.ts'

export interface ReplicaTargets {
  readonly partition: number
  /** The first n owners, in preference order, whatever their state. */
  readonly primaries: readonly NodeId[]
  /** The nodes to ask: live primaries and the fallbacks standing in for the others, in preference order. */
  readonly targets: readonly NodeId[]
  /** The targets that are primaries. */
  readonly primaryTargets: ReadonlySet<NodeId>
  /** fallback → the primary it stands in for (the target of its hint). */
  readonly fallbackFor: ReadonlyMap<NodeId, NodeId>
}

/**
 * `members` is asked for only when a primary is down: on the hot path (every primary alive) the fallback order,
 * a sort of the membership, is never computed.
 */
export function replicaTargets(
  table: OwnershipTable,
  partition: number,
  n: number,
  members: () => readonly NodeId[],
  isLive: (id: NodeId) => boolean,
): ReplicaTargets {
  const primaries = (table.owners[partition] ?? []).slice(0, n)
  let fallbacks: NodeId[] | null = null
  const targets: NodeId[] = []
  const primaryTargets = new Set<NodeId>()
  const fallbackFor = new Map<NodeId, NodeId>()
  for (const primary of primaries) {
    if (isLive(primary)) {
      targets.push(primary)
      primaryTargets.add(primary)
      continue
    }
    fallbacks ??= fallbackOrder(table, partition, members()).filter(isLive)
    const standIn = fallbacks.shift()
    if (standIn === undefined) continue
    targets.push(standIn)
    fallbackFor.set(standIn, primary)
  }
  return { partition, primaries, targets, primaryTargets, fallbackFor }
}
