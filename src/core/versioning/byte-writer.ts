/**
 * A growable byte buffer with unsigned LEB128 varints and UTF-8 strings: the one binary encoding shared by the
 * causal context and the object codec. Core cannot import msgpackr (or Buffer), and a hand-written format has a
 * property we need anyway: exactly one encoding per value, so the same object always gives the same bytes and
 * anti-entropy can compare digests.
 *
 * Varints are minimal (no trailing zero groups) and limited to Number.MAX_SAFE_INTEGER; the reader rejects
 * anything else, so decode∘encode and encode∘decode are both identities.
 */
import { assert } from '../primitives/assert.ts'
import { allocateBytes } from '../primitives/byte-pool.ts'

const encoder = new TextEncoder()

export class ByteWriter {
  private bytes: Uint8Array
  private length = 0
  private finished = false

  constructor(initialCapacity = 256) {
    assert(Number.isInteger(initialCapacity) && initialCapacity > 0, 'initial capacity must be a positive integer')
    this.bytes = allocateBytes(initialCapacity)
  }

  byte(value: number): void {
    assert(Number.isInteger(value) && value >= 0 && value <= 0xff, () => `byte out of range: ${value}`)
    this.reserve(1)
    this.bytes[this.length++] = value
  }

  varint(value: number): void {
    assert(Number.isSafeInteger(value) && value >= 0, () => `varint must be a non-negative safe integer, got ${value}`)
    this.reserve(varintSize(value))
    let rest = value
    // Division instead of >>> because bit operators truncate to 32 bits and generations/timestamps exceed that.
    while (rest >= 0x80) {
      this.bytes[this.length++] = (rest % 0x80) | 0x80
      rest = Math.floor(rest / 0x80)
    }
    this.bytes[this.length++] = rest
  }

  /** A length-prefixed byte string. */
  blob(value: Uint8Array): void {
    this.varint(value.length)
    this.reserve(value.length)
    this.bytes.set(value, this.length)
    this.length += value.length
  }

  /** A length-prefixed UTF-8 string. Lone surrogates would not round-trip, so callers validate strings first. */
  text(value: string): void {
    const length = utf8Length(value)
    this.varint(length)
    this.reserve(length)
    if (length === value.length) {
      // ASCII, the common case for node ids and content types: copying code units beats a call into the encoder.
      for (let i = 0; i < length; i++) this.bytes[this.length + i] = value.charCodeAt(i)
    } else {
      const written = encoder.encodeInto(value, this.bytes.subarray(this.length, this.length + length)).written
      assert(written === length, () => `UTF-8 length of ${JSON.stringify(value)} mispredicted`)
    }
    this.length += length
  }

  /**
   * The written bytes. No copy: the writer is done once finished (a later write throws), so nothing can alias
   * them. Callers that size the writer exactly get the buffer itself.
   */
  finish(): Uint8Array {
    this.finished = true
    return this.length === this.bytes.length ? this.bytes : this.bytes.subarray(0, this.length)
  }

  private reserve(extra: number): void {
    assert(!this.finished, 'ByteWriter written after finish()')
    if (this.length + extra <= this.bytes.length) return
    let capacity = this.bytes.length * 2
    while (capacity < this.length + extra) capacity *= 2
    const grown = allocateBytes(capacity)
    grown.set(this.bytes.subarray(0, this.length))
    this.bytes = grown
  }
}

/** Bytes of a minimal LEB128 varint, for computing encoded sizes without encoding. */
export function varintSize(value: number): number {
  let size = 1
  let rest = value
  while (rest >= 0x80) {
    size++
    rest = Math.floor(rest / 0x80)
  }
  return size
}

/** UTF-8 length of a string without allocating; a lone surrogate counts as the 3-byte replacement character. */
export function utf8Length(value: string): number {
  let bytes = 0
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < value.length && isLowSurrogate(value.charCodeAt(i + 1))) {
      bytes += 4
      i++
    } else bytes += 3
  }
  return bytes
}

/** True when the string survives a UTF-8 round trip, i.e. it has no unpaired surrogates. */
export function isWellFormedText(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code >= 0xd800 && code <= 0xdbff) {
      if (i + 1 >= value.length || !isLowSurrogate(value.charCodeAt(i + 1))) return false
      i++
    } else if (isLowSurrogate(code)) return false
  }
  return true
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff
}
