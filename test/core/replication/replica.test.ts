/**
 * The replica's per-key waiting list: storage does not merge, so two read-merge-write cycles of one key must not
 * overlap (the second would overwrite the first one's sibling), while different keys proceed concurrently.
 */
import { describe, expect, it } from 'vitest'
import type { Effect } from '../../../src/core/node/effect.ts'
import { IoContinuations } from '../../../src/core/node/io-continuations.ts'
import type { Mutation, StorageResult } from '../../../src/core/node/storage-operation.ts'
import { callId, nodeId, operationId } from '../../../src/core/primitives/ids.ts'
import type { OperationId } from '../../../src/core/primitives/ids.ts'
import { Replica } from '../../../src/core/replication/replica.ts'
import type { MintOutcome } from '../../../src/core/replication/replica.ts'
import { makeActor } from '../../../src/core/versioning/actor.ts'
import { readObject } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import { decodeObject } from '../../../src/core/versioning/object-codec.ts'
import { defaultVersioningLimits } from '../../../src/core/versioning/versioning-limits.ts'

/** A tiny storage that answers the effects it is handed, in whatever order the test chooses. */
class Harness {
  private ids = 1
  readonly io = new IoContinuations({ nextCallId: () => callId(this.ids++), nextOperationId: () => operationId(this.ids++) })
  readonly objects = new Map<string, Uint8Array>()
  readonly pending: Effect[] = []
  readonly replica: Replica

  /** `knowsAbsence`: the replica is told which keys this storage lacks, as a node's Merkle trees tell it. */
  constructor(options: { readonly knowsAbsence?: boolean } = {}) {
    this.replica = new Replica({
      io: this.io, actor: makeActor(nodeId('n1'), 1), stamp: () => ({ physicalMs: this.ids, logical: 0 }),
      limits: defaultVersioningLimits, maxQueued: 2,
      knownAbsent: options.knowsAbsence === true ? (address) => !this.objects.has(address.key) : undefined,
    })
  }

  /** Completes the oldest storage effect of the given kind. */
  complete(kind: 'read' | 'write'): void {
    const index = this.pending.findIndex((e) => e.kind === kind)
    expect(index).toBeGreaterThanOrEqual(0)
    const [effect] = this.pending.splice(index, 1)
    const out: Effect[] = []
    this.io.storageResult((effect as { operationId: OperationId }).operationId, this.answer(effect as Effect), out)
    this.pending.push(...out)
  }

  private answer(effect: Effect): StorageResult {
    if (effect.kind === 'read' && effect.query.kind === 'get-object') {
      const value = this.objects.get(effect.query.key)
      return { kind: 'object', object: value === undefined ? null : { partition: 0, bucket: 'b', key: effect.query.key, value, seq: 1 } }
    }
    // This storage keeps no request-id records: the retry tests are about what the object itself records.
    if (effect.kind === 'read' && effect.query.kind === 'get-request-record') return { kind: 'request-record', record: null }
    if (effect.kind === 'write') {
      for (const m of effect.mutations as Mutation[]) if (m.kind === 'put-object') this.objects.set(m.key, m.value)
      return { kind: 'written', outcomes: effect.mutations.map(() => ({ kind: 'object-written' as const, partition: 0, seq: 1 })) }
    }
    throw new Error(`unexpected ${effect.kind}`)
  }
}

const blind = (key: string, value: string) => ({
  partition: 0, bucket: 'b', key, conflict: 'siblings' as const, context: null,
  content: { kind: 'value' as const, value: new TextEncoder().encode(value), contentType: 'text/plain' },
})

/** Two blind writes of 'one' and 'two' to key k, one right after the other; their outcomes collect in order. */
function mintOneAndTwo(h: Harness): MintOutcome[] {
  const outcomes: MintOutcome[] = []
  h.replica.mint(blind('k', 'one'), h.pending, (o) => outcomes.push(o))
  h.replica.mint(blind('k', 'two'), h.pending, (o) => outcomes.push(o))
  return outcomes
}

/** The values stored under `key`, sorted. */
function storedValues(h: Harness, key: string): string[] {
  const stored = decodeObject(h.objects.get(key) as Uint8Array)
  const read = stored.kind === 'decoded' ? readObject(stored.object) : null
  return read?.kind === 'found' ? read.values.map((v) => new TextDecoder().decode(v.value)).sort() : []
}

