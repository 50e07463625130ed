/**
 * The causal context a client receives with every read and sends back with its next write: the object's version
 * vector, encoded compactly and opaquely (base64url of a small binary format). Holding it is what lets a write
 * supersede exactly the siblings the client saw (DESIGN.md section 5).
 *
 * Binary format (all integers minimal unsigned LEB128):
 *   version 1: byte 0x01 · count · count × (node id length, node id UTF-8, generation, counter)
 *   version 2: byte 0x02 · the same vector · id count (1..MAX_CONTEXT_WRITE_IDS) · ids (length, UTF-8)
 * Entries are strictly ascending by (node id, generation); node ids are 1..255 bytes; generation, counter ≥ 1.
 * Version 2 also names the client writes (request ids, sibling.ts) whose values the read returned, ascending and
 * distinct: a write with this context supersedes those writes by id as well as by dot, which catches a retry of
 * one of them that another primary minted under a dot the vector does not cover. A context without ids is always
 * written as version 1, so every context has one encoding.
 *
 * Contexts come from clients, so decoding treats them as hostile: it checks the length before doing any work,
 * rejects every non-canonical form, and never throws. Each failure is a typed outcome that the API maps to a 400
 * with the stable code MALFORMED_CONTEXT. The encoder and the decoder share readVersionVector/writeVersionVector
 * with the object codec, so a context and an object's history have one wire form.
 */
import { MAX_NODE_ID_BYTES } from './actor.ts'
import { decodeBase64Url, encodeBase64Url } from './base64url.ts'
import { ByteReader, DecodeFailure } from './byte-reader.ts'
import { ByteWriter, utf8Length, varintSize } from './byte-writer.ts'
import { nodeId } from '../primitives/ids.ts'
import type { VersionVector, VersionVectorEntry } from './version-vector.ts'
import { assertVersionVector } from './version-vector.ts'
import { compareActors } from './actor.ts'
import { isValidWriteId } from './sibling.ts'
import { defaultVersioningLimits, MAX_WRITE_ID_BYTES } from './versioning-limits.ts'

const CONTEXT_FORMAT_VERSION = 1
const CONTEXT_WITH_WRITE_IDS_VERSION = 2

/** Write ids a context names at most; a read with more siblings names the first ones (dedup is best effort). */
export const MAX_CONTEXT_WRITE_IDS = 16

/** The smallest encoded entry: a 1-byte length, a 1-byte node id and two 1-byte varints. */
const MIN_ENTRY_BYTES = 4

export type CausalContextDecoding =
  | { readonly kind: 'decoded'; readonly context: VersionVector; readonly writeIds: readonly string[] }
  | { readonly kind: 'malformed'; readonly code: 'MALFORMED_CONTEXT'; readonly message: string }
  | { readonly kind: 'too-large'; readonly code: 'MALFORMED_CONTEXT'; readonly message: string }

export function encodeCausalContext(context: VersionVector, writeIds: readonly string[] = []): string {
  assertVersionVector(context)
  const ids = canonicalWriteIds(writeIds)
  let size = 1 + versionVectorSize(context)
  if (ids.length > 0) size += varintSize(ids.length)
  for (const id of ids) size += varintSize(utf8Length(id)) + utf8Length(id)
  const writer = new ByteWriter(size)
  writer.byte(ids.length === 0 ? CONTEXT_FORMAT_VERSION : CONTEXT_WITH_WRITE_IDS_VERSION)
  writeVersionVector(writer, context)
  if (ids.length > 0) {
    writer.varint(ids.length)
    for (const id of ids) writer.text(id)
  }
  return encodeBase64Url(writer.finish())
}

/** Distinct, ascending, valid, at most MAX_CONTEXT_WRITE_IDS: the one form a context's ids are written in. */
function canonicalWriteIds(writeIds: readonly string[]): string[] {
  const ids = [...new Set(writeIds.filter(isValidWriteId))].sort()
  return ids.slice(0, MAX_CONTEXT_WRITE_IDS)
}

