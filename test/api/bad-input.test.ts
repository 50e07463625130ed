/**
 * DESIGN.md section 9, invariant 5, at the HTTP edge: every kind of bad request gets its 4xx with a JSON
 * `{error, message}` body, and the node behind the API is never asked to do anything with it — at most a
 * read of the bucket's props when a numeric quorum must be checked against N. Nothing stored can change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ClientRequest, ClientResponse } from '../../src/core/node/client.ts'
import { chunkedUpload, call, rawExchange } from './http-helpers.ts'
import { startFakeServer } from './fake-backend.ts'
import type { FakeServer } from './fake-backend.ts'

const MAX_VALUE_BYTES = 1024

/** Answers everything with success, so a request that slipped past validation would be visible as a success. */
function permissive(request: ClientRequest): ClientResponse {
  switch (request.kind) {
    case 'health':
      return { kind: 'health', id: 'fake-1' as never, status: 'ok' }
    case 'get-bucket-props':
      return { kind: 'bucket-props', props: { n: 3, r: 'quorum', w: 'quorum', conflict: 'siblings' } }
    case 'put':
    case 'delete':
      return { kind: 'written', context: '' }
    default:
      return { kind: 'ok' }
  }
}

interface BadCase {
  readonly name: string
  readonly method: string
  readonly path: string
  readonly headers?: Record<string, string>
  readonly body?: string
  readonly status: number
  readonly error: string
  /** Numeric quorums are checked against the bucket's N, which costs one get-bucket-props read. */
  readonly readsProps?: boolean
}

const put = (path: string, extra: Partial<BadCase> = {}): Pick<BadCase, 'method' | 'path' | 'body'> => ({ method: 'PUT', path, body: 'v', ...extra })
const longKey = 'k'.repeat(1025)
const longMultibyteKey = encodeURIComponent('é'.repeat(513)) // 1026 bytes of UTF-8 in 513 characters
const longBucket = 'b'.repeat(257)

