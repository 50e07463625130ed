/**
 * The Merkle tree of one partition on one node, over (bucket, key, object digest). Keys fall into a fixed number
 * of leaf buckets by a hash of the key (fanout^depth leaves, 32² = 1024 by default), so two replicas' trees have
 * the same shape whatever they hold and can be compared node by node, top down, without agreeing on anything else.
 *
 * A node's hash is the XOR of the entry hashes below it, where an entry hash binds a key to its object digest.
 * XOR makes every update O(depth): replacing an entry XORs the old entry hash out of its leaf and every ancestor
 * and the new one in, so the tree follows every write without rescanning (the issue's "no full rescan per
 * round"). XOR cannot cancel two different entries except by a 64-bit collision, because each entry hash
 * includes its key. Pure and synchronous; memory per key is one map entry (its id string the key) and about 20
 * bytes of slot arrays, plus 8 bytes per tree node (108 B per key in all, measured with 300,000 keys).
 */
import { assert } from '../primitives/assert.ts'
import type { Digest64 } from './digest64.ts'
import { combineDigests, digest64, digest64OfText, digestBytes, writeDigest, xorDigests, zeroDigest } from './digest64.ts'

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

/** The key's own hash: picks its leaf and is half of its entry hash. */
export function keyDigest(bucket: string, key: string): Digest64 {
  return idDigest(`${bucket}\u0000${key}`)
}

/** keyDigest of an entry id (bucket NUL key). */
function idDigest(id: string): Digest64 {
  return digest64OfText(id, 0x9e3779b9)
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
   * a map from entry id (bucket NUL key) to a slot, and per slot the digest and bucket length in typed arrays and
   * the next slot of the same leaf (a chain per leaf, so a leaf lists without a scan). A map and two objects per
   * key, and a map per non-empty leaf, were most of what the young generation copied and promoted under load.
   */
  private readonly slots = new Map<string, number>()
  private ids: string[] = []
  private digestHi = new Uint32Array(initialSlots)
  private digestLo = new Uint32Array(initialSlots)
  private bucketLength = new Uint16Array(initialSlots)
  /** The next slot in the same leaf's chain; −1 ends it. */
  private nextInLeaf = new Int32Array(initialSlots)
  private readonly leafHead: Int32Array
  private readonly freeSlots: number[] = []

  constructor(readonly shape: MerkleShape = defaultMerkleShape) {
    assert(Number.isInteger(shape.fanout) && shape.fanout >= 2 && shape.fanout <= 256, () => `bad Merkle fanout ${shape.fanout}`)
    assert(Number.isInteger(shape.depth) && shape.depth >= 1 && shape.depth <= 4, () => `bad Merkle depth ${shape.depth}`)
    for (let level = 0, count = 1; level <= shape.depth; level++, count *= shape.fanout) this.levels.push(new Uint32Array(2 * count))
    this.leafCount = shape.fanout ** shape.depth
    this.leafHead = new Int32Array(this.leafCount).fill(-1)
  }

  get size(): number {
    return this.slots.size
  }

  leafOf(bucket: string, key: string): number {
    return keyDigest(bucket, key).lo % this.leafCount
  }

  /** Records the object now stored under (bucket, key); null when it is gone (deleted outright). Idempotent. */
  set(bucket: string, key: string, digest: Digest64 | null): void {
    const id = `${bucket}\u0000${key}`
    const slot = this.slots.get(id)
    if (slot === undefined && digest === null) return
    if (slot !== undefined && digest !== null && this.digestHi[slot] === digest.hi && this.digestLo[slot] === digest.lo) return
    const keyHash = idDigest(id)
    const leaf = keyHash.lo % this.leafCount
    let change = zeroDigest
    if (slot !== undefined) change = xorDigests(change, combineDigests(keyHash, this.digestAt(slot)))
    if (digest !== null) change = xorDigests(change, combineDigests(keyHash, digest))
    if (digest === null) this.release(id, slot as number, leaf)
    else this.store(slot ?? this.claim(id, bucket.length, leaf), digest)
    this.propagate(leaf, change)
  }

  /** Whether the tree holds an entry for (bucket, key). */
  has(bucket: string, key: string): boolean {
    return this.slots.has(`${bucket}\u0000${key}`)
  }

  get(bucket: string, key: string): Digest64 | null {
    const slot = this.slots.get(`${bucket}\u0000${key}`)
    return slot === undefined ? null : this.digestAt(slot)
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
      const id = this.ids[slot] as string
      const length = this.bucketLength[slot] as number
      entries.push({ bucket: id.slice(0, length), key: id.slice(length + 1), digest: this.digestAt(slot) })
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
  private claim(id: string, bucketLength: number, leaf: number): number {
    assert(bucketLength <= 0xffff, 'bucket names are far shorter than 64 Ki code units')
    const slot = this.freeSlots.pop() ?? this.ids.length
    if (slot >= this.digestHi.length) this.grow()
    this.ids[slot] = id
    this.slots.set(id, slot)
    this.bucketLength[slot] = bucketLength
    this.nextInLeaf[slot] = this.leafHead[leaf] as number
    this.leafHead[leaf] = slot
    return slot
  }

  /** Unlinks the slot from its leaf's chain (a leaf holds few entries) and frees it. */
  private release(id: string, slot: number, leaf: number): void {
    if (this.leafHead[leaf] === slot) {
      this.leafHead[leaf] = this.nextInLeaf[slot] as number
    } else {
      let previous = this.leafHead[leaf] as number
      while (this.nextInLeaf[previous] !== slot) previous = this.nextInLeaf[previous] as number
      this.nextInLeaf[previous] = this.nextInLeaf[slot] as number
    }
    this.slots.delete(id)
    this.ids[slot] = ''
    this.freeSlots.push(slot)
  }

  private grow(): void {
    const capacity = this.digestHi.length * 2
    this.digestHi = grown(this.digestHi, new Uint32Array(capacity))
    this.digestLo = grown(this.digestLo, new Uint32Array(capacity))
    this.bucketLength = grown(this.bucketLength, new Uint16Array(capacity))
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

function grown<T extends Uint32Array | Uint16Array | Int32Array>(from: T, to: T): T {
  to.set(from)
  return to
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
