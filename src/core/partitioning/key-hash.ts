/**
 * Where a key lives: partition = a stable 64-bit hash of (bucket, key), scaled onto Q partitions. The hash must
 * never change once a cluster holds data, because every node computes it independently and must agree: a
 * change would make every key unreachable. FNV-1a 64 is simple, specified, and fast enough for keys of at
 * most 1 KiB; it is computed on four 16-bit limbs so it stays exact in doubles without BigInt.
 *
 * FNV's last bytes barely reach its high bits, so sequential keys ("key-1", "key-2", …) would cluster; the
 * 64-bit result therefore goes through murmur3's fmix64 finalizer before partition = hash mod Q. Both run on
 * 16-bit limbs in doubles: every request computes its partition, and BigInt arithmetic allocated a fresh heap
 * number per step (it was the largest allocator on the request path). The BigInt forms stay as references. The bucket is length-prefixed so ("ab", "c") and ("a", "bc") hash differently.
 */
import { assert } from '../primitives/assert.ts'
import { allocateBytes, utf8Bytes } from '../primitives/byte-pool.ts'

/** FNV-1a 64 offset basis 0xcbf29ce484222325 as 16-bit limbs, least significant first. */
const OFFSET_BASIS = [0x2325, 0x8422, 0x9ce4, 0xcbf2] as const

export interface Hash64 {
  /** Bits 32..63. */
  readonly high: number
  /** Bits 0..31. */
  readonly low: number
}

export function fnv1a64(bytes: Uint8Array, seed: readonly number[] = OFFSET_BASIS): Hash64 {
  let l0 = seed[0] ?? 0
  let l1 = seed[1] ?? 0
  let l2 = seed[2] ?? 0
  let l3 = seed[3] ?? 0
  for (const byte of bytes) {
    l0 ^= byte
    // h · prime where prime = 2^40 + 435: the 435 part limb by limb with carries, then h << 40 mod 2^64,
    // which keeps only l0 and the low byte of l1, landing in limbs 2 and 3.
    let t0 = l0 * 435
    let t1 = l1 * 435 + (t0 >>> 16)
    let t2 = l2 * 435 + (t1 >>> 16) + ((l0 << 8) & 0xffff)
    const t3 = l3 * 435 + (t2 >>> 16) + ((l0 >>> 8) | ((l1 & 0xff) << 8))
    t0 &= 0xffff
    t1 &= 0xffff
    t2 &= 0xffff
    l0 = t0
    l1 = t1
    l2 = t2
    l3 = t3 & 0xffff
  }
  return { high: (l3 * 0x1_0000 + l2) >>> 0, low: (l1 * 0x1_0000 + l0) >>> 0 }
}

/** The bytes that identify a key cluster-wide: varint(len(bucket)) · bucket · key, all UTF-8. */
export function keyIdentity(bucket: string, key: string): Uint8Array {
  const bucketBytes = utf8Bytes(bucket)
  const keyBytes = utf8Bytes(key)
  let prefixBytes = 1
  for (let length = bucketBytes.length; length >= 0x80; length >>>= 7) prefixBytes++
  const out = allocateBytes(prefixBytes + bucketBytes.length + keyBytes.length)
  let at = 0
  for (let length = bucketBytes.length; ; length >>>= 7) {
    if (length < 0x80) {
      out[at++] = length
      break
    }
    out[at++] = (length & 0x7f) | 0x80
  }
  out.set(bucketBytes, at)
  out.set(keyBytes, at + bucketBytes.length)
  return out
}

/** murmur3's 64-bit finalizer: every input bit flips each output bit with probability about one half. */
export function fmix64(hash: Hash64): bigint {
  let h = (BigInt(hash.high) << 32n) | BigInt(hash.low)
  h ^= h >> 33n
  h = BigInt.asUintN(64, h * 0xff51afd7ed558ccdn)
  h ^= h >> 33n
  h = BigInt.asUintN(64, h * 0xc4ceb9fe1a85ec53n)
  h ^= h >> 33n
  return h
}

/** fmix64 without BigInt: the same bits as `fmix64`, as two 32-bit halves. */
export function fmix64Halves(hash: Hash64): Hash64 {
  let { high, low } = hash
  // h ^= h >> 33: the shifted value has no high half, and its low half is the high half shifted by one.
  low = (low ^ (high >>> 1)) >>> 0
  ;({ high, low } = multiply64(high, low, 0xff51afd7, 0xed558ccd))
  low = (low ^ (high >>> 1)) >>> 0
  ;({ high, low } = multiply64(high, low, 0xc4ceb9fe, 0x1a85ec53))
  low = (low ^ (high >>> 1)) >>> 0
  return { high, low }
}

/** (a · b) mod 2^64 on 16-bit limbs; each partial sum stays below 2^36, exact in a double. */
function multiply64(aHigh: number, aLow: number, bHigh: number, bLow: number): Hash64 {
  const a0 = aLow & 0xffff
  const a1 = aLow >>> 16
  const a2 = aHigh & 0xffff
  const a3 = aHigh >>> 16
  const b0 = bLow & 0xffff
  const b1 = bLow >>> 16
  const b2 = bHigh & 0xffff
  const b3 = bHigh >>> 16
  const r0 = a0 * b0
  const r1 = a0 * b1 + a1 * b0 + Math.floor(r0 / 0x1_0000)
  const r2 = a0 * b2 + a1 * b1 + a2 * b0 + Math.floor(r1 / 0x1_0000)
  const r3 = a0 * b3 + a1 * b2 + a2 * b1 + a3 * b0 + Math.floor(r2 / 0x1_0000)
  return {
    high: ((r3 % 0x1_0000) * 0x1_0000 + (r2 % 0x1_0000)) >>> 0,
    low: ((r1 % 0x1_0000) * 0x1_0000 + (r0 % 0x1_0000)) >>> 0,
  }
}

/** The stable 64-bit hash of a key: fmix64(FNV-1a 64(identity)). The BigInt reference of partitionOf. */
export function keyHash(bucket: string, key: string): bigint {
  return fmix64(fnv1a64(keyIdentity(bucket, key)))
}

/** 2^32 mod q for every q up to 65536 is below 2^16, so the sum below stays far inside a double's exact range. */
const TWO_TO_32 = 0x1_0000_0000

export function partitionOf(bucket: string, key: string, partitions: number): number {
  assert(Number.isInteger(partitions) && partitions > 0 && partitions <= 0x1_0000, () => `partitions must be 1..65536, got ${partitions}`)
  const { high, low } = fmix64Halves(fnv1a64(keyIdentity(bucket, key)))
  const partition = ((high % partitions) * (TWO_TO_32 % partitions) + (low % partitions)) % partitions
  assert(partition >= 0 && partition < partitions, 'partition out of range')
  return partition
}
