/**
 * The HTTP contract of DESIGN.md section 7 against a real 3-node cluster: `chorus start --preset test` processes on
 * loopback with temp data dirs. The membership routes, /health, /metrics and bad-input handling run today. The
 * data-path tests need replication: a probe PUT decides once, and while the node still answers 503 "not
 * implemented" they are reported as skipped with that reason instead of failing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TestContext } from 'vitest'
import { ChorusClient } from '../../src/api/client.ts'
import type { Sibling } from '../../src/api/client.ts'
import { call } from './http-helpers.ts'
import { startRealCluster, waitFor } from './real-cluster.ts'
import type { RealCluster } from './real-cluster.ts'

const NOT_IMPLEMENTED = /not implemented/
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

describe('HTTP contract on a real 3-node cluster', () => {
  let cluster: RealCluster
  let urls: string[]
  let dataPath: { ready: boolean; why: string }
  let partitionTable: { ready: boolean; why: string }
  let run = 0
  /** A fresh bucket per test, so tests never see each other's keys. */
  const bucket = (name: string): string => `contract-${name}-${process.pid}-${++run}`

  beforeAll(async () => {
    cluster = await startRealCluster(3)
    urls = cluster.nodes.map((node) => node.url)
    dataPath = await probe(`${urls[0]}/buckets/contract-probe/keys/probe`, { method: 'PUT', body: 'probe' })
    // Members are alive before the ownership table has reached everyone; wait until a write reaches all replicas.
    if (dataPath.ready) await waitForAllReplicas(urls)
    partitionTable = await probe(`${urls[0]}/cluster/partitions`, {})
  }, 120_000)
  afterAll(async () => {
    await cluster?.stop()
  }, 60_000)

  const needsDataPath = (context: TestContext): void => context.skip(!dataPath.ready, dataPath.why)

  // ---- runs today ---------------------------------------------------------------------------------------------

  it('GET /health on every node → 200 {"status":"ok","id"}', async () => {
    for (const [index, url] of urls.entries()) {
      expect((await call(`${url}/health`)).json).toEqual({ status: 'ok', id: `node-${index + 1}` })
    }
  })

  it('GET /cluster/members → every member alive, with the documented fields and one leader', async () => {
    const rows = (await call(`${urls[1]}/cluster/members`)).json as Record<string, unknown>[]
    expect(rows.map((row) => row.id).sort()).toEqual(['node-1', 'node-2', 'node-3'])
    for (const row of rows) {
      expect(row).toMatchObject({
        id: expect.any(String) as unknown,
        address: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as unknown,
        http: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as unknown,
        state: 'alive',
        generation: expect.any(Number) as unknown,
        incarnation: expect.any(Number) as unknown,
        leader: expect.any(Boolean) as unknown,
      })
    }
    expect(rows.filter((row) => row.leader === true)).toHaveLength(1)
  })

  it('GET /metrics → Prometheus text with request counts', async () => {
    const answer = await call(`${urls[2]}/metrics`)
    expect(answer.status).toBe(200)
    expect(answer.headers.get('content-type')).toContain('text/plain')
    expect(answer.text).toContain('chorus_http_requests_total')
    expect(answer.text).toContain('chorus_http_request_duration_seconds_bucket')
  })

  it('bad input → 4xx JSON on a real node, and nothing is stored', async (context) => {
    const b = bucket('bad')
    const cases: [string, RequestInit, number, string][] = [
      [`/buckets/${b}/keys/%ZZ`, { method: 'PUT', body: 'v' }, 400, 'bad_request'],
      [`/buckets/${b}/keys/`, { method: 'PUT', body: 'v' }, 400, 'invalid_key'],
      [`/buckets/${b}/keys/${'k'.repeat(1025)}`, { method: 'PUT', body: 'v' }, 414, 'key_too_long'],
      [`/buckets/${b}/keys/k`, { method: 'PUT', body: new Uint8Array(4 * 1024 * 1024 + 1) }, 413, 'value_too_large'],
      [`/buckets/${b}/keys/k?w=two`, { method: 'PUT', body: 'v' }, 400, 'invalid_parameter'],
      [`/buckets/${b}/keys/k?w=4`, { method: 'PUT', body: 'v' }, 400, 'invalid_parameter'],
      [`/buckets/${b}/keys/k`, { method: 'PUT', body: 'v', headers: { 'X-Context': '%%%' } }, 400, 'malformed_context'],
      [`/buckets/${b}/keys/k`, { method: 'POST', body: 'v' }, 405, 'method_not_allowed'],
      ['/no/such/route', {}, 404, 'not_found'],
    ]
    for (const [path, init, status, error] of cases) {
      const answer = await call(`${urls[0]}${path}`, init)
      expect({ path, status: answer.status, json: answer.json }).toMatchObject({ path, status, json: { error, message: expect.any(String) as unknown } })
    }
    needsDataPath(context)
    expect((await call(`${urls[1]}/buckets/${b}/keys/k?r=all`)).status).toBe(404)
    expect((await call(`${urls[1]}/buckets/${b}/keys`)).json).toEqual({ keys: [] })
  })

  // ---- needs the data path ---------------------------------------------------------------------------------------

  it('PUT → 204 + X-Context; GET from another node → 200 with value, Content-Type and X-Context', async (context) => {
    needsDataPath(context)
    const b = bucket('roundtrip')
    const put = await call(`${urls[0]}/buckets/${b}/keys/alice`, { method: 'PUT', body: '{"age":30}', headers: { 'Content-Type': 'application/json' } })
    expect({ status: put.status, body: put.text }).toEqual({ status: 204, body: '' })
    expect(put.headers.get('x-context')).toMatch(/^[A-Za-z0-9_-]+$/)
    const get = await call(`${urls[1]}/buckets/${b}/keys/alice`)
    expect(get).toMatchObject({ status: 200, text: '{"age":30}' })
    expect(get.headers.get('content-type')).toBe('application/json')
    expect(get.headers.get('x-context')).toMatch(/^[A-Za-z0-9_-]+$/)
  })

  it('concurrent writes → 300 siblings; a write with the read context resolves them', async (context) => {
    needsDataPath(context)
    const b = bucket('siblings')
    await call(`${urls[0]}/buckets/${b}/keys/k`, { method: 'PUT', body: 'red', headers: { 'Content-Type': 'text/plain' } })
    await call(`${urls[1]}/buckets/${b}/keys/k`, { method: 'PUT', body: 'blue', headers: { 'Content-Type': 'text/plain' } })
    const read = await call(`${urls[2]}/buckets/${b}/keys/k?r=all`)
    expect({ status: read.status, body: read.status === 300 ? '' : read.text }).toEqual({ status: 300, body: '' })
    const body = read.json as { context: string; siblings: { value: string; contentType: string; timestamp: number }[] }
    expect(read.headers.get('x-context')).toBe(body.context)
    expect(body.siblings.map((s) => Buffer.from(s.value, 'base64').toString()).sort()).toEqual(['blue', 'red'])
    for (const sibling of body.siblings) expect(sibling).toMatchObject({ contentType: 'text/plain', timestamp: expect.any(Number) as unknown })
    const resolved = await call(`${urls[2]}/buckets/${b}/keys/k?w=all`, { method: 'PUT', body: 'purple', headers: { 'X-Context': body.context } })
    expect(resolved.status).toBe(204)
    expect(await call(`${urls[0]}/buckets/${b}/keys/k?r=all`)).toMatchObject({ status: 200, text: 'purple' })
  })

  it('client update() merges siblings through the real cluster', async (context) => {
    needsDataPath(context)
    const b = bucket('update')
    const client = new ChorusClient(urls[0]!)
    await client.put(b, 'cart', 'apple')
    await new ChorusClient(urls[1]!).put(b, 'cart', 'pear')
    const union = (siblings: readonly Sibling[]): string => siblings.map((s) => text(s.value)).sort().join(',')
    await client.update(b, 'cart', (current) => `${text(current?.value ?? new Uint8Array())},plum`, { merge: union, w: 'all' })
    const read = await client.get(b, 'cart', { r: 'all' })
    expect(read.kind === 'value' ? text(read.value) : read.kind).toBe('apple,pear,plum')
  })

  it('DELETE with the context → 204; GET → 404 with the tombstone’s X-Context', async (context) => {
    needsDataPath(context)
    const b = bucket('delete')
    await call(`${urls[0]}/buckets/${b}/keys/k?w=all`, { method: 'PUT', body: 'x' })
    const read = await call(`${urls[0]}/buckets/${b}/keys/k`)
    const deleted = await call(`${urls[1]}/buckets/${b}/keys/k?w=all`, { method: 'DELETE', headers: { 'X-Context': read.headers.get('x-context') ?? '' } })
    expect(deleted.status).toBe(204)
    const after = await call(`${urls[2]}/buckets/${b}/keys/k?r=all`)
    expect(after.status).toBe(404)
    expect(after.json).toMatchObject({ error: 'not_found' })
    expect(after.headers.get('x-context')).not.toBeNull()
    const never = await call(`${urls[2]}/buckets/${b}/keys/never`)
    expect(never.status).toBe(404)
    expect(never.headers.get('x-context')).toBeNull()
  })

  it('per-request consistency: r/w one, quorum, all and integers; returnbody=true answers like GET', async (context) => {
    needsDataPath(context)
    const b = bucket('consistency')
    for (const w of ['one', 'quorum', 'all', '1', '3']) {
      expect((await call(`${urls[0]}/buckets/${b}/keys/${w}?w=${w}&pw=1&timeout=2000`, { method: 'PUT', body: w })).status).toBe(204)
    }
    for (const r of ['one', 'quorum', 'all', '2']) {
      expect(await call(`${urls[1]}/buckets/${b}/keys/all?r=${r}&pr=1`)).toMatchObject({ status: 200, text: 'all' })
    }
    const returned = await call(`${urls[2]}/buckets/${b}/keys/rb?returnbody=true`, { method: 'PUT', body: 'body', headers: { 'Content-Type': 'text/plain' } })
    expect(returned).toMatchObject({ status: 200, text: 'body' })
    expect(returned.headers.get('x-context')).not.toBeNull()
  })

  it('a retried PUT with the same X-Request-Id is applied once', async (context) => {
    needsDataPath(context)
    const b = bucket('request-id')
    const init = { method: 'PUT', body: 'once', headers: { 'X-Request-Id': `retry-${process.pid}` } }
    expect((await call(`${urls[0]}/buckets/${b}/keys/k?w=all`, init)).status).toBe(204)
    expect((await call(`${urls[0]}/buckets/${b}/keys/k?w=all`, init)).status).toBe(204)
    expect(await call(`${urls[0]}/buckets/${b}/keys/k?r=all`)).toMatchObject({ status: 200, text: 'once' })
  })

  it('bucket props: GET shows defaults; an LWW bucket never shows siblings', async (context) => {
    needsDataPath(context)
    const b = bucket('lww')
    expect((await call(`${urls[0]}/buckets/${b}/props`)).json).toEqual({ n: 3, r: 'quorum', w: 'quorum', conflict: 'siblings' })
    const set = await call(`${urls[0]}/buckets/${b}/props`, { method: 'PUT', body: JSON.stringify({ conflict: 'lww' }) })
    expect([200, 204]).toContain(set.status)
    await call(`${urls[0]}/buckets/${b}/keys/k?w=all`, { method: 'PUT', body: 'first' })
    await call(`${urls[1]}/buckets/${b}/keys/k?w=all`, { method: 'PUT', body: 'second' })
    const read = await call(`${urls[2]}/buckets/${b}/keys/k?r=all`)
    expect(read.status).toBe(200)
    expect(['first', 'second']).toContain(read.text)
  })

  it('GET /buckets/{b}/keys lists what was written', async (context) => {
    needsDataPath(context)
    const b = bucket('list')
    for (const key of ['a', 'b', 'c']) await call(`${urls[0]}/buckets/${b}/keys/${key}?w=all`, { method: 'PUT', body: key })
    const keys = ((await call(`${urls[1]}/buckets/${b}/keys`)).json as { keys: string[] }).keys
    expect([...keys].sort()).toEqual(['a', 'b', 'c'])
  })

  it('GET /cluster/partitions → Q preference lists of N distinct members', async (context) => {
    context.skip(!partitionTable.ready, partitionTable.why)
    const table = (await call(`${urls[0]}/cluster/partitions`)).json as { partitions: number; version: unknown; owners: string[][] }
    expect(table.partitions).toBe(64) // the test preset
    expect(table.version).toBeDefined()
    expect(table.owners).toHaveLength(64)
    for (const owners of table.owners) expect(new Set(owners).size).toBe(3)
  })
})

/** Asks once whether a route is implemented yet; anything but 503 "not implemented" counts as ready. */
async function probe(url: string, init: RequestInit): Promise<{ ready: boolean; why: string }> {
  const answer = await call(url, init)
  const message = (answer.json as { message?: string } | undefined)?.message ?? ''
  if (answer.status === 503 && NOT_IMPLEMENTED.test(message)) {
    return { ready: false, why: `the node does not implement this yet (${message}); runs once replication lands` }
  }
  return { ready: true, why: '' }
}

async function waitForAllReplicas(urls: readonly string[]): Promise<void> {
  const last: string[] = ['']
  const everyNodeWritesAtAll = async (): Promise<boolean> => {
    for (const url of urls) {
      const answer = await call(`${url}/buckets/contract-probe/keys/ready?w=all`, { method: 'PUT', body: 'ready' })
      last[0] = `last answer from ${url}: ${answer.status} ${answer.text}`
      if (answer.status !== 204) return false
    }
    return true
  }
  await waitFor(everyNodeWritesAtAll, 45_000, 'a w=all write to succeed on every node', last)
}
