/**
 * A Chorus node as one deterministic state machine: `step(input, nowMs)` returns the effects the shell must
 * perform. This file only routes: each protocol area (membership, placement, replication; anti-entropy later)
 * owns its state and handles the inputs addressed to it. Both shells, the production runtime and the simulator,
 * drive the same Node, which is what lets a simulated run stand for a real one.
 *
 * Routing: messages by kind prefix (`swim-`, `placement-`, `replica-`); call-results and storage-results by the id
 * that was allocated for them (membership's calls are its own, the rest go through IoContinuations); membership
 * events, drained after every step, to placement (settle timer), hinted handoff and change-log catch-up (a member
 * came back).
 */
import type { CallId, Millis, NodeId, OperationId, PeerAddress, RequestId } from '../primitives/ids.ts'
import { callId, operationId } from '../primitives/ids.ts'
import type { Random } from '../primitives/random.ts'
import { assert, unreachable } from '../primitives/assert.ts'
import type { MemberMetadata } from '../membership/membership-messages.ts'
import type { MembershipCallOutcome, MembershipEvent } from '../membership/membership-effect.ts'
import { logEffect } from '../membership/membership-effect.ts'
import { Swim } from '../membership/swim.ts'
import { PlacementManager, placementTableMetaName } from '../partitioning/placement-manager.ts'
import { BucketPropsRegistry, bucketPropsMetaName } from '../replication/bucket-props-registry.ts'
import type { ClusterView } from '../replication/cluster-view.ts'
import { Replication } from '../replication/replication.ts'
import { AntiEntropy } from '../anti-entropy/anti-entropy.ts'
import { makeActor } from '../versioning/actor.ts'
import type { HlcTimestamp } from '../versioning/hybrid-logical-clock.ts'
import { HybridLogicalClock } from '../versioning/hybrid-logical-clock.ts'
import type { Effect } from './effect.ts'
import type { CallOutcome, Input } from './input.ts'
import { IoContinuations } from './io-continuations.ts'
import type { Out } from './io-continuations.ts'
import type { Message } from './message.ts'
import { isAntiEntropyMessage, isMembershipMessage, isPlacementMessage, isReplicationMessage } from './message.ts'
import type { ClientRequest, ClientResponse } from './client.ts'
import type { NodeConfig } from './node-config.ts'

export interface NodeIdentity {
  readonly id: NodeId
  /** Where this node's cluster traffic arrives (UDP and TCP share it). */
  readonly address: PeerAddress
  /** Raised on every start and never repeated (DESIGN section 3, generation clock). */
  readonly generation: number
  readonly metadata: MemberMetadata
}

export interface NodePorts {
  readonly random: Random
}

/**
 * Node metadata the shell reads with get-meta before constructing the Node and passes in as `restoredMeta`
 * (the ownership table and bucket properties survive restarts this way). A name absent from the map was never
 * written.
 */
export const restoredMetaNames: readonly string[] = [placementTableMetaName, bucketPropsMetaName]

export class Node {
  private lastNowMs: Millis
  private nextCallId = 1
  private nextOperationId = 1
  readonly membership: Swim
  readonly placement: PlacementManager
  readonly replication: Replication
  readonly antiEntropy: AntiEntropy
  readonly bucketProps: BucketPropsRegistry
  private readonly io: IoContinuations
  private readonly hlc = new HybridLogicalClock()
  /** The last wall-clock reading a tick brought, and the monotonic time it arrived at (see wallClockMs). */
  private wallClock: { readonly wallMs: Millis; readonly atMs: Millis } | null = null
  /** Membership events not yet consumed by someone outside the node (tests, metrics). */
  private readonly pendingEvents: MembershipEvent[] = []
  private readonly startupLogs: Effect[] = []
  /** A graceful leave was accepted: gossip `left` once every owned partition is handed off. */
  private leavingAfterHandoff = false

