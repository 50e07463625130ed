/**
 * Dotted version vector sets (Preguiça et al., "Dotted Version Vectors: Logical Clocks for Optimistic
 * Replication", 2012; the API follows Riak's dvvset: new, update, sync, values). One object per key holds the
 * key's causal history (a version vector over server actors) and its siblings, each tagged with the dot of the
 * write that created it.
 *
 *  - read: live values, plus the history as the client's causal context.
 *  - update: mints the next dot of the coordinating actor; drops exactly the siblings the client's context
 *    covers; keeps the others as siblings. Without a context the write is concurrent with everything stored.
 *  - merge (dvvset's sync): keeps a sibling unless the other side has seen its dot and no longer holds it,
 *    which means some write there superseded it; histories join pointwise. This is the join of a semilattice,
 *    so it is commutative, associative and idempotent, and replicas converge whatever order syncs happen in.
 *  - delete: an update whose content is a tombstone; it merges, supersedes and is superseded like any sibling.
 *
 * Why dots rather than one vector per sibling: a plain version vector per sibling cannot tell a write that
 * followed a read from a concurrent one once both pass through the same server, so it either loses writes or
 * invents siblings (the "sibling explosion"). The dot pins each sibling to the one event that created it.
 *
 * Pure and synchronous; objects are immutable values. Counts and sizes are checked on update, never on merge,
 * because refusing a replica sync would stop convergence.
 */
import { assert } from '../primitives/assert.ts'
import type { Actor, Dot } from './actor.ts'
import { compareDots, formatDot, isValidActor } from './actor.ts'
import type { HlcTimestamp } from './hybrid-logical-clock.ts'
import { compareHlcTimestamps, isValidHlcTimestamp } from './hybrid-logical-clock.ts'
import { encodedObjectSize } from './object-codec.ts'
import type { DottedVersionVectorSet, LiveContent, Sibling, SiblingContent } from './sibling.ts'
import { compareRetired, emptyObject, isValidContentType, isValidWriteId, retiredIdOf } from './sibling.ts'
import type { RetiredWrite } from './sibling.ts'
import type { VersionVector } from './version-vector.ts'
import { counterOf, coversDot, joinVersionVectors, versionVectorProblem, withCounter } from './version-vector.ts'
import type { VersioningLimits } from './versioning-limits.ts'
import { defaultVersioningLimits, MAX_RETIRED_WRITES, RETIRED_WRITE_RETENTION_MS } from './versioning-limits.ts'

export type { DottedVersionVectorSet, LiveContent, Sibling, SiblingContent, Tombstone } from './sibling.ts'
export { emptyObject } from './sibling.ts'

/** A write as the replication layer hands it over: what the client sent, stamped by the coordinator. */
export interface Write {
  /** The context of the client's read, or null for a blind write (concurrent with everything stored). */
  readonly context: VersionVector | null
  readonly content: SiblingContent
  /** The coordinating node's current actor; its generation is the one the storage layer gave this start. */
  readonly actor: Actor
  /** From the coordinator's hybrid logical clock, after observing the object's newest timestamp. */
  readonly timestamp: HlcTimestamp
  /** The client's request id, recorded in the sibling so that a retry minted elsewhere collapses into it. */
  readonly writeId?: string | undefined
  /** Request ids the client's context names (causal-context.ts): writes it saw, superseded by id as well as by dot. */
  readonly seenWriteIds?: readonly string[] | undefined
  /**
   * The last counter this actor minted on any key: the new dot's counter goes above it. A node's copy of a key can
   * lack dots the node itself minted (it handed the partition off and dropped it, then gained it back; a tombstone
   * was reaped; a gained partition is still streaming in), and counting from that copy would mint a dot again,
   * which replicas holding the first one take for a write they have already seen: a lost write (sim kv-join
   * seed 14). Counters of one actor increase across all keys; gaps in a key's counters are harmless.
   */
  readonly counterFloor?: number
}

/** A live sibling as a read returns it. */
export interface LiveValue {
  readonly dot: Dot
  readonly value: Uint8Array
  readonly contentType: string
  readonly timestamp: HlcTimestamp
}

export type ReadOutcome =
  /** One value (answer 200) or several concurrent ones (answer 300). Tombstone siblings are left out. */
  | { readonly kind: 'found'; readonly values: readonly LiveValue[]; readonly context: VersionVector }
  /** Only tombstones: answer 404, but with the context, so a client can write over the delete causally. */
  | { readonly kind: 'deleted'; readonly context: VersionVector }
  /** Nothing was ever stored (or everything was reaped). */
  | { readonly kind: 'missing'; readonly context: VersionVector }

