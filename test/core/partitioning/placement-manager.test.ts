import { describe, expect, it } from 'vitest'
import type { MemberView } from '../../../src/core/membership/swim.ts'
import type { MemberState } from '../../../src/core/membership/membership-messages.ts'
import type { Effect } from '../../../src/core/node/effect.ts'
import { IoContinuations } from '../../../src/core/node/io-continuations.ts'
import { PlacementManager, decodeTable, encodeTable, tableNodes } from '../../../src/core/partitioning/placement-manager.ts'
import type { PlacementMembership } from '../../../src/core/partitioning/placement-manager.ts'
import type { OwnershipTable } from '../../../src/core/partitioning/ownership-table.ts'
import { callId, nodeId, operationId, peerAddress } from '../../../src/core/primitives/ids.ts'
import type { NodeId } from '../../../src/core/primitives/ids.ts'
import { SeededRandom } from '../../../src/core/primitives/random.ts'
import { BucketPropsRegistry } from '../../../src/core/replication/bucket-props-registry.ts'

const Q = 16
const settleMs = 500

class FakeMembership implements PlacementMembership {
  readonly views = new Map<NodeId, MemberView>()
  leaderId: NodeId | null = nodeId('a')
  isJoined = true
  tableVersion = 0
  set(id: string, state: MemberState, partitions = Q, generation = 1): void {
    this.tableVersion++
    const metadata = { httpAddress: `${id}:8000`, zone: '', partitions, protocolVersion: 1 }
    this.views.set(nodeId(id), { id: nodeId(id), address: peerAddress(`${id}:7000`), state, generation, incarnation: 0, phi: 0, metadata })
  }
  membersCalls = 0
  members(): readonly MemberView[] {
    this.membersCalls++
    return [...this.views.values()]
  }
  leader(): NodeId | null {
    return this.leaderId
  }
}

function setup(self = 'a', members: readonly string[] = ['a', 'b', 'c']) {
  const membership = new FakeMembership()
  for (const id of members) membership.set(id, 'alive')
  let ids = 1
  const io = new IoContinuations({ nextCallId: () => callId(ids++), nextOperationId: () => operationId(ids++) })
  const manager = new PlacementManager(
    { io, random: new SeededRandom(1), self: { id: nodeId(self), generation: 1 }, membership, bucketProps: new BucketPropsRegistry({ n: 3, r: 'quorum', w: 'quorum', conflict: 'siblings' }) },
    { partitions: Q, n: 3, settleMs, gossipIntervalMs: 300, callTimeoutMs: 1_000 },
    0,
  )
  const tick = (nowMs: number): Effect[] => {
    const out: Effect[] = []
    manager.tick(nowMs, out)
    return out
  }
  return { membership, manager, tick }
}

