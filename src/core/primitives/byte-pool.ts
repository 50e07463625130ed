/**
 * Small byte arrays carved from shared 8 KiB chunks, the way Node's Buffer pool works but without Buffer (the
 * core stays free of Node APIs). A `new Uint8Array(n)` above 64 bytes gets its own malloc'd backing store, an
 * ArrayBuffer object and, when it dies, a trip through V8's array-buffer sweeper; on the request path, where every
 * object, record and key is encoded into a fresh array, those showed up as several percent of a node's CPU
 * (malloc, free and the sweeper in `perf`). A carved slice costs a bump of an offset.
 *
 * The price is the pool's: a slice keeps its whole chunk alive, so a long-lived small slice pins up to 8 KiB.
 * Arrays that are kept for long (caches, tables) should copy out with `new Uint8Array(slice)`. Slices start
 * zero-filled, because each chunk is fresh and never reused.
 */

const CHUNK_BYTES = 8 * 1024
/** Larger requests get their own array: carving them would waste most of a chunk. */
const MAX_POOLED_BYTES = CHUNK_BYTES / 2

let chunk = new ArrayBuffer(CHUNK_BYTES)
let offset = 0

export function allocateBytes(length: number): Uint8Array {
  if (length > MAX_POOLED_BYTES) return new Uint8Array(length)
  if (offset + length > CHUNK_BYTES) {
    chunk = new ArrayBuffer(CHUNK_BYTES)
    offset = 0
  }
  const bytes = new Uint8Array(chunk, offset, length)
  // 8-byte alignment keeps DataView and typed-array reads of the slice on aligned addresses.
  offset += (length + 7) & ~7
  return bytes
}

const encoder = new TextEncoder()

/**
 * UTF-8 bytes of `text`, carved from the pool. Keys and bucket names are nearly always ASCII, and copying their
 * code units beats TextEncoder.encode, which allocates a fresh backing store per call.
 */
export function utf8Bytes(text: string): Uint8Array {
  const length = text.length
  if (length > MAX_POOLED_BYTES) return encoder.encode(text)
  const bytes = allocateBytes(length)
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0x80) return encoder.encode(text)
    bytes[i] = code
  }
  return bytes
}
