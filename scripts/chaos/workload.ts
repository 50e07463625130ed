/**
 * Concurrent clients against a `siblings` bucket at r = w = quorum, every operation recorded in the history.
 *
 * Keys come in two kinds. Blind keys take puts without a context, which must become siblings, plus now and
 * then a resolving read-modify-write, so their sibling count stays far below the node's maxSiblings (a node
 * that trims siblings would look like loss to the checker). Update keys take only read-modify-writes with the
 * read's context, and sometimes a delete with it. Every put writes a unique value, so any value read names
 * the put that wrote it.
 *
 * With `lwwKeys` > 0 (the `clock` nemesis asks for it) a quarter of the operations go to keys `lww-i` in a
 * second bucket with `conflict: lww`: blind puts and reads only, since LWW ignores contexts. Under clock skew
 * such a bucket loses writes by design; the checker counts those losses apart from the siblings bucket's.
 */
import { ChorusClient } from '../../src/api/client.ts'
import type { ReadResult } from './history.ts'
import type { HistoryRecorder } from './history.ts'
import { isLwwKey, LWW_KEY_PREFIX } from './history.ts'

export const BUCKET = 'chaos'
/** The last-write-wins bucket of the `lww-` keys. */
export const LWW_BUCKET = 'chaos-lww'

export function bucketOf(key: string): string {
  return isLwwKey(key) ? LWW_BUCKET : BUCKET
}

export interface WorkloadOptions {
  readonly clients: number
  readonly blindKeys: number
  readonly updateKeys: number
  /** Keys in the LWW bucket; 0 leaves it out. */
  readonly lwwKeys?: number
  /** HTTP endpoints (host:port), one per node; each operation picks one at random. */
  readonly endpoints: () => readonly { readonly id: string; readonly http: string }[]
  readonly history: HistoryRecorder
  /** Per-attempt deadline: bounds how long a client waits on a paused or partitioned node. */
  readonly timeoutMs: number
}

export interface WorkloadStats {
  ops: number
  acknowledged: number
  failed: number
  siblingsSeen: number
}

const r = 'quorum'
const w = 'quorum'

export function allKeys(options: Pick<WorkloadOptions, 'blindKeys' | 'updateKeys' | 'lwwKeys'>): string[] {
  const blind = Array.from({ length: options.blindKeys }, (_, i) => `blind-${i}`)
  const update = Array.from({ length: options.updateKeys }, (_, i) => `update-${i}`)
  const lww = Array.from({ length: options.lwwKeys ?? 0 }, (_, i) => `${LWW_KEY_PREFIX}${i}`)
  return [...blind, ...update, ...lww]
}

export class Workload {
  readonly stats: WorkloadStats = { ops: 0, acknowledged: 0, failed: 0, siblingsSeen: 0 }
  private stopped = false
  private readonly clients = new Map<string, ChorusClient>()

  constructor(private readonly options: WorkloadOptions) {}

