/**
 * Ownership handoff, one node at a time against a scripted storage and network: which partitions a table change
 * makes a node send, drop and wait for; the new owner's reads covering a majority of previous owners until the
 * partition has arrived; the old owner refusing plain merges, streaming, confirming, and dropping only after the
 * delay. The whole protocol under load runs in test/sim/handoff.test.ts.
 */
import { describe, expect, it } from 'vitest'
import type { Effect } from '../../../src/core/node/effect.ts'
import type { CallOutcome } from '../../../src/core/node/input.ts'
import { IoContinuations } from '../../../src/core/node/io-continuations.ts'
import type { StorageResult } from '../../../src/core/node/storage-operation.ts'
import { partitionOf } from '../../../src/core/partitioning/key-hash.ts'
import type { OwnershipTable } from '../../../src/core/partitioning/ownership-table.ts'
import { callId, nodeId, operationId, peerAddress } from '../../../src/core/primitives/ids.ts'
import type { CallId, NodeId, OperationId } from '../../../src/core/primitives/ids.ts'
import type { ClusterView } from '../../../src/core/replication/cluster-view.ts'
import { OwnershipHandoff } from '../../../src/core/replication/ownership-handoff.ts'
import type { LocalRead } from '../../../src/core/replication/replica.ts'
import { Replica } from '../../../src/core/replication/replica.ts'
import { makeActor } from '../../../src/core/versioning/actor.ts'
import { updateObject } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import { encodeObject } from '../../../src/core/versioning/object-codec.ts'
import { emptyObject } from '../../../src/core/versioning/sibling.ts'
import { defaultVersioningLimits } from '../../../src/core/versioning/versioning-limits.ts'

const [n1, n2, n3, n4] = ['n1', 'n2', 'n3', 'n4'].map(nodeId) as [NodeId, NodeId, NodeId, NodeId]
/** Partition 0 moves from n3 to n4; partition 1 stays. */
const before: OwnershipTable = { partitions: 2, n: 3, version: { leaderGeneration: 1, version: 1 }, owners: [[n1, n2, n3], [n1, n2, n3]] }
const after: OwnershipTable = { partitions: 2, n: 3, version: { leaderGeneration: 1, version: 2 }, owners: [[n1, n2, n4], [n1, n2, n3]] }
const key = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => partitionOf('b', k, 2) === 0) as string
const address = { partition: 0, bucket: 'b', key }
const object = (() => {
  const outcome = updateObject(emptyObject, {
    context: null, content: { kind: 'value', value: new TextEncoder().encode('v'), contentType: 'text/plain' },
    actor: makeActor(n1, 1), timestamp: { physicalMs: 1, logical: 0 },
  }, defaultVersioningLimits)
  if (outcome.kind !== 'updated') throw new Error('could not build an object')
  return outcome.object
})()

class Harness {
  private ids = 1
  nowMs = 0
  readonly io = new IoContinuations({ nextCallId: () => callId(this.ids++), nextOperationId: () => operationId(this.ids++) })
  readonly out: Effect[] = []
  readonly handoff: OwnershipHandoff

  constructor(self: NodeId) {
    const cluster: ClusterView = {
      self, nowMs: () => this.nowMs, table: () => null, members: () => [n1, n2, n3, n4], isLive: () => true,
      address: (id) => peerAddress(`${id}:7000`),
    }
    const replica = new Replica({ io: this.io, actor: makeActor(self, 1), stamp: () => ({ physicalMs: 1, logical: 0 }), limits: defaultVersioningLimits, maxQueued: 100 })
    this.handoff = new OwnershipHandoff({ io: this.io, cluster, replica, conflictFor: () => 'siblings' }, {
      pageKeys: 10, maxPartitionsInFlight: 1, retryIntervalMs: 100, dropDelayMs: 1_000, callTimeoutMs: 1_000,
    })
    this.handoff.observeTable(before, 0, this.out)
    this.handoff.observeTable(after, 0, this.out)
  }

  take<K extends Effect['kind']>(kind: K): Extract<Effect, { kind: K }>[] {
    const taken = this.out.filter((e): e is Extract<Effect, { kind: K }> => e.kind === kind)
    this.out.splice(0, this.out.length, ...this.out.filter((e) => e.kind !== kind))
    return taken
  }

  store(effect: { operationId: OperationId }, result: StorageResult): void {
    this.io.storageResult(effect.operationId, result, this.out)
  }

