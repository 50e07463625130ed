/**
 * The table of things in flight keyed by a numeric id (storage operations, calls, client requests, a coordinator's
 * waiting list): what a `Map<number, V>` would hold, without the way V8's Map retains garbage.
 *
 * Why not a Map: these tables live as long as the process, so V8 moves them to the old generation, while their
 * entries live for milliseconds. A Map whose deleted slots fill its hash table is rehashed into a new table, and
 * V8 allocates that table in the old generation too (it follows the old one) and leaves the obsolete table holding
 * every entry it had, plus a link to its successor, for iterators. To the young-generation collector an old
 * object is alive until the next full collection, so each obsolete table kept the entries that were live when it
 * was replaced (continuations, and through them whole requests) alive and promoted them, and the chain of
 * successors kept doing so: under a steady load most requests' state was promoted. Measured on one node under PUT
 * load: about 2 MB promoted per young collection and 4-12 ms pauses with Maps; 0.1-0.3 MB and 1-3 ms with these
 * tables. id-table.test.ts measures both.
 *
 * Here an entry lives in two arrays indexed by slot (open addressing, Robin Hood linear probing, backward-shift
 * deletion), a deleted entry's slot is cleared at once, and a resized table clears the arrays it leaves behind, so
 * no garbage array keeps a value alive. Ids must be non-negative safe integers; callers allocate them increasing,
 * which keeps probe runs short. `entries()` lists entries in ascending id order, which is insertion order for such
 * callers, as a Map's iteration was.
 */
import { assert } from './assert.ts'

const EMPTY = -1
/** Grow beyond this load; linear probing stays short below it. */
const MAX_LOAD = 0.5
/**
 * Shrink below this load, so that a burst does not leave a large table to scan for ever. Far below MAX_LOAD: a
 * table whose load swings around one threshold would otherwise be reallocated over and over (it showed in profiles).
 */
const MIN_LOAD = 1 / 16

export class IdTable<V> {
  private ids: Float64Array
  private values: (V | undefined)[]
  private count = 0

  /** `minCapacity`: a power of two; the default, 64 slots, is about 1 KiB and holds 32 entries without resizing. */
  constructor(private readonly minCapacity = 64) {
    assert(Number.isInteger(Math.log2(minCapacity)) && minCapacity >= 2, () => `minCapacity must be a power of two, got ${minCapacity}`)
    this.ids = new Float64Array(minCapacity).fill(EMPTY)
    this.values = new Array<V | undefined>(minCapacity).fill(undefined)
  }

  get size(): number {
    return this.count
  }

  has(id: number): boolean {
    return this.find(id) !== -1
  }

  get(id: number): V | undefined {
    const slot = this.find(id)
    return slot === -1 ? undefined : this.values[slot]
  }

  /** Adds the entry, or replaces the value of the id when it is present. */
  set(id: number, value: V): void {
    assert(Number.isSafeInteger(id) && id >= 0, () => `an id must be a non-negative safe integer, got ${id}`)
    const present = this.find(id)
    if (present !== -1) {
      this.values[present] = value
      return
    }
    if ((this.count + 1) > this.ids.length * MAX_LOAD) this.resize(this.ids.length * 2)
    this.insert(id, value)
    this.count++
  }

  /** Removes the entry and returns its value (undefined when the id is absent). */
  take(id: number): V | undefined {
    const slot = this.find(id)
    if (slot === -1) return undefined
    const value = this.values[slot]
    this.removeAt(slot)
    return value
  }

  delete(id: number): boolean {
    const slot = this.find(id)
    if (slot === -1) return false
    this.removeAt(slot)
    return true
  }

  /** A snapshot of every entry, in ascending id order; changing the table while walking it is safe. */
  entries(): [number, V][] {
    const out: [number, V][] = []
    for (let slot = 0; slot < this.ids.length; slot++) {
      const id = this.ids[slot] as number
      if (id !== EMPTY) out.push([id, this.values[slot] as V])
    }
    return out.sort((a, b) => a[0] - b[0])
  }

  /** Removes every entry and returns their values in ascending id order. */
  drain(): V[] {
    const values = this.entries().map(([, value]) => value)
    this.values.fill(undefined) // see resize
    this.ids = new Float64Array(this.minCapacity).fill(EMPTY)
    this.values = new Array<V | undefined>(this.minCapacity).fill(undefined)
    this.count = 0
    return values
  }

  private home(id: number): number {
    // Exact for any safe integer; the capacity is a power of two.
    return id % this.ids.length
  }

  /** Robin Hood probing: a run is ordered by displacement, so a search stops at the first entry nearer its home. */
  private find(id: number): number {
    const mask = this.ids.length - 1
    for (let slot = this.home(id), distance = 0; ; slot = (slot + 1) & mask, distance++) {
      const held = this.ids[slot] as number
      if (held === id) return slot
      if (held === EMPTY || this.displacement(held, slot) < distance) return -1
    }
  }

  private displacement(id: number, slot: number): number {
    return (slot - this.home(id)) & (this.ids.length - 1)
  }

  /** Places the entry, displacing any richer one (nearer its home) further along, as Robin Hood hashing does. */
  private insert(id: number, value: V): void {
    const mask = this.ids.length - 1
    let carriedId = id
    let carried = value
    for (let slot = this.home(id), distance = 0; ; slot = (slot + 1) & mask, distance++) {
      const held = this.ids[slot] as number
      if (held === EMPTY) {
        this.ids[slot] = carriedId
        this.values[slot] = carried
        return
      }
      const heldDistance = this.displacement(held, slot)
      if (heldDistance < distance) {
        const heldValue = this.values[slot] as V
        this.ids[slot] = carriedId
        this.values[slot] = carried
        carriedId = held
        carried = heldValue
        distance = heldDistance
      }
    }
  }

  /**
   * Clears the slot and moves each following entry of the run one slot back until one sits at its home (or the run
   * ends): backward-shift deletion, which leaves no tombstones. With ids allocated increasing, entries sit at their
   * homes, so this usually stops at once.
   */
  private removeAt(slot: number): void {
    const mask = this.ids.length - 1
    let hole = slot
    for (let next = (slot + 1) & mask; ; next = (next + 1) & mask) {
      const id = this.ids[next] as number
      if (id === EMPTY || this.displacement(id, next) === 0) break
      this.ids[hole] = id
      this.values[hole] = this.values[next]
      hole = next
    }
    this.ids[hole] = EMPTY
    this.values[hole] = undefined
    this.count--
    if (this.ids.length > this.minCapacity && this.count < this.ids.length * MIN_LOAD) this.resize(this.ids.length / 2)
  }

  private resize(capacity: number): void {
    const ids = this.ids
    const values = this.values
    this.ids = new Float64Array(capacity).fill(EMPTY)
    this.values = new Array<V | undefined>(capacity).fill(undefined)
    for (let slot = 0; slot < ids.length; slot++) {
      const id = ids[slot] as number
      if (id !== EMPTY) this.insert(id, values[slot] as V)
    }
    // The old array may be in the old generation: emptied, it cannot keep young values alive (see the header).
    values.fill(undefined)
  }
}
