/**
 * The wire codec: Message ⇄ bytes. Pure (no sockets, no clock), so the simulator passes every message through
 * exactly this code.
 *
 * Layout: one version byte (WIRE_VERSION) followed by the message as msgpack (msgpackr, plain maps, no record
 * extension so that the bytes do not depend on what the encoder has seen before). The cluster's background
 * traffic (SWIM messages and the placement digest) goes as positional arrays instead of maps, about a third of
 * the bytes (compact-membership-codec.ts); decoding accepts either form. Decoding is the trust
 * boundary: it checks the size before msgpackr allocates anything, maps every msgpackr exception to a typed
 * DecodeError, and then validates the result against the schema registry, which rebuilds the value — so the
 * outcome is a whole, well-typed Message or a DecodeError, never an exception and never a half-valid object.
 *
 * Framing (length prefix, CRC32C, HMAC) is not here: see frame-codec.ts and datagram-codec.ts.
 */
import { Buffer } from 'node:buffer'
import { Packr } from 'msgpackr'
import type { Message } from '../core/node/message.ts'
import { lan } from '../core/node/node-config.ts'
import { compactMessage, expandMessage } from './compact-membership-codec.ts'
import { messageSchema } from './schemas.ts'
import { SchemaViolation } from './schema.ts'

/** Bumped on any incompatible change of the message encoding; a node drops messages of another version. */
export const WIRE_VERSION = 2 // 2: SWIM messages and placement digests in the compact positional form

export type DecodeErrorReason =
  | 'empty'
  | 'unknown-version'
  | 'malformed-msgpack'
  | 'schema'
  | 'too-large'
  | 'bad-checksum'
  | 'bad-mac'
  | 'truncated'
  /** A frame or datagram without a MAC reached a node that requires one (cluster secret set). */
  | 'unauthenticated'
  /** The envelope around the message (frame header, datagram flags) is not one we know. */
  | 'bad-envelope'

export interface DecodeError {
  readonly kind: 'decode-error'
  readonly reason: DecodeErrorReason
  readonly detail: string
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: DecodeError }

/**
 * The largest encoded message decodeMessage accepts unless told otherwise: the default frame limit, since a
 * message can never be larger than the frame that carries it.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = lan.maxFrameBytes

// useRecords: false keeps the encoding context-free (records would make bytes depend on earlier messages).
// int64AsType 'number' keeps integers as numbers; schemas reject anything beyond 2^53 anyway.
// structuredClone false refuses the cyclic-reference extensions, which no message needs.
const packr = new Packr({
  useRecords: false,
  mapsAsObjects: true,
  int64AsType: 'number',
  structuredClone: false,
  moreTypes: false,
  bundleStrings: false,
})

export function decodeError(reason: DecodeErrorReason, detail: string): { ok: false; error: DecodeError } {
  return { ok: false, error: { kind: 'decode-error', reason, detail } }
}

/** Encodes a message. A message that msgpackr cannot encode is a programming error and throws. */
export function encodeMessage(message: Message): Uint8Array {
  return encodeMessageWithRoom(message, 0, 0)
}

/**
 * Encodes a message with `before` bytes of room ahead of it and `after` bytes behind it, so an envelope
 * (frame header, MAC) is written around it in the same buffer: one allocation and one copy per message on the
 * hot path instead of three. The room is uninitialised; the message occupies [before, length − after).
 */
export function encodeMessageWithRoom(message: Message, before: number, after: number): Uint8Array {
  const body = packr.pack(compactMessage(message) ?? message)
  const out = allocate(before + 1 + body.length + after)
  out[before] = WIRE_VERSION
  out.set(body, before + 1)
  return out
}

/**
 * A plain Uint8Array (not a Buffer) carved from Node's pooled allocator: `new Uint8Array(n)` zero-fills and
 * allocates a backing store per call, which showed up as the largest cost in the transport benchmark.
 */
function allocate(length: number): Uint8Array {
  const pooled = Buffer.allocUnsafe(length)
  return new Uint8Array(pooled.buffer, pooled.byteOffset, length)
}

/** Decodes untrusted bytes into a Message or a typed error. Never throws. */
export function decodeMessage(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_MESSAGE_BYTES): Decoded<Message> {
  if (bytes.length === 0) return decodeError('empty', 'no bytes')
  if (bytes.length > maxBytes) return decodeError('too-large', `${bytes.length} bytes exceeds ${maxBytes}`)
  if (bytes[0] !== WIRE_VERSION) return decodeError('unknown-version', `version ${bytes[0]}, expected ${WIRE_VERSION}`)
  if (bytes.length === 1) return decodeError('truncated', 'version byte without a message')
  const unpacked = unpackBody(bytes)
  if (!unpacked.ok) return unpacked
  try {
    const value = Array.isArray(unpacked.value) ? expandMessage(unpacked.value) : unpacked.value
    return { ok: true, value: messageSchema.parse(value) }
  } catch (error) {
    if (error instanceof SchemaViolation) return decodeError('schema', error.message)
    return decodeError('schema', `validator failed: ${describeError(error)}`)
  }
}

function unpackBody(bytes: Uint8Array): Decoded<unknown> {
  // A Buffer view (no copy): msgpackr's fast string paths need Buffer methods.
  const body = Buffer.from(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1)
  try {
    return { ok: true, value: packr.unpack(body) as unknown }
  } catch (error) {
    const incomplete = typeof error === 'object' && error !== null && (error as { incomplete?: unknown }).incomplete === true
    return decodeError(incomplete ? 'truncated' : 'malformed-msgpack', describeError(error))
  }
}

function describeError(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}
