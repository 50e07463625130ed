/**
 * The Merkle tree of one partition on one node, over (bucket, key, object digest). Keys fall into a fixed number
 * of leaf buckets by a hash of the key (fanout^depth leaves, 32² = 1024 by default), so two replicas' trees have
 * the same shape whatever they hold and can be compared node by node, top down, without agreeing on anything else.
 *
 * A node's hash is the XOR of the entry hashes below it, where an entry hash binds a key to its object digest.
 * XOR makes every update O(depth): replacing an entry XORs the old entry hash out of its leaf and every ancestor
 * and the new one in, so the tree follows every write without rescanning (the issue's "no full rescan per
 * round"). XOR cannot cancel two different entries except by a 64-bit collision, because each entry hash
 * includes its key. Pure and synchronous; memory per key is its id's code units in the KeySlots arena plus about
 * 40 bytes of slot and table arrays, and no JavaScript object (see key-slots.ts for why that matters): 71 B per
 * key in all for 23-character ids, measured with 300,000 keys (123 B with the Map of id strings before).
 */
import { assert } from '../primitives/assert.ts'
import type { Digest64 } from './digest64.ts'
import { combineDigests, digest64, digest64OfPair, digestBytes, writeDigest, xorDigests, zeroDigest } from './digest64.ts'
import { KeySlots, grownCapacity } from './key-slots.ts'

export interface MerkleShape {
  /** Children per inner node. */
  readonly fanout: number
  /** Levels below the root; leaves = fanout^depth. */
  readonly depth: number
}

/** 1024 leaves: with 100,000 keys per partition a differing leaf costs about 100 entries to list. */
export const defaultMerkleShape: MerkleShape = { fanout: 32, depth: 2 }

export interface MerkleEntry {
  readonly bucket: string
  readonly key: string
  readonly digest: Digest64
}

/** The key's own hash: picks its leaf and is half of its entry hash. The digest of the id (bucket NUL key). */
export function keyDigest(bucket: string, key: string): Digest64 {
  return digest64OfPair(bucket, key, 0x9e3779b9)
}

/** Digest of an encoded object; equal bytes on two replicas mean equal objects (the encoding is canonical). */
export function objectDigest(encoded: Uint8Array): Digest64 {
  return digest64(encoded)
}

export class MerkleTree {
  readonly leafCount: number
  /** levels[d] holds fanout^d hashes, two uint32 lanes each. */
  private readonly levels: Uint32Array[] = []
  /**
   * The entries, kept compact because a node holds one per key it stores and writes of fresh keys add one each:
   * the ids in a KeySlots index (no object per key), and per slot the digest in typed arrays and the next slot of
   * the same leaf (a chain per leaf, so a leaf lists without a scan).
   */
  private readonly keys = new KeySlots()
  private digestHi = new Uint32Array(initialSlots)
  private digestLo = new Uint32Array(initialSlots)
  /** The next slot in the same leaf's chain; −1 ends it. */
  private nextInLeaf = new Int32Array(initialSlots)
  private readonly leafHead: Int32Array

  constructor(readonly shape: MerkleShape = defaultMerkleShape) {
    assert(Number.isInteger(shape.fanout) && shape.fanout >= 2 && shape.fanout <= 256, () => `bad Merkle fanout ${shape.fanout}`)
    assert(Number.isInteger(shape.depth) && shape.depth >= 1 && shape.depth <= 4, () => `bad Merkle depth ${shape.depth}`)
    for (let level = 0, count = 1; level <= shape.depth; level++, count *= shape.fanout) this.levels.push(new Uint32Array(2 * count))
    this.leafCount = shape.fanout ** shape.depth
    this.leafHead = new Int32Array(this.leafCount).fill(-1)
  }

  get size(): number {
    return this.keys.size
  }

  leafOf(bucket: string, key: string): number {
    return keyDigest(bucket, key).lo % this.leafCount
  }

  /** Records the object now stored under (bucket, key); null when it is gone (deleted outright). Idempotent. */
  set(bucket: string, key: string, digest: Digest64 | null): void {
    const keyHash = keyDigest(bucket, key)
    const slot = this.keys.find(bucket, key, keyHash.lo)
    if (slot === -1 && digest === null) return
    if (slot !== -1 && digest !== null && this.digestHi[slot] === digest.hi && this.digestLo[slot] === digest.lo) return
    const leaf = keyHash.lo % this.leafCount
    let change = zeroDigest
    if (slot !== -1) change = xorDigests(change, combineDigests(keyHash, this.digestAt(slot)))
    if (digest !== null) change = xorDigests(change, combineDigests(keyHash, digest))
    if (digest === null) this.release(slot, leaf)
    else this.store(slot !== -1 ? slot : this.claim(bucket, key, keyHash.lo, leaf), digest)
    this.propagate(leaf, change)
  }

