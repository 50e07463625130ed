/**
 * The simulator's one event queue: a binary min-heap ordered by (time, sequence). The sequence number is
 * assigned at scheduling, so events due at the same moment run in the order they were scheduled
 * (FoundationDB's rule). That tie-break is what makes a run a function of its seed alone: nothing about heap
 * layout, object identity or hash order can leak into the order of execution.
 *
 * Do not "optimise" the comparison to time alone: a heap is not stable, and two same-time events would then
 * run in an order that depends on the heap's history rather than on the program.
 */
import { assert } from '../core/primitives/assert.ts'
import type { Millis } from '../core/primitives/ids.ts'

export interface ScheduledEvent<T> {
  readonly timeMs: Millis
  /** Strictly increasing per queue: the tie-break between events due at the same time. */
  readonly sequence: number
  readonly payload: T
}

export class EventQueue<T> {
  private readonly heap: ScheduledEvent<T>[] = []
  private nextSequence = 0

  get length(): number {
    return this.heap.length
  }

  /** Adds an event due at `timeMs`; returns its sequence number. */
  schedule(timeMs: Millis, payload: T): number {
    assert(Number.isFinite(timeMs), () => `event time must be finite, got ${timeMs}`)
    const event: ScheduledEvent<T> = { timeMs, sequence: this.nextSequence++, payload }
    this.heap.push(event)
    this.siftUp(this.heap.length - 1)
    return event.sequence
  }

  peek(): ScheduledEvent<T> | undefined {
    return this.heap[0]
  }

  /** Removes and returns the earliest event (lowest time, then lowest sequence). */
  pop(): ScheduledEvent<T> | undefined {
    const top = this.heap[0]
    if (top === undefined) return undefined
    const last = this.heap.pop() as ScheduledEvent<T>
    if (this.heap.length > 0) {
      this.heap[0] = last
      this.siftDown(0)
    }
    return top
  }

  private siftUp(start: number): void {
    let index = start
    const event = this.heap[index] as ScheduledEvent<T>
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = this.heap[parentIndex] as ScheduledEvent<T>
      if (!before(event, parent)) break
      this.heap[index] = parent
      index = parentIndex
    }
    this.heap[index] = event
  }

  private siftDown(start: number): void {
    let index = start
    const size = this.heap.length
    const event = this.heap[index] as ScheduledEvent<T>
    for (;;) {
      const left = 2 * index + 1
      if (left >= size) break
      const right = left + 1
      let child = left
      if (right < size && before(this.heap[right] as ScheduledEvent<T>, this.heap[left] as ScheduledEvent<T>)) child = right
      const childEvent = this.heap[child] as ScheduledEvent<T>
      if (!before(childEvent, event)) break
      this.heap[index] = childEvent
      index = child
    }
    this.heap[index] = event
  }
}

function before<T>(a: ScheduledEvent<T>, b: ScheduledEvent<T>): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.sequence < b.sequence)
}
