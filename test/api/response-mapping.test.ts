/**
 * How node answers become HTTP (DESIGN.md section 7): each ClientResponse kind and error code maps to its status,
 * headers and body, and each valid request reaches the node as exactly the client request it stands for.
 * The node is a fake that answers from a per-test script; the server is real, on 127.0.0.1 port 0.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import type { ClientResponse, PutRequest } from '../../src/core/node/client.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'
import { call } from './http-helpers.ts'
import { notImplemented, startFakeServer } from './fake-backend.ts'
import type { FakeServer } from './fake-backend.ts'
import { contextOf } from './fake-store.ts'

const CONTEXT = contextOf(7)
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

describe('response mapping', () => {
  let server: FakeServer
  const answerWith = (response: ClientResponse): void => {
    server.backend.script = (request) => (request.kind === 'health' ? notImplemented(request) : response)
  }

  beforeAll(async () => {
    server = await startFakeServer()
  })
  afterAll(() => server.close())
  beforeEach(() => {
    server.backend.received.length = 0
    server.backend.script = notImplemented
    server.backend.lagMs = 0
  })

  it('one sibling → 200 with the value, its Content-Type and X-Context', async () => {
    answerWith({ kind: 'object', siblings: [{ value: bytes('{"a":1}'), contentType: 'application/json', timestamp: 5 }], context: CONTEXT, deleted: false })
    const answer = await call(`${server.url}/buckets/users/keys/al%2Fice?r=all&pr=1&timeout=250`)
    expect(answer.status).toBe(200)
    expect(answer.text).toBe('{"a":1}')
    expect(answer.headers.get('content-type')).toBe('application/json')
    expect(answer.headers.get('x-context')).toBe(CONTEXT)
    expect(server.backend.received).toEqual([{ kind: 'get', bucket: 'users', key: 'al/ice', r: 'all', pr: 1, timeoutMs: 250 }])
  })

  it('several siblings → 300 JSON with base64 values and the context in body and header', async () => {
    const siblings = [
      { value: bytes('red'), contentType: 'text/plain', timestamp: 10 },
      { value: new Uint8Array([0, 255, 1]), contentType: 'application/octet-stream', timestamp: 11 },
    ]
    answerWith({ kind: 'object', siblings, context: CONTEXT, deleted: false })
    const answer = await call(`${server.url}/buckets/b/keys/k`)
    expect(answer.status).toBe(300)
    expect(answer.headers.get('content-type')).toBe('application/json')
    expect(answer.headers.get('x-context')).toBe(CONTEXT)
    expect(answer.json).toEqual({
      context: CONTEXT,
      siblings: [
        { value: Buffer.from('red').toString('base64'), contentType: 'text/plain', timestamp: 10 },
        { value: Buffer.from([0, 255, 1]).toString('base64'), contentType: 'application/octet-stream', timestamp: 11 },
      ],
    })
  })

  it('deleted → 404 with the tombstone’s X-Context', async () => {
    answerWith({ kind: 'object', siblings: [], context: CONTEXT, deleted: true })
    const answer = await call(`${server.url}/buckets/b/keys/k`)
    expect(answer.status).toBe(404)
    expect(answer.headers.get('x-context')).toBe(CONTEXT)
    expect(answer.json).toMatchObject({ error: 'not_found', message: expect.stringContaining('deleted') as unknown })
  })

  it('never written → 404 without X-Context', async () => {
    answerWith({ kind: 'object', siblings: [], context: '', deleted: false })
    const answer = await call(`${server.url}/buckets/b/keys/k`)
    expect(answer.status).toBe(404)
    expect(answer.headers.get('x-context')).toBeNull()
    expect(answer.json).toMatchObject({ error: 'not_found' })
  })

  it('PUT → the node gets value, content type, decoded context, request id and quorums; written → 204 + X-Context', async () => {
    answerWith({ kind: 'written', context: CONTEXT })
    const answer = await call(`${server.url}/buckets/b/keys/k?w=2&pw=one&timeout=900`, {
      method: 'PUT',
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Context': contextOf(3), 'X-Request-Id': 'req-1' },
      body: 'hello',
    })
    expect(answer.status).toBe(204)
    expect(answer.headers.get('x-context')).toBe(CONTEXT)
    const request = server.backend.received.find((r): r is PutRequest => r.kind === 'put')
    expect(request).toEqual({
      kind: 'put',
      bucket: 'b',
      key: 'k',
      value: bytes('hello'),
      contentType: 'text/plain; charset=utf-8',
      context: [{ node: nodeId('fake-1'), generation: 1, counter: 3 }],
      returnBody: false,
      w: 2,
      pw: 'one',
      timeoutMs: 900,
      clientRequestId: 'req-1',
    })
  })

  it('PUT without Content-Type or context stores opaque bytes concurrent with everything', async () => {
    answerWith({ kind: 'written', context: CONTEXT })
    await call(`${server.url}/buckets/b/keys/k`, { method: 'PUT', body: new Uint8Array([1, 2, 3]) })
    const request = server.backend.received.find((r): r is PutRequest => r.kind === 'put')
    expect(request).toMatchObject({ contentType: 'application/octet-stream', context: null, returnBody: false })
    expect(request?.clientRequestId).toBeUndefined()
  })

  it('PUT with returnbody=true answers like GET', async () => {
    answerWith({ kind: 'object', siblings: [{ value: bytes('v2'), contentType: 'text/plain', timestamp: 1 }], context: CONTEXT, deleted: false })
    const answer = await call(`${server.url}/buckets/b/keys/k?returnbody=true`, { method: 'PUT', body: 'v2' })
    expect(answer.status).toBe(200)
    expect(answer.text).toBe('v2')
    expect(answer.headers.get('x-context')).toBe(CONTEXT)
    expect(server.backend.received[0]).toMatchObject({ kind: 'put', returnBody: true })
  })

  it('DELETE → 204; the node gets the decoded context and request id', async () => {
    answerWith({ kind: 'written', context: '' })
    const answer = await call(`${server.url}/buckets/b/keys/k?w=quorum`, { method: 'DELETE', headers: { 'X-Context': CONTEXT, 'X-Request-Id': 'del-1' } })
    expect(answer.status).toBe(204)
    expect(answer.text).toBe('')
    expect(server.backend.received).toEqual([
      { kind: 'delete', bucket: 'b', key: 'k', w: 'quorum', clientRequestId: 'del-1', context: [{ node: nodeId('fake-1'), generation: 1, counter: 7 }] },
    ])
  })

  it('unavailable → 503 with required and acknowledged, counted as a quorum failure', async () => {
    answerWith({ kind: 'error', code: 'UNAVAILABLE', message: 'only 1 of 2 replicas answered', details: { required: 2, acknowledged: 1 } })
    const answer = await call(`${server.url}/buckets/b/keys/k`, { method: 'PUT', body: 'v' })
    expect(answer.status).toBe(503)
    expect(answer.json).toEqual({ error: 'unavailable', message: 'only 1 of 2 replicas answered', required: 2, acknowledged: 1 })
    const metrics = await call(`${server.url}/metrics`)
    expect(metrics.text).toMatch(/chorus_quorum_failures_total\{[^}]*operation="put"[^}]*reason="unavailable"[^}]*\} 1/)
  })

  it('timeout → 503 timeout', async () => {
    answerWith({ kind: 'error', code: 'TIMEOUT', message: 'no quorum within 2000 ms' })
    const answer = await call(`${server.url}/buckets/b/keys/k`)
    expect(answer.status).toBe(503)
    expect(answer.json).toEqual({ error: 'timeout', message: 'no quorum within 2000 ms' })
  })

  it('overloaded from the node → 503 with Retry-After', async () => {
    answerWith({ kind: 'error', code: 'OVERLOADED', message: 'coordinator queue full' })
    const answer = await call(`${server.url}/buckets/b/keys/k`)
    expect(answer.status).toBe(503)
    expect(answer.headers.get('retry-after')).toBe('1')
    expect(answer.json).toMatchObject({ error: 'overloaded' })
  })

  it('too many siblings → 409; an unknown code or an answer of the wrong kind → 500 that leaks nothing', async () => {
    answerWith({ kind: 'error', code: 'TOO_MANY_SIBLINGS', message: '101 siblings' })
    expect((await call(`${server.url}/buckets/b/keys/k`, { method: 'PUT', body: 'v' })).status).toBe(409)
    answerWith({ kind: 'error', code: 'SOMETHING_NEW', message: 'x' })
    expect((await call(`${server.url}/buckets/b/keys/k`)).json).toMatchObject({ error: 'internal' })
    answerWith({ kind: 'keys', keys: [] })
    const wrongKind = await call(`${server.url}/buckets/b/keys/k`)
    expect(wrongKind.status).toBe(500)
    expect(wrongKind.json).toMatchObject({ error: 'internal' })
  })

  it('a node that throws → 500 internal, and the server keeps serving', async () => {
    server.backend.script = (request) => {
      if (request.kind === 'health') return notImplemented(request)
      throw new Error('secret stack detail')
    }
    const answer = await call(`${server.url}/buckets/b/keys/k`)
    expect(answer.status).toBe(500)
    expect(answer.json).toEqual({ error: 'internal', message: 'internal error' })
    expect((await call(`${server.url}/health`)).status).toBe(200)
  })

  it('sibling counts land in the histogram', async () => {
    answerWith({ kind: 'object', siblings: [1, 2, 3].map((i) => ({ value: bytes(`v${i}`), contentType: 'text/plain', timestamp: i })), context: CONTEXT, deleted: false })
    await call(`${server.url}/buckets/b/keys/k`)
    const metrics = await call(`${server.url}/metrics`)
    expect(metrics.text).toMatch(/chorus_get_siblings_bucket\{le="3"[^}]*\} [1-9]/)
  })

  it('list keys → {"keys": [...]}', async () => {
    answerWith({ kind: 'keys', keys: ['a', 'b'] })
    const answer = await call(`${server.url}/buckets/users/keys`)
    expect(answer.status).toBe(200)
    expect(answer.json).toEqual({ keys: ['a', 'b'] })
    expect(server.backend.received).toEqual([{ kind: 'list-keys', bucket: 'users' }])
  })

  it('bucket props: GET shows the four fields, PUT passes the validated props', async () => {
    const props = { n: 3, r: 'quorum', w: 2, conflict: 'lww' } as const
    answerWith({ kind: 'bucket-props', props })
    const got = await call(`${server.url}/buckets/b/props`)
    expect(got.json).toEqual(props)
    const set = await call(`${server.url}/buckets/b/props`, { method: 'PUT', body: JSON.stringify({ n: 5, w: 4, conflict: 'lww' }) })
    expect(set.status).toBe(200)
    expect(server.backend.received.at(-1)).toEqual({ kind: 'put-bucket-props', bucket: 'b', props: { n: 5, w: 4, conflict: 'lww' } })
    answerWith({ kind: 'ok' })
    expect((await call(`${server.url}/buckets/b/props`, { method: 'PUT', body: '{"conflict":"siblings"}' })).status).toBe(204)
  })

  it('partitions → {"partitions","version","owners"}; no table yet → 503', async () => {
    const table = { partitions: 2, n: 2, version: { leaderGeneration: 1, version: 4 }, owners: [[nodeId('a'), nodeId('b')], [nodeId('b'), nodeId('a')]] }
    answerWith({ kind: 'partitions', table })
    const answer = await call(`${server.url}/cluster/partitions`)
    expect(answer.json).toEqual({ partitions: 2, version: { leaderGeneration: 1, version: 4 }, owners: [['a', 'b'], ['b', 'a']] })
    answerWith({ kind: 'partitions', table: null })
    expect((await call(`${server.url}/cluster/partitions`)).status).toBe(503)
  })

  it('members → one row per member with the documented fields', async () => {
    const member = (id: string, phi: number) => ({
      id: nodeId(id),
      address: `127.0.0.1:700${id.slice(-1)}` as never,
      state: 'alive' as const,
      generation: 2,
      incarnation: 0,
      phi,
      metadata: { httpAddress: `127.0.0.1:800${id.slice(-1)}`, zone: '', partitions: 64, protocolVersion: 1 },
    })
    answerWith({ kind: 'members', members: [member('n1', 0.12345), member('n2', Infinity)], leader: nodeId('n1') })
    const answer = await call(`${server.url}/cluster/members`)
    expect(answer.json).toEqual([
      { id: 'n1', address: '127.0.0.1:7001', http: '127.0.0.1:8001', state: 'alive', generation: 2, incarnation: 0, phi: 0.123, leader: true, zone: '' },
      { id: 'n2', address: '127.0.0.1:7002', http: '127.0.0.1:8002', state: 'alive', generation: 2, incarnation: 0, phi: null, leader: false, zone: '' },
    ])
  })

  it('join, leave and remove → 202 and the matching client request', async () => {
    answerWith({ kind: 'ok' })
    expect((await call(`${server.url}/cluster/join`, { method: 'POST', body: '{"seeds":["127.0.0.1:7001"]}' })).status).toBe(202)
    expect((await call(`${server.url}/cluster/leave`, { method: 'POST' })).json).toEqual({ status: 'leaving' })
    expect((await call(`${server.url}/cluster/remove`, { method: 'POST', body: '{"id":"n3"}' })).json).toEqual({ status: 'removing', id: 'n3' })
    expect(server.backend.received).toEqual([
      { kind: 'join', seeds: ['127.0.0.1:7001'] },
      // The HTTP leave is the graceful one: hand partitions off first (a signal-driven shutdown is not).
      { kind: 'leave', handoff: true },
      { kind: 'remove', node: 'n3' },
    ])
  })
})

describe('overload', () => {
  it('sheds data requests with 503 overloaded + Retry-After while the event loop lags; /health and /metrics still answer', async () => {
    const server = await startFakeServer(notImplemented, { maxEventLoopLagMs: 100, retryAfterSeconds: 2 })
    try {
      server.backend.lagMs = 500
      const shed = await call(`${server.url}/buckets/b/keys/k`)
      expect(shed.status).toBe(503)
      expect(shed.headers.get('retry-after')).toBe('2')
      expect(shed.json).toMatchObject({ error: 'overloaded', message: expect.stringContaining('event loop') as unknown })
      expect(server.backend.kinds()).toEqual([])
      expect((await call(`${server.url}/health`)).status).toBe(200)
      const metrics = await call(`${server.url}/metrics`)
      expect(metrics.status).toBe(200)
      expect(metrics.text).toMatch(/chorus_http_shed_total\{[^}]*reason="event-loop-lagging"[^}]*\} 1/)
      server.backend.lagMs = 0
      expect((await call(`${server.url}/buckets/b/keys/k`)).json).toMatchObject({ error: 'unavailable' })
    } finally {
      await server.close()
    }
  })

  it('sheds requests above the in-flight bound instead of queueing them', async () => {
    let signalArrived: () => void = () => {}
    const firstArrived = new Promise<void>((arrived) => (signalArrived = arrived))
    let releaseFirst: () => void = () => {}
    const firstReleased = new Promise<void>((release) => (releaseFirst = release))
    const server = await startFakeServer(
      async (request) => {
        if (request.kind === 'health') return notImplemented(request)
        signalArrived()
        await firstReleased
        return { kind: 'object', siblings: [], context: '', deleted: false }
      },
      { maxInFlightRequests: 1 },
    )
    try {
      const first = call(`${server.url}/buckets/b/keys/one`)
      await firstArrived
      const second = await call(`${server.url}/buckets/b/keys/two`)
      expect(second.status).toBe(503)
      expect(second.json).toMatchObject({ error: 'overloaded', message: expect.stringContaining('in flight') as unknown })
      expect((await call(`${server.url}/health`)).status).toBe(200)
      releaseFirst()
      expect((await first).status).toBe(404)
      expect((await call(`${server.url}/buckets/b/keys/three`)).status).toBe(404)
    } finally {
      releaseFirst()
      await server.close()
    }
  })
})
