/**
 * Framing for the TCP channel: a stream of bytes ⇄ a sequence of frames.
 *
 *   offset  size  field
 *   0       4     length   bytes after this field (big-endian); the whole frame is length + 4 ≤ maxFrameBytes
 *   4       4     crc32c   of every byte after this field, MAC included
 *   8       1     flags    bit 0: a MAC follows the body; other bits must be zero
 *   9       1     type     1 hello, 2 one-way, 3 call, 4 response
 *   10      4     callId   matches a response to its call; 0 for hello and one-way
 *   14      n     body     an encoded Message (wire-codec.ts); for hello, the sender's PeerAddress in UTF-8
 *   14+n    32    mac      HMAC-SHA256 of bytes 8 .. 14+n, present when flags bit 0 is set
 *
 * The length comes first so the decoder can refuse an oversized frame before allocating anything for it. The
 * CRC is checked before the MAC because it is cheaper and tells corruption apart from forgery in the counters.
 *
 * FrameDecoder is a streaming parser. It accepts chunks of any size, hands each complete frame to a callback,
 * and after the first error stays failed: a byte stream that lost its framing cannot be resynchronised, so the
 * connection must be closed. Frame bodies are views into the pushed chunks, valid only during the callback.
 */
import { crc32c } from './crc32c.ts'
import { MAC_BYTES, type MessageAuthenticator } from './message-authenticator.ts'
import type { Message } from '../core/node/message.ts'
import { encodeMessageWithRoom, type DecodeError, type DecodeErrorReason } from './wire-codec.ts'

export type FrameType = 'hello' | 'one-way' | 'call' | 'response'

export interface Frame {
  readonly type: FrameType
  readonly callId: number
  readonly body: Uint8Array
}

/** Bytes before the body: length, crc, flags, type, callId. */
export const FRAME_HEADER_BYTES = 14
const LENGTH_BYTES = 4
const CHECKED_OFFSET = 8
const FLAG_AUTHENTICATED = 0x01

const typeCodes: { readonly [T in FrameType]: number } = { hello: 1, 'one-way': 2, call: 3, response: 4 }
const typesByCode: readonly (FrameType | undefined)[] = [undefined, 'hello', 'one-way', 'call', 'response']

export interface FrameCodecOptions {
  /** The largest whole frame (length field included) either side accepts. */
  readonly maxFrameBytes: number
  /** With a cluster secret: every frame is signed, and unsigned or mis-signed frames are refused. */
  readonly authenticator?: MessageAuthenticator | undefined
}

/** The size of the frame that would carry a body of this many bytes. */
export function frameBytes(bodyBytes: number, options: FrameCodecOptions): number {
  return FRAME_HEADER_BYTES + bodyBytes + (options.authenticator === undefined ? 0 : MAC_BYTES)
}

/** Throws RangeError when a body would not fit one frame: messages that large are a caller bug. */
export function assertFrameFits(bodyBytes: number, options: FrameCodecOptions): void {
  const total = frameBytes(bodyBytes, options)
  if (total > options.maxFrameBytes) throw new RangeError(`frame of ${total} bytes exceeds maxFrameBytes ${options.maxFrameBytes}`)
}

/** The bytes of one frame with a raw body (hello, tests). Throws if it would exceed maxFrameBytes. */
export function encodeFrame(frame: Frame, options: FrameCodecOptions): Uint8Array {
  assertFrameFits(frame.body.length, options)
  const out = new Uint8Array(frameBytes(frame.body.length, options))
  out.set(frame.body, FRAME_HEADER_BYTES)
  return sealFrame(fillHeader(out, frame.type, options), frame.callId, options)
}

/**
 * The frame for a message, encoded straight into the frame buffer but not yet sealed: the call id, MAC and
 * CRC are written by sealFrame, so a call can be encoded (and its size checked) when it is made and given its
 * id only when a slot frees up. Throws RangeError if the frame would exceed maxFrameBytes.
 */
export function prepareMessageFrame(type: FrameType, message: Message, options: FrameCodecOptions): Uint8Array {
  const macBytes = options.authenticator === undefined ? 0 : MAC_BYTES
  const out = encodeMessageWithRoom(message, FRAME_HEADER_BYTES, macBytes)
  assertFrameFits(out.length - FRAME_HEADER_BYTES - macBytes, options)
  return fillHeader(out, type, options)
}

/** Writes the call id, then the MAC and the CRC that cover it, into a prepared frame; returns the same bytes. */
export function sealFrame(frame: Uint8Array, callId: number, options: FrameCodecOptions): Uint8Array {
  writeUint32(frame, 10, callId >>> 0)
  if (options.authenticator !== undefined) {
    const bodyEnd = frame.length - MAC_BYTES
    options.authenticator.signInto([frame.subarray(CHECKED_OFFSET, bodyEnd)], frame, bodyEnd)
  }
  writeUint32(frame, 4, crc32c(frame.subarray(CHECKED_OFFSET)))
  return frame
}

function fillHeader(frame: Uint8Array, type: FrameType, options: FrameCodecOptions): Uint8Array {
  writeUint32(frame, 0, frame.length - LENGTH_BYTES)
  frame[8] = options.authenticator === undefined ? 0 : FLAG_AUTHENTICATED
  frame[9] = typeCodes[type]
  return frame
}

function writeUint32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 24
  bytes[offset + 1] = value >>> 16
  bytes[offset + 2] = value >>> 8
  bytes[offset + 3] = value
}

