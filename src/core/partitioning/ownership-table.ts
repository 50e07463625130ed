/**
 * The ownership table: for each of the Q fixed partitions, the ordered preference list of nodes that hold its
 * replicas (the first is the primary that mints dots for forwarded writes). It changes only on join, graceful
 * leave or explicit removal, is computed by the emergent leader, and spreads by gossip. Two leaders can briefly
 * coexist on either side of a partition, so every table carries a fencing version: (leader generation, version),
 * compared lexicographically, and a node adopts a table only if its version is higher than the one it holds.
 */
import type { NodeId } from '../primitives/ids.ts'
import { assert } from '../primitives/assert.ts'

export interface TableVersion {
  /** The generation of the leader that computed the table: a newer leader's tables beat an older one's. */
  readonly leaderGeneration: number
  /** Incremented by that leader on each change. */
  readonly version: number
}

export interface OwnershipTable {
  readonly partitions: number
  readonly n: number
  readonly version: TableVersion
  /** owners[p] is partition p's preference list: min(n, members) distinct node ids. */
  readonly owners: readonly (readonly NodeId[])[]
}

export type VersionOrder = 'older' | 'same' | 'newer'

/** How `candidate` compares to `current`. */
export function compareVersions(candidate: TableVersion, current: TableVersion): VersionOrder {
  if (candidate.leaderGeneration !== current.leaderGeneration) {
    return candidate.leaderGeneration > current.leaderGeneration ? 'newer' : 'older'
  }
  if (candidate.version !== current.version) return candidate.version > current.version ? 'newer' : 'older'
  return 'same'
}

/** Checks the shape every table must have; returns the problems, empty when valid. */
export function tableProblems(table: OwnershipTable): string[] {
  const problems: string[] = []
  if (table.owners.length !== table.partitions) problems.push(`expected ${table.partitions} preference lists, got ${table.owners.length}`)
  table.owners.forEach((list, partition) => {
    if (new Set(list).size !== list.length) problems.push(`partition ${partition} lists a node twice`)
    if (list.length === 0 || list.length > table.n) problems.push(`partition ${partition} has ${list.length} replicas`)
  })
  return problems
}

export function assertValidTable(table: OwnershipTable): void {
  const problems = tableProblems(table)
  assert(problems.length === 0, () => `invalid ownership table: ${problems.join('; ')}`)
}

/** Replicas held per node: the balance that claim keeps within one. */
export function replicaCounts(owners: readonly (readonly NodeId[])[]): Map<NodeId, number> {
  const counts = new Map<NodeId, number>()
  for (const list of owners) for (const id of list) counts.set(id, (counts.get(id) ?? 0) + 1)
  return counts
}

/** Number of (partition, node) replica assignments in `after` that `before` did not have: what must be streamed. */
export function movedReplicas(before: readonly (readonly NodeId[])[], after: readonly (readonly NodeId[])[]): number {
  let moved = 0
  after.forEach((list, partition) => {
    const previous = new Set(before[partition] ?? [])
    for (const id of list) if (!previous.has(id)) moved++
  })
  return moved
}
