import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DisseminationQueue, retransmitLimit } from '../../../src/core/membership/dissemination-queue.ts'
import { estimateEncodedBytes } from '../../../src/core/membership/membership-messages.ts'
import type { MemberUpdate } from '../../../src/core/membership/membership-messages.ts'
import { nodeId, peerAddress } from '../../../src/core/primitives/ids.ts'

function alive(node: string, incarnation = 0, zone = 'z'): MemberUpdate {
  return {
    kind: 'alive',
    node: nodeId(node),
    address: peerAddress(`${node}:7000`),
    generation: 1_700_000_000,
    incarnation,
    metadata: { httpAddress: `${node}:8000`, zone, partitions: 256, protocolVersion: 1 },
  }
}

describe('DisseminationQueue', () => {
  it('retransmit limit is ⌈λ·log₂(n+1)⌉', () => {
    expect(retransmitLimit(4, 1)).toBe(4)
    expect(retransmitLimit(4, 3)).toBe(8)
    expect(retransmitLimit(4, 10)).toBe(14)
    expect(retransmitLimit(4, 0)).toBe(4)
  })

  it('sends each update exactly its retransmit limit times, then forgets it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 20 }), (clusterSize, count) => {
        const queue = new DisseminationQueue({ retransmitMultiplier: 4, capacity: 100 })
        for (let i = 0; i < count; i++) queue.enqueue(alive(`n${i}`))
        const sent = new Map<string, number>()
        for (let round = 0; round < 10_000 && queue.length > 0; round++) {
          for (const item of queue.take(1_400, clusterSize)) sent.set(item.node, (sent.get(item.node) ?? 0) + 1)
        }
        expect(queue.length).toBe(0)
        for (const times of sent.values()) expect(times).toBe(retransmitLimit(4, clusterSize))
        expect(sent.size).toBe(count)
      }),
    )
  })

  it('never exceeds the byte budget', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ maxLength: 200 })), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 1_400 }),
        (members, budgetBytes) => {
          const queue = new DisseminationQueue({ retransmitMultiplier: 4, capacity: 100 })
          for (const [name, zone] of members) queue.enqueue(alive(name, 0, zone))
          const taken = queue.take(budgetBytes, 10)
          const used = taken.reduce((sum, item) => sum + estimateEncodedBytes(item), 0)
          expect(used).toBeLessThanOrEqual(budgetBytes)
        },
      ),
    )
  })

  it('a newer update about a node replaces the older one and starts afresh', () => {
    const queue = new DisseminationQueue({ retransmitMultiplier: 1, capacity: 10 })
    queue.enqueue(alive('a', 0))
    queue.take(1_400, 3)
    queue.enqueue(alive('a', 1))
    expect(queue.length).toBe(1)
    expect(queue.peek(nodeId('a'))).toMatchObject({ incarnation: 1 })
    expect(queue.take(1_400, 3)).toEqual([alive('a', 1)])
  })

  it('takes the least-transmitted first, newest first among equals', () => {
    const queue = new DisseminationQueue({ retransmitMultiplier: 4, capacity: 10 })
    queue.enqueue(alive('old'))
    const oneUpdate = estimateEncodedBytes(alive('old'))
    expect(queue.take(oneUpdate, 10)).toEqual([alive('old')])
    queue.enqueue(alive('mid'))
    queue.enqueue(alive('new'))
    expect(queue.take(oneUpdate, 10)).toEqual([alive('new')])
    expect(queue.take(oneUpdate, 10)).toEqual([alive('mid')])
    // All sent once now: the newest goes first.
    expect(queue.take(oneUpdate, 10)).toEqual([alive('new')])
    expect(queue.take(oneUpdate, 10)).toEqual([alive('mid')])
    expect(queue.take(oneUpdate, 10)).toEqual([alive('old')])
  })

  it('skips nodes the message already carries, and drops the most-sent update when full', () => {
    const queue = new DisseminationQueue({ retransmitMultiplier: 4, capacity: 2 })
    queue.enqueue(alive('a'))
    queue.take(1_400, 10)
    queue.enqueue(alive('b'))
    queue.enqueue(alive('c')) // full: 'a' has been sent once and goes
    expect(queue.length).toBe(2)
    expect(queue.peek(nodeId('a'))).toBeUndefined()
    expect(queue.take(1_400, 10, new Set([nodeId('b')]))).toEqual([alive('c')])
  })
})
