/**
 * Key-value load through autocannon, the same shape for every system the cluster benchmark compares: PUT phases
 * write a fresh key per request, GET phases read keys that an earlier PUT had acknowledged. A `KvProtocol` says
 * how one system spells those two requests (Chorus and the bare server share paths; etcd's JSON gateway wants
 * POSTs with base64 keys).
 *
 * All load of a phase comes from one autocannon instance given every node's URL: autocannon sends connection i
 * to url[i % urls], so the load is spread over the nodes and one latency histogram covers them all (separate
 * instances would leave us percentiles that cannot be merged).
 */
import autocannon from 'autocannon'
import type { AutocannonRequest, AutocannonResult } from 'autocannon'

export type Operation = 'put' | 'get'

export interface KvProtocol {
  readonly name: string
  /** The request that writes `value` under key `key`. */
  put(key: string, value: Buffer): AutocannonRequest
  /** The request that reads key `key`. */
  get(key: string): AutocannonRequest
  /** Whether a 2xx read answer actually carried the value (etcd answers 200 with no `kvs` for a missing key). */
  readFound(status: number, body: string): boolean
}

export interface PhaseSettings {
  readonly urls: readonly string[]
  readonly connections: number
  readonly durationS: number
}

export interface PhaseResult {
  readonly okPerS: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly ok: number
  /** Answers outside 2xx (503 overloaded or unavailable, 404 …), socket errors and timeouts. */
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  /** Reads answered 404, or 2xx without the value: a key the store acknowledged but did not return. */
  readonly misses: number
  readonly statusCodes: Readonly<Record<string, number>>
  /** The first body seen for each status outside 2xx (shortened), so a report can say why requests failed. */
  readonly failureSamples: Readonly<Record<string, string>>
  /** CPU this process (the load generator) spent per request sent: the load's own share of a shared machine. */
  readonly loadCpuUsPerRequest: number
}

/** Long enough for a JSON error's code and message. */
const FAILURE_SAMPLE_CHARS = 200

/** The keys one system has acknowledged so far; GET phases read them back, cycling through them. */
export class KeyBook {
  private nextId = 0
  private readonly acknowledged: number[] = []
  private readCursor = 0

  constructor(private readonly prefix: string) {}

  get size(): number {
    return this.acknowledged.length
  }

  freshKey(): { id: number; key: string } {
    const id = this.nextId++
    return { id, key: this.keyOf(id) }
  }

  acknowledge(id: number): void {
    this.acknowledged.push(id)
  }

  /**
   * The next key to read. The stride walks the acknowledged keys in an order unrelated to write order (it is
   * odd and the step grows with the array), so reads do not trail writes partition by partition.
   */
  nextReadKey(): string {
    if (this.acknowledged.length === 0) throw new Error('GET phase before any PUT was acknowledged')
    const index = (this.readCursor++ * 7_919) % this.acknowledged.length
    return this.keyOf(this.acknowledged[index] ?? 0)
  }

  private keyOf(id: number): string {
    return `${this.prefix}-${String(id).padStart(9, '0')}`
  }
}

export async function runPhase(protocol: KvProtocol, operation: Operation, keys: KeyBook, value: Buffer, settings: PhaseSettings): Promise<PhaseResult> {
  let misses = 0
  const failureSamples: Record<string, string> = {}
  const sampleFailure = (status: number, body: string): void => {
    if ((status < 200 || status >= 300) && failureSamples[status] === undefined) failureSamples[status] = body.slice(0, FAILURE_SAMPLE_CHARS)
  }
  const request =
    operation === 'put'
      ? {
          setupRequest: (base: AutocannonRequest, context: Record<string, unknown>): AutocannonRequest => {
            const { id, key } = keys.freshKey()
            context['id'] = id
            return { ...base, ...protocol.put(key, value) }
          },
          onResponse: (status: number, body: string, context: Record<string, unknown>): void => {
            sampleFailure(status, body)
            // Only acknowledged writes may be read back later; a shed or failed PUT's key stays unread.
            if (status >= 200 && status < 300 && typeof context['id'] === 'number') keys.acknowledge(context['id'])
          },
        }
      : {
          setupRequest: (base: AutocannonRequest): AutocannonRequest => ({ ...base, ...protocol.get(keys.nextReadKey()) }),
          onResponse: (status: number, body: string): void => {
            sampleFailure(status, body)
            const found = status >= 200 && status < 300 && protocol.readFound(status, body)
            if (status === 404 || (status >= 200 && status < 300 && !found)) misses++
          },
        }
  const cpuBefore = process.cpuUsage()
  const result: AutocannonResult = await autocannon({
    url: [...settings.urls],
    connections: settings.connections,
    pipelining: 1,
    duration: settings.durationS,
    timeout: 10,
    requests: [request],
  })
  const cpu = process.cpuUsage(cpuBefore)
  const statusCodes = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]))
  return {
    // Successful answers only: a node that sheds load answers 503 fast, and counting those would flatter it.
    okPerS: result['2xx'] / result.duration,
    // autocannon records latency for 2xx answers only, which is what we want here.
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    misses,
    statusCodes,
    failureSamples,
    loadCpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, result.requests.total),
  }
}

/** Chorus and the bare server: `PUT`/`GET /buckets/{b}/keys/{k}` with explicit quorums. */
export function chorusProtocol(name: string, bucket: string): KvProtocol {
  const base = `/buckets/${encodeURIComponent(bucket)}/keys/`
  return {
    name,
    put: (key, value) => ({
      method: 'PUT',
      path: `${base}${encodeURIComponent(key)}?w=quorum`,
      headers: { 'content-type': 'application/octet-stream' },
      body: value,
    }),
    get: (key) => ({ method: 'GET', path: `${base}${encodeURIComponent(key)}?r=quorum` }),
    readFound: (status) => status === 200,
  }
}

/** etcd's v3 HTTP/JSON gateway; range reads are linearizable by default, the analogue of r=quorum. */
export function etcdProtocol(): KvProtocol {
  const base64 = (text: string | Buffer): string => Buffer.from(text).toString('base64')
  const json = { 'content-type': 'application/json' }
  return {
    name: 'etcd',
    put: (key, value) => ({ method: 'POST', path: '/v3/kv/put', headers: json, body: JSON.stringify({ key: base64(key), value: base64(value) }) }),
    get: (key) => ({ method: 'POST', path: '/v3/kv/range', headers: json, body: JSON.stringify({ key: base64(key) }) }),
    readFound: (_status, body) => body.includes('"kvs"'),
  }
}
