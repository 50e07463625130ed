/**
 * Turns the parts of an HTTP request into validated values, or throws a ChorusError with a stable code and a
 * sentence a user can act on. Every function here is pure and cheap: they run before any work is handed to the
 * node, so a bad request costs a parse and a 4xx, never a quorum round or a byte of storage.
 *
 * Paths are split on raw `/` before percent-decoding, so `%2F` inside a key is data, and they are not normalised
 * (`new URL` would turn `%2e%2e` into a parent-directory step and silently address another key).
 */
import { ChorusError } from '../errors.ts'
import type { QuorumSetting } from '../core/node/node-config.ts'
import type { VersionVector } from '../core/versioning/version-vector.ts'
import { decodeCausalContext } from '../core/versioning/causal-context.ts'
import { MAX_CONTENT_TYPE_BYTES } from '../core/versioning/versioning-limits.ts'

export interface RequestTarget {
  /** Raw (still percent-encoded) path segments after the leading slash. */
  readonly segments: readonly string[]
  readonly query: URLSearchParams
}

/** X-Request-Id: UUIDs, ULIDs, base64 and dotted ids fit; spaces, quotes and control characters do not. */
const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:~+/=-]{1,128}$/

/** A MIME type as RFC 9110 writes it, parameters included; printable ASCII only. */
const CONTENT_TYPE_PATTERN = /^[\x21-\x7e]+\/[\x21-\x7e]+( *;[\x20-\x7e]*)?$/

export function splitTarget(rawUrl: string): RequestTarget {
  const questionMark = rawUrl.indexOf('?')
  const path = questionMark === -1 ? rawUrl : rawUrl.slice(0, questionMark)
  const search = questionMark === -1 ? '' : rawUrl.slice(questionMark + 1)
  if (!path.startsWith('/')) throw new ChorusError('BAD_REQUEST', 'the request target must be an absolute path')
  return { segments: path.slice(1).split('/'), query: parseSearch(search) }
}

function parseSearch(search: string): URLSearchParams {
  // URLSearchParams replaces bad escapes silently; a parameter we cannot read is a 400, not a guess.
  for (const part of search.split('&')) decodeComponent(part.replace(/\+/g, ' '), 'query string')
  return new URLSearchParams(search)
}

export function decodeComponent(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new ChorusError('BAD_REQUEST', `the ${what} is not valid percent-encoded UTF-8`)
  }
}

export function parseBucket(raw: string, maxBucketBytes: number): string {
  const bucket = decodeComponent(raw, 'bucket')
  if (bucket.length === 0) throw new ChorusError('INVALID_BUCKET', 'the bucket name is empty')
  const bytes = Buffer.byteLength(bucket, 'utf8')
  if (bytes > maxBucketBytes) {
    throw new ChorusError('INVALID_BUCKET', `the bucket name is ${bytes} bytes; the limit is ${maxBucketBytes}`)
  }
  return bucket
}

export function parseKey(raw: string, maxKeyBytes: number): string {
  const key = decodeComponent(raw, 'key')
  if (key.length === 0) throw new ChorusError('INVALID_KEY', 'the key is empty')
  const bytes = Buffer.byteLength(key, 'utf8')
  if (bytes > maxKeyBytes) throw new ChorusError('KEY_TOO_LONG', `the key is ${bytes} bytes; the limit is ${maxKeyBytes}`)
  return key
}

/**
 * Reads the query parameters a route accepts. Unknown and repeated parameters are refused: `?R=1` silently
 * ignored would give a user the default quorum while they believe they asked for one.
 */
export function pickQuery(query: URLSearchParams, allowed: readonly string[]): Map<string, string> {
  const picked = new Map<string, string>()
  for (const [name, value] of query) {
    if (!allowed.includes(name)) {
      const accepted = allowed.length === 0 ? 'none' : allowed.join(', ')
      throw new ChorusError('INVALID_PARAMETER', `unknown query parameter "${name}"; this route accepts ${accepted}`)
    }
    if (picked.has(name)) throw new ChorusError('INVALID_PARAMETER', `query parameter "${name}" is given twice`)
    picked.set(name, value)
  }
  return picked
}

/** `one`, `quorum`, `all` or an integer 1..maxN; whether an integer fits the bucket's N is checked later. */
export function parseQuorum(name: string, text: string, maxN: number): QuorumSetting {
  if (text === 'one' || text === 'quorum' || text === 'all') return text
  if (/^[1-9][0-9]{0,5}$/.test(text)) {
    const value = Number(text)
    if (value <= maxN) return value
  }
  throw new ChorusError('INVALID_PARAMETER', `${name} must be one, quorum, all or an integer 1..N, not "${text}"`)
}

export function parseTimeoutMs(text: string, maxTimeoutMs: number): number {
  const value = /^[1-9][0-9]{0,9}$/.test(text) ? Number(text) : NaN
  if (!(value <= maxTimeoutMs)) {
    throw new ChorusError('INVALID_PARAMETER', `timeout must be a whole number of milliseconds in 1..${maxTimeoutMs}, not "${text}"`)
  }
  return value
}

export function parseBoolean(name: string, text: string): boolean {
  if (text === 'true') return true
  if (text === 'false') return false
  throw new ChorusError('INVALID_PARAMETER', `${name} must be true or false, not "${text}"`)
}

/** The X-Request-Id header: absent is fine (the write is not deduplicated), present must be well formed. */
export function parseRequestId(header: string | readonly string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  if (typeof header !== 'string' || !REQUEST_ID_PATTERN.test(header)) {
    throw new ChorusError('INVALID_PARAMETER', 'X-Request-Id must be 1..128 characters of A-Z a-z 0-9 . _ : ~ + / = -')
  }
  return header
}

/** The X-Context header, decoded before any work; absent or empty means "concurrent with everything stored". */
export function parseContext(header: string | readonly string[] | undefined, maxContextBytes: number): { readonly context: VersionVector | null; readonly seenWriteIds?: readonly string[] } {
  if (header === undefined || header === '') return { context: null }
  const decoded = decodeCausalContext(header, maxContextBytes)
  if (decoded.kind === 'decoded') return decoded.writeIds.length === 0 ? { context: decoded.context } : { context: decoded.context, seenWriteIds: decoded.writeIds }
  throw new ChorusError('MALFORMED_CONTEXT', `X-Context: ${decoded.message}`)
}

/** The Content-Type stored with a value; values without one are opaque bytes. */
export function parseContentType(header: string | undefined): string {
  if (header === undefined || header === '') return 'application/octet-stream'
  if (header.length > MAX_CONTENT_TYPE_BYTES || !CONTENT_TYPE_PATTERN.test(header)) {
    throw new ChorusError('INVALID_PARAMETER', `Content-Type must be a MIME type of at most ${MAX_CONTENT_TYPE_BYTES} printable ASCII characters`)
  }
  return header
}

/** Refuses a body by its declared length before reading a byte of it. */
export function checkDeclaredLength(header: string | undefined, maxBytes: number, what: string): void {
  if (header === undefined) return
  const declared = Number(header)
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new ChorusError('VALUE_TOO_LARGE', `the ${what} is ${declared} bytes; the limit is ${maxBytes}`)
  }
}
