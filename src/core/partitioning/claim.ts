/**
 * Claim: compute the preference lists of an ownership table for a set of members, starting from the previous
 * table so that as few replicas as possible move. Three goals, in this order:
 *
 *   1. validity — every partition gets min(n, members) distinct nodes;
 *   2. balance  — every node holds ⌊Q·n/M⌋ or ⌈Q·n/M⌉ replicas (within one of each other);
 *   3. stability and spread — keep replicas where they are, and spread each partition over distinct zones when
 *      nodes carry zone labels.
 *
 * The algorithm: drop departed members; give each node a capacity (the nodes that already hold the most get the
 * ⌈⌉ share, so fewer move); shed replicas from nodes above capacity, choosing zone duplicates and tail
 * positions first; fill the holes with nodes below capacity, preferring zones the partition lacks. When every
 * node with room already holds the partition, an augmenting path through this round's placements frees one
 * (bipartite matching, so the number of moves stays the number of holes); failing that, a swap through another
 * partition makes room, which always exists because the capacities add up to exactly Q·n. A last pass swaps replicas between partitions to fix zone
 * duplicates without changing any node's count.
 *
 * Pure and deterministic: members are sorted by id and every tie is broken by id or partition index.
 */
import type { NodeId } from '../primitives/ids.ts'
import { assert } from '../primitives/assert.ts'

export interface ClaimMember {
  readonly id: NodeId
  readonly zone?: string
}

export interface ClaimInput {
  readonly partitions: number
  readonly n: number
  readonly members: readonly ClaimMember[]
  /** The current preference lists, or null when the cluster is new. */
  readonly previous: readonly (readonly NodeId[])[] | null
}

/** How many zone-fixing sweeps over all partitions; each sweep only ever increases spread, so a few suffice. */
const ZONE_SWEEPS = 4

