/**
 * The (bucket, key) → slot index behind a Merkle tree, with no JavaScript object per key. A node keeps one entry
 * per key it stores, so a Map keyed by an id string meant one string per key, copied by every young-generation
 * collection it lived through, promoted, and then traced by every full collection for as long as the key exists;
 * with fresh keys written at thousands a second, the tree's strings were a measurable share of the collector's
 * work. Here the ids live as code units in one growable byte array (the arena: one byte per unit for Latin-1 ids,
 * two otherwise), and an open-addressing table of slot numbers, probed by the key hash the tree computes anyway,
 * finds them: a few typed arrays whatever the count.
 *
 * Slots are dense small integers, reused after removal, so the tree can keep its per-entry fields in typed arrays
 * indexed by slot. Removal frees the slot at once and leaves its code units in the arena as garbage; when the arena
 * fills up it is rebuilt with the live ids only and half as much again of room.
 */
import { assert } from '../primitives/assert.ts'

const EMPTY = -1
const initialSlots = 16
const initialBytes = 256
/** Growth factor of the arena and the per-slot arrays: less slack than doubling, still amortized O(1). */
const GROWTH = 1.5
/** The table is rebuilt twice as large beyond this load; linear probing stays short below it. */
const MAX_LOAD = 0.7

export class KeySlots {
  /** The ids' code units: one byte each for an id whose units are all below 256 (Latin-1), else two. */
  private arena = new Uint8Array(initialBytes)
  /** Arena bytes handed out, live and garbage. */
  private usedBytes = 0
  private garbageBytes = 0
  /** Per slot: where its id starts in the arena, the lengths of bucket and key in code units (key −1: free). */
  private start = new Int32Array(initialSlots)
  private bucketLength = new Uint16Array(initialSlots)
  private keyLength = new Int32Array(initialSlots).fill(-1)
  /** Per slot: 1 when its units are stored two bytes each. */
  private wide = new Uint8Array(initialSlots)
  private hashes = new Uint32Array(initialSlots)
  /** Open addressing with linear probing; slot numbers, EMPTY where none. */
  private table = new Int32Array(2 * initialSlots).fill(EMPTY)
  private slotCount = 0
  private live = 0
  private readonly freeSlots: number[] = []

  get size(): number {
    return this.live
  }

  /** Bytes the arena holds, live ids, garbage and room: bounded by the live ids, not by how many came and went. */
  get arenaBytes(): number {
    return this.arena.length
  }

  /** One more than the highest slot ever handed out: per-slot arrays kept by the caller need this length. */
  get slotLimit(): number {
    return this.slotCount
  }

  /** The slot of (bucket, key), or −1. `hash` is the caller's 32-bit hash of the key, the same on every call. */
  find(bucket: string, key: string, hash: number): number {
    const mask = this.table.length - 1
    const wanted = hash >>> 0
    for (let index = wanted & mask; ; index = (index + 1) & mask) {
      const slot = this.table[index] as number
      if (slot === EMPTY) return -1
      if (this.hashes[slot] === wanted && this.holds(slot, bucket, key)) return slot
    }
  }

  /** Adds (bucket, key), which must not be present, and returns its slot. */
  add(bucket: string, key: string, hash: number): number {
    assert(bucket.length <= 0xffff, 'bucket names are far shorter than 64 Ki code units')
    const slot = this.freeSlots.pop() ?? this.newSlot()
    const units = bucket.length + key.length
    const wide = isWide(bucket) || isWide(key)
    const bytes = wide ? 2 * units : units
    this.reserve(bytes)
    const at = this.usedBytes
    if (wide) {
      writeWide(this.arena, at, bucket)
      writeWide(this.arena, at + 2 * bucket.length, key)
    } else {
      writeNarrow(this.arena, at, bucket)
      writeNarrow(this.arena, at + bucket.length, key)
    }
    this.usedBytes += bytes
    this.start[slot] = at
    this.bucketLength[slot] = bucket.length
    this.keyLength[slot] = key.length
    this.wide[slot] = wide ? 1 : 0
    this.hashes[slot] = hash >>> 0
    this.live++
    if (this.live > MAX_LOAD * this.table.length) this.rehash(2 * this.table.length)
    else this.place(slot)
    return slot
  }

  /** Removes the entry in `slot` (which must be live); the slot may be handed out again by add. */
  remove(slot: number): void {
    assert(this.isLive(slot), () => `key slot ${slot} is not in use`)
    const mask = this.table.length - 1
    let hole = (this.hashes[slot] as number) & mask
    while (this.table[hole] !== slot) hole = (hole + 1) & mask
    // Backward-shift deletion: pull later entries of the probe run into the hole, so no tombstones accumulate.
    for (let next = (hole + 1) & mask; this.table[next] !== EMPTY; next = (next + 1) & mask) {
      const moved = this.table[next] as number
      const home = (this.hashes[moved] as number) & mask
      const reachable = hole <= next ? home <= hole || home > next : home <= hole && home > next
      if (reachable) {
        this.table[hole] = moved
        hole = next
      }
    }
    this.table[hole] = EMPTY
    this.garbageBytes += this.byteLength(slot)
    this.keyLength[slot] = -1
    this.live--
    this.freeSlots.push(slot)
  }

