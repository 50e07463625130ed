import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { LocalHealth } from '../../../src/core/membership/local-health.ts'
import { emergentLeader } from '../../../src/core/membership/emergent-leader.ts'
import { ProbeOrder } from '../../../src/core/membership/probe-order.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import type { NodeId } from '../../../src/core/primitives/ids.ts'
import { SeededRandom } from '../../../src/core/primitives/random.ts'

describe('LocalHealth', () => {
  it('stays within [0, max] under any sequence of deltas and lag reports', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }).map((d) => ({ d })), fc.double({ min: -1e9, max: 1e9, noNaN: true }).map((lag) => ({ lag })))), (steps) => {
        const health = new LocalHealth({ maxScore: 8, lagPerPointMs: 250 })
        for (const step of steps) {
          if ('d' in step) health.applyDelta(step.d)
          else health.reportLag(step.lag)
          expect(health.score).toBeGreaterThanOrEqual(0)
          expect(health.score).toBeLessThanOrEqual(8)
          expect(health.scale(500)).toBe(500 * (1 + health.score))
        }
      }),
    )
  })

  it('lag raises it in proportion, successful probes lower it', () => {
    const health = new LocalHealth({ maxScore: 8, lagPerPointMs: 250 })
    health.reportLag(100)
    expect(health.score).toBe(0)
    health.reportLag(2_000)
    expect(health.score).toBe(8)
    expect(health.multiplier).toBe(9)
    health.applyDelta(-1)
    expect(health.score).toBe(7)
  })
})

describe('ProbeOrder', () => {
  it('visits every member once per round, in a reshuffled order each round', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer(), (count, seed) => {
        const order = new ProbeOrder(new SeededRandom(Math.abs(seed)))
        const ids = Array.from({ length: count }, (_, i) => nodeId(`n${i}`))
        for (const id of ids) order.insert(id)
        for (let round = 0; round < 3; round++) {
          const visited: NodeId[] = []
          for (let i = 0; i < count; i++) visited.push(order.next(() => true) as NodeId)
          expect([...visited].sort()).toEqual([...ids].sort())
        }
      }),
    )
  })

  it('skips ineligible members and returns undefined when none is eligible', () => {
    const order = new ProbeOrder(new SeededRandom(1))
    order.insert(nodeId('a'))
    order.insert(nodeId('b'))
    expect(order.next((id) => id === 'b')).toBe('b')
    expect(order.next(() => false)).toBeUndefined()
    order.remove(nodeId('b'))
    expect(order.length).toBe(1)
  })
})

describe('emergentLeader', () => {
  it('is the live member with the smallest (generation, id)', () => {
    const members = [
      { id: nodeId('b'), generation: 10, state: 'alive' as const },
      { id: nodeId('a'), generation: 10, state: 'suspect' as const },
      { id: nodeId('c'), generation: 5, state: 'dead' as const },
      { id: nodeId('d'), generation: 4, state: 'left' as const },
      { id: nodeId('e'), generation: 11, state: 'alive' as const },
    ]
    expect(emergentLeader(members)).toBe('a')
    expect(emergentLeader(members.filter((member) => member.id !== 'a'))).toBe('b')
    expect(emergentLeader([])).toBeNull()
  })

  it('does not depend on the order members are listed in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ id: fc.string().map(nodeId), generation: fc.integer({ min: 0, max: 5 }), state: fc.constantFrom('alive' as const, 'suspect' as const, 'dead' as const, 'left' as const) }), { selector: (member) => member.id }), (members) => {
        expect(emergentLeader([...members].reverse())).toBe(emergentLeader(members))
      }),
    )
  })
})