/** Result of FrameDecoder.push: `null` when every complete frame was delivered, otherwise the fatal error. */
export type FramePushResult = DecodeError | null

export class FrameDecoder {
  private readonly lengthBytes = new Uint8Array(LENGTH_BYTES)
  private lengthFilled = 0
  /** The frame being assembled across chunks (without its length field), or null between frames. */
  private partial: Uint8Array | null = null
  private partialFilled = 0
  private failure: DecodeError | null = null

  constructor(private readonly options: FrameCodecOptions) {}

  /** True once a push has failed; the connection must then be closed. */
  get failed(): boolean {
    return this.failure !== null
  }

  /** True when no partial frame is buffered: a clean point at which the stream may end. */
  get idle(): boolean {
    return this.lengthFilled === 0 && this.partial === null
  }

  /** Parses a chunk, calling onFrame for each complete frame in order. */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): FramePushResult {
    if (this.failure !== null) return this.failure
    let position = 0
    while (position < chunk.length) {
      position = this.partial === null ? this.startFrame(chunk, position, onFrame) : this.continueFrame(chunk, position, onFrame)
      if (this.failure !== null) return this.failure
    }
    return null
  }

  /** Reads the length field (possibly split across chunks); delivers the frame at once if it is all here. */
  private startFrame(chunk: Uint8Array, position: number, onFrame: (frame: Frame) => void): number {
    let length: number
    if (this.lengthFilled === 0 && chunk.length - position >= LENGTH_BYTES) {
      length = readUint32(chunk, position)
      position += LENGTH_BYTES
    } else {
      const take = Math.min(LENGTH_BYTES - this.lengthFilled, chunk.length - position)
      this.lengthBytes.set(chunk.subarray(position, position + take), this.lengthFilled)
      this.lengthFilled += take
      position += take
      if (this.lengthFilled < LENGTH_BYTES) return position
      this.lengthFilled = 0
      length = readUint32(this.lengthBytes, 0)
    }
    if (!this.checkLength(length)) return position
    if (chunk.length - position >= length) {
      this.deliver(chunk.subarray(position, position + length), onFrame)
      return position + length
    }
    // Allocation happens only here, after checkLength bounded it by maxFrameBytes.
    this.partial = new Uint8Array(length)
    this.partialFilled = 0
    return position
  }

  private continueFrame(chunk: Uint8Array, position: number, onFrame: (frame: Frame) => void): number {
    const partial = this.partial as Uint8Array
    const take = Math.min(partial.length - this.partialFilled, chunk.length - position)
    partial.set(chunk.subarray(position, position + take), this.partialFilled)
    this.partialFilled += take
    if (this.partialFilled === partial.length) {
      this.partial = null
      this.deliver(partial, onFrame)
    }
    return position + take
  }

  private checkLength(length: number): boolean {
    if (length + LENGTH_BYTES > this.options.maxFrameBytes) {
      this.fail('too-large', `frame of ${length + LENGTH_BYTES} bytes exceeds ${this.options.maxFrameBytes}`)
      return false
    }
    if (length < FRAME_HEADER_BYTES - LENGTH_BYTES) {
      this.fail('bad-envelope', `frame length ${length} is shorter than the header`)
      return false
    }
    return true
  }

  /** `rest` is the frame without its length field: crc, flags, type, callId, body, mac. */
  private deliver(rest: Uint8Array, onFrame: (frame: Frame) => void): void {
    const frame = parseFrame(rest, this.options.authenticator)
    if ('kind' in frame) {
      this.failure = frame
      return
    }
    onFrame(frame)
  }

  private fail(reason: DecodeErrorReason, detail: string): void {
    this.failure = { kind: 'decode-error', reason, detail }
  }
}

function parseFrame(rest: Uint8Array, authenticator: MessageAuthenticator | undefined): Frame | DecodeError {
  const checked = rest.subarray(CHECKED_OFFSET - LENGTH_BYTES)
  const expectedCrc = readUint32(rest, 0)
  if (crc32c(checked) !== expectedCrc) return error('bad-checksum', 'frame CRC32C mismatch')
  const flags = checked[0] as number
  const type = typesByCode[checked[1] as number]
  if ((flags & ~FLAG_AUTHENTICATED) !== 0) return error('bad-envelope', `unknown frame flags ${flags}`)
  if (type === undefined) return error('bad-envelope', `unknown frame type ${checked[1]}`)
  const authenticated = (flags & FLAG_AUTHENTICATED) !== 0
  const bodyEnd = checked.length - (authenticated ? MAC_BYTES : 0)
  if (bodyEnd < FRAME_HEADER_BYTES - CHECKED_OFFSET) return error('truncated', 'frame too short for its MAC')
  if (authenticator !== undefined) {
    if (!authenticated) return error('unauthenticated', 'frame without a MAC')
    if (!authenticator.verify([checked.subarray(0, bodyEnd)], checked.subarray(bodyEnd))) return error('bad-mac', 'frame MAC mismatch')
  } else if (authenticated) {
    return error('bad-mac', 'signed frame but no cluster secret is configured here')
  }
  return { type, callId: readUint32(checked, 2), body: checked.subarray(FRAME_HEADER_BYTES - CHECKED_OFFSET, bodyEnd) }
}

function readUint32(bytes: Uint8Array, offset: number): number {
  // Callers guarantee offset + 4 ≤ length, so the non-null assertions hold.
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0
}

function error(reason: DecodeErrorReason, detail: string): DecodeError {
  return { kind: 'decode-error', reason, detail }
}
