/**
 * The data path of one node, as one unit the node routes to: the coordinator (client requests), the replica (this
 * node's copies), hinted handoff, key listing, and bucket properties. It answers peers' replica-* calls and the
 * client's get/put/delete/list-keys/bucket-props requests; everything else reaches it only through the ports.
 *
 * Every replica-* call is validated before it touches storage: the object must decode, and the (bucket, key)
 * must hash to the partition named, so a confused or hostile peer cannot plant an object where no coordinator
 * would look for it.
 */
import type { CallId, Millis, NodeId, PeerAddress, RequestId } from '../primitives/ids.ts'
import type { Random } from '../primitives/random.ts'
import type { BucketProps, ClientRequest, ClientResponse } from '../node/client.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import type { NodeConfig } from '../node/node-config.ts'
import { partitionOf } from '../partitioning/key-hash.ts'
import type { Actor } from '../versioning/actor.ts'
import { decodeCausalContext } from '../versioning/causal-context.ts'
import type { HlcTimestamp } from '../versioning/hybrid-logical-clock.ts'
import { decodeObject } from '../versioning/object-codec.ts'
import type { BucketPropsRegistry } from './bucket-props-registry.ts'
import { applyPropsPatch, bucketPropsMetaName } from './bucket-props-registry.ts'
import type { ClusterView } from './cluster-view.ts'
import { Coordinator } from './coordinator.ts'
import { HintReplayer } from './hint-replayer.ts'
import { KeyListing } from './key-listing.ts'
import { Replica } from './replica.ts'
import type { KeyAddress } from './replica.ts'
import { OwnershipHandoff } from './ownership-handoff.ts'
import type { ReplicaMerge, ReplicaWrite, ReplicationMessage } from './replication-messages.ts'

export type DataRequest = Extract<ClientRequest, { kind: 'get' | 'put' | 'delete' | 'list-keys' | 'get-bucket-props' | 'put-bucket-props' }>

export interface ReplicationPorts {
  readonly io: IoContinuations
  readonly cluster: ClusterView
  readonly bucketProps: BucketPropsRegistry
  readonly actor: Actor
  readonly stamp: (latest: HlcTimestamp | null) => HlcTimestamp
  /** Tell every member about a bucket-props change (the placement gossip carries it). */
  readonly publishBucketProps: (out: Out) => void
  /** The node's seeded Random: the coordinator draws where each read starts among a key's replicas. */
  readonly random: Random
  /** See ReplicaPorts.knownAbsent. */
  readonly knownAbsent?: (address: KeyAddress) => boolean
}

export class Replication {
  readonly replica: Replica
  readonly coordinator: Coordinator
  readonly hints: HintReplayer
  readonly listing: KeyListing
  readonly handoff: OwnershipHandoff
  readonly counters = { malformedRequests: 0 }

  constructor(private readonly ports: ReplicationPorts, private readonly config: NodeConfig, nowMs: Millis) {
    const { io, cluster, bucketProps } = ports
    this.replica = new Replica({
      io, actor: ports.actor, stamp: ports.stamp, maxQueued: config.maxQueuedReplicaOperations, knownAbsent: ports.knownAbsent,
      limits: { siblingWarnCount: config.siblingWarnCount, maxSiblings: config.maxSiblings, maxObjectBytes: 50 * 1024 * 1024, maxContextBytes: 8 * 1024 },
    })
    this.handoff = new OwnershipHandoff({ io, cluster, replica: this.replica, conflictFor: (bucket) => bucketProps.get(bucket).conflict }, {
      pageKeys: config.handoffPageKeys, maxPartitionsInFlight: config.handoffMaxPartitionsInFlight,
      retryIntervalMs: config.handoffRetryIntervalMs, dropDelayMs: config.handoffDropDelayMs, callTimeoutMs: config.requestTimeoutMs,
    })
    const readLocal = this.handoff.readLocal.bind(this.handoff)
    this.coordinator = new Coordinator({ io, replica: this.replica, cluster, bucketProps, readLocal, random: ports.random }, {
      requestTimeoutMs: config.requestTimeoutMs, maxPendingRequests: config.maxPendingRequests, maxValueBytes: config.maxValueBytes,
      hintedHandoff: config.hintedHandoff, readRepair: config.readRepair, speculativeReadMs: config.readSpeculationMs,
    })
    this.hints = new HintReplayer({
      io, self: cluster.self,
      liveAddress: (id) => (cluster.isLive(id) ? cluster.address(id) : null),
      conflictFor: (bucket) => bucketProps.get(bucket).conflict,
    }, { intervalMs: config.hintReplayIntervalMs, batch: config.hintReplayBatch, callTimeoutMs: config.requestTimeoutMs }, nowMs)
    this.listing = new KeyListing(io, cluster, { pageSize: config.listKeysPageSize, maxKeys: config.maxListedKeys, callTimeoutMs: config.requestTimeoutMs })
  }

  tick(nowMs: Millis, out: Out): void {
    this.coordinator.tick(nowMs, out)
    this.hints.tick(nowMs, out)
    this.handoff.tick(nowMs, out)
  }

  memberUp(node: NodeId, out: Out): void {
    this.hints.memberUp(node, out)
  }

