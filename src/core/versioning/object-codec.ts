/**
 * The binary form of a dotted version vector set, for storage and replication. Deterministic: one object has
 * exactly one encoding (sorted history, sorted siblings, minimal varints, no maps, no floats), so replicas can
 * compare digests of encoded objects during anti-entropy.
 *
 * Format, version 1 (integers are minimal unsigned LEB128):
 *   0xC7 0x01 · history (as in causal-context.ts) · sibling count · per sibling:
 *     actor index into the history · counter · physicalMs · logical · kind
 *     · for kinds 2 and 3: write id (length + UTF-8)
 *     · for a value: content type (length + UTF-8) · value (length + bytes)
 *   · then, only when the object has retired writes: their count · per entry: physicalMs · 8-byte id hash
 *   kind: bit 0 set for a value (clear for a tombstone), bit 1 set when the sibling carries a write id; a sibling
 *   without one is encoded exactly as before write ids existed.
 * A sibling names its actor by index into the history, which is shorter and makes "the history covers every
 * sibling" partly structural; the decoder checks the rest of sibling.ts's invariants.
 *
 * Both directions check: encodeObject asserts the invariants before writing (a bug crashes here, not on a
 * replica), decodeObject validates everything after reading and answers with typed outcomes, never throwing.
 */
import { assert } from '../primitives/assert.ts'
import type { Dot } from './actor.ts'
import { compareDots } from './actor.ts'
import { ByteReader, DecodeFailure } from './byte-reader.ts'
import { ByteWriter, utf8Length, varintSize } from './byte-writer.ts'
import { readVersionVector, versionVectorSize, writeVersionVector } from './causal-context.ts'
import { MAX_HLC_LOGICAL } from './hybrid-logical-clock.ts'
import type { DottedVersionVectorSet, RetiredWrite, Sibling, SiblingContent } from './sibling.ts'
import { objectProblem } from './sibling.ts'
import type { VersionVector, VersionVectorEntry } from './version-vector.ts'
import { indexOf } from './version-vector.ts'
import { defaultVersioningLimits, MAX_CONTENT_TYPE_BYTES, MAX_RETIRED_WRITES, MAX_WRITE_ID_BYTES } from './versioning-limits.ts'

const MAGIC = 0xc7
const OBJECT_FORMAT_VERSION = 1
const TOMBSTONE = 0
const VALUE = 1
const HAS_WRITE_ID = 2
const ID_HASH_BYTES = 8

export type ObjectDecoding =
  | { readonly kind: 'decoded'; readonly object: DottedVersionVectorSet }
  | { readonly kind: 'corrupt'; readonly code: 'CORRUPT_OBJECT'; readonly message: string }
  | { readonly kind: 'too-large'; readonly code: 'OBJECT_TOO_LARGE'; readonly objectBytes: number; readonly maxObjectBytes: number }

export function encodeObject(object: DottedVersionVectorSet): Uint8Array {
  const problem = objectProblem(object)
  assert(problem === null, () => `refusing to encode an invalid object: ${problem}`)
  const size = encodedObjectSize(object)
  const writer = new ByteWriter(size)
  writer.byte(MAGIC)
  writer.byte(OBJECT_FORMAT_VERSION)
  writeVersionVector(writer, object.history)
  writer.varint(object.siblings.length)
  for (const sibling of object.siblings) writeSibling(writer, object.history, sibling)
  const retired = object.retired ?? []
  if (retired.length > 0) {
    writer.varint(retired.length)
    for (const entry of retired) {
      writer.varint(entry.physicalMs)
      for (let i = 0; i < 16; i += 2) writer.byte(Number.parseInt(entry.idHash.slice(i, i + 2), 16))
    }
  }
  const bytes = writer.finish()
  assert(bytes.length === size, () => `encoded ${bytes.length} bytes, predicted ${size}`)
  return bytes
}

/** Bytes encodeObject would produce, without encoding; used to refuse oversized writes cheaply. */
export function encodedObjectSize(object: DottedVersionVectorSet): number {
  let size = 2 + versionVectorSize(object.history) + varintSize(object.siblings.length)
  for (const sibling of object.siblings) {
    const { dot, timestamp, content } = sibling
    size += varintSize(indexOf(object.history, dot)) + varintSize(dot.counter) + 1
    size += varintSize(timestamp.physicalMs) + varintSize(timestamp.logical)
    if (sibling.writeId !== undefined) {
      const idBytes = utf8Length(sibling.writeId)
      size += varintSize(idBytes) + idBytes
    }
    if (content.kind === 'value') {
      const typeBytes = utf8Length(content.contentType)
      size += varintSize(typeBytes) + typeBytes + varintSize(content.value.length) + content.value.length
    }
  }
  const retired = object.retired ?? []
  if (retired.length > 0) size += varintSize(retired.length)
  for (const entry of retired) size += varintSize(entry.physicalMs) + ID_HASH_BYTES
  return size
}