describe('PlacementManager', () => {
  it('the leader computes a table once the view has been stable for the settle period, and spreads it', () => {
    const { manager, tick } = setup()
    tick(settleMs - 1)
    expect(manager.table).toBeNull()
    const effects = tick(settleMs)
    expect(manager.table?.version).toEqual({ leaderGeneration: 1, version: 1 })
    expect(tableNodes(manager.table as OwnershipTable)).toEqual(['a', 'b', 'c'])
    expect(effects.filter((e) => e.kind === 'write')).toHaveLength(1)
    const pushedTo = effects.flatMap((e) => (e.kind === 'call' && e.message.kind === 'placement-state' ? [e.to] : []))
    expect(pushedTo).toEqual(['b:7000', 'c:7000'])
    tick(settleMs + 1_000)
    expect(manager.table?.version.version).toBe(1)
  })

  it('the leader re-reads the members only after the member table changed, and then still acts on the change', () => {
    const { manager, membership, tick } = setup('a', ['a', 'b', 'c'])
    tick(settleMs)
    tick(settleMs + 10)
    const settledCalls = membership.membersCalls
    for (let nowMs = settleMs + 20; nowMs < settleMs + 1_000; nowMs += 10) tick(nowMs)
    // 98 ticks; the only reads left are the digest gossip's choice of peers, one per 300 ms gossip interval.
    expect(membership.membersCalls - settledCalls).toBeLessThanOrEqual(4)
    membership.set('d', 'alive')
    manager.viewChanged(2_000)
    tick(2_000 + settleMs)
    expect(membership.membersCalls).toBeGreaterThan(settledCalls)
    expect(tableNodes(manager.table as OwnershipTable)).toEqual(['a', 'b', 'c', 'd'])
  })

  it('a node that is not the leader never computes a table', () => {
    const { manager, tick } = setup('b')
    tick(10_000)
    expect(manager.table).toBeNull()
  })

  it('a member that is merely down keeps its partitions; one that left loses them', () => {
    const { manager, membership, tick } = setup('a', ['a', 'b', 'c', 'd'])
    tick(settleMs)
    const first = manager.table as OwnershipTable
    membership.set('d', 'dead')
    manager.viewChanged(1_000)
    tick(1_000 + settleMs)
    expect(manager.table).toBe(first)
    membership.set('d', 'left')
    manager.viewChanged(2_000)
    tick(2_000 + settleMs - 1)
    expect(manager.table).toBe(first)
    tick(2_000 + settleMs)
    expect(manager.table?.version.version).toBe(2)
    expect(tableNodes(manager.table as OwnershipTable)).toEqual(['a', 'b', 'c'])
  })

  it('the leader of a minority does not reshuffle ownership', () => {
    const { manager, membership, tick } = setup('a', ['a', 'b', 'c'])
    tick(settleMs)
    membership.set('b', 'dead')
    membership.set('c', 'dead')
    membership.set('d', 'alive')
    manager.viewChanged(1_000)
    const effects = tick(1_000 + settleMs)
    expect(manager.table?.version.version).toBe(1)
    expect(effects.some((e) => e.kind === 'log' && e.event === 'placement.minority')).toBe(true)
  })

  it('a member with another Q is never given partitions, and a warning is logged once', () => {
    const { manager, membership, tick } = setup('a', ['a', 'b'])
    membership.set('x', 'alive', 32)
    const effects = [...tick(settleMs), ...tick(settleMs + 100)]
    expect(tableNodes(manager.table as OwnershipTable)).toEqual(['a', 'b'])
    expect(effects.filter((e) => e.kind === 'log' && e.event === 'placement.partitions-mismatch')).toHaveLength(1)
  })

  it('adopts only newer tables; equal versions with different owners resolve the same way everywhere', () => {
    const { manager } = setup('b')
    const owners = (list: string[]) => Array.from({ length: Q }, () => list.map(nodeId))
    const t = (leaderGeneration: number, version: number, list: string[]): OwnershipTable => ({ partitions: Q, n: 3, version: { leaderGeneration, version }, owners: owners(list) })
    expect(manager.adopt(t(1, 2, ['a', 'b', 'c']), [])).toBe(true)
    expect(manager.adopt(t(1, 1, ['c', 'b', 'a']), [])).toBe(false)
    expect(manager.adopt(t(2, 1, ['b', 'c', 'a']), [])).toBe(true)
    expect(manager.adopt(t(2, 1, ['a', 'c', 'b']), [])).toBe(false)
    expect(manager.adopt(t(2, 1, ['c', 'a', 'b']), [])).toBe(true)
    expect(manager.table?.owners[0]).toEqual(['c', 'a', 'b'])
    expect(manager.adopt({ ...t(3, 1, ['a']), partitions: 8, owners: owners(['a']).slice(0, 8) }, [])).toBe(false)
  })

  it('answers a digest that is behind with its state, and persists and restores its table', () => {
    const { manager, tick } = setup()
    tick(settleMs)
    const out: Effect[] = []
    manager.receive(peerAddress('b:7000'), { kind: 'placement-digest', from: nodeId('b'), propsDigest: '0:0:811c9dc5' }, settleMs, out)
    expect(out).toMatchObject([{ kind: 'call', to: 'b:7000', message: { kind: 'placement-state' } }])
    const answer: Effect[] = []
    manager.receiveCall(peerAddress('b:7000'), callId(99), manager.state(), settleMs, answer)
    expect(answer).toMatchObject([{ kind: 'respond', callId: 99, message: { kind: 'placement-digest' } }])
    const bytes = encodeTable(manager.table as OwnershipTable)
    expect(decodeTable(bytes)).toEqual(manager.table)
    const other = setup('c')
    expect(other.manager.restore(bytes)).toBeNull()
    expect(other.manager.table).toEqual(manager.table)
    expect(other.manager.restore(new TextEncoder().encode('{"owners":1}'))).toMatch(/not valid/)
  })

  it('a remove request to the leader drops the node at the next tick, without waiting to settle', () => {
    const { manager, tick } = setup('a', ['a', 'b', 'c', 'd'])
    tick(settleMs)
    let outcome = ''
    manager.requestRemove(nodeId('d'), 1_000, [], (result) => (outcome = result))
    expect(outcome).toBe('accepted')
    tick(1_001)
    expect(tableNodes(manager.table as OwnershipTable)).toEqual(['a', 'b', 'c'])
    manager.requestRemove(nodeId('zz'), 1_100, [], (result) => (outcome = result))
    expect(outcome).toBe('unknown-node')
  })
})