const cases: BadCase[] = [
  { name: 'bad percent-encoding in the key', method: 'GET', path: '/buckets/b/keys/%ZZ', status: 400, error: 'bad_request' },
  { name: 'percent-encoding that is not UTF-8', ...put('/buckets/b/keys/%FF%FE'), status: 400, error: 'bad_request' },
  { name: 'truncated percent-encoding in the bucket', method: 'GET', path: '/buckets/%E0%A4/keys/k', status: 400, error: 'bad_request' },
  { name: 'bad percent-encoding in the query', method: 'GET', path: '/buckets/b/keys/k?r=%ZZ', status: 400, error: 'bad_request' },
  { name: 'empty key', ...put('/buckets/b/keys/'), status: 400, error: 'invalid_key' },
  { name: 'empty bucket', ...put('/buckets//keys/k'), status: 400, error: 'invalid_bucket' },
  { name: 'key over 1024 bytes', ...put(`/buckets/b/keys/${longKey}`), status: 414, error: 'key_too_long' },
  { name: 'multibyte key over 1024 bytes', method: 'GET', path: `/buckets/b/keys/${longMultibyteKey}`, status: 414, error: 'key_too_long' },
  { name: 'bucket over 256 bytes', ...put(`/buckets/${longBucket}/keys/k`), status: 400, error: 'invalid_bucket' },
  { name: 'bucket over 256 bytes on props', method: 'GET', path: `/buckets/${longBucket}/props`, status: 400, error: 'invalid_bucket' },
  { name: 'value over the limit (Content-Length)', ...put('/buckets/b/keys/k'), body: 'x'.repeat(MAX_VALUE_BYTES + 1), status: 413, error: 'value_too_large' },
  { name: 'r is not a quorum', method: 'GET', path: '/buckets/b/keys/k?r=two', status: 400, error: 'invalid_parameter' },
  { name: 'r is zero', method: 'GET', path: '/buckets/b/keys/k?r=0', status: 400, error: 'invalid_parameter' },
  { name: 'r is negative', method: 'GET', path: '/buckets/b/keys/k?r=-1', status: 400, error: 'invalid_parameter' },
  { name: 'r is fractional', method: 'GET', path: '/buckets/b/keys/k?r=1.5', status: 400, error: 'invalid_parameter' },
  { name: 'pr is huge', method: 'GET', path: '/buckets/b/keys/k?pr=99999999', status: 400, error: 'invalid_parameter' },
  { name: 'w is not a quorum', ...put('/buckets/b/keys/k?w=most'), status: 400, error: 'invalid_parameter' },
  { name: 'r above N', method: 'GET', path: '/buckets/b/keys/k?r=4', status: 400, error: 'invalid_parameter', readsProps: true },
  { name: 'w above N', ...put('/buckets/b/keys/k?w=5'), status: 400, error: 'invalid_parameter', readsProps: true },
  { name: 'pw above N on delete', method: 'DELETE', path: '/buckets/b/keys/k?pw=4', status: 400, error: 'invalid_parameter', readsProps: true },
  { name: 'r given twice', method: 'GET', path: '/buckets/b/keys/k?r=1&r=2', status: 400, error: 'invalid_parameter' },
  { name: 'unknown query parameter', method: 'GET', path: '/buckets/b/keys/k?R=1', status: 400, error: 'invalid_parameter' },
  { name: 'w on a GET', method: 'GET', path: '/buckets/b/keys/k?w=1', status: 400, error: 'invalid_parameter' },
  { name: 'timeout zero', method: 'GET', path: '/buckets/b/keys/k?timeout=0', status: 400, error: 'invalid_parameter' },
  { name: 'timeout not a number', ...put('/buckets/b/keys/k?timeout=soon'), status: 400, error: 'invalid_parameter' },
  { name: 'timeout above the bound', method: 'GET', path: '/buckets/b/keys/k?timeout=3600000', status: 400, error: 'invalid_parameter' },
  { name: 'returnbody not a boolean', ...put('/buckets/b/keys/k?returnbody=yes'), status: 400, error: 'invalid_parameter' },
  { name: 'malformed context on put', ...put('/buckets/b/keys/k'), headers: { 'X-Context': 'not*a*context' }, status: 400, error: 'malformed_context' },
  { name: 'malformed context on delete', method: 'DELETE', path: '/buckets/b/keys/k', headers: { 'X-Context': 'AQ' }, status: 400, error: 'malformed_context' },
  { name: 'oversized context', ...put('/buckets/b/keys/k'), headers: { 'X-Context': 'A'.repeat(12_000) }, status: 400, error: 'malformed_context' },
  { name: 'X-Request-Id with spaces', ...put('/buckets/b/keys/k'), headers: { 'X-Request-Id': 'not an id' }, status: 400, error: 'invalid_parameter' },
  { name: 'X-Request-Id too long', method: 'DELETE', path: '/buckets/b/keys/k', headers: { 'X-Request-Id': 'r'.repeat(129) }, status: 400, error: 'invalid_parameter' },
  { name: 'Content-Type that is not a MIME type', ...put('/buckets/b/keys/k'), headers: { 'Content-Type': 'plain text' }, status: 400, error: 'invalid_parameter' },
  { name: 'unknown route', method: 'GET', path: '/nope', status: 404, error: 'not_found' },
  { name: 'bucket without a sub-resource', method: 'GET', path: '/buckets/b', status: 404, error: 'not_found' },
  { name: 'key path with an extra segment', method: 'GET', path: '/buckets/b/keys/k/extra', status: 404, error: 'not_found' },
  { name: 'POST on a key', ...put('/buckets/b/keys/k'), method: 'POST', status: 405, error: 'method_not_allowed' },
  { name: 'DELETE on props', method: 'DELETE', path: '/buckets/b/props', status: 405, error: 'method_not_allowed' },
  { name: 'GET on join', method: 'GET', path: '/cluster/join', status: 405, error: 'method_not_allowed' },
  { name: 'props body not JSON', method: 'PUT', path: '/buckets/b/props', body: '{"n":', status: 400, error: 'bad_request' },
  { name: 'props body an array', method: 'PUT', path: '/buckets/b/props', body: '[3]', status: 400, error: 'bad_request' },
  { name: 'props body empty object', method: 'PUT', path: '/buckets/b/props', body: '{}', status: 400, error: 'invalid_parameter' },
  { name: 'props with an unknown field', method: 'PUT', path: '/buckets/b/props', body: '{"colour":"red"}', status: 400, error: 'invalid_parameter' },
  { name: 'props conflict not siblings|lww', method: 'PUT', path: '/buckets/b/props', body: '{"conflict":"merge"}', status: 400, error: 'invalid_parameter' },
  { name: 'props n zero', method: 'PUT', path: '/buckets/b/props', body: '{"n":0}', status: 400, error: 'invalid_parameter' },
  { name: 'props r not a quorum', method: 'PUT', path: '/buckets/b/props', body: '{"r":"most"}', status: 400, error: 'invalid_parameter' },
  { name: 'props w above the n it sets', method: 'PUT', path: '/buckets/b/props', body: '{"n":2,"w":3}', status: 400, error: 'invalid_parameter' },
  { name: 'props r above the bucket N', method: 'PUT', path: '/buckets/b/props', body: '{"r":4}', status: 400, error: 'invalid_parameter', readsProps: true },
  { name: 'props body over the limit', method: 'PUT', path: '/buckets/b/props', body: `{"n":${' '.repeat(70_000)}3}`, status: 413, error: 'value_too_large' },
  { name: 'join without seeds', method: 'POST', path: '/cluster/join', body: '{"seeds":"127.0.0.1:7001"}', status: 400, error: 'bad_request' },
  { name: 'join with a seed that is not HOST:PORT', method: 'POST', path: '/cluster/join', body: '{"seeds":["nowhere"]}', status: 400, error: 'bad_request' },
  { name: 'remove without an id', method: 'POST', path: '/cluster/remove', body: '{"id":""}', status: 400, error: 'bad_request' },
  { name: 'query on members', method: 'GET', path: '/cluster/members?verbose=1', status: 400, error: 'invalid_parameter' },
]