/** Validates a client's context. Never throws: every input, of any type, gets an outcome. */
export function decodeCausalContext(
  text: unknown,
  maxContextBytes: number = defaultVersioningLimits.maxContextBytes,
): CausalContextDecoding {
  if (typeof text !== 'string') return malformed('the context must be a string')
  // Checked on the text, before decoding, so an oversized header costs nothing.
  if (text.length > Math.ceil((maxContextBytes * 4) / 3)) {
    return { kind: 'too-large', code: 'MALFORMED_CONTEXT', message: `the context exceeds ${maxContextBytes} bytes` }
  }
  const bytes = decodeBase64Url(text)
  if (bytes === null) return malformed('the context is not unpadded base64url')
  const reader = new ByteReader(bytes)
  try {
    const version = reader.byte()
    if (version !== CONTEXT_FORMAT_VERSION && version !== CONTEXT_WITH_WRITE_IDS_VERSION) return malformed(`unknown context format ${version}`)
    const context = readVersionVector(reader)
    const writeIds = version === CONTEXT_WITH_WRITE_IDS_VERSION ? readWriteIds(reader) : []
    reader.expectEnd()
    return { kind: 'decoded', context, writeIds }
  } catch (error) {
    if (error instanceof DecodeFailure) return malformed(`the context is corrupt: ${error.message}`)
    throw error
  }
}

function readWriteIds(reader: ByteReader): string[] {
  const count = reader.varint()
  if (count < 1 || count > MAX_CONTEXT_WRITE_IDS) throw new DecodeFailure(`${count} write ids`)
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const id = reader.text(MAX_WRITE_ID_BYTES)
    if (!isValidWriteId(id)) throw new DecodeFailure('invalid write id')
    const previous = ids[i - 1]
    if (previous !== undefined && previous >= id) throw new DecodeFailure('write ids out of order')
    ids.push(id)
  }
  return ids
}

export function writeVersionVector(writer: ByteWriter, vector: VersionVector): void {
  writer.varint(vector.length)
  for (const entry of vector) {
    writer.text(entry.node)
    writer.varint(entry.generation)
    writer.varint(entry.counter)
  }
}

/** Reads a vector and checks every invariant of version-vector.ts; throws DecodeFailure on any violation. */
export function readVersionVector(reader: ByteReader): VersionVector {
  const count = reader.varint()
  // Refuse a count the remaining bytes cannot hold before looping, so a forged count cannot make us spin.
  if (count * MIN_ENTRY_BYTES > reader.remaining) throw new DecodeFailure(`${count} entries cannot fit`)
  const vector: VersionVectorEntry[] = []
  for (let i = 0; i < count; i++) {
    const node = reader.text(MAX_NODE_ID_BYTES)
    if (node.length === 0) throw new DecodeFailure('empty node id')
    const generation = reader.varint()
    const counter = reader.varint()
    if (generation < 1 || counter < 1) throw new DecodeFailure('generation and counter must be ≥ 1')
    const entry: VersionVectorEntry = { node: nodeId(node), generation, counter }
    const previous = vector[i - 1]
    if (previous !== undefined && compareActors(previous, entry) >= 0) throw new DecodeFailure('entries out of order')
    vector.push(entry)
  }
  return vector
}

/** Encoded bytes of a vector, computed without encoding it. */
export function versionVectorSize(vector: VersionVector): number {
  let size = varintSize(vector.length)
  for (const entry of vector) {
    const nodeBytes = utf8Length(entry.node)
    size += varintSize(nodeBytes) + nodeBytes + varintSize(entry.generation) + varintSize(entry.counter)
  }
  return size
}

function malformed(message: string): CausalContextDecoding {
  return { kind: 'malformed', code: 'MALFORMED_CONTEXT', message }
}
