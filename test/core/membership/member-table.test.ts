import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MemberTable, compareMemberState } from '../../../src/core/membership/member-table.ts'
import type { MemberRecord } from '../../../src/core/membership/member-table.ts'
import type { MemberUpdate } from '../../../src/core/membership/membership-messages.ts'
import { nodeId, peerAddress } from '../../../src/core/primitives/ids.ts'

/** Address and metadata are a function of (node, generation), as they are for real nodes. */
function update(kind: MemberUpdate['kind'], node: string, generation: number, incarnation: number): MemberUpdate {
  const fields = {
    node: nodeId(node),
    address: peerAddress(`${node}-${generation}:7000`),
    generation,
    incarnation,
    metadata: { httpAddress: `${node}:${8000 + generation}`, zone: 'z', partitions: 64, protocolVersion: 1 },
  }
  return kind === 'suspect' || kind === 'dead' ? { kind, ...fields, accuser: nodeId('x') } : { kind, ...fields }
}

const arbitraryUpdate = fc
  .tuple(
    fc.constantFrom<MemberUpdate['kind']>('alive', 'suspect', 'dead', 'left'),
    fc.constantFrom('a', 'b', 'c'),
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([kind, node, generation, incarnation]) => update(kind, node, generation, incarnation))

/** The table without local fields (arrival times), for comparing merges. */
function snapshot(table: MemberTable): Omit<MemberRecord, 'stateChangedAtMs'>[] {
  return table.all().map(({ stateChangedAtMs: _ignored, ...rest }) => rest)
}

function merged(updates: readonly MemberUpdate[]): MemberTable {
  const table = new MemberTable()
  updates.forEach((item, i) => table.apply(item, i))
  return table
}

describe('MemberTable', () => {
  it('merging updates in any order yields the same table (commutative)', () => {
    fc.assert(
      fc.property(fc.array(arbitraryUpdate, { maxLength: 30 }).chain((updates) => fc.tuple(fc.constant(updates), fc.shuffledSubarray(updates, { minLength: updates.length, maxLength: updates.length }))), ([updates, permuted]) => {
        expect(snapshot(merged(permuted))).toEqual(snapshot(merged(updates)))
      }),
    )
  })

  it('is idempotent and the record is the greatest update (a naive reference)', () => {
    fc.assert(
      fc.property(fc.array(arbitraryUpdate, { maxLength: 30 }), (updates) => {
        const twice = merged([...updates, ...updates])
        expect(snapshot(twice)).toEqual(snapshot(merged(updates)))
        for (const record of twice.all()) {
          const about = updates.filter((item) => item.node === record.id)
          const greatest = about.reduce((best, item) => (compareMemberState({ ...item, state: item.kind }, { ...best, state: best.kind }) > 0 ? item : best))
          expect([record.state, record.generation, record.incarnation]).toEqual([greatest.kind, greatest.generation, greatest.incarnation])
        }
      }),
    )
  })

  it('orders state by generation, then incarnation, then alive < suspect < dead', () => {
    const table = new MemberTable()
    expect(table.apply(update('alive', 'a', 1, 0), 0)).toBe('inserted')
    expect(table.apply(update('suspect', 'a', 1, 0), 1)).toBe('replaced')
    expect(table.apply(update('alive', 'a', 1, 0), 2)).toBe('stale') // only a higher incarnation refutes
    expect(table.apply(update('alive', 'a', 1, 1), 3)).toBe('replaced')
    expect(table.apply(update('dead', 'a', 1, 1), 4)).toBe('replaced')
    expect(table.apply(update('dead', 'a', 1, 1), 5)).toBe('duplicate')
    // A new generation replaces everything at once, even a dead record with a higher incarnation.
    expect(table.apply(update('alive', 'a', 2, 0), 6)).toBe('replaced')
    expect(table.get(nodeId('a'))).toMatchObject({ state: 'alive', generation: 2, incarnation: 0, address: 'a-2:7000' })
  })

  it('ignores stale updates from an older generation, including a late left', () => {
    const table = new MemberTable()
    table.apply(update('alive', 'a', 5, 0), 0)
    expect(table.apply(update('left', 'a', 4, 9), 1)).toBe('stale')
    expect(table.apply(update('dead', 'a', 4, 9), 1)).toBe('stale')
    expect(table.get(nodeId('a'))?.state).toBe('alive')
  })

  it('left ends a generation: nothing later in that generation revives it', () => {
    const table = new MemberTable()
    table.apply(update('left', 'a', 1, 2), 0)
    expect(table.apply(update('alive', 'a', 1, 50), 1)).toBe('stale')
    expect(table.apply(update('alive', 'a', 2, 0), 2)).toBe('replaced')
  })

  it('reaps dead and left members after the reap time, never live ones', () => {
    const table = new MemberTable()
    table.apply(update('alive', 'a', 1, 0), 0)
    table.apply(update('dead', 'b', 1, 0), 0)
    table.apply(update('left', 'c', 1, 0), 500)
    table.apply(update('suspect', 'd', 1, 0), 0)
    expect(table.reap(999, 1_000)).toEqual([])
    expect(table.reap(1_000, 1_000)).toEqual(['b'])
    expect(table.reap(1_500, 1_000)).toEqual(['c'])
    expect(table.all().map((record) => record.id)).toEqual(['a', 'd'])
  })

  it('all() answers the same sorted array until the table changes, then the new records', () => {
    const table = new MemberTable()
    table.apply(update('alive', 'b', 1, 0), 0)
    table.apply(update('alive', 'a', 1, 0), 0)
    const first = table.all()
    expect(first.map((record) => record.id)).toEqual(['a', 'b'])
    expect(table.all()).toBe(first)
    table.apply(update('alive', 'a', 1, 0), 10) // a duplicate changes nothing
    expect(table.all()).toBe(first)
    table.apply(update('suspect', 'a', 1, 0), 20)
    expect(table.all().map((record) => `${record.id}:${record.state}`)).toEqual(['a:suspect', 'b:alive'])
    table.delete(nodeId('b'))
    expect(table.all().map((record) => record.id)).toEqual(['a'])
  })

  it('finds the live owner of an address', () => {
    const table = new MemberTable()
    const shared = peerAddress('h:1')
    table.apply({ ...update('dead', 'old', 1, 0), address: shared }, 0)
    table.apply({ ...update('alive', 'new', 1, 0), address: shared }, 0)
    expect(table.byAddress(shared)?.id).toBe('new')
  })
})
