/**
 * The Merkle tree against a naive reference: after any sequence of sets and removals, the tree equals one built
 * from scratch over the final contents (incremental XOR updates lose nothing), and two trees differ exactly in
 * the leaves of the keys whose digests differ.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { digest64 } from '../../../src/core/anti-entropy/digest64.ts'
import { MerkleTree } from '../../../src/core/anti-entropy/merkle-tree.ts'

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