  constructor(
    readonly identity: NodeIdentity,
    ports: NodePorts,
    readonly config: NodeConfig,
    startedAtMs: Millis,
    restoredMeta: ReadonlyMap<string, Uint8Array> = new Map(),
  ) {
    assert(identity.generation >= 0, 'generation must not be negative')
    this.lastNowMs = startedAtMs
    this.membership = new Swim(identity, { random: ports.random, nextCallId: () => this.allocateCallId() }, config, startedAtMs)
    this.io = new IoContinuations({ nextCallId: () => this.allocateCallId(), nextOperationId: () => this.allocateOperationId() })
    this.bucketProps = new BucketPropsRegistry({ n: config.n, r: config.r, w: config.w, conflict: 'siblings' })
    this.placement = new PlacementManager(
      { io: this.io, random: ports.random, self: identity, membership: this.membership, bucketProps: this.bucketProps },
      { partitions: config.partitions, n: config.n, settleMs: config.placementSettleMs, gossipIntervalMs: config.placementGossipIntervalMs, callTimeoutMs: config.requestTimeoutMs },
      startedAtMs,
    )
    this.replication = new Replication({
      io: this.io, cluster: this.clusterView(), bucketProps: this.bucketProps,
      // Generation 0 exists only in tests that never write; an actor needs ≥ 1.
      actor: makeActor(identity.id, Math.max(1, identity.generation)),
      stamp: (latest) => this.stamp(latest),
      publishBucketProps: (out) => this.placement.broadcast(this.lastNowMs, out),
      random: ports.random,
      // The anti-entropy trees know every key this node stores (built below; called only once steps run).
      knownAbsent: ({ partition, bucket, key }) => this.antiEntropy.trees.knownAbsent(partition, bucket, key),
    }, config, startedAtMs)
    this.antiEntropy = new AntiEntropy(
      {
        io: this.io, cluster: this.clusterView(), replica: this.replication.replica, conflictFor: (bucket) => this.bucketProps.get(bucket).conflict,
        wallClockMs: () => this.wallClockMs(),
      },
      {
        partitions: config.partitions, intervalMs: config.antiEntropyIntervalMs, maxConcurrentRounds: config.antiEntropyMaxConcurrentRounds,
        callTimeoutMs: config.requestTimeoutMs, rebuildPageSize: config.listKeysPageSize, tombstoneGraceMs: config.tombstoneGraceMs,
      },
      startedAtMs,
    )
    this.restore(restoredMeta)
  }

  step(input: Input, nowMs: Millis): Effect[] {
    // Time arrives from outside and must never run backwards; a shell that violates this is broken.
    assert(nowMs >= this.lastNowMs, () => `time went backwards: ${nowMs} < ${this.lastNowMs}`)
    this.lastNowMs = nowMs
    const effects = this.startupLogs.length > 0 ? this.startupLogs.splice(0) : []
    effects.push(...this.route(input, nowMs))
    this.replication.handoff.observeTable(this.placement.table, nowMs, effects)
    this.maybeFinishLeave(nowMs, effects)
    const events = this.membership.drainEvents()
    if (events.length > 0) this.onMembershipEvents(events, nowMs, effects)
    // Every object write, whichever module emitted it, updates that partition's Merkle tree.
    this.antiEntropy.observe(effects)
    return effects
  }

  /** Membership events since the last call (member up/down/left, leader changed), oldest first. */
  drainMembershipEvents(): MembershipEvent[] {
    return this.pendingEvents.splice(0, this.pendingEvents.length)
  }

  private route(input: Input, nowMs: Millis): Effect[] {
    switch (input.kind) {
      case 'tick':
        return this.onTick(input.lagMs, input.wallClockMs, nowMs)
      case 'packet':
        return this.onMessage(input.from, input.message, nowMs)
      case 'call':
        return this.onCall(input.from, input.callId, input.message, nowMs)
      case 'call-result':
        return this.onCallResult(input.callId, input.to, input.outcome, nowMs)
      case 'send-failed':
        return this.membership.sendFailed(input.to, input.reason, nowMs)
      case 'storage-result':
        // Anti-entropy learns how far this node's change log is durable from every write result (catch-up marks).
        this.antiEntropy.observeStorageResult(input.operationId, input.result)
        return this.withOut((out) => this.io.storageResult(input.operationId, input.result, out))
      case 'client-request':
        return this.serve(input.requestId, input.request, nowMs)
      default:
        return unreachable(input)
    }
  }

  private onTick(lagMs: Millis | undefined, wallClockMs: Millis | undefined, nowMs: Millis): Effect[] {
    if (lagMs !== undefined) this.membership.reportLag(lagMs)
    if (wallClockMs !== undefined) this.wallClock = { wallMs: wallClockMs, atMs: nowMs }
    const effects: Effect[] = this.membership.tick(nowMs)
    this.placement.tick(nowMs, effects)
    this.replication.tick(nowMs, effects)
    this.antiEntropy.tick(nowMs, effects)
    return effects
  }

