/**
 * The event queue against a naive reference: a plain array, stably sorted by time, from which the first element
 * is taken. Any interleaving of schedules and pops must give the same events in the same order, which is the
 * (time, sequence) rule: same-time events run in the order they were scheduled.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { EventQueue } from '../../src/sim/event-queue.ts'

type Operation = { readonly kind: 'schedule'; readonly timeMs: number } | { readonly kind: 'pop' }

const operation: fc.Arbitrary<Operation> = fc.oneof(
  // Few distinct times, so that ties are common: ties are what the property is about.
  { arbitrary: fc.integer({ min: 0, max: 8 }).map((timeMs) => ({ kind: 'schedule' as const, timeMs })), weight: 3 },
  { arbitrary: fc.constant({ kind: 'pop' as const }), weight: 2 },
)

class NaiveQueue {
  private items: { timeMs: number; id: number }[] = []

  schedule(timeMs: number, id: number): void {
    this.items.push({ timeMs, id })
    // Array.prototype.sort is stable, so equal times keep their insertion order.
    this.items.sort((x, y) => x.timeMs - y.timeMs)
  }

  pop(): { timeMs: number; id: number } | undefined {
    return this.items.shift()
  }
}

describe('EventQueue', () => {
  it('runs same-time events in scheduling order (a fixed example)', () => {
    const queue = new EventQueue<string>()
    queue.schedule(5, 'b1')
    queue.schedule(1, 'a')
    queue.schedule(5, 'b2')
    queue.schedule(3, 'c')
    queue.schedule(5, 'b3')
    const order: string[] = []
    for (let event = queue.pop(); event !== undefined; event = queue.pop()) order.push(event.payload)
    expect(order).toEqual(['a', 'c', 'b1', 'b2', 'b3'])
  })

  it('pops exactly what a stably sorted array would, for any interleaving of schedules and pops', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300 }), (operations) => {
        const queue = new EventQueue<number>()
        const reference = new NaiveQueue()
        let nextId = 0
        for (const op of operations) {
          if (op.kind === 'schedule') {
            queue.schedule(op.timeMs, nextId)
            reference.schedule(op.timeMs, nextId)
            nextId++
          } else {
            const got = queue.pop()
            const want = reference.pop()
            expect(got === undefined ? undefined : { timeMs: got.timeMs, id: got.payload }).toEqual(want)
          }
        }
        // Drain what is left: the tail must agree too.
        for (let want = reference.pop(); want !== undefined; want = reference.pop()) {
          const got = queue.pop()
          expect({ timeMs: got?.timeMs, id: got?.payload }).toEqual(want)
        }
        expect(queue.pop()).toBeUndefined()
        expect(queue.length).toBe(0)
      }),
      { numRuns: 300 },
    )
  })
})
