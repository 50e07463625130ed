/**
 * The TypeScript client against the real ApiServer and a fake node (fake-store.ts models one replica): it carries
 * contexts, update() resolves siblings and writes back with the read's context, retries reuse the request id,
 * and failures arrive as typed errors. Backoff is shrunk to a millisecond so retries cost nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { ChorusClient, ChorusHttpError, ChorusNetworkError, UnresolvedSiblingsError } from '../../src/api/client.ts'
import type { Sibling } from '../../src/api/client.ts'
import type { ClientRequest, ClientResponse } from '../../src/core/node/client.ts'
import { startFakeServer } from './fake-backend.ts'
import type { FakeServer } from './fake-backend.ts'
import { FakeStore } from './fake-store.ts'

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
const fast = { backoffBaseMs: 1, backoffMaxMs: 5, maxAttempts: 4 } as const

describe('ChorusClient', () => {
  let server: FakeServer
  let store: FakeStore
  let client: ChorusClient

  beforeAll(async () => {
    server = await startFakeServer()
    client = new ChorusClient(server.url, fast)
  })
  afterAll(() => server.close())
  beforeEach(() => {
    store = new FakeStore()
    server.backend.script = store.script
    server.backend.received.length = 0
  })

  it('get returns the context that put sends back, so a read-modify-write replaces the value', async () => {
    await client.put('users', 'alice', '{"age":30}', { contentType: 'application/json' })
    const first = await client.get('users', 'alice')
    expect(first).toMatchObject({ kind: 'value', contentType: 'application/json' })
    if (first.kind !== 'value') throw new Error('unreachable')
    expect(text(first.value)).toBe('{"age":30}')
    await client.put('users', 'alice', '{"age":31}', { contentType: 'application/json', context: first.context })
    const second = await client.get('users', 'alice')
    expect(second.kind).toBe('value')
    if (second.kind === 'value') expect(text(second.value)).toBe('{"age":31}')
    const puts = server.backend.received.filter((r) => r.kind === 'put')
    expect(puts[0]).toMatchObject({ context: null })
    expect(puts[1]).toMatchObject({ context: [{ counter: 1 }] })
  })

  it('writes without a context become siblings; get shows them all', async () => {
    await client.put('b', 'k', 'red')
    await client.put('b', 'k', 'blue')
    const read = await client.get('b', 'k')
    expect(read.kind).toBe('siblings')
    if (read.kind === 'siblings') expect(read.siblings.map((s) => text(s.value)).sort()).toEqual(['blue', 'red'])
  })

  it('update() merges siblings with the merge function and writes back with the read’s context', async () => {
    await client.put('carts', 'c1', 'apple', { contentType: 'text/plain' })
    await client.put('carts', 'c1', 'pear', { contentType: 'text/plain' })
    const union = (siblings: readonly Sibling[]): string =>
      [...new Set(siblings.flatMap((s) => text(s.value).split(',')))].sort().join(',')
    await client.update('carts', 'c1', (current) => `${text(current?.value ?? new Uint8Array())},plum`, { merge: union })
    const read = await client.get('carts', 'c1')
    expect(read.kind).toBe('value')
    if (read.kind === 'value') {
      expect(text(read.value)).toBe('apple,pear,plum')
      expect(read.contentType).toBe('text/plain')
    }
  })

  it('update() on a missing key gets null; on siblings without a merge function it refuses', async () => {
    await client.update('counters', 'c', (current) => (current === null ? '1' : 'never'))
    const read = await client.get('counters', 'c')
    if (read.kind !== 'value') throw new Error(`expected a value, got ${read.kind}`)
    expect(text(read.value)).toBe('1')
    await client.put('counters', 'c', '5')
    await expect(client.update('counters', 'c', () => '6')).rejects.toBeInstanceOf(UnresolvedSiblingsError)
  })

  it('delete carries the context; a later get is not-found with the tombstone context', async () => {
    await client.put('b', 'gone', 'x')
    const read = await client.get('b', 'gone')
    await client.delete('b', 'gone', { context: read.context })
    const after = await client.get('b', 'gone')
    expect(after.kind).toBe('not-found')
    if (after.kind === 'not-found') expect(after.context).not.toBeNull()
    expect((await client.get('b', 'never')).context).toBeNull()
  })

  it('retries 503 unavailable with the same request id, and the write is applied once', async () => {
    let failures = 2
    server.backend.script = (request: ClientRequest): ClientResponse => {
      if (request.kind === 'put' && failures > 0) {
        failures--
        return { kind: 'error', code: 'UNAVAILABLE', message: 'too few replicas', details: { required: 2, acknowledged: 1 } }
      }
      return store.script(request)
    }
    await client.put('b', 'retried', 'once', { w: 'quorum' })
    const puts = server.backend.received.filter((r) => r.kind === 'put')
    expect(puts).toHaveLength(3)
    const ids = new Set(puts.map((r) => (r.kind === 'put' ? r.clientRequestId : undefined)))
    expect(ids.size).toBe(1)
    expect([...ids][0]).toMatch(/^[0-9a-f-]{36}$/)
    expect((await client.get('b', 'retried')).kind).toBe('value')
  })

  it('a retry of a write that did land is answered from the request-id record, not applied twice', async () => {
    const requestId = 'client-chosen-id'
    await client.put('b', 'idem', 'v', { requestId })
    await client.put('b', 'idem', 'v', { requestId })
    expect((await client.get('b', 'idem')).kind).toBe('value')
  })

  it('gives up after maxAttempts with a typed error carrying required/acknowledged', async () => {
    server.backend.script = () => ({ kind: 'error', code: 'UNAVAILABLE', message: 'too few replicas', details: { required: 3, acknowledged: 1 } })
    const error = await client.put('b', 'k', 'v').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ChorusHttpError)
    expect(error).toMatchObject({ status: 503, code: 'unavailable', required: 3, acknowledged: 1, retryable: true })
    expect(server.backend.received.filter((r) => r.kind === 'put')).toHaveLength(fast.maxAttempts)
  })

  it('retries overloaded (Retry-After, capped by backoffMaxMs) and timeouts', async () => {
    const answers: ClientResponse[] = [
      { kind: 'error', code: 'OVERLOADED', message: 'busy' },
      { kind: 'error', code: 'TIMEOUT', message: 'slow' },
    ]
    server.backend.script = (request) => answers.shift() ?? store.script(request)
    expect((await client.get('b', 'k')).kind).toBe('not-found')
    expect(server.backend.received.filter((r) => r.kind === 'get')).toHaveLength(3)
  })

  it('never retries a 4xx', async () => {
    const error = await client.get('b', 'k', { r: 9 }).catch((e: unknown) => e)
    expect(error).toMatchObject({ status: 400, code: 'invalid_parameter', retryable: false })
    expect(server.backend.received.filter((r) => r.kind === 'get')).toHaveLength(0)
  })

  it('an unreachable node is a ChorusNetworkError after the attempts', async () => {
    const closedPort = await unusedPort()
    const unreachable = new ChorusClient(`http://127.0.0.1:${closedPort}`, fast)
    await expect(unreachable.get('b', 'k')).rejects.toBeInstanceOf(ChorusNetworkError)
  })

  it('admin helpers speak the JSON routes', async () => {
    server.backend.script = (request) => (request.kind === 'list-keys' ? { kind: 'keys', keys: ['x'] } : { kind: 'ok' })
    expect(await client.listKeys('b')).toEqual(['x'])
    expect(await client.remove('n9')).toEqual({ status: 'removing', id: 'n9' })
  })
})

async function unusedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((listening) => probe.listen(0, '127.0.0.1', listening))
  const { port } = probe.address() as AddressInfo
  await new Promise<void>((closed) => probe.close(() => closed()))
  return port
}