  serve(requestId: RequestId, request: DataRequest, out: Out): void {
    switch (request.kind) {
      case 'get':
        return this.coordinator.get(requestId, request, out)
      case 'put':
      case 'delete':
        return this.coordinator.write(requestId, request, out)
      case 'list-keys':
        return this.listing.list(requestId, request.bucket, out)
      case 'get-bucket-props':
        return void out.push({ kind: 'reply', requestId, response: { kind: 'bucket-props', props: this.ports.bucketProps.get(request.bucket) } })
      case 'put-bucket-props':
        return this.putBucketProps(requestId, request.bucket, request.props, out)
    }
  }

  receiveCall(from: PeerAddress, callId: CallId, message: ReplicationMessage, out: Out): void {
    const respond = (answer: ReplicationMessage, next: Out): void => void next.push({ kind: 'respond', to: from, callId, message: answer })
    const self = this.ports.cluster.self
    switch (message.kind) {
      case 'replica-read':
        if (!this.addressed(message)) return respond({ kind: 'replica-read-reply', from: self, outcome: 'failed' }, out)
        return this.handoff.readLocalBytes(message, out, (local, next) => respond(
          local.kind === 'found' ? { kind: 'replica-read-reply', from: self, outcome: 'found', object: local.encoded } : { kind: 'replica-read-reply', from: self, outcome: local.kind },
          next,
        ))
      case 'replica-merge':
        return this.merge(message, out, (stored, next) => respond({ kind: 'replica-merge-reply', from: self, outcome: stored ? 'stored' : 'failed' }, next))
      case 'replica-write':
        return this.forwardedWrite(from, callId, message, out)
      case 'replica-scan': {
        const limit = Math.min(message.limit, this.config.maxListedKeys)
        return this.listing.scan(message.partition, message.bucket, limit, out, (outcome, keys, next) => respond({ kind: 'replica-scan-reply', from: self, outcome, keys }, next))
      }
      case 'replica-handoff':
        return this.handoff.receive(from, callId, message, out)
      case 'replica-read-reply':
      case 'replica-handoff-reply':
      case 'replica-write-reply':
      case 'replica-merge-reply':
      case 'replica-scan-reply':
        // An answer sent as a request: a confused peer. It still gets exactly one answer.
        this.counters.malformedRequests++
        return respond({ kind: 'replica-merge-reply', from: self, outcome: 'failed' }, out)
    }
  }

  private merge(message: ReplicaMerge, out: Out, done: (stored: boolean, out: Out) => void): void {
    const decoded = decodeObject(message.object)
    if (decoded.kind !== 'decoded' || !this.addressed(message)) {
      this.counters.malformedRequests++
      return done(false, out)
    }
    if (this.handoff.refusesMerge(message.partition, message.hintFor ?? null)) return done(false, out)
    this.replica.merge(message, message.conflict, decoded.object, message.hintFor ?? null, out, (outcome, next) => done(outcome === 'stored', next), message.object)
  }

  private forwardedWrite(from: PeerAddress, callId: CallId, message: ReplicaWrite, out: Out): void {
    const refuse = (code: string, text: string): void => void out.push({
      kind: 'respond', to: from, callId,
      message: { kind: 'replica-write-reply', from: this.ports.cluster.self, result: { kind: 'error', code, message: text } },
    })
    const decoded = message.context === undefined ? null : decodeCausalContext(message.context)
    if (decoded !== null && decoded.kind !== 'decoded') return refuse('MALFORMED_CONTEXT', decoded.message)
    const sane = this.addressed(message) && message.n >= 1 && message.n <= this.config.n &&
      message.w >= 1 && message.w <= message.n && message.pw <= message.n
    if (!sane) {
      this.counters.malformedRequests++
      return refuse('INVALID_PARAMETER', 'the forwarded write names an impossible partition or quorum')
    }
    this.coordinator.forwarded(from, callId, message, decoded === null ? null : decoded.context, decoded === null ? [] : decoded.writeIds, out)
  }

  private putBucketProps(requestId: RequestId, bucket: string, patch: Partial<BucketProps>, out: Out): void {
    const reply = (response: ClientResponse, next: Out): void => void next.push({ kind: 'reply', requestId, response })
    const props = applyPropsPatch(this.ports.bucketProps.get(bucket), patch, this.config.n)
    if (typeof props === 'string') return reply({ kind: 'error', code: 'INVALID_PARAMETER', message: props }, out)
    this.ports.bucketProps.merge([{ bucket, props, stamp: this.ports.stamp(null), writer: this.ports.cluster.self }])
    this.ports.io.write([{ kind: 'put-meta', name: bucketPropsMetaName, value: this.ports.bucketProps.encode() }], 'durable', out, (result, next) => {
      if (result.kind !== 'written') return reply({ kind: 'error', code: 'STORAGE_ERROR', message: 'the bucket properties could not be stored' }, next)
      this.ports.publishBucketProps(next)
      reply({ kind: 'bucket-props', props: this.ports.bucketProps.get(bucket) }, next)
    })
  }

  /** The partition a peer names must be the one the key hashes to. */
  private addressed(message: { readonly partition: number; readonly bucket: string; readonly key: string }): boolean {
    return Number.isInteger(message.partition) && message.partition >= 0 && message.partition < this.config.partitions &&
      partitionOf(message.bucket, message.key, this.config.partitions) === message.partition
  }
}