  answer(effect: { callId: CallId }, outcome: CallOutcome): void {
    this.io.callResult(effect.callId, outcome, this.out)
  }
}

const found = { kind: 'ok' as const, message: { kind: 'replica-read-reply' as const, from: n1, outcome: 'found' as const, object: encodeObject(object) } }
const missing = { kind: 'ok' as const, message: { kind: 'replica-read-reply' as const, from: n2, outcome: 'missing' as const } }
const lost = { kind: 'failed' as const, reason: 'timeout' as const }

describe('OwnershipHandoff', () => {
  it('a new owner reads through the previous owners until a majority of them has handed the partition over', () => {
    const h = new Harness(n4)
    expect(h.handoff.pendingIncoming).toBe(1)
    const reads: LocalRead[] = []
    h.handoff.readLocal(address, h.out, (read) => reads.push(read))
    const [local] = h.take('read')
    const calls = h.take('call')
    expect(calls.map((c) => c.to)).toEqual(['n1:7000', 'n2:7000', 'n3:7000'].map(peerAddress))
    h.store(local as { operationId: OperationId }, { kind: 'object', object: null })
    h.answer(calls[0] as { callId: CallId }, found)
    h.answer(calls[1] as { callId: CallId }, missing)
    h.answer(calls[2] as { callId: CallId }, lost)
    expect(reads.map((r) => r.kind)).toEqual(['found'])

    // One previous owner answering is not a majority of three: the read fails rather than answer too little.
    h.handoff.readLocal(address, h.out, (read) => reads.push(read))
    h.store(h.take('read')[0] as { operationId: OperationId }, { kind: 'object', object: null })
    const [a, b, c] = h.take('call')
    h.answer(a as { callId: CallId }, missing)
    h.answer(b as { callId: CallId }, lost)
    h.answer(c as { callId: CallId }, lost)
    expect(reads.map((r) => r.kind)).toEqual(['found', 'failed'])

    for (const from of [n1, n2]) {
      h.handoff.receive(peerAddress(`${from}:7000`), callId(900), { kind: 'replica-handoff', from, partition: 0, tableVersion: after.version, objects: [], last: true }, h.out)
    }
    expect(h.take('respond').map((r) => (r.message as { outcome: string }).outcome)).toEqual(['stored', 'stored'])
    expect(h.handoff.pendingIncoming).toBe(0)
    h.handoff.readLocal(address, h.out, (read) => reads.push(read))
    expect(h.take('call')).toEqual([])
  })

  it('an old owner refuses plain merges, streams the partition, and drops it only after the confirmation and the delay', () => {
    const h = new Harness(n3)
    expect(h.handoff.refusesMerge(0, null)).toBe(true)
    expect(h.handoff.refusesMerge(0, n1)).toBe(false)
    expect(h.handoff.refusesMerge(1, null)).toBe(false)
    const [scan] = h.take('read')
    expect(scan?.query).toEqual({ kind: 'scan-partition', partition: 0, after: null, limit: 10 })
    h.store(scan as { operationId: OperationId }, { kind: 'objects', objects: [{ ...address, value: encodeObject(object), seq: 1 }], complete: true })
    const [call] = h.take('call')
    expect(call?.to).toBe(peerAddress('n4:7000'))
    expect(call?.message).toMatchObject({ kind: 'replica-handoff', partition: 0, last: true, objects: [{ bucket: 'b', key }] })
    h.answer(call as { callId: CallId }, { kind: 'ok', message: { kind: 'replica-handoff-reply', from: n4, outcome: 'stored' } })
    expect(h.handoff.idle).toBe(false)
    h.nowMs = 999
    h.handoff.tick(h.nowMs, h.out)
    expect(h.take('read')).toEqual([])
    h.nowMs = 1_000
    h.handoff.tick(h.nowMs, h.out)
    const [dropScan] = h.take('read')
    h.store(dropScan as { operationId: OperationId }, { kind: 'objects', objects: [{ ...address, value: encodeObject(object), seq: 1 }], complete: true })
    const [write] = h.take('write')
    expect(write?.mutations).toEqual([{ kind: 'delete-object', ...address }])
    h.store(write as { operationId: OperationId }, { kind: 'written', outcomes: [{ kind: 'object-deleted' }] })
    expect(h.handoff.idle).toBe(true)
    expect(h.handoff.counters).toMatchObject({ handoffsStarted: 1, handoffsCompleted: 1, keysSent: 1, keysDropped: 1, partitionsDropped: 1 })
  })
})