export function decodeObject(
  bytes: Uint8Array,
  maxObjectBytes: number = defaultVersioningLimits.maxObjectBytes,
): ObjectDecoding {
  if (!(bytes instanceof Uint8Array)) return corrupt('not a Uint8Array')
  if (bytes.length > maxObjectBytes) {
    return { kind: 'too-large', code: 'OBJECT_TOO_LARGE', objectBytes: bytes.length, maxObjectBytes }
  }
  const reader = new ByteReader(bytes)
  try {
    if (reader.byte() !== MAGIC) return corrupt('bad magic byte')
    const version = reader.byte()
    if (version !== OBJECT_FORMAT_VERSION) return corrupt(`unknown object format ${version}`)
    const history = readVersionVector(reader)
    const siblings = readSiblings(reader, history)
    const retired = reader.remaining > 0 ? readRetired(reader) : []
    reader.expectEnd()
    const object: DottedVersionVectorSet = retired.length === 0 ? { history, siblings } : { history, siblings, retired }
    // The pair of encodeObject's check: a decoded object satisfies the same invariants.
    const problem = objectProblem(object)
    return problem === null ? { kind: 'decoded', object } : corrupt(problem)
  } catch (error) {
    if (error instanceof DecodeFailure) return corrupt(error.message)
    throw error
  }
}

function writeSibling(writer: ByteWriter, history: VersionVector, sibling: Sibling): void {
  const actorIndex = indexOf(history, sibling.dot)
  writer.varint(actorIndex)
  writer.varint(sibling.dot.counter)
  writer.varint(sibling.timestamp.physicalMs)
  writer.varint(sibling.timestamp.logical)
  const flags = sibling.writeId === undefined ? 0 : HAS_WRITE_ID
  writer.byte((sibling.content.kind === 'tombstone' ? TOMBSTONE : VALUE) | flags)
  if (sibling.writeId !== undefined) writer.text(sibling.writeId)
  if (sibling.content.kind === 'tombstone') return
  writer.text(sibling.content.contentType)
  writer.blob(sibling.content.value)
}

function readSiblings(reader: ByteReader, history: VersionVector): Sibling[] {
  const count = reader.varint()
  // Every sibling takes at least five bytes (index, counter, physicalMs, logical, kind).
  if (count * 5 > reader.remaining) throw new DecodeFailure(`${count} siblings cannot fit`)
  const siblings: Sibling[] = []
  for (let i = 0; i < count; i++) {
    const actor = history[reader.varint()]
    if (actor === undefined) throw new DecodeFailure('sibling names an actor outside the history')
    const dot = readDot(reader, actor)
    const physicalMs = reader.varint()
    const logical = reader.varint()
    if (logical > MAX_HLC_LOGICAL) throw new DecodeFailure('logical clock out of range')
    const kind = reader.byte()
    if (kind > (VALUE | HAS_WRITE_ID)) throw new DecodeFailure(`unknown sibling kind ${kind}`)
    const writeId = (kind & HAS_WRITE_ID) === 0 ? undefined : reader.text(MAX_WRITE_ID_BYTES)
    const content = readContent(reader, kind & VALUE)
    const timestamp = { physicalMs, logical }
    const sibling: Sibling = writeId === undefined ? { dot, timestamp, content } : { dot, timestamp, content, writeId }
    const previous = siblings[i - 1]
    if (previous !== undefined && compareDots(previous.dot, dot) >= 0) throw new DecodeFailure('siblings out of order')
    siblings.push(sibling)
  }
  return siblings
}

function readRetired(reader: ByteReader): RetiredWrite[] {
  const count = reader.varint()
  // An empty list is written as nothing, so a zero count would be a second encoding of the same object.
  if (count === 0 || count > MAX_RETIRED_WRITES) throw new DecodeFailure(`${count} retired writes`)
  const retired: RetiredWrite[] = []
  for (let i = 0; i < count; i++) {
    const physicalMs = reader.varint()
    let idHash = ''
    for (let b = 0; b < ID_HASH_BYTES; b++) idHash += reader.byte().toString(16).padStart(2, '0')
    retired.push({ physicalMs, idHash })
  }
  return retired
}

function readDot(reader: ByteReader, actor: VersionVectorEntry): Dot {
  const counter = reader.varint()
  if (counter < 1 || counter > actor.counter) throw new DecodeFailure('sibling dot outside the history')
  return { node: actor.node, generation: actor.generation, counter }
}

function readContent(reader: ByteReader, kind: number): SiblingContent {
  if (kind === TOMBSTONE) return { kind: 'tombstone' }
  const contentType = reader.text(MAX_CONTENT_TYPE_BYTES)
  const value = reader.blob(reader.remaining)
  return { kind: 'value', value, contentType }
}

function corrupt(message: string): ObjectDecoding {
  return { kind: 'corrupt', code: 'CORRUPT_OBJECT', message }
}