/** normal ≤ siblingWarnCount < warn ≤ maxSiblings < over-limit. */
export type SiblingLevel = 'normal' | 'warn' | 'over-limit'

export type UpdateOutcome =
  | {
      readonly kind: 'updated'
      readonly object: DottedVersionVectorSet
      readonly dot: Dot
      readonly siblingCount: number
      readonly siblingLevel: 'normal' | 'warn'
    }
  | { readonly kind: 'too-many-siblings'; readonly code: 'TOO_MANY_SIBLINGS'; readonly siblingCount: number; readonly maxSiblings: number }
  | { readonly kind: 'too-large'; readonly code: 'OBJECT_TOO_LARGE'; readonly objectBytes: number; readonly maxObjectBytes: number }
  | { readonly kind: 'invalid-content-type'; readonly code: 'INVALID_CONTENT_TYPE'; readonly message: string }

export function readObject(object: DottedVersionVectorSet): ReadOutcome {
  const context = object.history
  if (object.siblings.length === 0) return { kind: 'missing', context }
  const values: LiveValue[] = []
  for (const { dot, timestamp, content } of object.siblings) {
    if (content.kind === 'value') values.push({ dot, value: content.value, contentType: content.contentType, timestamp })
  }
  return values.length === 0 ? { kind: 'deleted', context } : { kind: 'found', values, context }
}

export function updateObject(
  object: DottedVersionVectorSet,
  write: Write,
  limits: VersioningLimits = defaultVersioningLimits,
): UpdateOutcome {
  assertWrite(write)
  if (write.content.kind === 'value' && !isValidContentType(write.content.contentType)) {
    return { kind: 'invalid-content-type', code: 'INVALID_CONTENT_TYPE', message: 'content type must be well-formed text of at most 255 bytes' }
  }
  const { context, actor } = write
  // Above both the stored history and the context: after key amnesia a context can name a counter of this very
  // actor that our copy lost, and reusing it would make the new write look already seen.
  const counter = Math.max(counterOf(object.history, actor), context === null ? 0 : counterOf(context, actor), write.counterFloor ?? 0) + 1
  const dot: Dot = { node: actor.node, generation: actor.generation, counter }
  // Ids the client saw; never its own (a client reusing a request id for a new write gets no dedup, not a loss).
  const seen = context === null ? [] : (write.seenWriteIds ?? []).filter((id) => id !== write.writeId)
  const kept = context === null ? object.siblings : supersede(object.siblings, context, seen)
  // The context joins the history: siblings it covers that reach this replica later are superseded on arrival.
  const history = withCounter(context === null ? object.history : joinVersionVectors(object.history, context), actor, counter)
  const superseded = object.siblings.filter((old) => !kept.includes(old)).map((old) => old.writeId)
  const retired = retire(object.retired, [...superseded, ...seen], write.timestamp.physicalMs)
  // A write never carries an id its own object has retired: the next merge would drop it as a stale retry. (A
  // replica answers a retired id as a duplicate before minting; this guards callers that do not.)
  const writeId = write.writeId !== undefined && isValidWriteId(write.writeId) && !isRetired(retired, write.writeId) ? write.writeId : undefined
  const sibling: Sibling = writeId === undefined
    ? { dot, timestamp: write.timestamp, content: write.content }
    : { dot, timestamp: write.timestamp, content: write.content, writeId }
  const siblings = insertSibling(kept, sibling)
  const updated: DottedVersionVectorSet = retired.length === 0 ? { history, siblings } : { history, siblings, retired }
  assert(coversDot(updated.history, dot) && siblings.length <= object.siblings.length + 1, () => `update lost its own dot ${formatDot(dot)}`)
  return checkedUpdate(updated, dot, limits)
}

/** A delete: a tombstone sibling that supersedes what the context covers. */
export function deleteObject(
  object: DottedVersionVectorSet,
  write: Omit<Write, 'content'>,
  limits: VersioningLimits = defaultVersioningLimits,
): UpdateOutcome {
  return updateObject(object, { ...write, content: { kind: 'tombstone' } }, limits)
}

/** Replica sync (dvvset's sync). Commutative, associative and idempotent; never refuses. */
export function mergeObjects(a: DottedVersionVectorSet, b: DottedVersionVectorSet): DottedVersionVectorSet {
  if (a === b) return a
  const siblings: Sibling[] = []
  let i = 0
  let j = 0
  while (i < a.siblings.length || j < b.siblings.length) {
    const x = a.siblings[i]
    const y = b.siblings[j]
    const order = x === undefined ? 1 : y === undefined ? -1 : compareDots(x.dot, y.dot)
    if (order === 0) {
      assertSameWrite(x as Sibling, y as Sibling)
      siblings.push(x as Sibling)
      i++
      j++
    } else if (order < 0) {
      // b has seen this dot and does not hold it: a write that b knows of superseded it.
      if (!coversDot(b.history, (x as Sibling).dot)) siblings.push(x as Sibling)
      i++
    } else {
      if (!coversDot(a.history, (y as Sibling).dot)) siblings.push(y as Sibling)
      j++
    }
  }
  const history = joinVersionVectors(a.history, b.history)
  const retired = joinRetired(a.retired ?? [], b.retired ?? [])
  return retired.length === 0 ? { history, siblings } : { history, siblings, retired }
}

