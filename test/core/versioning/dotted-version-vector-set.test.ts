/**
 * Dotted version vector sets: the merge laws, no false concurrency, tombstones, and the sibling and size limits.
 * Objects come from random histories of 3–5 replicas (replica-cluster.ts), so the laws are checked on the
 * objects replicas really hold, not on arbitrary structures that no history could produce.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { makeActor } from '../../../src/core/versioning/actor.ts'
import {
  deleteObject,
  emptyObject,
  mergeAllObjects,
  mergeObjects,
  readObject,
  siblingLevel,
  updateObject,
} from '../../../src/core/versioning/dotted-version-vector-set.ts'
import type { DottedVersionVectorSet, UpdateOutcome, Write } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import { objectProblem } from '../../../src/core/versioning/sibling.ts'
import { compareVersionVectors } from '../../../src/core/versioning/version-vector.ts'
import { defaultVersioningLimits } from '../../../src/core/versioning/versioning-limits.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import { nodeCountArb, opArb, ReplicaCluster } from './replica-cluster.ts'

const historyArb = fc
  .tuple(nodeCountArb, fc.array(opArb({ wipes: true, restarts: true, compactions: false }), { minLength: 1, maxLength: 60, size: 'max' }))
  .map(([nodeCount, ops]) => {
    const cluster = new ReplicaCluster(nodeCount)
    for (const op of ops) cluster.apply(op)
    return cluster
  })

/** Three objects from one history (snapshots or current replicas), so equal dots really are the same write. */
const threeObjectsArb = historyArb.chain((cluster) => {
  const pool = [emptyObject, ...cluster.snapshots, ...cluster.objects]
  const pick = fc.nat({ max: pool.length - 1 }).map((i) => pool[i] as DottedVersionVectorSet)
  return fc.tuple(pick, pick, pick)
})

const actor = makeActor(nodeId('node-a'), 1)
const otherActor = makeActor(nodeId('node-b'), 1)
let wallMs = 1_000

function write(context: Write['context'], text: string, by = actor): Write {
  wallMs += 1
  return { context, actor: by, timestamp: { physicalMs: wallMs, logical: 0 }, content: { kind: 'value', value: new TextEncoder().encode(text), contentType: 'text/plain' } }
}

function updated(outcome: UpdateOutcome): DottedVersionVectorSet {
  if (outcome.kind !== 'updated') throw new Error(`expected an update, got ${outcome.kind}`)
  return outcome.object
}

function liveTexts(object: DottedVersionVectorSet): string[] {
  const read = readObject(object)
  return read.kind === 'found' ? read.values.map((v) => new TextDecoder().decode(v.value)).sort() : []
}

describe('merge is a semilattice join', () => {
  it('is commutative, associative and idempotent over random histories of 3–5 nodes', () => {
    fc.assert(
      fc.property(threeObjectsArb, ([a, b, c]) => {
        expect(mergeObjects(a, b)).toEqual(mergeObjects(b, a))
        expect(mergeObjects(mergeObjects(a, b), c)).toEqual(mergeObjects(a, mergeObjects(b, c)))
        expect(mergeObjects(a, a)).toEqual(a)
        expect(mergeObjects(a, emptyObject)).toEqual(a)
        const merged = mergeObjects(a, b)
        expect(objectProblem(merged)).toBeNull()
        // The join is an upper bound: merging in either input again changes nothing.
        expect(mergeObjects(merged, b)).toEqual(merged)
        expect(['after', 'equal']).toContain(compareVersionVectors(merged.history, a.history))
      }),
      { seed: 0x3e_12, numRuns: 400 },
    )
  })
})

describe('no false concurrency', () => {
  it('a write with the context of the latest read leaves exactly one value', () => {
    fc.assert(
      fc.property(historyArb, fc.nat({ max: 4 }), fc.boolean(), (cluster, index, withOthers) => {
        // Optionally sync the replica with everyone first: the read then covers every write in the cluster.
        const object = withOthers ? mergeAllObjects(cluster.objects) : (cluster.objects[index % cluster.nodeCount] as DottedVersionVectorSet)
        const context = readObject(object).context
        const next = updated(updateObject(object, write(context, 'resolved', cluster.actorOf(index % cluster.nodeCount))))
        expect(next.siblings).toHaveLength(1)
        expect(liveTexts(next)).toEqual(['resolved'])
      }),
      { seed: 0xfa_15e, numRuns: 300 },
    )
  })

  it('two writes with the same context give exactly two siblings, on one replica or on two then merged', () => {
    fc.assert(
      fc.property(historyArb, fc.nat({ max: 4 }), (cluster, index) => {
        const synced = mergeAllObjects(cluster.objects)
        const context = readObject(synced).context
        const first = cluster.actorOf(index % cluster.nodeCount)
        const second = cluster.actorOf((index + 1) % cluster.nodeCount)
        const sameReplica = updated(updateObject(updated(updateObject(synced, write(context, 'x', first))), write(context, 'y', first)))
        expect(liveTexts(sameReplica)).toEqual(['x', 'y'])
        const onA = updated(updateObject(synced, write(context, 'x', first)))
        const onB = updated(updateObject(synced, write(context, 'y', second)))
        expect(liveTexts(mergeObjects(onA, onB))).toEqual(['x', 'y'])
        expect(mergeObjects(onA, onB).siblings).toHaveLength(2)
      }),
      { seed: 0x2_51b, numRuns: 300 },
    )
  })

  it('a write without a context is concurrent with everything stored', () => {
    const one = updated(updateObject(emptyObject, write(null, 'a')))
    const two = updated(updateObject(one, write(null, 'b')))
    expect(liveTexts(two)).toEqual(['a', 'b'])
  })
})