  /** Runs every client until stop(); resolves when all have finished their current operation. */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.clients }, (_, client) => this.clientLoop(client)))
  }

  stop(): void {
    this.stopped = true
  }

  private async clientLoop(client: number): Promise<void> {
    let seq = 0
    const lwwKeys = this.options.lwwKeys ?? 0
    while (!this.stopped) {
      if (lwwKeys > 0 && Math.random() < 0.25) {
        const key = `${LWW_KEY_PREFIX}${randomInt(lwwKeys)}`
        if (Math.random() < 0.7) await this.put(client, key, `c${client}-${seq++}-${Math.random().toString(36).slice(2, 8)}`, null)
        else await this.get(client, key)
        continue
      }
      const blind = Math.random() < 0.5
      const key = blind ? `blind-${randomInt(this.options.blindKeys)}` : `update-${randomInt(this.options.updateKeys)}`
      const value = `c${client}-${seq++}-${Math.random().toString(36).slice(2, 8)}`
      const roll = Math.random()
      if (blind && roll < 0.6) await this.put(client, key, value, null)
      else if (!blind && roll < 0.12) await this.readThen(client, key, (from) => this.delete(client, key, from))
      else if (!blind && roll < 0.25) await this.get(client, key)
      else await this.readThen(client, key, (from) => this.put(client, key, value, from))
    }
  }

  /** A read-modify-write step: read, then write with that read's context (skipped if the read failed). */
  private async readThen(client: number, key: string, write: (from: { id: number; read: ReadResult }) => Promise<void>): Promise<void> {
    const from = await this.get(client, key)
    if (from !== null && !this.stopped) await write(from)
  }

  private async get(client: number, key: string): Promise<{ id: number; read: ReadResult } | null> {
    return this.operate(client, { op: 'get', key }, async (api) => {
      const got = await api.get(bucketOf(key), key, { r })
      const read: ReadResult = {
        kind: got.kind,
        values: got.kind === 'value' ? [decode(got.value)] : got.kind === 'siblings' ? got.siblings.map((s) => decode(s.value)) : [],
        context: got.context,
      }
      if (read.kind === 'siblings') this.stats.siblingsSeen++
      return { read }
    }).then((done) => (done === null || done.read === undefined ? null : { id: done.id, read: done.read }))
  }

  private async put(client: number, key: string, value: string, from: { id: number; read: ReadResult } | null): Promise<void> {
    const requestId = crypto.randomUUID()
    const context = from?.read.context ?? null
    await this.operate(client, { op: 'put', key, value, context, contextFrom: from?.id ?? null, requestId }, async (api) => ({
      context: await api.put(bucketOf(key), key, value, { w, context, requestId, contentType: 'text/plain' }),
    }))
  }

  private async delete(client: number, key: string, from: { id: number; read: ReadResult }): Promise<void> {
    if (from.read.kind === 'not-found') return
    const requestId = crypto.randomUUID()
    await this.operate(client, { op: 'delete', key, context: from.read.context, contextFrom: from.id, requestId }, async (api) => {
      await api.delete(BUCKET, key, { w, context: from.read.context, requestId })
      return {}
    })
  }

  /** Records the invocation, runs it against a random node, and records the completion however it ends. */
  private async operate(
    client: number,
    invoke: { op: 'get' | 'put' | 'delete'; key: string; value?: string; context?: string | null; contextFrom?: number | null; requestId?: string },
    body: (api: ChorusClient) => Promise<{ read?: ReadResult; context?: string }>,
  ): Promise<{ id: number; read?: ReadResult } | null> {
    const { history } = this.options
    const endpoints = this.options.endpoints()
    const target = endpoints[randomInt(endpoints.length)]
    if (target === undefined) return null
    const id = history.newId()
    history.record({ type: 'invoke', id, client, node: target.id, ...invoke, atMs: Date.now() })
    this.stats.ops++
    try {
      const outcome = await body(this.client(target.http))
      history.record({ type: 'complete', id, outcome: 'ok', atMs: Date.now(), ...outcome })
      if (invoke.op !== 'get') this.stats.acknowledged++
      return { id, ...(outcome.read === undefined ? {} : { read: outcome.read }) }
    } catch (error) {
      history.record({ type: 'complete', id, outcome: 'fail', atMs: Date.now(), error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) })
      this.stats.failed++
      return null
    }
  }

  private client(http: string): ChorusClient {
    let api = this.clients.get(http)
    if (api === undefined) {
      // Two attempts with the same request id: one retry rides out a brief 503 without letting an op span many faults.
      api = new ChorusClient(`http://${http}`, { timeoutMs: this.options.timeoutMs, maxAttempts: 2, backoffBaseMs: 100 })
      this.clients.set(http, api)
    }
    return api
  }
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes)
}

function randomInt(below: number): number {
  return Math.floor(Math.random() * below)
}
