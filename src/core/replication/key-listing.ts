/**
 * list-keys, an admin operation (DESIGN.md section 7): every partition's live primaries scan their copy of the
 * partition for keys of the bucket that hold a live value, a page of storage at a time, and the coordinator
 * unions the answers. A partition none of whose primaries answered makes the listing `unavailable` rather than
 * silently short. Bounded twice: pages of `listKeysPageSize` objects on each replica, and at most
 * `maxListedKeys` keys in the answer.
 *
 * There is no deadline of its own: every call has a timeout and every local scan completes, so the listing
 * always ends.
 */
import type { Millis, NodeId, RequestId } from '../primitives/ids.ts'
import type { ClientResponse } from '../node/client.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import type { StoredObject } from '../node/storage-operation.ts'
import { readObject } from '../versioning/dotted-version-vector-set.ts'
import { decodeObject } from '../versioning/object-codec.ts'
import type { ClusterView } from './cluster-view.ts'
import { replicaTargets } from './replica-targets.ts'
import type { ReplicaScan, ReplicaScanReply } from './replication-messages.ts'

export interface KeyListingOptions {
  readonly pageSize: number
  readonly maxKeys: number
  readonly callTimeoutMs: Millis
}

export type ScanOutcome = ReplicaScanReply['outcome']

export class KeyListing {
  constructor(private readonly io: IoContinuations, private readonly cluster: ClusterView, private readonly options: KeyListingOptions) {}

  /** Coordinates one list-keys request. */
  list(requestId: RequestId, bucket: string, out: Out): void {
    const reply = (response: ClientResponse, next: Out): void => void next.push({ kind: 'reply', requestId, response })
    const table = this.cluster.table()
    if (table === null) return reply({ kind: 'error', code: 'UNAVAILABLE', message: 'the cluster has no ownership table yet' }, out)
    const keys = new Set<string>()
    const answered = new Set<number>()
    let outstanding = 0
    let truncated = false
    const finish = (next: Out): void => {
      if (answered.size < table.partitions) {
        return reply({ kind: 'error', code: 'UNAVAILABLE', message: `${table.partitions - answered.size} partitions had no primary that answered`, details: { required: table.partitions, acknowledged: answered.size } }, next)
      }
      const sorted = [...keys].sort().slice(0, this.options.maxKeys)
      if (truncated || keys.size > this.options.maxKeys) next.push({ kind: 'log', level: 'warn', event: 'list-keys.truncated', fields: { bucket, limit: this.options.maxKeys } })
      reply({ kind: 'keys', keys: sorted }, next)
    }
    const settle = (partition: number, outcome: ScanOutcome, found: readonly string[], next: Out): void => {
      if (outcome !== 'failed') answered.add(partition)
      truncated ||= outcome === 'truncated'
      for (const key of found) keys.add(key)
      if (--outstanding === 0) finish(next)
    }
    const asks: [number, NodeId][] = []
    for (let partition = 0; partition < table.partitions; partition++) {
      const { targets, primaryTargets } = replicaTargets(table, partition, table.n, () => this.cluster.members(), (id) => this.cluster.isLive(id))
      for (const target of targets) if (primaryTargets.has(target)) asks.push([partition, target])
    }
    outstanding = asks.length
    if (outstanding === 0) return finish(out)
    for (const [partition, target] of asks) this.ask(target, partition, bucket, out, (outcome, found, next) => settle(partition, outcome, found, next))
  }

  /** The replica side: scan this node's copy of one partition for live keys of the bucket. */
  scan(partition: number, bucket: string, limit: number, out: Out, done: (outcome: ScanOutcome, keys: readonly string[], out: Out) => void): void {
    const keys: string[] = []
    const page = (after: { bucket: string; key: string } | null, next: Out): void => {
      this.io.read({ kind: 'scan-partition', partition, after, limit: this.options.pageSize }, next, (result, afterRead) => {
        if (result.kind !== 'objects') return done('failed', keys, afterRead)
        for (const object of result.objects) if (object.bucket === bucket && hasLiveValue(object)) keys.push(object.key)
        const last = result.objects[result.objects.length - 1]
        if (keys.length >= limit) return done('truncated', keys.slice(0, limit), afterRead)
        if (result.complete || last === undefined) return done('complete', keys, afterRead)
        page({ bucket: last.bucket, key: last.key }, afterRead)
      })
    }
    page(null, out)
  }

  private ask(target: NodeId, partition: number, bucket: string, out: Out, done: (outcome: ScanOutcome, keys: readonly string[], out: Out) => void): void {
    if (target === this.cluster.self) return this.scan(partition, bucket, this.options.maxKeys, out, done)
    const address = this.cluster.address(target)
    if (address === null) return done('failed', [], out)
    const message: ReplicaScan = { kind: 'replica-scan', from: this.cluster.self, partition, bucket, limit: this.options.maxKeys }
    this.io.call(address, message, this.options.callTimeoutMs, out, (outcome, next) => {
      if (outcome.kind !== 'ok' || outcome.message.kind !== 'replica-scan-reply') return done('failed', [], next)
      done(outcome.message.outcome, outcome.message.keys, next)
    })
  }
}

function hasLiveValue(object: StoredObject): boolean {
  const decoded = decodeObject(object.value)
  return decoded.kind === 'decoded' && readObject(decoded.object).kind === 'found'
}