describe('tombstones', () => {
  it('a delete with a context removes what it covers, and a concurrent write survives it as a sibling', () => {
    fc.assert(
      fc.property(historyArb, fc.nat({ max: 4 }), (cluster, index) => {
        const synced = mergeAllObjects(cluster.objects)
        const context = readObject(synced).context
        const deleter = cluster.actorOf(index % cluster.nodeCount)
        const deleted = updated(deleteObject(synced, { context, actor: deleter, timestamp: { physicalMs: 1, logical: 0 } }))
        expect(readObject(deleted).kind).toBe('deleted')
        expect(deleted.siblings).toHaveLength(1)
        // Meanwhile another replica took a write from a client that had read the same state.
        const writer = cluster.actorOf((index + 1) % cluster.nodeCount)
        const concurrent = updated(updateObject(synced, write(context, 'survivor', writer)))
        const merged = mergeObjects(deleted, concurrent)
        expect(liveTexts(merged)).toEqual(['survivor'])
        expect(merged.siblings.map((s) => s.content.kind).sort()).toEqual(['tombstone', 'value'])
        // Every replica that held only what the delete covered now reads as deleted.
        for (const replica of cluster.objects) expect(readObject(mergeObjects(replica, deleted)).kind).toBe('deleted')
      }),
      { seed: 0x70_3b, numRuns: 300 },
    )
  })

  it('a write with the tombstone\'s context revives the key without a sibling', () => {
    const stored = updated(updateObject(emptyObject, write(null, 'a')))
    const deleted = updated(deleteObject(stored, { context: stored.history, actor, timestamp: { physicalMs: 5, logical: 0 } }))
    const read = readObject(deleted)
    expect(read.kind).toBe('deleted')
    const revived = updated(updateObject(deleted, write(read.context, 'b', otherActor)))
    expect(revived.siblings).toHaveLength(1)
    expect(liveTexts(revived)).toEqual(['b'])
  })
})

describe('reads', () => {
  it('report missing, deleted and found', () => {
    expect(readObject(emptyObject).kind).toBe('missing')
    const one = updated(updateObject(emptyObject, write(null, 'a')))
    const read = readObject(one)
    expect(read.kind).toBe('found')
    if (read.kind === 'found') expect(read.values[0]?.timestamp.physicalMs).toBeGreaterThan(0)
  })

  it('a context from another replica supersedes siblings this replica has not seen yet, on arrival', () => {
    const onA = updated(updateObject(emptyObject, write(null, 'a', actor)))
    // A client read 'a' from replica A and writes through replica B, which has never seen 'a'.
    const onB = updated(updateObject(emptyObject, write(onA.history, 'b', otherActor)))
    expect(liveTexts(mergeObjects(onB, onA))).toEqual(['b'])
    expect(liveTexts(mergeObjects(onA, onB))).toEqual(['b'])
  })
})

describe('limits and signals', () => {
  it('flags an object above the warn threshold and refuses a write above the maximum', () => {
    const limits = { ...defaultVersioningLimits, siblingWarnCount: 3, maxSiblings: 5 }
    let object = emptyObject
    const levels: string[] = []
    for (let i = 0; i < 5; i++) {
      const outcome = updateObject(object, write(null, `v${i}`), limits)
      if (outcome.kind !== 'updated') throw new Error(outcome.kind)
      levels.push(outcome.siblingLevel)
      object = outcome.object
    }
    expect(levels).toEqual(['normal', 'normal', 'normal', 'warn', 'warn'])
    expect(siblingLevel(object, limits)).toBe('warn')
    const refused = updateObject(object, write(null, 'one too many'), limits)
    expect(refused).toMatchObject({ kind: 'too-many-siblings', code: 'TOO_MANY_SIBLINGS', siblingCount: 6, maxSiblings: 5 })
    // A write that resolves the siblings is still accepted: the limit must not lock the key.
    expect(updateObject(object, write(object.history, 'resolved'), limits).kind).toBe('updated')
  })

  it('uses 25 and 100 by default', () => {
    let object = emptyObject
    for (let i = 0; i < 100; i++) object = updated(updateObject(object, write(null, `v${i}`)))
    expect(siblingLevel(object)).toBe('warn')
    expect(updateObject(object, write(null, 'v100')).kind).toBe('too-many-siblings')
  })

  it('refuses a write whose encoded object would exceed the size bound, and bad content types', () => {
    const limits = { ...defaultVersioningLimits, maxObjectBytes: 64 }
    const big: Write = { ...write(null, ''), content: { kind: 'value', value: new Uint8Array(100), contentType: 'a/b' } }
    expect(updateObject(emptyObject, big, limits)).toMatchObject({ kind: 'too-large', code: 'OBJECT_TOO_LARGE', maxObjectBytes: 64 })
    const badType: Write = { ...write(null, ''), content: { kind: 'value', value: new Uint8Array(1), contentType: 'x'.repeat(256) } }
    expect(updateObject(emptyObject, badType).kind).toBe('invalid-content-type')
    const loneSurrogate: Write = { ...write(null, ''), content: { kind: 'value', value: new Uint8Array(1), contentType: '\ud800' } }
    expect(updateObject(emptyObject, loneSurrogate).kind).toBe('invalid-content-type')
  })

  it('merges never refuse, whatever the sibling count', () => {
    const limits = { ...defaultVersioningLimits, maxSiblings: 2 }
    const a = updated(updateObject(updated(updateObject(emptyObject, write(null, 'a1'), limits)), write(null, 'a2'), limits))
    const b = updated(updateObject(emptyObject, write(null, 'b1', otherActor), limits))
    const merged = mergeObjects(a, b)
    expect(merged.siblings).toHaveLength(3)
    expect(siblingLevel(merged, limits)).toBe('over-limit')
  })
})
