/**
 * Which replicas a read asks (issue 6): the coordinator asks only as many targets as r and pr need (this node
 * first when it is one, the others from a random offset), the next one as soon as an asked one fails, every
 * remaining one once the speculative delay has passed, and with `speculativeReadMs` 0 every target at once as
 * before. The coordinator is driven directly: a fixed table, a cluster view over plain sets, and the test
 * answering each storage and call effect itself.
 */
import { describe, expect, it } from 'vitest'
import type { Effect } from '../../../src/core/node/effect.ts'
import type { CallOutcome } from '../../../src/core/node/input.ts'
import { IoContinuations } from '../../../src/core/node/io-continuations.ts'
import type { ClientResponse } from '../../../src/core/node/client.ts'
import type { QuorumSetting } from '../../../src/core/node/node-config.ts'
import { callId, nodeId, operationId, peerAddress, requestId } from '../../../src/core/primitives/ids.ts'
import type { CallId, Millis, NodeId, OperationId } from '../../../src/core/primitives/ids.ts'
import { SeededRandom } from '../../../src/core/primitives/random.ts'
import { BucketPropsRegistry } from '../../../src/core/replication/bucket-props-registry.ts'
import { Coordinator } from '../../../src/core/replication/coordinator.ts'
import { Replica } from '../../../src/core/replication/replica.ts'
import { makeActor } from '../../../src/core/versioning/actor.ts'
import { updateObject } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import { encodeObject } from '../../../src/core/versioning/object-codec.ts'
import type { DottedVersionVectorSet } from '../../../src/core/versioning/sibling.ts'
import { emptyObject } from '../../../src/core/versioning/sibling.ts'
import { defaultVersioningLimits } from '../../../src/core/versioning/versioning-limits.ts'

const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map(nodeId) as [NodeId, NodeId, NodeId, NodeId, NodeId]
const TIMEOUT_MS = 1_000

interface Setup {
  readonly self: NodeId
  readonly down?: readonly NodeId[]
  readonly speculativeReadMs?: Millis
  readonly seed?: number
}

/** One coordinator over a one-partition table owned by a, b, c; d and e are the fallbacks, in that order. */
class Harness {
  private ids = 1
  nowMs = 0
  readonly effects: Effect[] = []
  readonly replies: ClientResponse[] = []
  readonly io = new IoContinuations({ nextCallId: () => callId(this.ids++), nextOperationId: () => operationId(this.ids++) })
  readonly coordinator: Coordinator

  constructor(readonly setup: Setup) {
    const down = new Set(setup.down ?? [])
    const replica = new Replica({ io: this.io, actor: makeActor(setup.self, 1), stamp: () => ({ physicalMs: 1, logical: 0 }), limits: defaultVersioningLimits, maxQueued: 10 })
    this.coordinator = new Coordinator({
      io: this.io, replica,
      random: new SeededRandom(setup.seed ?? 1),
      bucketProps: new BucketPropsRegistry({ n: 3, r: 'quorum', w: 'quorum', conflict: 'siblings' }),
      cluster: {
        self: setup.self,
        nowMs: () => this.nowMs,
        table: () => ({ partitions: 1, n: 3, version: { leaderGeneration: 1, version: 1 }, owners: [[a, b, c]] }),
        members: () => [a, b, c, d, e],
        isLive: (id) => id === setup.self || !down.has(id),
        address: (id) => peerAddress(id),
      },
    }, { requestTimeoutMs: TIMEOUT_MS, maxPendingRequests: 100, maxValueBytes: 1_000, speculativeReadMs: setup.speculativeReadMs ?? 10 })
  }

  get(r: QuorumSetting, pr?: QuorumSetting): void {
    const out: Effect[] = []
    this.coordinator.get(requestId(this.ids++), { kind: 'get', bucket: 'b', key: 'k', r, ...(pr === undefined ? {} : { pr }) }, out)
    this.take(out)
  }

  /** The replicas asked so far and not yet answered, in the order they were asked (self for a local read). */
  asked(): NodeId[] {
    return this.effects.flatMap((effect) => {
      if (effect.kind === 'read') return [this.setup.self]
      if (effect.kind === 'call' && effect.message.kind === 'replica-read') return [nodeId(effect.to)]
      return []
    })
  }