export function claim(input: ClaimInput): NodeId[][] {
  const members = [...input.members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  assert(members.length > 0, 'claim needs at least one member')
  assert(new Set(members.map((m) => m.id)).size === members.length, 'claim members must be distinct')
  const state = new ClaimState(input.partitions, Math.min(input.n, members.length), members, input.previous)
  state.shedExcess()
  state.fillHoles()
  state.spreadZones()
  state.assertBalanced()
  return state.owners
}

class ClaimState {
  readonly owners: NodeId[][]
  private readonly counts = new Map<NodeId, number>()
  private readonly capacity = new Map<NodeId, number>()
  private readonly zoneOf = new Map<NodeId, string | undefined>()
  /** How many partitions each pair of nodes shares, keyed by pairKey. */
  private readonly shared = new Map<string, number>()
  /** Partitions each node was placed in by this claim: the only replicas an augmenting path may move again. */
  private readonly placed = new Map<NodeId, number[]>()

  constructor(
    private readonly partitions: number,
    private readonly replicas: number,
    private readonly members: readonly ClaimMember[],
    previous: readonly (readonly NodeId[])[] | null,
  ) {
    for (const member of members) this.zoneOf.set(member.id, member.zone)
    this.owners = Array.from({ length: partitions }, (_, p) =>
      (previous?.[p] ?? []).filter((id) => this.zoneOf.has(id)).slice(0, replicas),
    )
    for (const member of members) this.counts.set(member.id, 0)
    for (const list of this.owners) {
      list.forEach((id, position) => {
        this.counts.set(id, this.count(id) + 1)
        this.countPairs(list.slice(0, position), id, 1)
      })
    }
    this.assignCapacities()
  }

  private count(id: NodeId): number {
    return this.counts.get(id) ?? 0
  }

  private room(id: NodeId): number {
    return (this.capacity.get(id) ?? 0) - this.count(id)
  }

  private assignCapacities(): void {
    const total = this.partitions * this.replicas
    const base = Math.floor(total / this.members.length)
    const extra = total - base * this.members.length
    // The nodes already holding the most keep the larger share, so the fewest replicas move.
    const byLoad = this.members.map((m) => m.id).sort((a, b) => this.count(b) - this.count(a) || (a < b ? -1 : 1))
    byLoad.forEach((id, rank) => this.capacity.set(id, base + (rank < extra ? 1 : 0)))
  }

  shedExcess(): void {
    for (const { id } of this.members) {
      const excess = -this.room(id)
      if (excess <= 0) continue
      const held = this.owners
        .map((list, partition) => ({ partition, position: list.indexOf(id), duplicate: this.zoneDuplicated(list, id) }))
        .filter((entry) => entry.position >= 0)
        .sort((a, b) => Number(b.duplicate) - Number(a.duplicate) || b.position - a.position || a.partition - b.partition)
      for (const { partition } of held.slice(0, excess)) this.remove(partition, id)
    }
  }

  fillHoles(): void {
    for (let partition = 0; partition < this.partitions; partition++) {
      const list = this.owners[partition] as NodeId[]
      while (list.length < this.replicas) {
        const candidate = this.bestCandidate(list)
        if (candidate !== null) this.add(partition, candidate, true)
        else if (!this.augment(partition, new Set())) this.makeRoomBySwap(partition)
      }
    }
  }

  /**
   * Every node with room already holds `partition`: look for an augmenting path through replicas placed during
   * this fill (never through replicas that were already in place, so nothing extra moves). Node x lacking in
   * `partition` gives up one of its new placements q and takes `partition` instead, and q's hole is filled the
   * same way, recursively. Each node is visited once, so the search ends.
   */
  private augment(partition: number, visited: Set<NodeId>): boolean {
    const list = this.owners[partition] as NodeId[]
    for (const { id: x } of this.members) {
      if (visited.has(x) || list.includes(x)) continue
      if (this.room(x) > 0) {
        this.add(partition, x, true)
        return true
      }
      visited.add(x)
      for (const q of [...(this.placed.get(x) ?? [])]) {
        this.remove(q, x)
        this.add(partition, x, true)
        if (this.augment(q, visited)) return true
        this.remove(partition, x)
        this.add(q, x, true)
      }
    }
    return false
  }

  /**
   * The node with room that is not in the list, preferring a zone the list lacks, then the node that shares the
   * fewest partitions with the list's members, then the most room. The middle rule matters: without it a fresh
   * claim falls into fixed groups ({a,b,c} always together), so losing one node dumps all its partitions on the
   * same two survivors, and removing it forces extra moves.
   */
  private bestCandidate(list: readonly NodeId[]): NodeId | null {
    const zones = new Set(list.map((id) => this.zoneOf.get(id)))
    let best: NodeId | null = null
    let bestScore = -Infinity
    for (const { id } of this.members) {
      if (this.room(id) <= 0 || list.includes(id)) continue
      const shared = list.reduce((sum, other) => sum + this.sharedPartitions(id, other), 0)
      const score = (zones.has(this.zoneOf.get(id)) ? 0 : 1e9) - shared * 1e4 + this.room(id)
      if (score > bestScore) {
        best = id
        bestScore = score
      }
    }
    return best
  }

  /**
   * Every node with room already holds `partition`. Take a node X with room and a partition q holding some Y
   * that `partition` lacks and where X is absent: put X in Y's place in q and move Y into `partition`.
   * X's count rises by one, Y's is unchanged.
   */
  private makeRoomBySwap(partition: number): void {
    const list = this.owners[partition] as NodeId[]
    for (const { id: x } of this.members) {
      if (this.room(x) <= 0) continue
      for (let q = 0; q < this.partitions; q++) {
        const other = this.owners[q] as NodeId[]
        if (q === partition || other.includes(x)) continue
        const y = other.find((id) => !list.includes(id))
        if (y === undefined) continue
        other[other.indexOf(y)] = x
        this.counts.set(x, this.count(x) + 1)
        list.push(y)
        return
      }
    }
    assert(false, () => `claim could not fill partition ${partition}`)
  }

  spreadZones(): void {
    const zones = new Set(this.members.map((m) => m.zone))
    if (zones.size < 2) return
    for (let sweep = 0; sweep < ZONE_SWEEPS; sweep++) {
      let improved = false
      for (let p = 0; p < this.partitions; p++) improved = this.spreadPartition(p) || improved
      if (!improved) return
    }
  }

  /** Swaps one zone-duplicated replica of p with a replica of another partition whose zone p lacks. */
  private spreadPartition(p: number): boolean {
    const list = this.owners[p] as NodeId[]
    const duplicate = list.find((id) => this.zoneDuplicated(list, id))
    if (duplicate === undefined) return false
    const zones = new Set(list.map((id) => this.zoneOf.get(id)))
    for (let q = 0; q < this.partitions; q++) {
      const other = this.owners[q] as NodeId[]
      if (q === p || other.includes(duplicate)) continue
      const swap = other.find((c) => !list.includes(c) && !zones.has(this.zoneOf.get(c)) && this.swapKeepsSpread(other, c, duplicate))
      if (swap === undefined) continue
      other[other.indexOf(swap)] = duplicate
      list[list.indexOf(duplicate)] = swap
      return true
    }
    return false
  }

  /** Replacing `leaving` by `arriving` in `list` must not reduce the number of distinct zones in it. */
  private swapKeepsSpread(list: readonly NodeId[], leaving: NodeId, arriving: NodeId): boolean {
    const before = new Set(list.map((id) => this.zoneOf.get(id))).size
    const after = new Set(list.map((id) => this.zoneOf.get(id === leaving ? arriving : id))).size
    return after >= before
  }

  private zoneDuplicated(list: readonly NodeId[], id: NodeId): boolean {
    const zone = this.zoneOf.get(id)
    return zone !== undefined && list.some((other) => other !== id && this.zoneOf.get(other) === zone)
  }

  private sharedPartitions(a: NodeId, b: NodeId): number {
    return this.shared.get(pairKey(a, b)) ?? 0
  }

  private countPairs(list: readonly NodeId[], id: NodeId, delta: 1 | -1): void {
    for (const other of list) {
      if (other === id) continue
      const key = pairKey(id, other)
      this.shared.set(key, (this.shared.get(key) ?? 0) + delta)
    }
  }

  private add(partition: number, id: NodeId, placedNow = false): void {
    this.countPairs(this.owners[partition] as NodeId[], id, 1)
    ;(this.owners[partition] as NodeId[]).push(id)
    this.counts.set(id, this.count(id) + 1)
    if (placedNow) this.placed.set(id, [...(this.placed.get(id) ?? []), partition])
  }

  private remove(partition: number, id: NodeId): void {
    const list = this.owners[partition] as NodeId[]
    list.splice(list.indexOf(id), 1)
    this.countPairs(list, id, -1)
    this.counts.set(id, this.count(id) - 1)
    const placed = this.placed.get(id)
    if (placed !== undefined && placed.includes(partition)) this.placed.set(id, placed.filter((q) => q !== partition))
  }

  assertBalanced(): void {
    for (const list of this.owners) assert(list.length === this.replicas && new Set(list).size === list.length, 'claim produced an invalid list')
    for (const { id } of this.members) assert(this.room(id) === 0, () => `claim left ${id} at ${this.count(id)} of ${this.capacity.get(id)}`)
  }
}

function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`
}