  private onMembershipEvents(events: readonly MembershipEvent[], nowMs: Millis, out: Out): void {
    this.pendingEvents.push(...events)
    // Bounded: nobody outside may be draining; keep only the newest events.
    if (this.pendingEvents.length > 1_024) this.pendingEvents.splice(0, this.pendingEvents.length - 1_024)
    for (const event of events) {
      if (event.kind === 'leader-changed') continue
      this.placement.viewChanged(nowMs)
      if (event.kind === 'member-up') {
        this.replication.memberUp(event.node, out)
        this.antiEntropy.memberUp(event.node)
      }
    }
  }

  private allocateCallId(): CallId {
    return callId(this.nextCallId++)
  }

  private allocateOperationId(): OperationId {
    return operationId(this.nextOperationId++)
  }

  private withOut(run: (out: Out) => void): Effect[] {
    const out: Effect[] = []
    run(out)
    return out
  }

  private onMessage(from: PeerAddress, message: Message, nowMs: Millis): Effect[] {
    if (isMembershipMessage(message)) return this.membership.receive(from, message, nowMs)
    if (isPlacementMessage(message)) return this.withOut((out) => this.placement.receive(from, message, nowMs, out))
    // Replica messages are calls only; one arriving one-way has nobody to answer and is dropped.
    if (isReplicationMessage(message) || isAntiEntropyMessage(message)) return []
    const answer = this.answerEcho(message)
    return answer === null ? [] : [{ kind: 'send', to: from, carrier: 'datagram', message: answer }]
  }

  private onCall(from: PeerAddress, id: CallId, message: Message, nowMs: Millis): Effect[] {
    if (isMembershipMessage(message)) return this.membership.receiveCall(from, id, message, nowMs)
    if (isPlacementMessage(message)) return this.withOut((out) => this.placement.receiveCall(from, id, message, nowMs, out))
    if (isReplicationMessage(message)) {
      // Copies superseded by a reaped delete never reach the replica (tombstone-reaper.ts): they would resurrect.
      const admitted = this.antiEntropy.admit(message)
      if (admitted === null) return [{ kind: 'respond', to: from, callId: id, message: { kind: 'replica-merge-reply', from: this.identity.id, outcome: 'stored' } }]
      return this.withOut((out) => this.replication.receiveCall(from, id, admitted, out))
    }
    if (isAntiEntropyMessage(message)) return this.withOut((out) => this.antiEntropy.receiveCall(from, id, message, out))
    const answer = this.answerEcho(message)
    // Every call gets exactly one answer; a call that has none is answered with an echo of itself so the
    // caller is not left to time out.
    return [{ kind: 'respond', to: from, callId: id, message: answer ?? message }]
  }

  private onCallResult(id: CallId, to: PeerAddress, outcome: CallOutcome, nowMs: Millis): Effect[] {
    if (this.io.ownsCall(id)) {
      const effects = this.withOut((out) => this.io.callResult(id, outcome, out))
      // A refused connection means the peer's port is closed, whichever area's call met it. Under client load the
      // replica calls meet a killed node's closed port long before a probe does, so membership hears of it too: it
      // starts a refusal check through helpers (at most one per member per period), never a verdict on its own.
      if (outcome.kind === 'failed' && outcome.reason === 'refused') effects.push(...this.membership.sendFailed(to, 'refused', nowMs))
      return effects
    }
    if (!this.membership.ownsCall(id)) return []
    // A peer that answers a membership call with another area's message is broken or confused: treat it as a
    // lost connection rather than let the wrong type into membership.
    const narrowed: MembershipCallOutcome =
      outcome.kind === 'failed' ? outcome
      : isMembershipMessage(outcome.message) ? { kind: 'ok', message: outcome.message }
      : { kind: 'failed', reason: 'connection-lost' }
    return this.membership.callResult(id, to, narrowed, nowMs)
  }

  /** The echo protocol: the smallest request/response a peer can ask of any node, used to measure the wire. */
  private answerEcho(message: Message): Message | null {
    if (message.kind === 'echo') return { kind: 'echo-reply', from: this.identity.id, seq: message.seq, payload: message.payload }
    return null
  }

