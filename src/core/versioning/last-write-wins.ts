/**
 * Last-write-wins objects for buckets with `conflict: "lww"` (DESIGN.md section 5). The object keeps at most one
 * sibling: the greatest by (hybrid-logical-clock timestamp, dot). The dot breaks timestamp ties by node id, then
 * generation and counter, so the order is total over distinct writes and every replica picks the same winner.
 * This loses concurrent writes by design, and a write whose coordinator's clock is behind loses to an older one.
 *
 * The state is the product of two semilattices: the history joins pointwise and the sibling is the maximum of
 * the union. Maximum over a union is commutative, associative and idempotent, so the winner does not depend on
 * the order of merges (Dvvset's lww, but with the order fixed by the HLC rather than a caller's function).
 * Contexts are ignored: the timestamp alone decides. The history is still kept so a bucket can switch modes.
 */
import { assert } from '../primitives/assert.ts'
import type { Actor, Dot } from './actor.ts'
import { compareDots, isValidActor } from './actor.ts'
import type { HlcTimestamp } from './hybrid-logical-clock.ts'
import { compareHlcTimestamps, isValidHlcTimestamp } from './hybrid-logical-clock.ts'
import { encodedObjectSize } from './object-codec.ts'
import type { DottedVersionVectorSet, Sibling, SiblingContent } from './sibling.ts'
import { isValidContentType } from './sibling.ts'
import { counterOf, joinVersionVectors, withCounter } from './version-vector.ts'
import type { VersioningLimits } from './versioning-limits.ts'
import { defaultVersioningLimits } from './versioning-limits.ts'

export interface LastWriteWinsWrite {
  readonly content: SiblingContent
  readonly actor: Actor
  readonly timestamp: HlcTimestamp
  /** As Write.counterFloor: the new dot's counter goes above the last one this actor minted on any key. */
  readonly counterFloor?: number
}

export type LastWriteWinsOutcome =
  /** `won`: the write is now the value. `lost`: a stored write has a later timestamp and stays. */
  | { readonly kind: 'updated'; readonly object: DottedVersionVectorSet; readonly dot: Dot; readonly result: 'won' | 'lost' }
  | { readonly kind: 'too-large'; readonly code: 'OBJECT_TOO_LARGE'; readonly objectBytes: number; readonly maxObjectBytes: number }
  | { readonly kind: 'invalid-content-type'; readonly code: 'INVALID_CONTENT_TYPE'; readonly message: string }

/** The total LWW order: timestamp first, then the dot (node id, generation, counter). */
export function compareLastWriteWins(a: Sibling, b: Sibling): number {
  return compareHlcTimestamps(a.timestamp, b.timestamp) || compareDots(a.dot, b.dot)
}

export function lastWriteWinner(siblings: readonly Sibling[]): Sibling | null {
  let winner: Sibling | null = null
  for (const sibling of siblings) if (winner === null || compareLastWriteWins(sibling, winner) > 0) winner = sibling
  return winner
}

export function updateLastWriteWins(
  object: DottedVersionVectorSet,
  write: LastWriteWinsWrite,
  limits: VersioningLimits = defaultVersioningLimits,
): LastWriteWinsOutcome {
  assert(isValidActor(write.actor) && isValidHlcTimestamp(write.timestamp), 'invalid actor or timestamp in an LWW write')
  if (write.content.kind === 'value' && !isValidContentType(write.content.contentType)) {
    return { kind: 'invalid-content-type', code: 'INVALID_CONTENT_TYPE', message: 'content type must be well-formed text of at most 255 bytes' }
  }
  const counter = Math.max(counterOf(object.history, write.actor), write.counterFloor ?? 0) + 1
  const dot: Dot = { node: write.actor.node, generation: write.actor.generation, counter }
  const candidate: Sibling = { dot, timestamp: write.timestamp, content: write.content }
  const winner = lastWriteWinner([...object.siblings, candidate]) as Sibling
  const updated: DottedVersionVectorSet = { history: withCounter(object.history, write.actor, counter), siblings: [winner] }
  const objectBytes = encodedObjectSize(updated)
  if (objectBytes > limits.maxObjectBytes) {
    return { kind: 'too-large', code: 'OBJECT_TOO_LARGE', objectBytes, maxObjectBytes: limits.maxObjectBytes }
  }
  return { kind: 'updated', object: updated, dot, result: winner === candidate ? 'won' : 'lost' }
}

/** Replica sync for LWW buckets: joined histories, and the single greatest sibling of either side. */
export function mergeLastWriteWins(a: DottedVersionVectorSet, b: DottedVersionVectorSet): DottedVersionVectorSet {
  const winner = lastWriteWinner([...a.siblings, ...b.siblings])
  return { history: joinVersionVectors(a.history, b.history), siblings: winner === null ? [] : [winner] }
}
