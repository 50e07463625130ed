/**
 * The data of a dotted version vector set (Preguiça, Baquero, Almeida, Fonte, Gonçalves, "Dotted Version
 * Vectors: Logical Clocks for Optimistic Replication", 2010/2012): the causal history of the key as a version
 * vector, and the siblings, each tagged with the dot of the write that created it. Operations live in
 * dotted-version-vector-set.ts; this file holds the shapes and their invariants so that the codec can check
 * them without importing the operations.
 *
 * Invariants (checked before every encode and after every decode, STYLE rule 10):
 *  - the history is a valid version vector (sorted, counters ≥ 1);
 *  - siblings are sorted strictly by dot, so no dot appears twice;
 *  - the history covers every sibling's dot: a replica has seen what it stores.
 */
import type { Dot } from './actor.ts'
import { compareDots, isValidActor } from './actor.ts'
import { isWellFormedText, utf8Length } from './byte-writer.ts'
import type { HlcTimestamp } from './hybrid-logical-clock.ts'
import { isValidHlcTimestamp } from './hybrid-logical-clock.ts'
import type { VersionVector } from './version-vector.ts'
import { coversDot, versionVectorProblem } from './version-vector.ts'
import { fnv1a64 } from '../partitioning/key-hash.ts'
import { MAX_CONTENT_TYPE_BYTES, MAX_RETIRED_WRITES, MAX_WRITE_ID_BYTES } from './versioning-limits.ts'

export interface LiveContent {
  readonly kind: 'value'
  readonly value: Uint8Array
  readonly contentType: string
}

/** A delete: a sibling like any other, so it merges, supersedes and is superseded by contexts the same way. */
export interface Tombstone {
  readonly kind: 'tombstone'
}

export type SiblingContent = LiveContent | Tombstone

export interface Sibling {
  readonly dot: Dot
  /** When it was written, by the coordinator's hybrid logical clock; the API's `timestamp`, and LWW's order. */
  readonly timestamp: HlcTimestamp
  readonly content: SiblingContent
  /**
   * The client's request id (X-Request-Id) of the write that created this sibling, when it sent one. A client
   * that retries after a timeout sends the same id again; if the retry reaches another primary (failover,
   * partition), that primary mints a second dot for the same write. The id lets every merge recognise the two
   * siblings as one write and keep one of them (collapseRetriedWrites), so a retry never shows up as a sibling.
   */
  readonly writeId?: string
}

/** A client write (by request id) that a later write superseded; see DottedVersionVectorSet.retired. */
export interface RetiredWrite {
  /** FNV-1a 64 of the request id's UTF-8, 16 lower-case hex digits (retiredIdOf): 8 bytes instead of up to 128. */
  readonly idHash: string
  /** Physical time of the write that superseded it: the newest retirements are the ones kept. */
  readonly physicalMs: number
}

const utf8 = new TextEncoder()

/** The hash a retired list keeps of a request id. A collision among ≤ 32 entries is a 2⁻⁵⁹ event per write. */
export function retiredIdOf(writeId: string): string {
  const { high, low } = fnv1a64(utf8.encode(writeId))
  return high.toString(16).padStart(8, '0') + low.toString(16).padStart(8, '0')
}

const ID_HASH_PATTERN = /^[0-9a-f]{16}$/

export interface DottedVersionVectorSet {
  /** Every dot this replica has seen for the key, stored or superseded. */
  readonly history: VersionVector
  /** The writes not superseded by anything in the history, sorted by dot. */
  readonly siblings: readonly Sibling[]
  /**
   * Hashed request ids of recently superseded writes (newest first, then by hash; at most MAX_RETIRED_WRITES,
   * none older than RETIRED_WRITE_RETENTION_MS before the newest).
   * A retry of such a write minted on another primary, or arriving late, is the write the client already
   * replaced, not a new one: a replica does not mint it again and a merge drops its sibling. Absent when empty.
   */
  readonly retired?: readonly RetiredWrite[]
}

export const emptyObject: DottedVersionVectorSet = Object.freeze({ history: Object.freeze([]), siblings: Object.freeze([]) })

/** A write id worth recording: non-empty well-formed text of at most MAX_WRITE_ID_BYTES. */
export function isValidWriteId(writeId: string): boolean {
  return typeof writeId === 'string' && writeId.length > 0 && utf8Length(writeId) <= MAX_WRITE_ID_BYTES && isWellFormedText(writeId)
}

export function isValidContentType(contentType: string): boolean {
  return (
    typeof contentType === 'string' &&
    utf8Length(contentType) <= MAX_CONTENT_TYPE_BYTES &&
    isWellFormedText(contentType)
  )
}

/** Describes the first broken invariant of an object, or returns null when it is well formed. */
export function objectProblem(object: DottedVersionVectorSet): string | null {
  const historyProblem = versionVectorProblem(object.history)
  if (historyProblem !== null) return `history: ${historyProblem}`
  for (let i = 0; i < object.siblings.length; i++) {
    const sibling = object.siblings[i] as Sibling
    const problem = siblingProblem(sibling)
    if (problem !== null) return `sibling ${i}: ${problem}`
    const previous = object.siblings[i - 1]
    if (previous !== undefined && compareDots(previous.dot, sibling.dot) >= 0) return `sibling ${i} is out of order`
    if (!coversDot(object.history, sibling.dot)) return `sibling ${i} has a dot the history does not cover`
  }
  const retired = object.retired ?? []
  if (retired.length > MAX_RETIRED_WRITES) return `${retired.length} retired writes, more than ${MAX_RETIRED_WRITES}`
  for (let i = 0; i < retired.length; i++) {
    const entry = retired[i] as RetiredWrite
    if (!ID_HASH_PATTERN.test(entry.idHash) || !Number.isSafeInteger(entry.physicalMs) || entry.physicalMs < 0) return `retired write ${i} is invalid`
    const previous = retired[i - 1]
    if (previous !== undefined && compareRetired(previous, entry) >= 0) return `retired write ${i} is out of order`
  }
  return null
}

/** Newest first, then by id: the order retired lists are kept in, so that one object has one encoding. */
export function compareRetired(a: RetiredWrite, b: RetiredWrite): number {
  if (a.physicalMs !== b.physicalMs) return b.physicalMs - a.physicalMs
  return a.idHash < b.idHash ? -1 : a.idHash > b.idHash ? 1 : 0
}

function siblingProblem(sibling: Sibling): string | null {
  if (!isValidActor(sibling.dot)) return 'invalid actor'
  if (!Number.isSafeInteger(sibling.dot.counter) || sibling.dot.counter < 1) return 'invalid counter'
  if (!isValidHlcTimestamp(sibling.timestamp)) return 'invalid timestamp'
  if (sibling.writeId !== undefined && !isValidWriteId(sibling.writeId)) return 'invalid write id'
  if (sibling.content.kind === 'tombstone') return null
  if (!(sibling.content.value instanceof Uint8Array)) return 'value is not a Uint8Array'
  if (!isValidContentType(sibling.content.contentType)) return 'invalid content type'
  return null
}