/**
 * Keeps one sibling per client write. A client's retry that reached another primary minted a second dot for the
 * same write (sibling.ts):
 *  - when both are present, the latest by (timestamp, dot) stays, so every replica keeps the same one, and it is
 *    the one whose dot the client holds: a client retries after its earlier attempt failed, so the context it got
 *    back names the last attempt's dot;
 *  - when the write id is retired (a later write superseded one of the attempts), every attempt goes.
 * A dropped sibling's dot stays in the history, which makes it look superseded, exactly as if a write had
 * replaced it. That is a valid local step of the semilattice (it only removes a sibling the history covers), so
 * replicas that apply it after every merge still converge; mergeObjects stays the pure join and the replication
 * layer merges with both. If clocks are skewed by more than the client's retry interval, the kept one can be the
 * earlier attempt; the cost is that the client's next write with its PUT context leaves its own value as a
 * sibling, never a lost write.
 */
export function collapseRetriedWrites(object: DottedVersionVectorSet): DottedVersionVectorSet {
  let latest: Map<string, Sibling> | null = null
  let drop = false
  const retired = object.retired ?? []
  for (const sibling of object.siblings) {
    if (sibling.writeId === undefined) continue
    latest ??= new Map()
    const other = latest.get(sibling.writeId)
    if (other !== undefined || isRetired(retired, sibling.writeId)) drop = true
    if (other === undefined || laterWrite(sibling, other)) latest.set(sibling.writeId, sibling)
  }
  if (!drop || latest === null) return object
  const kept = latest
  const siblings = object.siblings.filter(
    (sibling) => sibling.writeId === undefined || (kept.get(sibling.writeId) === sibling && !isRetired(retired, sibling.writeId)),
  )
  return { ...object, siblings }
}

/** What the object knows of the client write with this request id: its live sibling, retired, or nothing. */
export function findWrite(object: DottedVersionVectorSet, writeId: string): { readonly kind: 'live'; readonly sibling: Sibling } | { readonly kind: 'retired' } | null {
  const sibling = object.siblings.find((candidate) => candidate.writeId === writeId)
  if (sibling !== undefined) return { kind: 'live', sibling }
  return isRetired(object.retired ?? [], writeId) ? { kind: 'retired' } : null
}

function isRetired(retired: readonly RetiredWrite[], writeId: string): boolean {
  if (retired.length === 0) return false
  const idHash = retiredIdOf(writeId)
  return retired.some((entry) => entry.idHash === idHash)
}

/** Adds the ids of superseded writes to the retired list, keeping the newest MAX_RETIRED_WRITES. */
function retire(retired: readonly RetiredWrite[] | undefined, superseded: readonly (string | undefined)[], physicalMs: number): readonly RetiredWrite[] {
  const added: RetiredWrite[] = []
  for (const writeId of superseded) if (writeId !== undefined && isValidWriteId(writeId)) added.push({ idHash: retiredIdOf(writeId), physicalMs })
  return joinRetired(retired ?? [], added)
}

/**
 * Union of two retired lists: an id keeps its newest retirement; newest first; nothing older than the retention
 * before the newest entry; at most MAX_RETIRED_WRITES. Each cut depends only on the union, and a larger union
 * only cuts more, so joining in any order gives the same list (the merge stays a semilattice join).
 */
function joinRetired(a: readonly RetiredWrite[], b: readonly RetiredWrite[]): readonly RetiredWrite[] {
  if (b.length === 0 && a.length === 0) return a
  const byId = new Map<string, RetiredWrite>()
  for (const entry of [...a, ...b]) {
    const other = byId.get(entry.idHash)
    if (other === undefined || entry.physicalMs > other.physicalMs) byId.set(entry.idHash, entry)
  }
  const sorted = [...byId.values()].sort(compareRetired)
  const horizon = (sorted[0]?.physicalMs ?? 0) - RETIRED_WRITE_RETENTION_MS
  return sorted.filter((entry) => entry.physicalMs >= horizon).slice(0, MAX_RETIRED_WRITES)
}

function laterWrite(a: Sibling, b: Sibling): boolean {
  const order = compareHlcTimestamps(a.timestamp, b.timestamp)
  return order !== 0 ? order > 0 : compareDots(a.dot, b.dot) > 0
}

