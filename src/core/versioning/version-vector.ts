/**
 * Version vectors over server actors (Parker et al., 1983; the "causal history" half of a dotted version vector
 * set). Entry (actor, n) means: every dot (actor, 1..n) has been seen. Dots of one actor are minted in order by
 * that actor alone, so a replica's set of seen dots is downward closed per actor and one counter describes it
 * exactly; that is what makes `coversDot` an exact membership test rather than an approximation.
 *
 * Representation: an array of entries sorted strictly by (node, generation), counters ≥ 1, no zero entries.
 * Sorted arrays give linear joins, binary-search lookups and one canonical form, so equal vectors are
 * structurally equal and encode to the same bytes. Every function here is pure and returns new arrays.
 */
import { assert } from '../primitives/assert.ts'
import type { Actor, Dot } from './actor.ts'
import { compareActors, isValidActor } from './actor.ts'

export interface VersionVectorEntry extends Actor {
  /** The highest counter of this actor that has been seen; all lower ones have been seen too. */
  readonly counter: number
}

export type VersionVector = readonly VersionVectorEntry[]

/** How two causal histories relate (STYLE rule 4). */
export type Ordering = 'before' | 'after' | 'equal' | 'concurrent'

export const emptyVersionVector: VersionVector = Object.freeze([])

/** The counter for an actor, 0 when the vector has no entry for it. */
export function counterOf(vector: VersionVector, actor: Actor): number {
  const index = indexOf(vector, actor)
  return index < 0 ? 0 : (vector[index] as VersionVectorEntry).counter
}

/** True when the vector's history includes the dot. */
export function coversDot(vector: VersionVector, dot: Dot): boolean {
  return counterOf(vector, dot) >= dot.counter
}

/** Index of the actor's entry, or -(insertion point) - 1. */
export function indexOf(vector: VersionVector, actor: Actor): number {
  let low = 0
  let high = vector.length - 1
  while (low <= high) {
    const middle = (low + high) >>> 1
    const order = compareActors(vector[middle] as VersionVectorEntry, actor)
    if (order === 0) return middle
    if (order < 0) low = middle + 1
    else high = middle - 1
  }
  return -low - 1
}

/** Pointwise maximum: the history of someone who has seen both. The lattice join; merge relies on it. */
export function joinVersionVectors(a: VersionVector, b: VersionVector): VersionVector {
  if (a.length === 0) return b
  if (b.length === 0) return a
  const out: VersionVectorEntry[] = []
  let i = 0
  let j = 0
  while (i < a.length && j < b.length) {
    const x = a[i] as VersionVectorEntry
    const y = b[j] as VersionVectorEntry
    const order = compareActors(x, y)
    if (order < 0) {
      out.push(x)
      i++
    } else if (order > 0) {
      out.push(y)
      j++
    } else {
      out.push(x.counter >= y.counter ? x : y)
      i++
      j++
    }
  }
  while (i < a.length) out.push(a[i++] as VersionVectorEntry)
  while (j < b.length) out.push(b[j++] as VersionVectorEntry)
  return out
}

/** The vector with the actor's counter raised to at least `counter`. */
export function withCounter(vector: VersionVector, actor: Actor, counter: number): VersionVector {
  assert(Number.isSafeInteger(counter) && counter >= 1, () => `counter must be a positive safe integer, got ${counter}`)
  const index = indexOf(vector, actor)
  const entry: VersionVectorEntry = { node: actor.node, generation: actor.generation, counter }
  const out = vector.slice()
  if (index >= 0) {
    if ((vector[index] as VersionVectorEntry).counter >= counter) return vector
    out[index] = entry
  } else {
    out.splice(-index - 1, 0, entry)
  }
  return out
}

export function compareVersionVectors(a: VersionVector, b: VersionVector): Ordering {
  let aAhead = false
  let bAhead = false
  let i = 0
  let j = 0
  while (i < a.length || j < b.length) {
    const x = a[i]
    const y = b[j]
    const order = x === undefined ? 1 : y === undefined ? -1 : compareActors(x, y)
    if (order < 0) {
      aAhead = true
      i++
    } else if (order > 0) {
      bAhead = true
      j++
    } else {
      const dx = (x as VersionVectorEntry).counter
      const dy = (y as VersionVectorEntry).counter
      if (dx > dy) aAhead = true
      if (dy > dx) bAhead = true
      i++
      j++
    }
  }
  if (aAhead && bAhead) return 'concurrent'
  if (aAhead) return 'after'
  if (bAhead) return 'before'
  return 'equal'
}

/** Checks the representation invariants; returns a description of the first violation, or null. */
export function versionVectorProblem(vector: VersionVector): string | null {
  for (let i = 0; i < vector.length; i++) {
    const entry = vector[i] as VersionVectorEntry
    if (!isValidActor(entry)) return `entry ${i} has an invalid actor`
    if (!Number.isSafeInteger(entry.counter) || entry.counter < 1) return `entry ${i} has counter ${entry.counter}`
    const previous = vector[i - 1]
    if (previous !== undefined && compareActors(previous, entry) >= 0) return `entry ${i} is out of order`
  }
  return null
}

export function assertVersionVector(vector: VersionVector): void {
  const problem = versionVectorProblem(vector)
  assert(problem === null, () => `invalid version vector: ${problem}`)
}
