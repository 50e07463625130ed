/**
 * Base64url without padding (RFC 4648 section 5), written out because core has no Buffer. Contexts travel in
 * HTTP headers and JSON, where '+', '/' and '=' would need escaping. Decoding is strict: a character outside the
 * alphabet, an impossible length or non-zero leftover bits return null, so every accepted string has exactly one
 * byte sequence and every byte sequence exactly one string.
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

const SEXTET_OF_CODE = (() => {
  const table = new Int16Array(128).fill(-1)
  for (let i = 0; i < ALPHABET.length; i++) table[ALPHABET.charCodeAt(i)] = i
  return table
})()

export function encodeBase64Url(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number)
    out += char(n >>> 18) + char(n >>> 12) + char(n >>> 6) + char(n)
  }
  const rest = bytes.length - i
  if (rest === 1) {
    const n = (bytes[i] as number) << 16
    out += char(n >>> 18) + char(n >>> 12)
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8)
    out += char(n >>> 18) + char(n >>> 12) + char(n >>> 6)
  }
  return out
}

/** The bytes, or null when the text is not canonical unpadded base64url. */
export function decodeBase64Url(text: string): Uint8Array | null {
  // One leftover character carries only 6 bits, less than a byte: no encoder produces that length.
  if (text.length % 4 === 1) return null
  const out = new Uint8Array(Math.floor((text.length * 3) / 4))
  let written = 0
  let i = 0
  for (; i + 3 < text.length; i += 4) {
    const a = sextet(text, i)
    const b = sextet(text, i + 1)
    const c = sextet(text, i + 2)
    const d = sextet(text, i + 3)
    if ((a | b | c | d) < 0) return null
    const n = (a << 18) | (b << 12) | (c << 6) | d
    out[written++] = n >>> 16
    out[written++] = (n >>> 8) & 0xff
    out[written++] = n & 0xff
  }
  const rest = text.length - i
  if (rest === 0) return out
  const a = sextet(text, i)
  const b = sextet(text, i + 1)
  const c = rest === 3 ? sextet(text, i + 2) : 0
  if (a < 0 || b < 0 || c < 0) return null
  const n = (a << 18) | (b << 12) | (c << 6)
  // Bits below the last whole byte must be zero, or two strings would decode to the same bytes.
  if (rest === 2 ? (n & 0xffff) !== 0 : (n & 0xff) !== 0) return null
  out[written++] = n >>> 16
  if (rest === 3) out[written++] = (n >>> 8) & 0xff
  return out
}

function char(sextetValue: number): string {
  return ALPHABET.charAt(sextetValue & 0x3f)
}

/** The 6-bit value of one character, or -1 when it is outside the alphabet. */
function sextet(text: string, index: number): number {
  const code = text.charCodeAt(index)
  return code < 128 ? (SEXTET_OF_CODE[code] as number) : -1
}
