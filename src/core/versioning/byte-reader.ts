/**
 * The strict reader for ByteWriter's format. It reads untrusted bytes (client contexts, replicas' objects, disk),
 * so every read is bounds-checked and every non-canonical form is rejected: an overlong varint, a varint above
 * 2^53 - 1, invalid UTF-8 or a leading byte-order mark that a lenient decoder would strip. A violation throws
 * DecodeFailure, which only the codecs in this folder catch and turn into typed outcomes; nothing else escapes.
 */

export class DecodeFailure extends Error {
  override readonly name = 'DecodeFailure'
}

// fatal: invalid UTF-8 is an error, not U+FFFD. ignoreBOM: keep a leading U+FEFF so the round trip is exact.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export class ByteReader {
  private offset = 0

  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset
  }

  byte(): number {
    const value = this.bytes[this.offset]
    if (value === undefined) throw new DecodeFailure(`truncated at byte ${this.offset}`)
    this.offset++
    return value
  }

  varint(): number {
    let value = 0
    let scale = 1
    for (let index = 0; ; index++) {
      const byte = this.byte()
      value += (byte & 0x7f) * scale
      if (value > Number.MAX_SAFE_INTEGER) throw new DecodeFailure('varint exceeds 2^53 - 1')
      if ((byte & 0x80) === 0) {
        // A final zero group after other groups means the same number had a shorter encoding.
        if (byte === 0 && index > 0) throw new DecodeFailure('non-minimal varint')
        return value
      }
      scale *= 0x80
    }
  }

  /** A length-prefixed byte string, copied so the result does not alias (and pin) the input buffer. */
  blob(maxLength: number): Uint8Array {
    const length = this.varint()
    if (length > maxLength) throw new DecodeFailure(`field of ${length} bytes exceeds ${maxLength}`)
    if (length > this.remaining) throw new DecodeFailure(`truncated field of ${length} bytes`)
    const value = this.bytes.slice(this.offset, this.offset + length)
    this.offset += length
    return value
  }

  text(maxBytes: number): string {
    const length = this.varint()
    if (length > maxBytes) throw new DecodeFailure(`text of ${length} bytes exceeds ${maxBytes}`)
    if (length > this.remaining) throw new DecodeFailure(`truncated text of ${length} bytes`)
    const raw = this.bytes.subarray(this.offset, this.offset + length)
    this.offset += length
    // ASCII fast path: short strings are far cheaper to build from char codes than through TextDecoder.
    let ascii = ''
    for (let i = 0; i < raw.length; i++) {
      const byte = raw[i] as number
      if (byte >= 0x80) return decodeUtf8(raw)
      ascii += String.fromCharCode(byte)
    }
    return ascii
  }

  expectEnd(): void {
    if (this.remaining !== 0) throw new DecodeFailure(`${this.remaining} trailing bytes`)
  }
}

function decodeUtf8(raw: Uint8Array): string {
  try {
    return decoder.decode(raw)
  } catch {
    throw new DecodeFailure('invalid UTF-8')
  }
}
