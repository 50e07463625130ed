/**
 * After the heal: r=all reads of every key on every node until they agree (the convergence time), and the
 * `--drop-acked` test switch that deliberately deletes acknowledged writes behind the checker's back.
 */
import { ChorusClient } from '../../src/api/client.ts'
import type { ChorusCluster } from '../lib/process-cluster.ts'
import { delay } from '../lib/poll.ts'
import type { FinalRead } from './checker.ts'
import type { HistoryRecorder, InvokeEvent, ReadResult } from './history.ts'
import { isLwwKey } from './history.ts'
import { BUCKET, bucketOf } from './workload.ts'

function client(http: string): ChorusClient {
  return new ChorusClient(`http://${http}`, { timeoutMs: 5_000, maxAttempts: 3 })
}

async function readAll(http: string, key: string): Promise<ReadResult | null> {
  try {
    const got = await client(http).get(bucketOf(key), key, { r: 'all' })
    const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)
    const values = got.kind === 'value' ? [decode(got.value)] : got.kind === 'siblings' ? got.siblings.map((s) => decode(s.value)) : []
    return { kind: got.kind, values, context: got.context }
  } catch {
    return null
  }
}

/** One r=all read of every key on every node. */
export async function finalReads(cluster: ChorusCluster, keys: readonly string[]): Promise<FinalRead[]> {
  const reads = cluster.nodes.flatMap((node) => keys.map(async (key) => ({ key, node: node.id, read: await readAll(node.httpAddress, key) })))
  return Promise.all(reads)
}

/** True when every node returned the same values for every key and no read failed. */
export function agree(reads: readonly FinalRead[]): boolean {
  const byKey = new Map<string, string>()
  for (const final of reads) {
    if (final.read === null) return false
    const rendering = [...final.read.values].sort().join('\u0000')
    const seen = byKey.get(final.key)
    if (seen !== undefined && seen !== rendering) return false
    byKey.set(final.key, rendering)
  }
  return true
}

/** Reads until all nodes agree or the deadline passes; returns the last reads and when they first agreed. */
export async function awaitAgreement(cluster: ChorusCluster, keys: readonly string[], fromMs: number, deadlineMs: number): Promise<{ reads: FinalRead[]; convergedMs: number | null }> {
  for (;;) {
    const reads = await finalReads(cluster, keys)
    if (agree(reads)) return { reads, convergedMs: Date.now() - fromMs }
    if (Date.now() - fromMs > deadlineMs) return { reads, convergedMs: null }
    await delay(500)
  }
}

/**
 * Deletes `count` acknowledged writes that are still present, each with the context of a fresh r=all read, and
 * records the deletes only as `drop` events, which the checker ignores: to it the values simply vanish.
 */
export async function dropAcknowledged(cluster: ChorusCluster, history: HistoryRecorder, reads: readonly FinalRead[], count: number): Promise<number> {
  const acknowledged = new Set(history.events.flatMap((event) => (event.type === 'complete' && event.outcome === 'ok' ? [event.id] : [])))
  const puts = history.events.filter((event): event is InvokeEvent => event.type === 'invoke' && event.op === 'put' && acknowledged.has(event.id))
  const present = new Set(reads.flatMap((final) => (final.read?.values ?? []).map((value) => `${final.key}\u0000${value}`)))
  const valuesOn = new Map(reads.map((final) => [final.key, final.read?.values.length ?? 0]))
  // Only siblings-bucket keys: losing an LWW write is expected and counted apart, so it would prove nothing.
  const candidates = [...new Set(puts.filter((put) => !isLwwKey(put.key) && present.has(`${put.key}\u0000${put.value ?? ''}`)).map((put) => put.key))]
  // Keys holding a single value first, so that N keys dropped is, where possible, exactly N acknowledged writes lost.
  const keys = candidates.sort((a, b) => (valuesOn.get(a) ?? 0) - (valuesOn.get(b) ?? 0)).slice(0, count)
  const http = cluster.node(0).httpAddress
  for (const key of keys) {
    const read = await readAll(http, key)
    if (read === null || read.context === null) continue
    await client(http).delete(BUCKET, key, { w: 'all', context: read.context })
    history.record({ type: 'drop', key, values: read.values, atMs: Date.now() })
  }
  return keys.length
}
