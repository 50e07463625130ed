/**
 * The Merkle tree against a naive reference: after any sequence of sets and removals, the tree equals one built
 * from scratch over the final contents (incremental XOR updates lose nothing), and two trees differ exactly in
 * the leaves of the keys whose digests differ.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { digest64 } from '../../../src/core/anti-entropy/digest64.ts'
import { MerkleTree, keyDigest } from '../../../src/core/anti-entropy/merkle-tree.ts'

const shape = { fanout: 4, depth: 2 }
const op = fc.record({ key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'), value: fc.option(fc.nat(5), { nil: null }) })
const digestOf = (value: number): ReturnType<typeof digest64> => digest64(new Uint8Array([value]))

describe('MerkleTree', () => {
  it('incremental updates equal a rebuild from the final contents', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const tree = new MerkleTree(shape)
      const model = new Map<string, number>()
      for (const { key, value } of ops) {
        tree.set('b', key, value === null ? null : digestOf(value))
        if (value === null) model.delete(key)
        else model.set(key, value)
      }
      const rebuilt = new MerkleTree(shape)
      for (const [key, value] of model) rebuilt.set('b', key, digestOf(value))
      expect(tree.root).toEqual(rebuilt.root)
      expect(tree.size).toBe(model.size)
      for (let leaf = 0; leaf < tree.leafCount; leaf++) expect(tree.hash(2, leaf)).toEqual(rebuilt.hash(2, leaf))
    }))
  })

  it('after any churn, every leaf lists exactly its model entries and get answers the stored digest', () => {
    // Buckets of different lengths and deletes that free slots for reuse: the compact slot store must never mix
    // a freed entry into a leaf or cut an id at the wrong place.
    const churn = fc.record({
      bucket: fc.constantFrom('b', 'bucket-two', ''),
      key: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', '', 'x\u0000y', 'é'),
      value: fc.option(fc.nat(5), { nil: null }),
    })
    fc.assert(fc.property(fc.array(churn, { maxLength: 80 }), (ops) => {
      const tree = new MerkleTree(shape)
      const model = new Map<string, { bucket: string; key: string; value: number }>()
      for (const { bucket, key, value } of ops) {
        tree.set(bucket, key, value === null ? null : digestOf(value))
        const id = JSON.stringify([bucket, key])
        if (value === null) model.delete(id)
        else model.set(id, { bucket, key, value })
      }
      expect(tree.size).toBe(model.size)
      for (const { bucket, key, value } of model.values()) expect(tree.get(bucket, key)).toEqual(digestOf(value))
      const listed = Array.from({ length: tree.leafCount }, (_, leaf) => tree.leafEntries(leaf).map((entry) => {
        expect(tree.leafOf(entry.bucket, entry.key)).toBe(leaf)
        return { bucket: entry.bucket, key: entry.key, digest: entry.digest }
      })).flat()
      const expected = [...model.values()].map(({ bucket, key, value }) => ({ bucket, key, digest: digestOf(value) }))
      const order = (a: { bucket: string; key: string }, b: { bucket: string; key: string }): number => JSON.stringify([a.bucket, a.key]) < JSON.stringify([b.bucket, b.key]) ? -1 : 1
      expect(listed.sort(order)).toEqual(expected.sort(order))
    }))
  })

  it('hashes as it always has: peers running other versions compare the same leaves and roots', () => {
    // Figures from the tree before its ids moved into KeySlots (a Map of id strings and digest64OfText of the id).
    const tree = new MerkleTree()
    for (const [bucket, key, value] of [['b', 'k', 1], ['users', 'é-ü', 2], ['', 'x\u0000y', 3], ['bucket', 'key-42', 4]] as const) {
      tree.set(bucket, key, digestOf(value))
    }
    expect(keyDigest('users', 'é-ü')).toEqual({ hi: 3084248571, lo: 1870645243 })
    expect(keyDigest('b', 'k')).toEqual({ hi: 3672405638, lo: 2552119004 })
    expect(tree.root).toEqual({ hi: 339400308, lo: 3328473274 })
    expect(tree.leafOf('bucket', 'key-42')).toBe(457)
  })

  it('an empty tree hashes to zero and differing keys show only in their leaves', () => {
    const a = new MerkleTree(shape)
    const b = new MerkleTree(shape)
    expect(a.root).toEqual({ hi: 0, lo: 0 })
    for (const key of ['a', 'b', 'c']) {
      a.set('b', key, digestOf(1))
      b.set('b', key, digestOf(1))
    }
    expect(a.root).toEqual(b.root)
    b.set('b', 'c', digestOf(2))
    expect(a.root).not.toEqual(b.root)
    const differing = Array.from({ length: a.leafCount }, (_, leaf) => leaf).filter((leaf) => JSON.stringify(a.hash(2, leaf)) !== JSON.stringify(b.hash(2, leaf)))
    expect(differing).toEqual([a.leafOf('b', 'c')])
    expect(b.leafEntries(a.leafOf('b', 'c')).map((e) => e.key)).toContain('c')
  })
})