  /** Replica-merge calls sent (read repair), by target. */
  repaired(): NodeId[] {
    return this.effects.flatMap((effect) => (effect.kind === 'call' && effect.message.kind === 'replica-merge' ? [nodeId(effect.to)] : []))
  }

  /** Answers the read asked of `from`: found with a value, missing, or failed (unreachable, storage error). */
  answer(from: NodeId, how: 'found' | 'missing' | 'failed'): void {
    const object = valueObject()
    const index = this.effects.findIndex((effect) =>
      from === this.setup.self ? effect.kind === 'read' : effect.kind === 'call' && effect.message.kind === 'replica-read' && effect.to === peerAddress(from))
    expect(index, `${from} was not asked`).toBeGreaterThanOrEqual(0)
    const [effect] = this.effects.splice(index, 1)
    const out: Effect[] = []
    if (effect?.kind === 'read') {
      this.io.storageResult(effect.operationId as OperationId, how === 'failed'
        ? { kind: 'failed', code: 'STORAGE_FAILED', message: 'disk' }
        : { kind: 'object', object: how === 'missing' ? null : { partition: 0, bucket: 'b', key: 'k', value: encodeObject(object), seq: 1 } }, out)
    } else if (effect?.kind === 'call') {
      const outcome: CallOutcome = how === 'failed'
        ? { kind: 'failed', reason: 'unreachable' }
        : { kind: 'ok', message: { kind: 'replica-read-reply', from, outcome: how, ...(how === 'found' ? { object: encodeObject(object) } : {}) } }
      this.io.callResult(effect.callId as CallId, outcome, out)
    }
    this.take(out)
  }

  tick(nowMs: Millis): void {
    this.nowMs = nowMs
    const out: Effect[] = []
    this.coordinator.tick(nowMs, out)
    this.take(out)
  }

  private take(out: readonly Effect[]): void {
    for (const effect of out) {
      if (effect.kind === 'reply') this.replies.push(effect.response)
      else this.effects.push(effect)
    }
  }
}

function valueObject(): DottedVersionVectorSet {
  const updated = updateObject(emptyObject, {
    context: null, content: { kind: 'value', value: new Uint8Array([1]), contentType: 'x' },
    actor: makeActor(a, 1), timestamp: { physicalMs: 1, logical: 0 },
  })
  if (updated.kind !== 'updated') throw new Error('the test object could not be built')
  return updated.object
}

