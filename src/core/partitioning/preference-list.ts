/**
 * Preference lists for one partition: the primaries from the ownership table, then the fallbacks that take
 * writes for down primaries under sloppy quorum. Fallbacks are the other members in a ring order that starts at a
 * point derived from the partition, so the extra load of a down node spreads over the cluster instead of
 * landing on one neighbour.
 */
import type { NodeId } from '../primitives/ids.ts'
import type { OwnershipTable } from './ownership-table.ts'

export function primaries(table: OwnershipTable, partition: number): readonly NodeId[] {
  return table.owners[partition] ?? []
}

/** Every member that is not a primary of `partition`, in that partition's fallback order. */
export function fallbackOrder(table: OwnershipTable, partition: number, members: readonly NodeId[]): NodeId[] {
  const owners = new Set(primaries(table, partition))
  const ring = [...members].filter((id) => !owners.has(id)).sort()
  if (ring.length === 0) return []
  const start = partition % ring.length
  return [...ring.slice(start), ...ring.slice(0, start)]
}

/**
 * The nodes a coordinator asks, in order: each live primary, and for each primary that is down the next live
 * fallback not yet used. `fallbackFor` tells which primary a fallback stands in for (its hint's target).
 */
export function sloppyPreferenceList(
  table: OwnershipTable,
  partition: number,
  members: readonly NodeId[],
  isLive: (id: NodeId) => boolean,
): { readonly targets: readonly NodeId[]; readonly fallbackFor: ReadonlyMap<NodeId, NodeId> } {
  const targets: NodeId[] = []
  const fallbackFor = new Map<NodeId, NodeId>()
  const fallbacks = fallbackOrder(table, partition, members).filter(isLive)
  for (const primary of primaries(table, partition)) {
    if (isLive(primary)) {
      targets.push(primary)
      continue
    }
    const standIn = fallbacks.shift()
    if (standIn === undefined) continue
    targets.push(standIn)
    fallbackFor.set(standIn, primary)
  }
  return { targets, fallbackFor }
}