  bucketOf(slot: number): string {
    assert(this.isLive(slot), () => `key slot ${slot} is not in use`)
    return this.text(slot, 0, this.bucketLength[slot] as number)
  }

  keyOf(slot: number): string {
    assert(this.isLive(slot), () => `key slot ${slot} is not in use`)
    return this.text(slot, this.bucketLength[slot] as number, this.keyLength[slot] as number)
  }

  private isLive(slot: number): boolean {
    return slot >= 0 && slot < this.slotCount && (this.keyLength[slot] as number) >= 0
  }

  private byteLength(slot: number): number {
    const units = (this.bucketLength[slot] as number) + (this.keyLength[slot] as number)
    return this.wide[slot] === 1 ? 2 * units : units
  }

  private holds(slot: number, bucket: string, key: string): boolean {
    if (this.bucketLength[slot] !== bucket.length || this.keyLength[slot] !== key.length) return false
    const at = this.start[slot] as number
    const arena = this.arena
    if (this.wide[slot] === 1) {
      for (let i = 0; i < bucket.length; i++) if (readWide(arena, at + 2 * i) !== bucket.charCodeAt(i)) return false
      const keyAt = at + 2 * bucket.length
      for (let i = 0; i < key.length; i++) if (readWide(arena, keyAt + 2 * i) !== key.charCodeAt(i)) return false
      return true
    }
    for (let i = 0; i < bucket.length; i++) if (arena[at + i] !== bucket.charCodeAt(i)) return false
    const keyAt = at + bucket.length
    for (let i = 0; i < key.length; i++) if (arena[keyAt + i] !== key.charCodeAt(i)) return false
    return true
  }

  /** `length` code units of the slot's id from unit `from`, as a string (only listing leaves needs this). */
  private text(slot: number, from: number, length: number): string {
    const wide = this.wide[slot] === 1
    const at = (this.start[slot] as number) + (wide ? 2 * from : from)
    let result = ''
    // In chunks: fromCharCode spreads its arguments on the stack.
    for (let done = 0; done < length; done += 4096) {
      const count = Math.min(4096, length - done)
      const units: number[] = new Array<number>(count)
      for (let i = 0; i < count; i++) units[i] = wide ? readWide(this.arena, at + 2 * (done + i)) : (this.arena[at + done + i] as number)
      result += String.fromCharCode(...units)
    }
    return result
  }

  private place(slot: number): void {
    const mask = this.table.length - 1
    let index = (this.hashes[slot] as number) & mask
    while (this.table[index] !== EMPTY) index = (index + 1) & mask
    this.table[index] = slot
  }

  private rehash(size: number): void {
    this.table = new Int32Array(size).fill(EMPTY)
    for (let slot = 0; slot < this.slotCount; slot++) if ((this.keyLength[slot] as number) >= 0) this.place(slot)
  }

  private newSlot(): number {
    const slot = this.slotCount++
    if (slot >= this.start.length) {
      const capacity = Math.ceil(GROWTH * this.start.length)
      this.start = grown(this.start, new Int32Array(capacity))
      this.bucketLength = grown(this.bucketLength, new Uint16Array(capacity))
      this.keyLength = grown(this.keyLength, new Int32Array(capacity).fill(-1))
      this.wide = grown(this.wide, new Uint8Array(capacity))
      this.hashes = grown(this.hashes, new Uint32Array(capacity))
    }
    return slot
  }

  /** Room for `bytes` more at the arena's end; when it is full, the live ids move to a new arena with slack. */
  private reserve(bytes: number): void {
    if (this.usedBytes + bytes <= this.arena.length) return
    const liveBytes = this.usedBytes - this.garbageBytes
    const arena = new Uint8Array(Math.max(initialBytes, Math.ceil(GROWTH * (liveBytes + bytes))))
    let at = 0
    for (let slot = 0; slot < this.slotCount; slot++) {
      if ((this.keyLength[slot] as number) < 0) continue
      const from = this.start[slot] as number
      const length = this.byteLength(slot)
      arena.set(this.arena.subarray(from, from + length), at)
      this.start[slot] = at
      at += length
    }
    this.arena = arena
    this.usedBytes = at
    this.garbageBytes = 0
  }
}

/** Per-slot arrays grow by GROWTH; the caller's per-slot arrays should too (see slotLimit). */
export function grownCapacity(current: number): number {
  return Math.ceil(GROWTH * current)
}

function grown<T extends Int32Array | Uint32Array | Uint16Array | Uint8Array>(from: T, to: T): T {
  to.set(from)
  return to
}

function isWide(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return true
  return false
}

function writeNarrow(arena: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) arena[at + i] = text.charCodeAt(i)
}

function writeWide(arena: Uint8Array, at: number, text: string): void {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    arena[at + 2 * i] = unit & 0xff
    arena[at + 2 * i + 1] = unit >>> 8
  }
}

function readWide(arena: Uint8Array, at: number): number {
  return (arena[at] as number) | ((arena[at + 1] as number) << 8)
}
