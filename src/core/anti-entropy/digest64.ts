/**
 * A small, pure, non-cryptographic 64-bit digest for anti-entropy: two independent 32-bit lanes of a
 * murmur3-style mix over the bytes (the same construction as cyrb53, widened to 64 bits). Core code cannot use
 * node:crypto, and anti-entropy needs no collision resistance against an adversary: a collision only means two
 * different objects look alike until one of them changes again, and peers are trusted cluster members.
 *
 * A digest travels as 8 big-endian bytes (hi lane first) so that it compares byte for byte on both sides.
 */

export interface Digest64 {
  readonly hi: number
  readonly lo: number
}

export const zeroDigest: Digest64 = { hi: 0, lo: 0 }

export const digestBytes = 8

export function digest64(bytes: Uint8Array, seed = 0): Digest64 {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number
    h1 = Math.imul(h1 ^ byte, 2654435761)
    h2 = Math.imul(h2 ^ byte, 1597334677)
  }
  return finish(h1, h2, bytes.length)
}

const utf8 = new TextEncoder()

/**
 * digest64 of the UTF-8 bytes of `text`. An ASCII text is hashed from its code units, which are its bytes, without
 * encoding it first: the Merkle tree hashes every written key, and a fresh byte array per write showed in profiles.
 */
export function digest64OfText(text: string, seed = 0): Digest64 {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0x80) return digest64(utf8.encode(text), seed)
    h1 = Math.imul(h1 ^ code, 2654435761)
    h2 = Math.imul(h2 ^ code, 1597334677)
  }
  return finish(h1, h2, text.length)
}

/**
 * digest64OfText(`${first}\u0000${second}`, seed), without building that string: the Merkle tree hashes every
 * written (bucket, key) this way, and a concatenated id per write was the last string it allocated.
 */
export function digest64OfPair(first: string, second: string, seed = 0): Digest64 {
  let h1 = 0xdeadbeef ^ seed
  let h2 = 0x41c6ce57 ^ seed
  for (let i = 0; i < first.length; i++) {
    const code = first.charCodeAt(i)
    if (code >= 0x80) return digest64OfText(`${first}\u0000${second}`, seed)
    h1 = Math.imul(h1 ^ code, 2654435761)
    h2 = Math.imul(h2 ^ code, 1597334677)
  }
  // The NUL between them: x ^ 0 is x.
  h1 = Math.imul(h1, 2654435761)
  h2 = Math.imul(h2, 1597334677)
  for (let i = 0; i < second.length; i++) {
    const code = second.charCodeAt(i)
    if (code >= 0x80) return digest64OfText(`${first}\u0000${second}`, seed)
    h1 = Math.imul(h1 ^ code, 2654435761)
    h2 = Math.imul(h2 ^ code, 1597334677)
  }
  return finish(h1, h2, first.length + 1 + second.length)
}

function finish(h1: number, h2: number, length: number): Digest64 {
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909)
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909)
  // The length goes in last so that a prefix and its extension by zero bytes differ.
  h1 = Math.imul(h1 ^ length, 2654435761)
  return { hi: h1 >>> 0, lo: (h2 ^ (h1 >>> 7)) >>> 0 }
}

const COMBINE_SEED = 0x5bd1e995

/**
 * Digest of two digests: used to bind a key to its object's digest in one Merkle entry. The same bytes as
 * digest64 over their 16-byte big-endian form, fed word by word, because the tree calls this on every write and
 * a scratch array per call was measurable.
 */
export function combineDigests(a: Digest64, b: Digest64): Digest64 {
  let h1 = 0xdeadbeef ^ COMBINE_SEED
  let h2 = 0x41c6ce57 ^ COMBINE_SEED
  for (let index = 0; index < 4; index++) {
    const word = index === 0 ? a.hi : index === 1 ? a.lo : index === 2 ? b.hi : b.lo
    for (let shift = 24; shift >= 0; shift -= 8) {
      const byte = (word >>> shift) & 0xff
      h1 = Math.imul(h1 ^ byte, 2654435761)
      h2 = Math.imul(h2 ^ byte, 1597334677)
    }
  }
  return finish(h1, h2, 16)
}

export function xorDigests(a: Digest64, b: Digest64): Digest64 {
  return { hi: (a.hi ^ b.hi) >>> 0, lo: (a.lo ^ b.lo) >>> 0 }
}

export function sameDigest(a: Digest64, b: Digest64): boolean {
  return a.hi === b.hi && a.lo === b.lo
}

export function writeDigest(target: Uint8Array, at: number, digest: Digest64): void {
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength)
  view.setUint32(at, digest.hi)
  view.setUint32(at + 4, digest.lo)
}

export function readDigest(source: Uint8Array, at: number): Digest64 {
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength)
  return { hi: view.getUint32(at), lo: view.getUint32(at + 4) }
}

export function digestToBytes(digest: Digest64): Uint8Array {
  const bytes = new Uint8Array(digestBytes)
  writeDigest(bytes, 0, digest)
  return bytes
}
