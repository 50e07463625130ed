/**
 * SWIM's round-robin probe order (SWIM section 4.3): members are probed in a shuffled order, one per protocol
 * period, and the order is reshuffled after each full round. Unlike picking a random member each period, this
 * bounds the time until any given member is probed to two rounds, which is what makes detection time bounded.
 * A newly learned member is inserted at a random position, so it is probed within one round without letting a
 * burst of joins starve the others.
 *
 * Pure: randomness comes from the injected Random; the initial order is built from a sorted list.
 */
import type { Random } from '../primitives/random.ts'
import { shuffled } from '../primitives/random.ts'
import type { NodeId } from '../primitives/ids.ts'

export class ProbeOrder {
  private order: NodeId[] = []
  private index = 0

  constructor(private readonly random: Random) {}

  get length(): number {
    return this.order.length
  }

  has(id: NodeId): boolean {
    return this.order.includes(id)
  }

  /** Adds `id` at a random position; a no-op if it is already there. */
  insert(id: NodeId): void {
    if (this.order.includes(id)) return
    const position = this.random.nextInt(this.order.length + 1)
    this.order.splice(position, 0, id)
    // Keep pointing at the same next member: an insert before the cursor shifts it by one.
    if (position < this.index) this.index++
  }

  remove(id: NodeId): void {
    const position = this.order.indexOf(id)
    if (position < 0) return
    this.order.splice(position, 1)
    if (position < this.index) this.index--
  }

  /**
   * The next member for which `eligible` holds, advancing the cursor; reshuffles at the end of each round.
   * Returns undefined when no member is eligible.
   */
  next(eligible: (id: NodeId) => boolean): NodeId | undefined {
    for (let checked = 0; checked <= this.order.length; checked++) {
      if (this.index >= this.order.length) this.reshuffle()
      const candidate = this.order[this.index]
      this.index++
      if (candidate !== undefined && eligible(candidate)) return candidate
    }
    return undefined
  }

  private reshuffle(): void {
    this.order = shuffled(this.random, this.order)
    this.index = 0
  }
}
