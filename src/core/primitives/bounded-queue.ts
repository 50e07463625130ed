/**
 * A FIFO queue with a hard capacity. Every queue in Chorus has a limit (STYLE rule 7): when producers outrun the
 * consumer the caller decides what to shed, instead of memory growing until the process dies. `push` reports
 * whether the item was accepted so the caller can count what it dropped.
 */
import { assert } from './assert.ts'

export class BoundedQueue<T> {
  private items: (T | undefined)[]
  private head = 0
  private count = 0

  constructor(readonly capacity: number) {
    assert(Number.isInteger(capacity) && capacity > 0, () => `capacity must be a positive integer, got ${capacity}`)
    this.items = new Array<T | undefined>(capacity)
  }

  get length(): number {
    return this.count
  }

  get isFull(): boolean {
    return this.count === this.capacity
  }

  /** Appends the item; returns false (and keeps nothing) when the queue is full. */
  push(item: T): boolean {
    if (this.count === this.capacity) return false
    this.items[(this.head + this.count) % this.capacity] = item
    this.count++
    return true
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined
    const item = this.items[this.head]
    this.items[this.head] = undefined
    this.head = (this.head + 1) % this.capacity
    this.count--
    return item
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head]
  }

  /** Removes and returns everything queued, oldest first. */
  drain(): T[] {
    const out: T[] = []
    while (this.count > 0) out.push(this.shift() as T)
    return out
  }
}
