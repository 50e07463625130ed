/**
 * Framing: frames survive any chunking of the byte stream, every kind of damage is a typed error that
 * poisons the decoder (the connection must close), and an oversized length is refused before allocation.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeFrame, FrameDecoder, type Frame, type FrameCodecOptions, type FrameType } from '../../src/transport/frame-codec.ts'
import { MessageAuthenticator } from '../../src/transport/message-authenticator.ts'

const plain: FrameCodecOptions = { maxFrameBytes: 4_096 }
const secretA = new MessageAuthenticator(new TextEncoder().encode('cluster secret number one'))
const secretB = new MessageAuthenticator(new TextEncoder().encode('cluster secret number two'))
const signed: FrameCodecOptions = { maxFrameBytes: 4_096, authenticator: secretA }

const frameArbitrary: fc.Arbitrary<Frame> = fc.record({
  type: fc.constantFrom<FrameType>('hello', 'one-way', 'call', 'response'),
  callId: fc.nat({ max: 0xffff_ffff }),
  body: fc.uint8Array({ maxLength: 300 }),
})

function concatenate(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Splits bytes at the given (sorted, deduplicated) cut points. */
function chunk(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let start = 0
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point))
    start = point
  }
  return chunks
}

function decodeAll(chunks: readonly Uint8Array[], options: FrameCodecOptions): { frames: Frame[]; error: string | null } {
  const decoder = new FrameDecoder(options)
  const frames: Frame[] = []
  for (const piece of chunks) {
    // Copy each body: bodies are views valid only during the callback.
    const error = decoder.push(piece, (frame) => frames.push({ ...frame, body: frame.body.slice() }))
    if (error !== null) return { frames, error: error.reason }
  }
  return { frames, error: null }
}

describe('frame codec', () => {
  for (const [name, options] of [['plain', plain], ['signed', signed]] as const) {
    it(`delivers ${name} frames unchanged under arbitrary chunking`, () => {
      fc.assert(
        fc.property(fc.array(frameArbitrary, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 20 }), (frames, cuts) => {
          const stream = concatenate(frames.map((frame) => encodeFrame(frame, options)))
          const result = decodeAll(chunk(stream, cuts), options)
          expect(result.error).toBeNull()
          expect(result.frames).toEqual(frames)
        }),
        { numRuns: 300, seed: 3 },
      )
    })
  }

  it('byte-at-a-time delivery works too', () => {
    const frames: Frame[] = [
      { type: 'call', callId: 7, body: Uint8Array.from([1, 2, 3]) },
      { type: 'response', callId: 7, body: new Uint8Array(0) },
    ]
    const stream = concatenate(frames.map((frame) => encodeFrame(frame, plain)))
    const bytes = Array.from(stream, (byte) => Uint8Array.of(byte))
    expect(decodeAll(bytes, plain)).toEqual({ frames, error: null })
  })

  it('refuses a length beyond maxFrameBytes from the first four bytes', () => {
    const decoder = new FrameDecoder(plain)
    const error = decoder.push(Uint8Array.of(0x7f, 0xff, 0xff, 0xff), () => undefined)
    expect(error?.reason).toBe('too-large')
    expect(decoder.failed).toBe(true)
    expect(decoder.push(new Uint8Array(10), () => undefined)?.reason).toBe('too-large')
  })

  it('refuses an encode beyond maxFrameBytes', () => {
    expect(() => encodeFrame({ type: 'call', callId: 1, body: new Uint8Array(4_096) }, plain)).toThrow(RangeError)
  })

  it('detects any single flipped bit', () => {
    const frame = encodeFrame({ type: 'one-way', callId: 0, body: Uint8Array.from([9, 8, 7, 6]) }, plain)
    for (let bit = 32; bit < frame.length * 8; bit++) {
      const damaged = frame.slice()
      damaged[bit >> 3] = (damaged[bit >> 3] as number) ^ (1 << (bit & 7))
      expect(decodeAll([damaged], plain).error).toBe('bad-checksum')
    }
  })

  it('tells forged, unsigned and unexpectedly signed frames apart', () => {
    const frame: Frame = { type: 'call', callId: 1, body: Uint8Array.from([1]) }
    expect(decodeAll([encodeFrame(frame, { maxFrameBytes: 4_096, authenticator: secretB })], signed).error).toBe('bad-mac')
    expect(decodeAll([encodeFrame(frame, plain)], signed).error).toBe('unauthenticated')
    expect(decodeAll([encodeFrame(frame, signed)], plain).error).toBe('bad-mac')
  })

  it('turns arbitrary garbage into frames or one typed error, never an exception', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 5 }), (chunks) => {
        const result = decodeAll(chunks, signed)
        return result.error === null || typeof result.error === 'string'
      }),
      { numRuns: 5_000, seed: 4 },
    )
  })
})
