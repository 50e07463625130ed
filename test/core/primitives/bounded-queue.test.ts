import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BoundedQueue } from '../../../src/core/primitives/bounded-queue.ts'

describe('BoundedQueue', () => {
  it('behaves like an array that refuses pushes beyond its capacity', () => {
    const operation = fc.oneof(fc.record({ push: fc.integer() }), fc.constant({ shift: true as const }), fc.constant({ drain: true as const }))
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(operation, { maxLength: 100 }), (capacity, operations) => {
        const queue = new BoundedQueue<number>(capacity)
        const model: number[] = []
        for (const op of operations) {
          if ('push' in op) {
            const accepted = model.length < capacity
            expect(queue.push(op.push)).toBe(accepted)
            if (accepted) model.push(op.push)
          } else if ('shift' in op) {
            expect(queue.shift()).toBe(model.shift())
          } else {
            expect(queue.drain()).toEqual(model.splice(0))
          }
          expect(queue.length).toBe(model.length)
          expect(queue.isFull).toBe(model.length === capacity)
          expect(queue.peek()).toBe(model[0])
        }
      }),
      { seed: 11, numRuns: 300 },
    )
  })

  it('rejects a capacity that is not a positive integer', () => {
    expect(() => new BoundedQueue(0)).toThrow(/capacity/)
    expect(() => new BoundedQueue(1.5)).toThrow(/capacity/)
  })
})