describe('Replica', () => {
  it('serializes read-merge-write cycles of one key, so two blind writes both survive as siblings', () => {
    const h = new Harness()
    const outcomes = mintOneAndTwo(h)
    expect(h.pending.map((e) => e.kind)).toEqual(['read'])
    h.complete('read')
    expect(h.pending.map((e) => e.kind)).toEqual(['write'])
    h.complete('write')
    expect(outcomes.map((o) => o.kind)).toEqual(['minted'])
    expect(h.pending.map((e) => e.kind)).toEqual(['read'])
    h.complete('read')
    h.complete('write')
    expect(outcomes.map((o) => o.kind)).toEqual(['minted', 'minted'])
    expect(storedValues(h, 'k')).toEqual(['one', 'two'])
  })

  it('skips the read of a key the node knows it lacks, and still serializes the cycles of that key', () => {
    const h = new Harness({ knowsAbsence: true })
    const outcomes = mintOneAndTwo(h)
    // Nothing stored under k: the first cycle writes straight away; the second waits for it.
    expect(h.pending.map((e) => e.kind)).toEqual(['write'])
    h.complete('write')
    // Now k is stored, so the second cycle reads it and keeps the first write as a sibling.
    expect(h.pending.map((e) => e.kind)).toEqual(['read'])
    h.complete('read')
    h.complete('write')
    expect(outcomes.map((o) => o.kind)).toEqual(['minted', 'minted'])
    expect(storedValues(h, 'k')).toEqual(['one', 'two'])
    expect(h.replica.counters.skippedReads).toBe(1)

    const merged: string[] = []
    const incoming = decodeObject(h.objects.get('k') as Uint8Array)
    if (incoming.kind !== 'decoded') throw new Error('stored object does not decode')
    h.replica.merge({ partition: 0, bucket: 'b', key: 'fresh' }, 'siblings', incoming.object, null, h.pending, (o) => merged.push(o))
    h.replica.merge({ partition: 0, bucket: 'b', key: 'k' }, 'siblings', incoming.object, null, h.pending, (o) => merged.push(o))
    // 'fresh' is known absent and goes straight to its write; 'k' is stored and is read first.
    expect(h.pending.map((e) => e.kind)).toEqual(['write', 'read'])
    h.complete('write')
    h.complete('read')
    expect(merged).toEqual(['stored', 'stored'])
    expect(h.replica.counters.skippedReads).toBe(2)
  })

  it('stores a fresh key as the bytes it arrived in, and encodes afresh whatever the merge changed', () => {
    const h = new Harness({ knowsAbsence: true })
    mintOneAndTwo(h)
    h.complete('write')
    h.complete('read')
    h.complete('write')
    const decoded = decodeObject(h.objects.get('k') as Uint8Array)
    if (decoded.kind !== 'decoded') throw new Error('stored object does not decode')
    expect(decoded.object.siblings).toHaveLength(2)
    // A copy, as a frame carries it: the stored value must be this very array, not a new encoding.
    const wire = Uint8Array.from(h.objects.get('k') as Uint8Array)
    h.replica.merge({ partition: 0, bucket: 'b', key: 'fresh' }, 'siblings', decoded.object, null, h.pending, () => {}, wire)
    // Last-write-wins keeps one of the two siblings: a different object, so different bytes.
    h.replica.merge({ partition: 0, bucket: 'b', key: 'lww' }, 'lww', decoded.object, null, h.pending, () => {}, wire)
    h.complete('write')
    h.complete('write')
    expect(h.objects.get('fresh')).toBe(wire)
    expect(h.objects.get('lww')).not.toBe(wire)
    const lww = decodeObject(h.objects.get('lww') as Uint8Array)
    expect(lww.kind === 'decoded' ? lww.object.siblings.length : -1).toBe(1)
  })

  it('hands a peer the stored bytes as they are: the asker decodes and validates them', () => {
    const h = new Harness()
    const garbage = new Uint8Array([0xff, 0x00, 0x13])
    h.objects.set('k', garbage)
    const reads: unknown[] = []
    h.replica.readBytes({ partition: 0, bucket: 'b', key: 'k' }, h.pending, (read) => reads.push(read))
    h.replica.readBytes({ partition: 0, bucket: 'b', key: 'none' }, h.pending, (read) => reads.push(read))
    h.complete('read')
    h.complete('read')
    expect(reads).toEqual([{ kind: 'found', encoded: garbage }, { kind: 'missing' }])
    expect(h.replica.counters.corruptObjects).toBe(0)
  })

  it('tells whether a partition has a job waiting or running, for as long as it has one', () => {
    const h = new Harness()
    h.replica.mint({ ...blind('a', 'x'), partition: 7 }, h.pending, () => {})
    h.replica.mint({ ...blind('a', 'y'), partition: 7 }, h.pending, () => {})
    expect([h.replica.busyIn(7), h.replica.busyIn(0)]).toEqual([true, false])
    h.complete('read')
    h.complete('write')
    expect(h.replica.busyIn(7)).toBe(true)
    h.complete('read')
    h.complete('write')
    expect(h.replica.busyIn(7)).toBe(false)
    expect(h.replica.queuedJobs).toBe(0)
  })

  it('runs different keys concurrently and refuses work beyond its queue limit', () => {
    const h = new Harness()
    const outcomes: string[] = []
    h.replica.mint(blind('a', 'x'), h.pending, (o) => outcomes.push(o.kind))
    h.replica.mint(blind('b', 'y'), h.pending, (o) => outcomes.push(o.kind))
    expect(h.pending.map((e) => e.kind)).toEqual(['read', 'read'])
    h.replica.mint(blind('c', 'z'), h.pending, (o) => outcomes.push(o.kind))
    expect(outcomes).toEqual(['failed'])
    expect(h.replica.counters.refusedOverload).toBe(1)
  })

  it('answers a retry whose first attempt another primary already replicated here as a duplicate, minting nothing', () => {
    const h = new Harness()
    const other = new Replica({
      io: h.io, actor: makeActor(nodeId('n2'), 1), stamp: () => ({ physicalMs: 1, logical: 0 }), limits: defaultVersioningLimits, maxQueued: 2,
    })
    const outcomes: MintOutcome[] = []
    // n2 minted the first attempt and its replica write reached this node.
    other.mint({ ...blind('k', 'mine'), clientRequestId: 'req-1' }, h.pending, (o) => outcomes.push(o))
    h.complete('read')
    h.complete('read') // the request-id record
    h.complete('write')
    // The client's retry, through a coordinator that now forwards to this node.
    h.replica.mint({ ...blind('k', 'mine'), clientRequestId: 'req-1' }, h.pending, (o) => outcomes.push(o))
    h.complete('read')
    h.complete('read')
    expect(h.pending).toEqual([])
    const retry = outcomes[1]
    expect(retry?.kind).toBe('duplicate')
    expect(retry?.kind === 'duplicate' ? retry.dot?.node : null).toBe('n2')
    // A different request id is a different write, and mints.
    h.replica.mint({ ...blind('k', 'mine'), clientRequestId: 'req-2' }, h.pending, (o) => outcomes.push(o))
    h.complete('read')
    h.complete('read')
    h.complete('write')
    expect(outcomes[2]?.kind).toBe('minted')
    // A write that saw req-1 retires it; a retry of req-1 arriving after that is not minted on top of it.
    h.replica.mint({ ...blind('k', 'newer'), context: [], seenWriteIds: ['req-1'] }, h.pending, (o) => outcomes.push(o))
    h.complete('read')
    h.complete('write')
    h.replica.mint({ ...blind('k', 'mine'), clientRequestId: 'req-1' }, h.pending, (o) => outcomes.push(o))
    h.complete('read')
    h.complete('read')
    expect(outcomes.map((o) => o.kind)).toEqual(['minted', 'duplicate', 'minted', 'minted', 'duplicate'])
  })

  it('never mints a dot twice, even on a copy that lost the dots this node minted (sim kv-join seed 14)', () => {
    const h = new Harness()
    const outcomes: MintOutcome[] = []
    h.replica.mint(blind('k', 'first'), h.pending, (o) => outcomes.push(o))
    h.complete('read')
    h.complete('write')
    // The partition was handed off and dropped, then gained back: this node's copy of k is gone.
    h.objects.delete('k')
    h.replica.mint(blind('k', 'second'), h.pending, (o) => outcomes.push(o))
    h.complete('read')
    h.complete('write')
    const dots = outcomes.map((o) => (o.kind === 'minted' ? o.newDot.counter : -1))
    expect(dots[1]).toBeGreaterThan(dots[0] as number)
  })
})