  /** Whether the tree holds an entry for (bucket, key). */
  has(bucket: string, key: string): boolean {
    return this.keys.find(bucket, key, keyDigest(bucket, key).lo) !== -1
  }

  get(bucket: string, key: string): Digest64 | null {
    const slot = this.keys.find(bucket, key, keyDigest(bucket, key).lo)
    return slot === -1 ? null : this.digestAt(slot)
  }

  hash(level: number, node: number): Digest64 {
    const lanes = this.levels[level]
    assert(lanes !== undefined && node >= 0 && 2 * node < lanes.length, () => `no Merkle node ${level}/${node}`)
    return { hi: lanes[2 * node] as number, lo: lanes[2 * node + 1] as number }
  }

  get root(): Digest64 {
    return this.hash(0, 0)
  }

  /** The hashes of a node's children, 8 bytes each in child order: what a peer compares against its own. */
  childHashes(level: number, node: number): Uint8Array {
    assert(level < this.shape.depth, () => `level ${level} has no children`)
    const { fanout } = this.shape
    const bytes = new Uint8Array(fanout * digestBytes)
    for (let child = 0; child < fanout; child++) writeDigest(bytes, child * digestBytes, this.hash(level + 1, node * fanout + child))
    return bytes
  }

  /** The entries of one leaf, sorted by (bucket, key) so both sides list them in the same order. */
  leafEntries(leaf: number): MerkleEntry[] {
    assert(leaf >= 0 && leaf < this.leafCount, () => `no Merkle leaf ${leaf}`)
    const entries: MerkleEntry[] = []
    for (let slot = this.leafHead[leaf] as number; slot !== -1; slot = this.nextInLeaf[slot] as number) {
      entries.push({ bucket: this.keys.bucketOf(slot), key: this.keys.keyOf(slot), digest: this.digestAt(slot) })
    }
    return entries.sort((a, b) => (a.bucket === b.bucket ? compare(a.key, b.key) : compare(a.bucket, b.bucket)))
  }

  private digestAt(slot: number): Digest64 {
    return { hi: this.digestHi[slot] as number, lo: this.digestLo[slot] as number }
  }

  private store(slot: number, digest: Digest64): void {
    this.digestHi[slot] = digest.hi
    this.digestLo[slot] = digest.lo
  }

  /** A slot for a new entry, linked at the head of its leaf's chain. */
  private claim(bucket: string, key: string, hash: number, leaf: number): number {
    const slot = this.keys.add(bucket, key, hash)
    if (slot >= this.digestHi.length) this.grow()
    this.nextInLeaf[slot] = this.leafHead[leaf] as number
    this.leafHead[leaf] = slot
    return slot
  }

  /** Unlinks the slot from its leaf's chain (a leaf holds few entries) and frees it. */
  private release(slot: number, leaf: number): void {
    if (this.leafHead[leaf] === slot) {
      this.leafHead[leaf] = this.nextInLeaf[slot] as number
    } else {
      let previous = this.leafHead[leaf] as number
      while (this.nextInLeaf[previous] !== slot) previous = this.nextInLeaf[previous] as number
      this.nextInLeaf[previous] = this.nextInLeaf[slot] as number
    }
    this.keys.remove(slot)
  }

  private grow(): void {
    const capacity = grownCapacity(this.digestHi.length)
    this.digestHi = grown(this.digestHi, new Uint32Array(capacity))
    this.digestLo = grown(this.digestLo, new Uint32Array(capacity))
    this.nextInLeaf = grown(this.nextInLeaf, new Int32Array(capacity))
  }

  private propagate(leaf: number, change: Digest64): void {
    let node = leaf
    for (let level = this.shape.depth; level >= 0; level--) {
      const lanes = this.levels[level] as Uint32Array
      lanes[2 * node] = ((lanes[2 * node] as number) ^ change.hi) >>> 0
      lanes[2 * node + 1] = ((lanes[2 * node + 1] as number) ^ change.lo) >>> 0
      node = Math.floor(node / this.shape.fanout)
    }
  }
}

/** Slots a new tree starts with; a partition of a small node holds a few keys, and the arrays double as needed. */
const initialSlots = 16

function grown<T extends Uint32Array | Int32Array>(from: T, to: T): T {
  to.set(from)
  return to
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