/** Merges any number of replies, e.g. a read quorum's; the empty merge is the empty object. */
export function mergeAllObjects(objects: readonly DottedVersionVectorSet[]): DottedVersionVectorSet {
  return objects.reduce(mergeObjects, emptyObject)
}

export function siblingLevel(object: DottedVersionVectorSet, limits: VersioningLimits = defaultVersioningLimits): SiblingLevel {
  const count = object.siblings.length
  if (count > limits.maxSiblings) return 'over-limit'
  return count > limits.siblingWarnCount ? 'warn' : 'normal'
}

/** The newest timestamp in the object; the coordinator's clock observes it before stamping a write. */
export function latestTimestamp(object: DottedVersionVectorSet): HlcTimestamp | null {
  let latest: HlcTimestamp | null = null
  for (const { timestamp } of object.siblings) {
    if (latest === null || compareHlcTimestamps(timestamp, latest) > 0) latest = timestamp
  }
  return latest
}

export function liveContent(sibling: Sibling): LiveContent | null {
  return sibling.content.kind === 'value' ? sibling.content : null
}

/**
 * The siblings a write with `context` leaves standing. Besides the ones the context covers, it drops the writes
 * the context names by id and the retry twins (same write id, another dot) of covered siblings: the client saw
 * that write, whichever of its dots it read.
 */
function supersede(siblings: readonly Sibling[], context: VersionVector, seenWriteIds: readonly string[]): readonly Sibling[] {
  const replaced = new Set<string>(seenWriteIds)
  for (const sibling of siblings) if (sibling.writeId !== undefined && coversDot(context, sibling.dot)) replaced.add(sibling.writeId)
  return siblings.filter((sibling) => !coversDot(context, sibling.dot) && (sibling.writeId === undefined || !replaced.has(sibling.writeId)))
}

function checkedUpdate(object: DottedVersionVectorSet, dot: Dot, limits: VersioningLimits): UpdateOutcome {
  const siblingCount = object.siblings.length
  if (siblingCount > limits.maxSiblings) {
    return { kind: 'too-many-siblings', code: 'TOO_MANY_SIBLINGS', siblingCount, maxSiblings: limits.maxSiblings }
  }
  const objectBytes = encodedObjectSize(object)
  if (objectBytes > limits.maxObjectBytes) {
    return { kind: 'too-large', code: 'OBJECT_TOO_LARGE', objectBytes, maxObjectBytes: limits.maxObjectBytes }
  }
  const level = siblingCount > limits.siblingWarnCount ? 'warn' : 'normal'
  return { kind: 'updated', object, dot, siblingCount, siblingLevel: level }
}

/** Inserts a sibling into a sorted list; the new dot is fresh, so it is never already present. */
export function insertSibling(siblings: readonly Sibling[], sibling: Sibling): Sibling[] {
  let index = siblings.length
  while (index > 0 && compareDots((siblings[index - 1] as Sibling).dot, sibling.dot) > 0) index--
  assert(index === 0 || compareDots((siblings[index - 1] as Sibling).dot, sibling.dot) < 0, () => `dot ${formatDot(sibling.dot)} minted twice`)
  const out = siblings.slice()
  out.splice(index, 0, sibling)
  return out
}

function assertWrite(write: Write): void {
  assert(isValidActor(write.actor), () => `invalid actor ${JSON.stringify(write.actor)}`)
  assert(isValidHlcTimestamp(write.timestamp), () => `invalid timestamp ${JSON.stringify(write.timestamp)}`)
  const problem = write.context === null ? null : versionVectorProblem(write.context)
  assert(problem === null, () => `invalid context (decode it with decodeCausalContext): ${problem}`)
}

/**
 * One dot is one write, so two replicas holding it must hold the same thing. If they ever differ, merge would
 * depend on argument order; crash instead of letting replicas diverge silently. Cheap fields only: comparing
 * value bytes on every merge would cost as much as the merge.
 */
function assertSameWrite(x: Sibling, y: Sibling): void {
  assert(compareHlcTimestamps(x.timestamp, y.timestamp) === 0, () => `dot ${formatDot(x.dot)} carries two timestamps`)
  assert(x.writeId === y.writeId, () => `dot ${formatDot(x.dot)} carries two write ids`)
  const sameContent =
    x.content.kind === y.content.kind &&
    (x.content.kind === 'tombstone' ||
      (y.content.kind === 'value' &&
        x.content.contentType === y.content.contentType &&
        x.content.value.length === y.content.value.length))
  assert(sameContent, () => `dot ${formatDot(x.dot)} carries two different contents`)
}
