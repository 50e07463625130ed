/**
 * Infection-style dissemination (SWIM section 4.1): membership updates ride on the datagrams the protocol sends
 * anyway. Each update is sent at most ⌈λ·log₂(n+1)⌉ times, which reaches every member with high probability
 * while keeping per-update cost logarithmic in the cluster size.
 *
 * - At most one update per node is queued: a newer fact about a node replaces the older one (and starts its
 *   retransmit count afresh), since the older one can only be overridden wherever it arrives.
 * - `take` picks the least-transmitted updates first (ties: the most recently queued), so fresh news overtakes
 *   news that has already spread, and packs them greedily under a byte budget.
 * - The queue is bounded: when full, the most-transmitted entry is dropped, the one the cluster most likely
 *   already has.
 *
 * Pure: sizes come from `estimateEncodedBytes`, computed once per update.
 */
import { assert } from '../primitives/assert.ts'
import type { NodeId } from '../primitives/ids.ts'
import { estimateEncodedBytes } from './membership-messages.ts'
import type { MemberUpdate } from './membership-messages.ts'

export interface DisseminationOptions {
  /** λ (`retransmitMultiplier`). */
  readonly retransmitMultiplier: number
  /** Most updates queued at once. */
  readonly capacity: number
}

const EMPTY: ReadonlySet<NodeId> = new Set()

interface QueuedUpdate {
  readonly update: MemberUpdate
  readonly sizeBytes: number
  /** Insertion order; larger is newer. */
  readonly sequence: number
  transmits: number
}

/** ⌈λ·log₂(n+1)⌉, at least 1: how many times one update is sent in a cluster of n members. */
export function retransmitLimit(retransmitMultiplier: number, clusterSize: number): number {
  const n = Math.max(1, clusterSize)
  return Math.max(1, Math.ceil(retransmitMultiplier * Math.log2(n + 1)))
}

export class DisseminationQueue {
  private readonly entries = new Map<NodeId, QueuedUpdate>()
  private nextSequence = 0

  constructor(private readonly options: DisseminationOptions) {
    assert(options.retransmitMultiplier > 0, 'retransmit multiplier must be positive')
    assert(Number.isInteger(options.capacity) && options.capacity > 0, 'dissemination capacity must be positive')
  }

  get length(): number {
    return this.entries.size
  }

  /** Queues `update`, replacing whatever was queued about the same node. */
  enqueue(update: MemberUpdate): void {
    this.entries.delete(update.node)
    if (this.entries.size >= this.options.capacity) this.dropMostTransmitted()
    this.entries.set(update.node, {
      update,
      sizeBytes: estimateEncodedBytes(update),
      sequence: this.nextSequence++,
      transmits: 0,
    })
  }

  /** The queued update about `node`, if any (for tests and for the buddy system). */
  peek(node: NodeId): MemberUpdate | undefined {
    return this.entries.get(node)?.update
  }

  /**
   * Takes updates whose estimated sizes sum to at most `budgetBytes`, least-transmitted first, counting one
   * transmission for each; updates that reach the retransmit limit for `clusterSize` leave the queue.
   * `skip` excludes updates about nodes the message already carries news of (the buddy system, a leave).
   */
  take(budgetBytes: number, clusterSize: number, skip: ReadonlySet<NodeId> = EMPTY): MemberUpdate[] {
    const limit = retransmitLimit(this.options.retransmitMultiplier, clusterSize)
    const taken: MemberUpdate[] = []
    let remainingBytes = budgetBytes
    for (const entry of this.byPriority()) {
      if (skip.has(entry.update.node)) continue
      if (entry.sizeBytes > remainingBytes) continue
      remainingBytes -= entry.sizeBytes
      taken.push(entry.update)
      entry.transmits++
      if (entry.transmits >= limit) this.entries.delete(entry.update.node)
    }
    assert(remainingBytes >= 0, 'dissemination overran its byte budget')
    return taken
  }

  private byPriority(): QueuedUpdate[] {
    return [...this.entries.values()].sort((a, b) => a.transmits - b.transmits || b.sequence - a.sequence)
  }

  private dropMostTransmitted(): void {
    const victims = this.byPriority()
    const victim = victims[victims.length - 1]
    if (victim !== undefined) this.entries.delete(victim.update.node)
  }
}
