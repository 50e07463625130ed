/**
 * The object codec: exact round trips, one encoding per object (so digests compare across replicas), sizes
 * predicted without encoding, a size bound, and typed errors, never exceptions, for corrupt input.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { emptyObject, mergeAllObjects } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import { decodeObject, encodedObjectSize, encodeObject } from '../../../src/core/versioning/object-codec.ts'
import { nodeCountArb, opArb, ReplicaCluster } from './replica-cluster.ts'

const objectArb = fc
  .tuple(nodeCountArb, fc.array(opArb({ wipes: true, restarts: true, compactions: true }), { maxLength: 50, size: 'max' }), fc.nat())
  .map(([nodeCount, ops, pick]) => {
    const cluster = new ReplicaCluster(nodeCount)
    for (const op of ops) cluster.apply(op)
    const pool = [emptyObject, ...cluster.snapshots, ...cluster.objects]
    return pool[pick % pool.length] ?? emptyObject
  })

function expectTyped(bytes: Uint8Array): void {
  const outcome = decodeObject(bytes)
  expect(['decoded', 'corrupt', 'too-large']).toContain(outcome.kind)
  if (outcome.kind === 'decoded') expect(encodeObject(outcome.object)).toEqual(bytes)
}

describe('object codec', () => {
  it('round-trips, is deterministic and predicts its size', () => {
    fc.assert(
      fc.property(objectArb, (object) => {
        const bytes = encodeObject(object)
        expect(bytes.length).toBe(encodedObjectSize(object))
        const decoded = decodeObject(bytes)
        expect(decoded).toEqual({ kind: 'decoded', object })
        if (decoded.kind === 'decoded') expect(encodeObject(decoded.object)).toEqual(bytes)
      }),
      { seed: 0x0b_7ec7, numRuns: 300 },
    )
  })

  it('gives converged replicas byte-identical encodings whatever the merge order', () => {
    fc.assert(
      fc.property(nodeCountArb, fc.array(opArb({ wipes: false, restarts: true, compactions: false }), { maxLength: 50, size: 'max' }), (nodeCount, ops) => {
        const cluster = new ReplicaCluster(nodeCount)
        for (const op of ops) cluster.apply(op)
        const forward = encodeObject(mergeAllObjects(cluster.objects))
        const backward = encodeObject(mergeAllObjects([...cluster.objects].reverse()))
        expect(forward).toEqual(backward)
      }),
      { seed: 0x0b_7ec8, numRuns: 200 },
    )
  })

  it('never throws on random bytes or on valid encodings with a byte changed, inserted or cut', () => {
    const mutatedArb = fc.tuple(objectArb, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'insert', 'truncate')).map(([object, at, value, how]) => {
      const bytes = encodeObject(object)
      const index = at % bytes.length
      if (how === 'truncate') return bytes.slice(0, index)
      if (how === 'insert') return Uint8Array.from([...bytes.slice(0, index), value, ...bytes.slice(index)])
      return Uint8Array.from(bytes, (b, i) => (i === index ? value : b))
    })
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 128 }), fc.uint8Array({ maxLength: 64 }).map((b) => Uint8Array.from([0xc7, 1, ...b])), mutatedArb), expectTyped),
      { seed: 0x0b_7ec9, numRuns: 2_000 },
    )
  })

  it('refuses input above the size bound before parsing it', () => {
    expect(decodeObject(new Uint8Array(100), 10)).toMatchObject({ kind: 'too-large', code: 'OBJECT_TOO_LARGE', objectBytes: 100 })
    expect(decodeObject(new Uint8Array(0))).toMatchObject({ kind: 'corrupt', code: 'CORRUPT_OBJECT' })
  })
})