  private serve(requestId: RequestId, request: ClientRequest, nowMs: Millis): Effect[] {
    const reply = (response: ClientResponse): Effect => ({ kind: 'reply', requestId, response })
    switch (request.kind) {
      case 'health':
        return [reply({ kind: 'health', id: this.identity.id, status: 'ok' })]
      case 'members':
        return [reply({ kind: 'members', members: this.membership.members(nowMs), leader: this.membership.leader() })]
      case 'join':
        return [...this.membership.join(request.seeds, nowMs), reply({ kind: 'ok' })]
      case 'leave':
        if (request.handoff === true && this.ownsPartitions()) return this.withOut((out) => this.leaveAfterHandoff(nowMs, out, (response, next) => next.push(reply(response))))
        return [...this.membership.leave(nowMs), reply({ kind: 'ok' })]
      case 'remove':
        return this.withOut((out) => this.placement.requestRemove(request.node, nowMs, out, (outcome, next) => {
          next.push(reply(outcome === 'accepted' ? { kind: 'ok' } : removeRefusal(request.node, outcome)))
        }))
      case 'partitions':
        return [reply({ kind: 'partitions', table: this.placement.table })]
      case 'get':
      case 'put':
      case 'delete':
      case 'list-keys':
      case 'get-bucket-props':
      case 'put-bucket-props':
        return this.withOut((out) => this.replication.serve(requestId, request, out))
      default:
        return unreachable(request)
    }
  }

  private ownsPartitions(): boolean {
    return this.placement.table?.owners.some((list) => list.includes(this.identity.id)) ?? false
  }

  /**
   * Graceful leave: ask the leader to take this node out of the table (as `remove` does), keep serving while the
   * partitions are handed off, and gossip `left` only once none is owned or pending (maybeFinishLeave).
   */
  private leaveAfterHandoff(nowMs: Millis, out: Out, done: (response: ClientResponse, out: Out) => void): void {
    this.placement.requestRemove(this.identity.id, nowMs, out, (outcome, next) => {
      if (outcome !== 'accepted') return done(removeRefusal(this.identity.id, outcome), next)
      this.leavingAfterHandoff = true
      done({ kind: 'ok' }, next)
    })
  }

  private maybeFinishLeave(nowMs: Millis, out: Out): void {
    if (!this.leavingAfterHandoff || this.ownsPartitions() || !this.replication.handoff.idle) return
    this.leavingAfterHandoff = false
    out.push(...this.membership.leave(nowMs))
  }

  private clusterView(): ClusterView {
    const self = this.identity.id
    // Rebuilt only when the member table changes: coordinators ask for it on every request with a primary down.
    let members: { version: number; ids: readonly NodeId[] } | null = null
    return {
      self,
      nowMs: () => this.lastNowMs,
      table: () => this.placement.table,
      members: () => {
        const version = this.membership.tableVersion
        if (members?.version !== version) {
          const ids = this.membership.records()
            .filter((m) => m.state !== 'left' && m.metadata.partitions === this.config.partitions)
            .map((m) => m.id)
            .sort()
          members = { version, ids }
        }
        return members.ids
      },
      isLive: (id) => id === self || this.membership.member(id)?.state === 'alive',
      address: (id) => (id === self ? this.identity.address : this.membership.member(id)?.address ?? null),
    }
  }

  /**
   * Wall-clock time for the hybrid logical clock. The shell brings a reading with each tick; between ticks it is
   * extrapolated on the monotonic clock, so writes within one tick still get distinct physical times. Before the
   * first reading it is 0 and the HLC runs on its logical counter alone.
   */
  private wallClockMs(): Millis {
    if (this.wallClock === null) return 0
    return Math.max(0, Math.floor(this.wallClock.wallMs + (this.lastNowMs - this.wallClock.atMs)))
  }

  private stamp(latest: HlcTimestamp | null): HlcTimestamp {
    const wall = this.wallClockMs()
    return latest === null ? this.hlc.now(wall) : this.hlc.observe(latest, wall).timestamp
  }

  private restore(meta: ReadonlyMap<string, Uint8Array>): void {
    const table = meta.get(placementTableMetaName)
    const problem = table === undefined ? null : this.placement.restore(table)
    if (problem !== null) this.startupLogs.push(logEffect('error', 'placement.restore-failed', { problem }))
    const props = meta.get(bucketPropsMetaName)
    if (props !== undefined && !this.bucketProps.restore(props)) {
      this.startupLogs.push(logEffect('error', 'bucket-props.restore-failed', { bytes: props.length }))
    }
  }
}

function removeRefusal(node: NodeId, outcome: string): ClientResponse {
  if (outcome === 'unknown-node') return { kind: 'error', code: 'NOT_FOUND', message: `${node} is neither a member nor an owner of partitions` }
  return { kind: 'error', code: 'UNAVAILABLE', message: `the leader could not be asked to remove ${node} (${outcome})` }
}