describe('Coordinator read asking', () => {
  it('asks r targets first, itself first when it is a target', () => {
    const h = new Harness({ self: b })
    h.get('quorum')
    expect(h.asked()).toHaveLength(2)
    expect(h.asked()[0]).toBe(b)
    expect(h.coordinator.counters.replicaReads).toBe(2)
  })

  it('spreads the replicas a coordinator outside the preference list asks over every replica', () => {
    const firsts = new Set<NodeId>()
    const pairs = new Set<string>()
    for (let seed = 1; seed <= 30; seed++) {
      const one = new Harness({ self: d, seed })
      one.get('one')
      expect(one.asked()).toHaveLength(1)
      firsts.add(one.asked()[0] as NodeId)
      const two = new Harness({ self: d, seed })
      two.get('quorum')
      expect(two.asked()).toHaveLength(2)
      pairs.add([...two.asked()].sort().join(','))
    }
    expect([...firsts].sort()).toEqual([a, b, c])
    expect([...pairs].sort()).toEqual(['a,b', 'a,c', 'b,c'])
  })

  it('asks the next target as soon as an asked one fails, and answers from it', () => {
    const h = new Harness({ self: d })
    h.get('quorum')
    const [first, second] = h.asked() as [NodeId, NodeId]
    h.answer(first, 'failed')
    const third = [a, b, c].find((id) => id !== first && id !== second) as NodeId
    expect(h.asked().sort()).toEqual([second, third].sort())
    h.answer(second, 'found')
    expect(h.replies).toEqual([])
    h.answer(third, 'found')
    expect(h.replies.map((reply) => reply.kind)).toEqual(['object'])
    expect(h.coordinator.pendingRequests).toBe(0)
  })

  it('a failed local read is replaced too', () => {
    const h = new Harness({ self: a })
    h.get('one')
    expect(h.asked()).toEqual([a])
    h.answer(a, 'failed')
    expect(h.asked()).toHaveLength(1)
    expect([b, c]).toContain(h.asked()[0])
  })

  it('asks every remaining target once the speculative delay passes without a quorum', () => {
    const h = new Harness({ self: d, speculativeReadMs: 20 })
    h.get('quorum')
    expect(h.asked()).toHaveLength(2)
    h.tick(10)
    expect(h.asked()).toHaveLength(2)
    h.tick(20)
    expect(h.asked().sort()).toEqual([a, b, c])
    expect(h.coordinator.counters.speculativeReads).toBe(1)
    // The first two answers meet r; the third still arrives and the entry leaves the waiting list with it.
    for (const id of [a, b]) h.answer(id, 'found')
    expect(h.replies.map((reply) => reply.kind)).toEqual(['object'])
    expect(h.coordinator.pendingRequests).toBe(1)
    h.answer(c, 'missing')
    expect(h.coordinator.pendingRequests).toBe(0)
    expect(h.repaired()).toEqual([c])
  })

  it('does not speculate once the quorum is met, and repairs as soon as every asked target answered', () => {
    const h = new Harness({ self: d })
    h.get('quorum')
    const [first, second] = h.asked() as [NodeId, NodeId]
    h.answer(first, 'found')
    h.answer(second, 'missing')
    expect(h.replies.map((reply) => reply.kind)).toEqual(['object'])
    expect(h.coordinator.pendingRequests).toBe(0)
    expect(h.repaired()).toEqual([second])
    h.tick(50)
    expect(h.asked()).toEqual([])
    expect(h.coordinator.counters).toMatchObject({ speculativeReads: 0, timeouts: 0, replicaReads: 2 })
  })

  it('honours pr: fallbacks fill only the slots that primaries do not need', () => {
    // c is down: the targets are a, b and the fallback d.
    for (let seed = 1; seed <= 20; seed++) {
      const both = new Harness({ self: e, down: [c], seed })
      both.get('one', 2)
      expect(both.asked().sort()).toEqual([a, b])
      const some = new Harness({ self: e, down: [c], seed })
      some.get(2, 1)
      expect(some.asked()).toHaveLength(2)
      expect(some.asked().filter((id) => id === a || id === b).length).toBeGreaterThanOrEqual(1)
    }
  })

  it('with pr, a failed primary is replaced by the remaining primary, not by a fallback', () => {
    const h = new Harness({ self: d, down: [c] })
    // self d is the fallback for c; r = 1, pr = 1: one primary is asked, d's own copy is not needed.
    h.get('one', 1)
    const [first] = h.asked() as [NodeId]
    expect([a, b]).toContain(first)
    h.answer(first, 'failed')
    expect(h.asked()).toEqual([first === a ? b : a])
  })

  it('with speculativeReadMs 0 asks every target at once in preference order, as before issue 6', () => {
    const h = new Harness({ self: b, speculativeReadMs: 0 })
    h.get('one')
    expect(h.asked()).toEqual([a, b, c])
    h.answer(b, 'found')
    expect(h.replies.map((reply) => reply.kind)).toEqual(['object'])
    h.answer(a, 'found')
    expect(h.coordinator.pendingRequests).toBe(1)
    h.answer(c, 'missing')
    expect(h.coordinator.pendingRequests).toBe(0)
    expect(h.repaired()).toEqual([c])
  })

  it('answers unavailable once every target failed, and times out at the deadline otherwise', () => {
    const failing = new Harness({ self: d })
    failing.get('quorum')
    for (const id of failing.asked()) failing.answer(id, 'failed')
    for (const id of failing.asked()) failing.answer(id, 'failed')
    expect(failing.replies.map((reply) => reply.kind === 'error' ? reply.code : reply.kind)).toEqual(['UNAVAILABLE'])
    expect(failing.coordinator.pendingRequests).toBe(0)
    const silent = new Harness({ self: d })
    silent.get('quorum')
    silent.tick(TIMEOUT_MS)
    expect(silent.replies.map((reply) => reply.kind === 'error' ? reply.code : reply.kind)).toEqual(['TIMEOUT'])
    // The deadline passed before any speculation ran: nothing more was asked at the last moment.
    expect(silent.asked()).toHaveLength(2)
    expect(silent.coordinator.pendingRequests).toBe(0)
  })
})
