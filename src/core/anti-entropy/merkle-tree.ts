/**
 * The Merkle tree of one partition on one node, over (bucket, key, object digest). Keys fall into a fixed number
 * of leaf buckets by a hash of the key (fanout^depth leaves, 32² = 1024 by default), so two replicas' trees have
 * the same shape whatever they hold and can be compared node by node, top down, without agreeing on anything else.
 *
 * A node's hash is the XOR of the entry hashes below it, where an entry hash binds a key to its object digest.
 * XOR makes every update O(depth): replacing an entry XORs the old entry hash out of its leaf and every ancestor
 * and the new one in, so the tree follows every write without rescanning (the issue's "no full rescan per
 * round"). XOR cannot cancel two different entries except by a 64-bit collision, because each entry hash
 * includes its key. Pure and synchronous; memory is one map entry per key plus 8 bytes per tree node.
 */
import { assert } from '../primitives/assert.ts'
import { utf8Bytes } from '../primitives/byte-pool.ts'
import type { Digest64 } from './digest64.ts'
import { combineDigests, digest64, digestBytes, sameDigest, writeDigest, xorDigests, zeroDigest } from './digest64.ts'

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
  return digest64(utf8Bytes(id), 0x9e3779b9)
}

/** Digest of an encoded object; equal bytes on two replicas mean equal objects (the encoding is canonical). */
export function objectDigest(encoded: Uint8Array): Digest64 {
  return digest64(encoded)
}

export class MerkleTree {
  readonly leafCount: number
  /** levels[d] holds fanout^d hashes, two uint32 lanes each. */
  private readonly levels: Uint32Array[] = []
  private readonly leaves: (Map<string, MerkleEntry> | undefined)[]
  private entryCount = 0

  constructor(readonly shape: MerkleShape = defaultMerkleShape) {
    assert(Number.isInteger(shape.fanout) && shape.fanout >= 2 && shape.fanout <= 256, () => `bad Merkle fanout ${shape.fanout}`)
    assert(Number.isInteger(shape.depth) && shape.depth >= 1 && shape.depth <= 4, () => `bad Merkle depth ${shape.depth}`)
    for (let level = 0, count = 1; level <= shape.depth; level++, count *= shape.fanout) this.levels.push(new Uint32Array(2 * count))
    this.leafCount = shape.fanout ** shape.depth
    this.leaves = new Array<Map<string, MerkleEntry> | undefined>(this.leafCount)
  }

  get size(): number {
    return this.entryCount
  }

  leafOf(bucket: string, key: string): number {
    return keyDigest(bucket, key).lo % this.leafCount
  }

  /** Records the object now stored under (bucket, key); null when it is gone (deleted outright). Idempotent. */
  set(bucket: string, key: string, digest: Digest64 | null): void {
    const id = `${bucket}\u0000${key}`
    const keyHash = idDigest(id)
    const leaf = keyHash.lo % this.leafCount
    let entries = this.leaves[leaf]
    const previous = entries?.get(id)
    if (previous === undefined && digest === null) return
    if (previous !== undefined && digest !== null && sameDigest(previous.digest, digest)) return
    let change = zeroDigest
    if (previous !== undefined) change = xorDigests(change, combineDigests(keyHash, previous.digest))
    if (digest !== null) change = xorDigests(change, combineDigests(keyHash, digest))
    if (digest === null) {
      entries?.delete(id)
      this.entryCount--
    } else {
      if (entries === undefined) this.leaves[leaf] = entries = new Map()
      if (previous === undefined) this.entryCount++
      entries.set(id, { bucket, key, digest })
    }
    this.propagate(leaf, change)
  }

  get(bucket: string, key: string): Digest64 | null {
    return this.leaves[this.leafOf(bucket, key)]?.get(`${bucket}\u0000${key}`)?.digest ?? null
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
    const entries = [...(this.leaves[leaf]?.values() ?? [])]
    return entries.sort((a, b) => (a.bucket === b.bucket ? compare(a.key, b.key) : compare(a.bucket, b.bucket)))
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

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