describe('bad HTTP input', () => {
  let server: FakeServer

  beforeAll(async () => {
    server = await startFakeServer(permissive, { maxValueBytes: MAX_VALUE_BYTES })
  })
  afterAll(() => server.close())

  it.each(cases)('$name → $status $error', async (bad) => {
    server.backend.received.length = 0
    const answer = await call(`${server.url}${bad.path}`, {
      method: bad.method,
      headers: bad.headers ?? {},
      ...(bad.body === undefined ? {} : { body: bad.body }),
    })
    expect(answer.status).toBe(bad.status)
    expect(answer.headers.get('content-type')).toBe('application/json')
    expect(answer.json).toMatchObject({ error: bad.error, message: expect.any(String) as unknown })
    expect((answer.json as { message: string }).message.length).toBeGreaterThan(5)
    expect(server.backend.kinds()).toEqual(bad.readsProps === true ? ['get-bucket-props'] : [])
    if (bad.status === 405) expect(answer.headers.get('allow')).toMatch(/^[A-Z, ]+$/)
  })

  it('refuses a chunked value over the limit while it streams, without reading the rest', async () => {
    server.backend.received.length = 0
    const totalBytes = 64 * 1024 * 1024
    const answer = await chunkedUpload(`${server.url}/buckets/b/keys/k`, totalBytes)
    expect(answer.status).toBe(413)
    expect(JSON.parse(answer.text)).toMatchObject({ error: 'value_too_large', message: expect.any(String) as unknown })
    // The server stopped reading, so back-pressure stopped the client long before it sent everything.
    expect(answer.sentBytes).toBeLessThan(totalBytes)
    expect(server.backend.kinds()).toEqual([])
  })

  it('a fetch that overshoots the limit by megabytes still reads the 413 (the rest is discarded, not buffered)', async () => {
    server.backend.received.length = 0
    const answer = await call(`${server.url}/buckets/b/keys/k`, { method: 'PUT', body: new Uint8Array(2 * 1024 * 1024) })
    expect(answer.status).toBe(413)
    expect(answer.json).toMatchObject({ error: 'value_too_large' })
    expect(server.backend.kinds()).toEqual([])
  })

  it.each([
    ['bytes that are not HTTP', 'GARBAGE\r\n\r\n', 400],
    ['headers over the 16 KiB limit', `GET /buckets/b/keys/${'k'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, 431],
  ])('%s → %i with a JSON body', async (_name, raw, status) => {
    server.backend.received.length = 0
    const answer = await rawExchange(server.url, raw)
    expect(answer).toMatch(new RegExp(`^HTTP/1.1 ${status} `))
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: 'bad_request' })
    expect(server.backend.kinds()).toEqual([])
  })

  it('is still healthy after all of it', async () => {
    const answer = await call(`${server.url}/health`)
    expect(answer.status).toBe(200)
    expect(answer.json).toEqual({ status: 'ok', id: 'fake-1' })
  })
})
