import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { claim } from '../../../src/core/partitioning/claim.ts'
import type { ClaimMember } from '../../../src/core/partitioning/claim.ts'
import { movedReplicas, replicaCounts } from '../../../src/core/partitioning/ownership-table.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import type { NodeId } from '../../../src/core/primitives/ids.ts'

const members = (count: number, zones = 0): ClaimMember[] =>
  Array.from({ length: count }, (_, i) => ({ id: nodeId(`node-${String(i).padStart(2, '0')}`), ...(zones > 0 ? { zone: `z${i % zones}` } : {}) }))

function spread(owners: readonly (readonly NodeId[])[]): number {
  const counts = [...replicaCounts(owners).values()]
  return Math.max(...counts) - Math.min(...counts)
}

describe('claim', () => {
  it('gives every partition n distinct nodes, balanced within one replica, for 3 to 50 nodes', () => {
    for (let m = 3; m <= 50; m++) {
      const owners = claim({ partitions: 256, n: 3, members: members(m), previous: null })
      expect(owners).toHaveLength(256)
      for (const list of owners) expect(new Set(list).size).toBe(3)
      expect([m, spread(owners)]).toEqual([m, owners.flat().length % m === 0 ? 0 : 1])
    }
  })

  it('with fewer members than n, every member holds every partition', () => {
    const owners = claim({ partitions: 16, n: 3, members: members(2), previous: null })
    for (const list of owners) expect([...list].sort()).toEqual(['node-00', 'node-01'])
  })

  it('spreads replicas over distinct zones when zones allow it', () => {
    for (const [m, zones] of [[6, 3], [9, 3], [12, 4], [8, 4], [10, 5]] as const) {
      const owners = claim({ partitions: 256, n: 3, members: members(m, zones), previous: null })
      const zoneOf = new Map(members(m, zones).map((x) => [x.id, x.zone]))
      const duplicated = owners.filter((list) => new Set(list.map((id) => zoneOf.get(id))).size < 3).length
      expect([m, zones, duplicated]).toEqual([m, zones, 0])
      expect(spread(owners)).toBeLessThanOrEqual(1)
    }
  })

  it('adding the (M+1)-th node moves about Q·N/(M+1) replicas and no more', () => {
    const figures: string[] = []
    for (let m = 3; m <= 30; m++) {
      const before = claim({ partitions: 256, n: 3, members: members(m), previous: null })
      const after = claim({ partitions: 256, n: 3, members: members(m + 1), previous: before })
      const moved = movedReplicas(before, after)
      const ideal = Math.ceil((256 * 3) / (m + 1))
      figures.push(`${m}→${m + 1}: moved ${moved}, ideal ${ideal}`)
      expect(moved).toBeLessThanOrEqual(ideal + 1)
      expect(spread(after)).toBeLessThanOrEqual(1)
    }
    console.log(`claim movement on join (Q=256, N=3):\n  ${figures.join('\n  ')}`)
  })

  it('removing a node moves exactly the replicas it held', () => {
    for (let m = 4; m <= 20; m++) {
      const before = claim({ partitions: 256, n: 3, members: members(m), previous: null })
      const leaving = members(m)[m - 1]!.id
      const held = replicaCounts(before).get(leaving) ?? 0
      const after = claim({ partitions: 256, n: 3, members: members(m - 1), previous: before })
      expect(after.flat()).not.toContain(leaving)
      expect([m, movedReplicas(before, after)]).toEqual([m, held])
    }
  })

  it('keeps its guarantees for any membership change, and is deterministic', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 1, max: 5 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 20 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 4 }),
        (partitions, n, first, second, zones) => {
          const toMembers = (ids: number[]): ClaimMember[] => ids.map((i) => ({ id: nodeId(`n${i}`), ...(zones > 0 ? { zone: `z${i % zones}` } : {}) }))
          const before = claim({ partitions, n, members: toMembers(first), previous: null })
          const after = claim({ partitions, n, members: toMembers(second), previous: before })
          const again = claim({ partitions, n, members: [...toMembers(second)].reverse(), previous: before })
          expect(after).toEqual(again)
          const replicas = Math.min(n, second.length)
          for (const list of after) {
            expect(list).toHaveLength(replicas)
            expect(new Set(list).size).toBe(replicas)
          }
          expect(spread(after)).toBeLessThanOrEqual(1)
        },
      ),
      { seed: 4, numRuns: 300 },
    )
  })
})
