/**
 * SWIM membership (Das, Gupta and Motivala, 2002) with the Lifeguard extensions (Dadgar, Phillips and Currey,
 * 2017) and a phi-accrual detector beside it (Hayashibara et al., 2004), as one sans-I/O state machine: inputs
 * in (`tick`, `receive`, `receiveCall`, `callResult`, `sendFailed`), effects out. The shell owns sockets, timers
 * and the clock; time arrives as nowMs and every random choice comes from the injected Random.
 *
 * One protocol period (probeIntervalMs, stretched by local health):
 *
 *     ping target ──ack──────────────────────────────────────────► success: health − 1
 *        │ no ack by probe timeout
 *        ▼
 *     ping-req to k helpers + TCP ping (stream call) ──any ack──► success
 *        │ period ends, no ack
 *        ▼
 *     suspect(target): gossip it, start a Lifeguard suspicion timer; health + missed nacks
 *        │ timer expires (shrinks with independent confirmations)     │ target gossips alive, incarnation + 1
 *        ▼                                                            ▼
 *     dead(target): gossip it                                       alive again
 *
 * Evidence beyond silence:
 * - Refusal (ECONNREFUSED: the port is closed, the process is gone) is strong evidence. It starts an immediate
 *   ping-req round so one confused observer cannot convict; if a helper is refused too and nobody gets an ack,
 *   the suspicion runs on `refusalSuspicionTimeoutMs` instead of the long dynamic timeout.
 * - φ above the threshold raises suspicion even when probes get lucky, but only while our own health is perfect
 *   (a sick node sees everyone as slow) and only once per silence.
 * - The buddy system: a ping to a suspect (or dead) member carries that accusation, so it can refute at once.
 *
 * Membership state is ordered by (generation, incarnation) in the MemberTable; a restarted node has a higher
 * generation and is alive again everywhere as soon as its alive update arrives. Join goes through seeds with a
 * push-pull (full state over a stream call), retried with backoff until one of our own seeds answers (being
 * reached by others is not enough: chained seeds would settle into islands); a node that comes to hold everyone
 * else dead goes back to its seeds. Push-pull then repeats every pushPullIntervalMs with a random member, one
 * member held dead and one seed that is no live member, which heals partitions, even one that outlasted the
 * reaping of dead records. `leave()` gossips `left`, which ends the generation everywhere.
 */
import { assert, unreachable } from '../primitives/assert.ts'
import type { CallId, Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { Random } from '../primitives/random.ts'
import { sample } from '../primitives/random.ts'
import type { CallFailure, Carrier } from '../node/input.ts'
import type { NodeConfig } from '../node/node-config.ts'
import { DisseminationQueue } from './dissemination-queue.ts'
import { emergentLeader } from './emergent-leader.ts'
import { LocalHealth } from './local-health.ts'
import { MemberTable, isLive, recordToUpdate } from './member-table.ts'
import type { MemberRecord } from './member-table.ts'
import type {
  MembershipCallOutcome,
  MembershipEffect,
  MembershipEvent,
} from './membership-effect.ts'
import { logEffect } from './membership-effect.ts'
import {
  DATAGRAM_ENVELOPE_RESERVE_BYTES,
  estimateEncodedBytes,
  isWellFormedUpdate,
} from './membership-messages.ts'
import type {
  DatagramMessage,
  MemberMetadata,
  MemberState,
  MemberUpdate,
  MembershipMessage,
  SwimAck,
  SwimIndirectAck,
  SwimNack,
  SwimPing,
  SwimPingReq,
  SwimPushPullRequest,
} from './membership-messages.ts'
import { PhiAccrualDetector } from './phi-accrual-detector.ts'
import { ProbeOrder } from './probe-order.ts'
import { Suspicion, expectedConfirmations, suspicionTimeoutMinMs } from './suspicion.ts'

/** The node config fields membership reads. */
export type SwimConfig = Pick<
  NodeConfig,
  | 'probeIntervalMs'
  | 'probeTimeoutMs'
  | 'indirectProbes'
  | 'retransmitMultiplier'
  | 'phiThreshold'
  | 'phiWindowSize'
  | 'phiMinStdDevMs'
  | 'suspicionMultiplier'
  | 'suspicionMaxTimeoutMultiplier'
  | 'awarenessMaxMultiplier'
  | 'pushPullIntervalMs'
  | 'deadMemberReapMs'
  | 'maxDatagramBytes'
  | 'gossipIntervalMs'
  | 'gossipFanout'
  | 'refusalSuspicionTimeoutMs'
>

/** Who this node is, for this process lifetime. */
export interface SwimIdentity {
  readonly id: NodeId
  readonly address: PeerAddress
  /** The generation clock's value for this start: max(stored + 1, unix seconds), persisted by the shell. */
  readonly generation: number
  readonly metadata: MemberMetadata
}

/** The narrow capabilities Swim needs. */
export interface SwimPorts {
  readonly random: Random
  /** Call ids are unique per node across every module that makes calls, so the node hands them out. */
  readonly nextCallId: () => CallId
}

/** One row of `/cluster/members`. */
export interface MemberView {
  readonly id: NodeId
  readonly address: PeerAddress
  readonly state: MemberState
  readonly generation: number
  readonly incarnation: number
  readonly phi: number
  readonly metadata: MemberMetadata
}

/** Things worth a metric: dropped and odd input, counted instead of crashing or logging each one. */
export interface SwimCounters {
  malformedUpdates: number
  misdirectedPings: number
  unexpectedMessages: number
  relaysDropped: number
  eventsDropped: number
  refusalChecks: number
  /**
   * Updates about an older generation than the one we hold: a previous life's late gossip, such as a `left` or
   * `dead` that arrives after the node restarted. Dropped; the record is already newer.
   */
  staleGenerationUpdates: number
  /** `dead` or `left` about a node we never knew: nothing to bury, and learning of it would resurrect reaped records. */
  strangerObituaries: number
  /** Updates naming another node at this node's own address (a corrupt or forged id): never probed. */
  addressConflicts: number
  /** Acks, nacks and indirect acks that match no probe or relay of ours: late or duplicated (a few are normal), or forged. */
  unmatchedReplies: number
  newerGenerationsOfSelf: number
  /** Accusations we raised, by cause. */
  probeSuspicions: number
  phiSuspicions: number
  refutations: number
}

// ---- limits (STYLE rule 7) ---------------------------------------------------------------------------------
/** Updates merged from one datagram; a compound datagram under 1400 bytes holds far fewer. */
const MAX_UPDATES_PER_DATAGRAM = 64
/** Members merged from one push-pull; far above any cluster we run, it only stops a hostile peer. */
const MAX_PUSH_PULL_MEMBERS = 4_096
/** Ping-reqs we relay at once as a helper; beyond this we are too busy to help and stay silent. */
const MAX_PENDING_RELAYS = 256
/** Refusal checks in flight at once (each one sends k ping-reqs). */
const MAX_REFUSAL_CHECKS = 16
/** Queued gossip updates; one per member at most, so this bounds the cluster size gossip serves well. */
const DISSEMINATION_CAPACITY = 4_096
/** Membership events waiting for the node to drain them. */
const MAX_PENDING_EVENTS = 1_024
/** A push-pull call gets this many protocol periods: it moves a full table over TCP. */
const PUSH_PULL_TIMEOUT_PERIODS = 5
/**
 * Silence this many periods beyond a peer's mean is not evidence: arrivals from one peer are sparse and bursty
 * (its probes of us, our probes of it, gossip when there is news), with a longer tail than the normal model.
 */
const PHI_ACCEPTABLE_PAUSE_PERIODS = 2
/** Arrivals within this fraction of a period are one φ heartbeat (an ack and its gossip arrive together). */
const PHI_BURST_FRACTION = 4

type ProbeReason = 'periodic' | 'refusal'

interface Probe {
  readonly seq: number
  readonly reason: ProbeReason
  readonly target: NodeId
  readonly targetAddress: PeerAddress
  phase: 'direct' | 'indirect'
  readonly directDeadlineMs: Millis
  readonly endMs: Millis
  helpers: number
  nacks: number
  refusedNacks: number
  /** Our own send or call to the target was refused during this probe. */
  refusedDirect: boolean
}

/** A ping we send as a ping-req helper on someone else's behalf. */
interface Relay {
  readonly requester: PeerAddress
  readonly requesterSeq: number
  readonly target: NodeId
  readonly targetAddress: PeerAddress
  readonly deadlineMs: Millis
}

type PendingCall =
  | { readonly kind: 'fallback-ping'; readonly seq: number }
  | { readonly kind: 'push-pull'; readonly join: boolean }

type Out = MembershipEffect[]

export class Swim {
  private readonly config: SwimConfig
  private readonly random: Random
  private readonly nextCallId: () => CallId
  private readonly identity: SwimIdentity
  private incarnationValue = 0
  private leaving = false
  private lastNowMs: Millis

  private readonly table = new MemberTable()
  private leaderCache: { readonly version: number; readonly leader: NodeId | null } | null = null
  private readonly queue: DisseminationQueue
  private readonly phi: PhiAccrualDetector
  private readonly health: LocalHealth
  private readonly order: ProbeOrder
  private readonly suspicions = new Map<NodeId, Suspicion>()
  /** For each member φ suspected, the arrival it was silent since: no second φ accusation for the same silence. */
  private readonly phiSuspectedSince = new Map<NodeId, Millis>()
  private readonly lastRefusalCheckMs = new Map<NodeId, Millis>()

  private readonly probes = new Map<number, Probe>()
  private readonly relays = new Map<number, Relay>()
  private readonly calls = new Map<CallId, PendingCall>()
  private nextSeq = 1
  private priorityTarget: NodeId | null = null

  private nextProbeAtMs: Millis
  private nextGossipAtMs: Millis
  private nextPushPullAtMs: Millis
  private nextReapAtMs: Millis

  private seeds: PeerAddress[] = []
  private joined = true
  private joinBackoffMs: Millis
  private nextJoinAttemptAtMs: Millis = 0
  private readonly joinCallsInFlight = new Set<PeerAddress>()

  private readonly events: MembershipEvent[] = []
  private lastLeader: NodeId | null = null
  readonly counters: SwimCounters = {
    malformedUpdates: 0,
    misdirectedPings: 0,
    unexpectedMessages: 0,
    relaysDropped: 0,
    eventsDropped: 0,
    refusalChecks: 0,
    staleGenerationUpdates: 0,
    strangerObituaries: 0,
    addressConflicts: 0,
    unmatchedReplies: 0,
    newerGenerationsOfSelf: 0,
    probeSuspicions: 0,
    phiSuspicions: 0,
    refutations: 0,
  }

  constructor(identity: SwimIdentity, ports: SwimPorts, config: SwimConfig, nowMs: Millis) {
    assert(config.probeTimeoutMs < config.probeIntervalMs, 'probe timeout must be below the probe interval')
    assert(Number.isSafeInteger(identity.generation) && identity.generation >= 0, 'generation must be an integer ≥ 0')
    this.identity = identity
    this.config = config
    this.random = ports.random
    this.nextCallId = ports.nextCallId
    this.lastNowMs = nowMs
    this.queue = new DisseminationQueue({
      retransmitMultiplier: config.retransmitMultiplier,
      capacity: DISSEMINATION_CAPACITY,
    })
    this.phi = new PhiAccrualDetector({
      windowSize: config.phiWindowSize,
      minStdDevMs: config.phiMinStdDevMs,
      minIntervalMs: config.probeIntervalMs / PHI_BURST_FRACTION,
      acceptablePauseMs: PHI_ACCEPTABLE_PAUSE_PERIODS * config.probeIntervalMs,
    })
    this.health = new LocalHealth({ maxScore: config.awarenessMaxMultiplier, lagPerPointMs: config.probeTimeoutMs / 2 })
    this.order = new ProbeOrder(this.random)
    this.joinBackoffMs = config.probeIntervalMs
    // Stagger the first probe and gossip within one period so that nodes started together do not beat in step.
    this.nextProbeAtMs = nowMs + this.random.nextInt(Math.max(1, config.probeIntervalMs))
    this.nextGossipAtMs = nowMs + this.random.nextInt(Math.max(1, config.gossipIntervalMs))
    this.nextPushPullAtMs = nowMs + config.pushPullIntervalMs
    this.nextReapAtMs = nowMs + config.probeIntervalMs
    this.table.apply(this.selfUpdate('alive'), nowMs)
    this.lastLeader = this.leader()
  }

  // ---- public inputs -------------------------------------------------------------------------------------

  /** Starts joining through `seedAddresses`; retried with backoff on every tick until one answers a push-pull. */
  join(seedAddresses: readonly PeerAddress[], nowMs: Millis): MembershipEffect[] {
    this.advanceTime(nowMs)
    this.seeds = [...new Set(seedAddresses)].filter((seed) => seed !== this.identity.address).sort()
    this.joined = this.seeds.length === 0
    this.joinBackoffMs = this.config.probeIntervalMs
    this.nextJoinAttemptAtMs = nowMs
    const out: Out = []
    this.advanceJoin(nowMs, out)
    return out
  }

  /**
   * Gossips `left` for this generation to every live member and stops probing. Keep ticking until
   * `isLeaveDisseminated()` (or a deadline), then exit: pings are still answered meanwhile, so nobody suspects
   * a node that is merely on its way out.
   */
  leave(nowMs: Millis): MembershipEffect[] {
    this.advanceTime(nowMs)
    const out: Out = []
    if (this.leaving) return out
    this.leaving = true
    this.incarnationValue++
    const left = this.selfUpdate('left')
    this.table.apply(left, nowMs)
    this.queue.enqueue(left)
    // Every live member hears it directly: the queue alone would spend the retransmit limit on the first few.
    for (const member of this.liveOthers()) {
      out.push(this.sendDatagram(member.address, { kind: 'swim-gossip', from: this.identity.id, updates: [left] }))
    }
    out.push(logEffect('info', 'membership.leave', { incarnation: this.incarnationValue }))
    this.noteLeader()
    return out
  }

  tick(nowMs: Millis): MembershipEffect[] {
    this.advanceTime(nowMs)
    const out: Out = []
    this.rejoinIfAlone(nowMs)
    this.advanceJoin(nowMs, out)
    this.advanceProbes(nowMs, out)
    this.advanceRelays(nowMs, out)
    if (nowMs >= this.nextProbeAtMs) this.startPeriodicProbe(nowMs, out)
    this.expireSuspicions(nowMs, out)
    this.checkPhi(nowMs, out)
    if (nowMs >= this.nextGossipAtMs) this.gossip(nowMs, out)
    if (nowMs >= this.nextPushPullAtMs) this.startPushPull(nowMs, out)
    if (nowMs >= this.nextReapAtMs) this.reap(nowMs)
    this.noteLeader()
    return out
  }

  /** A datagram (or one-way stream message) from `from`. */
  receive(from: PeerAddress, message: MembershipMessage, nowMs: Millis): MembershipEffect[] {
    this.advanceTime(nowMs)
    const out: Out = []
    this.heardFrom(message.from, nowMs)
    switch (message.kind) {
      case 'swim-ping':
      case 'swim-ack':
      case 'swim-ping-req':
      case 'swim-nack':
      case 'swim-indirect-ack':
      case 'swim-gossip':
        this.applyUpdates(message.updates.slice(0, MAX_UPDATES_PER_DATAGRAM), nowMs, out)
        this.handleDatagram(from, message, nowMs, out)
        break
      case 'swim-push-pull-request':
      case 'swim-push-pull-response':
        // Push-pull travels only as a call and its response; one arriving as a datagram is a confused peer.
        this.counters.unexpectedMessages++
        break
      default:
        unreachable(message)
    }
    this.noteLeader()
    return out
  }

  /** A request over the stream carrier that expects exactly one `respond` effect. */
  receiveCall(from: PeerAddress, callId: CallId, message: MembershipMessage, nowMs: Millis): MembershipEffect[] {
    this.advanceTime(nowMs)
    const out: Out = []
    this.heardFrom(message.from, nowMs)
    switch (message.kind) {
      case 'swim-ping':
        this.answerStreamPing(from, callId, message, nowMs, out)
        break
      case 'swim-push-pull-request':
        this.answerPushPull(from, callId, message, nowMs, out)
        break
      default:
        this.counters.unexpectedMessages++
        out.push(this.respond(from, callId, this.nack(0, this.identity.id, false, [])))
    }
    this.noteLeader()
    return out
  }

  /** Whether `callId` is one of ours; the node routes call-result inputs by it. */
  ownsCall(callId: CallId): boolean {
    return this.calls.has(callId)
  }

  callResult(callId: CallId, to: PeerAddress, outcome: MembershipCallOutcome, nowMs: Millis): MembershipEffect[] {
    this.advanceTime(nowMs)
    const out: Out = []
    const pending = this.calls.get(callId)
    if (pending === undefined) return out
    this.calls.delete(callId)
    if (outcome.kind === 'failed') {
      const joinCall = pending.kind === 'push-pull' && pending.join
      if (joinCall) this.joinCallsInFlight.delete(to)
      // A seed refusing a join call says only that its process was not up yet when we called, typically because
      // the cluster is starting together; by the time the refusal arrives that seed may be up and known to us.
      // Taken as evidence, it made every node starting early suspect the nodes starting after it, with only the
      // short refusal timeout to refute in (50 nodes, every seed: hundreds of suspicions in the first period).
      if (outcome.reason === 'refused' && !joinCall) this.noteRefused(to, nowMs, out)
      return out
    }
    this.heardFrom(outcome.message.from, nowMs)
    switch (pending.kind) {
      case 'fallback-ping':
        if (outcome.message.kind === 'swim-ack') this.probeAcked(pending.seq, outcome.message.from, nowMs)
        break
      case 'push-pull':
        this.pushPullAnswered(to, pending.join, outcome.message, nowMs, out)
        break
      default:
        unreachable(pending)
    }
    this.noteLeader()
    return out
  }

  /** A one-way send the transport could not deliver. Only `refused` is evidence; the rest is silence. */
  sendFailed(to: PeerAddress, reason: CallFailure, nowMs: Millis): MembershipEffect[] {
    this.advanceTime(nowMs)
    const out: Out = []
    if (reason === 'refused') this.noteRefused(to, nowMs, out)
    this.noteLeader()
    return out
  }

  /** The shell measured event-loop lag; long lag counts against our own health (Lifeguard). */
  reportLag(lagMs: Millis): void {
    this.health.reportLag(lagMs)
  }

  // ---- public queries ------------------------------------------------------------------------------------

  members(nowMs: Millis): MemberView[] {
    return this.table.all().map((record) => ({
      id: record.id,
      address: record.address,
      state: record.state,
      generation: record.generation,
      incarnation: record.incarnation,
      phi: record.id === this.identity.id ? 0 : this.phi.phi(record.id, nowMs),
      metadata: record.metadata,
    }))
  }

  member(id: NodeId): MemberRecord | undefined {
    return this.table.get(id)
  }

  /** Every record, sorted by node id, without computing φ: for checkers that read views often. */
  records(): readonly MemberRecord[] {
    return this.table.all()
  }

  /** Changes whenever the member table does, so a checker can skip reading an unchanged view. */
  get tableVersion(): number {
    return this.table.version
  }

  /** The oldest live member by (generation, node id), as this node sees it; null once we have left. */
  leader(): NodeId | null {
    // Asked on every tick and every message (noteLeader, placement): recomputed only when the table changed.
    const version = this.table.version
    if (this.leaderCache?.version !== version) this.leaderCache = { version, leader: emergentLeader(this.table.all()) }
    return this.leaderCache.leader
  }

  /** Membership events since the last call, oldest first. */
  drainEvents(): MembershipEvent[] {
    return this.events.splice(0, this.events.length)
  }

  get id(): NodeId {
    return this.identity.id
  }

  get incarnation(): number {
    return this.incarnationValue
  }

  get isJoined(): boolean {
    return this.joined
  }

  get isLeaving(): boolean {
    return this.leaving
  }

  /** True once our `left` has been sent its full retransmit count: the shell may exit now. */
  isLeaveDisseminated(): boolean {
    return this.leaving && this.queue.peek(this.identity.id) === undefined
  }

  get localHealthScore(): number {
    return this.health.score
  }

  /** Gossip updates waiting to be sent (for metrics and tests). */
  get pendingUpdates(): number {
    return this.queue.length
  }

  // ---- datagrams -----------------------------------------------------------------------------------------

  private handleDatagram(from: PeerAddress, message: DatagramMessage, nowMs: Millis, out: Out): void {
    switch (message.kind) {
      case 'swim-ping':
        this.answerPing(from, message, out)
        break
      case 'swim-ack':
        this.handleAck(message, nowMs, out)
        break
      case 'swim-ping-req':
        this.relayPing(from, message, nowMs, out)
        break
      case 'swim-nack':
        this.handleNack(message, nowMs, out)
        break
      case 'swim-indirect-ack':
        this.handleIndirectAck(message, nowMs)
        break
      case 'swim-gossip':
        break
      default:
        unreachable(message)
    }
  }

  private answerPing(from: PeerAddress, ping: SwimPing, out: Out): void {
    if (ping.target !== this.identity.id) {
      // Meant for a node that used to live at this address; acking would vouch for it.
      this.counters.misdirectedPings++
      return
    }
    out.push(this.sendDatagram(from, this.ack(ping.seq, []), ping.from))
  }

  private answerStreamPing(from: PeerAddress, callId: CallId, ping: SwimPing, nowMs: Millis, out: Out): void {
    this.applyUpdates(ping.updates.slice(0, MAX_UPDATES_PER_DATAGRAM), nowMs, out)
    if (ping.target !== this.identity.id) {
      this.counters.misdirectedPings++
      out.push(this.respond(from, callId, this.nack(ping.seq, ping.target, false, [])))
      return
    }
    const ack = this.withUpdates(this.ack(ping.seq, []), ping.from)
    out.push(this.respond(from, callId, ack))
  }

  private handleAck(ack: SwimAck, nowMs: Millis, out: Out): void {
    const relay = this.relays.get(ack.seq)
    if (relay !== undefined) {
      if (ack.from !== relay.target) {
        this.counters.unmatchedReplies++
        return
      }
      this.relays.delete(ack.seq)
      const indirect: SwimIndirectAck = {
        kind: 'swim-indirect-ack',
        seq: relay.requesterSeq,
        from: this.identity.id,
        target: relay.target,
        updates: [],
      }
      out.push(this.sendDatagram(relay.requester, indirect))
      return
    }
    this.probeAcked(ack.seq, ack.from, nowMs)
  }

  private handleIndirectAck(message: SwimIndirectAck, nowMs: Millis): void {
    this.probeAcked(message.seq, message.target, nowMs)
  }

  private handleNack(nack: SwimNack, nowMs: Millis, out: Out): void {
    const probe = this.probes.get(nack.seq)
    if (probe === undefined || probe.target !== nack.target) {
      this.counters.unmatchedReplies++
      return
    }
    probe.nacks++
    if (nack.refused) probe.refusedNacks++
    // With our own send refused and every helper answered, waiting longer adds nothing: conclude now.
    if (probe.refusedDirect && probe.phase === 'indirect' && probe.nacks >= probe.helpers) {
      this.probeFailed(probe, nowMs, out)
    }
  }

  /** As a ping-req helper: ping the target ourselves and remember whom to tell. */
  private relayPing(from: PeerAddress, request: SwimPingReq, nowMs: Millis, out: Out): void {
    if (this.relays.size >= MAX_PENDING_RELAYS) {
      this.counters.relaysDropped++
      return
    }
    const seq = this.nextSeq++
    this.relays.set(seq, {
      requester: from,
      requesterSeq: request.seq,
      target: request.target,
      targetAddress: request.targetAddress,
      deadlineMs: nowMs + this.config.probeTimeoutMs,
    })
    const ping: SwimPing = { kind: 'swim-ping', seq, from: this.identity.id, target: request.target, updates: [] }
    out.push(this.sendDatagram(request.targetAddress, ping, request.target))
  }

  /** Lifeguard: a helper that heard nothing says so, which tells the requester its own network works. */
  private advanceRelays(nowMs: Millis, out: Out): void {
    for (const [seq, relay] of this.relays) {
      if (nowMs < relay.deadlineMs) continue
      this.relays.delete(seq)
      out.push(this.sendDatagram(relay.requester, this.nack(relay.requesterSeq, relay.target, false, [])))
    }
  }

  // ---- probing -------------------------------------------------------------------------------------------

  private startPeriodicProbe(nowMs: Millis, out: Out): void {
    this.nextProbeAtMs = nowMs + this.health.scale(this.config.probeIntervalMs)
    if (this.leaving) return
    const target = this.nextProbeTarget()
    if (target === undefined) return
    const probe = this.newProbe('periodic', target, nowMs)
    const ping: SwimPing = { kind: 'swim-ping', seq: probe.seq, from: this.identity.id, target: target.id, updates: [] }
    out.push(this.sendDatagram(target.address, ping, target.id))
  }

  private nextProbeTarget(): MemberRecord | undefined {
    const eligible = (id: NodeId): boolean => {
      const record = this.table.get(id)
      return record !== undefined && id !== this.identity.id && isLive(record.state) && !this.isProbing(id)
    }
    const priority = this.priorityTarget
    this.priorityTarget = null
    const id = priority !== null && eligible(priority) ? priority : this.order.next(eligible)
    return id === undefined ? undefined : this.table.get(id)
  }

  private newProbe(reason: ProbeReason, target: MemberRecord, nowMs: Millis): Probe {
    const probe: Probe = {
      seq: this.nextSeq++,
      reason,
      target: target.id,
      targetAddress: target.address,
      phase: 'direct',
      directDeadlineMs: nowMs + this.health.scale(this.config.probeTimeoutMs),
      endMs: nowMs + this.health.scale(this.config.probeIntervalMs),
      helpers: 0,
      nacks: 0,
      refusedNacks: 0,
      refusedDirect: reason === 'refusal',
    }
    this.probes.set(probe.seq, probe)
    return probe
  }

  private isProbing(id: NodeId): boolean {
    for (const probe of this.probes.values()) if (probe.target === id) return true
    return false
  }

  private advanceProbes(nowMs: Millis, out: Out): void {
    for (const probe of [...this.probes.values()]) {
      if (probe.phase === 'direct' && nowMs >= probe.directDeadlineMs) this.startIndirect(probe, nowMs, out)
      if (nowMs >= probe.endMs && this.probes.has(probe.seq)) this.probeFailed(probe, nowMs, out)
    }
  }

  /** The direct ping went unanswered: ask k helpers, and try TCP unless the port already refused us. */
  private startIndirect(probe: Probe, nowMs: Millis, out: Out): void {
    probe.phase = 'indirect'
    const candidates = this.liveOthers().filter((member) => member.id !== probe.target)
    const helpers = sample(this.random, candidates, this.config.indirectProbes)
    probe.helpers = helpers.length
    for (const helper of helpers) {
      const request: SwimPingReq = {
        kind: 'swim-ping-req',
        seq: probe.seq,
        from: this.identity.id,
        target: probe.target,
        targetAddress: probe.targetAddress,
        updates: [],
      }
      out.push(this.sendDatagram(helper.address, request, helper.id))
    }
    if (!probe.refusedDirect) this.fallbackPing(probe, nowMs, out)
  }

  /** memberlist's TCP fallback: a stream ping survives heavy datagram loss that would fail every UDP probe. */
  private fallbackPing(probe: Probe, nowMs: Millis, out: Out): void {
    const callId = this.nextCallId()
    this.calls.set(callId, { kind: 'fallback-ping', seq: probe.seq })
    const ping: SwimPing = { kind: 'swim-ping', seq: probe.seq, from: this.identity.id, target: probe.target, updates: [] }
    out.push({
      kind: 'call',
      to: probe.targetAddress,
      callId,
      message: ping,
      timeoutMs: Math.max(1, probe.endMs - nowMs),
    })
  }

  private probeAcked(seq: number, from: NodeId, nowMs: Millis): void {
    const probe = this.probes.get(seq)
    if (probe === undefined || probe.target !== from) {
      this.counters.unmatchedReplies++
      return
    }
    this.probes.delete(seq)
    this.phiSuspectedSince.delete(from)
    this.health.applyDelta(-1)
    this.heardFrom(from, nowMs)
  }

  /**
   * No ack by the end of the period. Missing nacks count against our own health (Lifeguard): helpers that do
   * not even answer us suggest the problem is here. A refusal that a helper confirmed is strong evidence.
   */
  private probeFailed(probe: Probe, nowMs: Millis, out: Out): void {
    this.probes.delete(probe.seq)
    this.health.applyDelta(probe.helpers > 0 ? probe.helpers - probe.nacks : 1)
    const strong = probe.refusedDirect && probe.refusedNacks > 0
    this.counters.probeSuspicions++
    this.accuse(probe.target, strong, nowMs, out)
  }

  // ---- refusal: strong evidence, confirmed through helpers ----------------------------------------------

  private noteRefused(address: PeerAddress, nowMs: Millis, out: Out): void {
    this.nackRefusedRelays(address, out)
    const record = this.table.byAddress(address)
    if (record === undefined || record.id === this.identity.id || !isLive(record.state) || this.leaving) return
    const probe = [...this.probes.values()].find((candidate) => candidate.target === record.id)
    if (probe !== undefined) {
      probe.refusedDirect = true
      if (probe.phase === 'direct') this.startIndirect(probe, nowMs, out)
      return
    }
    this.startRefusalCheck(record, nowMs, out)
  }

  /** As a helper, a refused ping to the target is news for the requester at once. */
  private nackRefusedRelays(address: PeerAddress, out: Out): void {
    for (const [seq, relay] of this.relays) {
      if (relay.targetAddress !== address) continue
      this.relays.delete(seq)
      out.push(this.sendDatagram(relay.requester, this.nack(relay.requesterSeq, relay.target, true, [])))
    }
  }

  /** At most one check per member per protocol period, and a bounded number at once. */
  private startRefusalCheck(record: MemberRecord, nowMs: Millis, out: Out): void {
    const lastMs = this.lastRefusalCheckMs.get(record.id)
    if (lastMs !== undefined && nowMs - lastMs < this.config.probeIntervalMs) return
    const checks = [...this.probes.values()].filter((probe) => probe.reason === 'refusal').length
    if (checks >= MAX_REFUSAL_CHECKS) return
    this.lastRefusalCheckMs.set(record.id, nowMs)
    this.counters.refusalChecks++
    const probe = this.newProbe('refusal', record, nowMs)
    this.startIndirect(probe, nowMs, out)
  }

  // ---- suspicion -----------------------------------------------------------------------------------------

  /** Our own accusation: suspect the member (or confirm an existing suspicion), gossiping it either way. */
  private accuse(id: NodeId, strong: boolean, nowMs: Millis, out: Out): void {
    const record = this.table.get(id)
    if (record === undefined || !isLive(record.state) || this.leaving) return
    const suspect: MemberUpdate = { ...recordToUpdate(record, this.identity.id), kind: 'suspect', accuser: this.identity.id }
    this.applyUpdate(suspect, nowMs, out)
    if (strong) this.suspicions.get(id)?.capTimeout(this.config.refusalSuspicionTimeoutMs)
    if (record.state === 'alive') {
      out.push(logEffect('info', 'membership.suspect', { node: id, strong, incarnation: record.incarnation }))
    }
  }

  private startSuspicion(record: MemberRecord, accuser: NodeId, nowMs: Millis): void {
    const clusterSize = this.liveCount()
    const minMs = this.health.scale(
      suspicionTimeoutMinMs(this.config.suspicionMultiplier, clusterSize, this.config.probeIntervalMs),
    )
    this.suspicions.set(
      record.id,
      new Suspicion({
        suspect: record.id,
        generation: record.generation,
        incarnation: record.incarnation,
        accuser,
        startedAtMs: nowMs,
        minTimeoutMs: minMs,
        maxTimeoutMs: minMs * this.config.suspicionMaxTimeoutMultiplier,
        expectedConfirmations: expectedConfirmations(this.config.suspicionMultiplier, clusterSize),
      }),
    )
  }

  private expireSuspicions(nowMs: Millis, out: Out): void {
    if (this.leaving) return
    for (const suspicion of [...this.suspicions.values()]) {
      if (!suspicion.isExpired(nowMs)) continue
      this.suspicions.delete(suspicion.suspect)
      const record = this.table.get(suspicion.suspect)
      if (record === undefined || record.state !== 'suspect') continue
      if (record.generation !== suspicion.generation || record.incarnation !== suspicion.incarnation) continue
      const dead: MemberUpdate = { ...recordToUpdate(record, this.identity.id), kind: 'dead', accuser: this.identity.id }
      this.applyUpdate(dead, nowMs, out)
      out.push(logEffect('info', 'membership.dead', { node: record.id, suspectedForMs: nowMs - suspicion.startedAtMs }))
    }
  }

  /**
   * φ over the threshold is an accusation even if some probe got lucky. Only with perfect local health (a slow
   * node sees everyone as slow) and once per silence: after accusing, wait for the member to be heard again.
   */
  private checkPhi(nowMs: Millis, out: Out): void {
    if (this.leaving || this.health.score > 0) return
    for (const record of this.table.all()) {
      if (record.state !== 'alive' || record.id === this.identity.id) continue
      if (this.phi.phi(record.id, nowMs) <= this.config.phiThreshold) continue
      const silentSinceMs = this.phi.lastArrivalMs(record.id)
      if (silentSinceMs === undefined || this.phiSuspectedSince.get(record.id) === silentSinceMs) continue
      this.phiSuspectedSince.set(record.id, silentSinceMs)
      this.counters.phiSuspicions++
      this.accuse(record.id, false, nowMs, out)
      // Probe it next so that the buddy system tells it at once and a live member refutes quickly.
      this.priorityTarget = record.id
    }
  }

  // ---- merging updates -----------------------------------------------------------------------------------

  private applyUpdates(updates: readonly MemberUpdate[], nowMs: Millis, out: Out): void {
    for (const update of updates) this.applyUpdate(update, nowMs, out)
  }

  /**
   * Merges one update into the table. Accepted updates are re-gossiped (infection style); duplicates of a
   * suspicion may confirm it. Warning: re-gossiping duplicates would make every update circulate forever.
   */
  private applyUpdate(update: MemberUpdate, nowMs: Millis, out: Out): void {
    if (!isWellFormedUpdate(update)) {
      this.counters.malformedUpdates++
      return
    }
    if (update.node === this.identity.id) {
      this.applySelfUpdate(update, nowMs, out)
      return
    }
    // Only this node lives at its address. Another id there is a corrupt or forged update (a flipped byte in an id
    // survives the compact codec); taking it in would have this node probe itself, and a table with two names
    // for one process would confuse placement.
    if (update.address === this.identity.address) {
      this.counters.addressConflicts++
      return
    }
    const before = this.table.get(update.node)
    // A member we never knew is of no interest once it is gone; learning of it from a dead or left update would
    // let push-pull bounce reaped records between members forever.
    if (before === undefined && (update.kind === 'dead' || update.kind === 'left')) {
      this.counters.strangerObituaries++
      return
    }
    const outcome = this.table.apply(update, nowMs)
    if (outcome === 'stale') {
      if (before !== undefined && update.generation < before.generation) this.counters.staleGenerationUpdates++
      return
    }
    if (outcome === 'duplicate') {
      if (update.kind === 'suspect') this.confirmSuspicion(update.node, update.accuser, update)
      return
    }
    this.queue.enqueue(update)
    const after = this.table.get(update.node) as MemberRecord
    this.recordChanged(before, after, update, nowMs)
  }

  private confirmSuspicion(id: NodeId, accuser: NodeId, update: MemberUpdate): void {
    const suspicion = this.suspicions.get(id)
    if (suspicion === undefined) return
    if (suspicion.generation !== update.generation || suspicion.incarnation !== update.incarnation) return
    // Counted confirmations are re-gossiped so that other members' timers shrink too.
    if (suspicion.confirm(accuser)) this.queue.enqueue(update)
  }

  private recordChanged(before: MemberRecord | undefined, after: MemberRecord, update: MemberUpdate, nowMs: Millis): void {
    const newLife = before === undefined || before.generation !== after.generation
    if (newLife) this.phi.remove(after.id)
    if (after.state === 'suspect') {
      const accuser = update.kind === 'suspect' ? update.accuser : this.identity.id
      this.startSuspicion(after, accuser, nowMs)
    } else {
      this.suspicions.delete(after.id)
    }
    if (isLive(after.state)) this.order.insert(after.id)
    else this.order.remove(after.id)
    this.emitTransition(before, after, newLife)
  }

  private emitTransition(before: MemberRecord | undefined, after: MemberRecord, newLife: boolean): void {
    const wasLive = before !== undefined && isLive(before.state)
    if (isLive(after.state) && (newLife || !wasLive)) {
      this.emit({ kind: 'member-up', node: after.id, generation: after.generation })
    } else if (after.state === 'dead' && wasLive) {
      this.emit({ kind: 'member-down', node: after.id, generation: after.generation })
    } else if (after.state === 'left' && before?.state !== 'left') {
      this.emit({ kind: 'member-left', node: after.id, generation: after.generation })
    }
  }

  /**
   * Gossip about ourselves. An older generation is our previous life: ignore it. Within our generation, a
   * suspicion or death at our incarnation or above is refuted by gossiping alive with a higher incarnation.
   */
  private applySelfUpdate(update: MemberUpdate, nowMs: Millis, out: Out): void {
    if (update.generation < this.identity.generation) {
      this.counters.staleGenerationUpdates++
      return
    }
    if (update.generation > this.identity.generation) {
      // Another process runs under our id with a newer generation: we are the stale one. Say so once, not per
      // datagram; the operator has to stop one of us.
      if (this.counters.newerGenerationsOfSelf++ === 0) {
        out.push(logEffect('error', 'membership.newer-generation-of-self', { generation: update.generation }))
      }
      return
    }
    if (this.leaving || update.kind === 'left') return
    if (update.incarnation < this.incarnationValue) return
    if (update.kind === 'alive' && update.incarnation === this.incarnationValue) return
    this.refute(update, nowMs, out)
  }

  private refute(update: MemberUpdate, nowMs: Millis, out: Out): void {
    const previous = this.incarnationValue
    this.incarnationValue = update.incarnation + 1
    assert(this.incarnationValue > previous, 'incarnation must only grow')
    this.counters.refutations++
    // Having to refute is evidence that we are slow to answer (Lifeguard).
    this.health.applyDelta(1)
    const alive = this.selfUpdate('alive')
    this.table.apply(alive, nowMs)
    this.queue.enqueue(alive)
    out.push(logEffect('info', 'membership.refute', { accusedAs: update.kind, incarnation: this.incarnationValue }))
  }

  // ---- gossip, push-pull, join, reaping ------------------------------------------------------------------

  private gossip(nowMs: Millis, out: Out): void {
    this.nextGossipAtMs = nowMs + this.config.gossipIntervalMs
    if (this.queue.length === 0) return
    for (const member of sample(this.random, this.liveOthers(), this.config.gossipFanout)) {
      const message = this.withUpdates({ kind: 'swim-gossip', from: this.identity.id, updates: [] }, member.id)
      if (message.updates.length === 0) break
      out.push({ kind: 'send', to: member.address, carrier: 'datagram', message })
    }
  }

  private startPushPull(nowMs: Millis, out: Out): void {
    this.nextPushPullAtMs = nowMs + this.config.pushPullIntervalMs
    // Not gated on `joined`: a node that others found but whose own seeds have not answered yet still belongs to
    // whatever group found it, and should keep that group's view fresh meanwhile.
    if (this.leaving) return
    for (const pending of this.calls.values()) if (pending.kind === 'push-pull') return
    const [peer] = sample(this.random, this.liveOthers(), 1)
    if (peer !== undefined) out.push(this.pushPullCall(peer.address, false))
    // Also try one member we hold dead: after a partition each side holds the other dead, and only an exchange
    // across the cut heals it (Serf's reconnect). A truly dead member just fails the call.
    const dead = this.table.all().filter((record) => record.state === 'dead')
    const [lost] = sample(this.random, dead, 1)
    if (lost !== undefined) out.push(this.pushPullCall(lost.address, false))
    // And one seed that is no live member of ours. A partition that outlasts deadMemberReapMs leaves each side
    // with no record of the other at all, so the exchange above has nobody to call and the halves stay apart
    // for good (found by the long-partition test); the seeds are the addresses that outlive every record.
    const live = new Set(this.liveOthers().map((member) => member.address))
    const strangers = this.seeds.filter((seed) => !live.has(seed) && seed !== lost?.address)
    const [seed] = sample(this.random, strangers, 1)
    if (seed !== undefined) out.push(this.pushPullCall(seed, false))
  }

  private pushPullCall(to: PeerAddress, join: boolean): MembershipEffect {
    const callId = this.nextCallId()
    this.calls.set(callId, { kind: 'push-pull', join })
    const message: SwimPushPullRequest = {
      kind: 'swim-push-pull-request',
      from: this.identity.id,
      join,
      members: this.localState(),
    }
    return { kind: 'call', to, callId, message, timeoutMs: PUSH_PULL_TIMEOUT_PERIODS * this.config.probeIntervalMs }
  }

  private answerPushPull(from: PeerAddress, callId: CallId, request: SwimPushPullRequest, nowMs: Millis, out: Out): void {
    // Being reached does not make us joined. Warning: it used to, and nodes started together with chained seeds
    // (a's seed b, b's seed c, ...) then stopped calling their own seeds as soon as a neighbour reached them, and
    // settled into islands that never met, since periodic push-pull only picks members already in one's view
    // (test/sim/membership-convergence.test.ts, ring seeds). Only an answer from one of our own seeds joins us.
    this.applyUpdates(request.members.slice(0, MAX_PUSH_PULL_MEMBERS), nowMs, out)
    const response: MembershipMessage = {
      kind: 'swim-push-pull-response',
      from: this.identity.id,
      members: this.localState(),
    }
    out.push(this.respond(from, callId, response))
  }

  private pushPullAnswered(to: PeerAddress, join: boolean, message: MembershipMessage, nowMs: Millis, out: Out): void {
    if (join) this.joinCallsInFlight.delete(to)
    if (message.kind !== 'swim-push-pull-response') {
      this.counters.unexpectedMessages++
      return
    }
    this.applyUpdates(message.members.slice(0, MAX_PUSH_PULL_MEMBERS), nowMs, out)
    // A periodic exchange with a member of our own view does not join us to the seeds' cluster; see answerPushPull.
    if (!join || this.joined) return
    out.push(logEffect('info', 'membership.joined', { via: to }))
    this.joined = true
  }

  /**
   * A node that holds every other member dead (or knows none) has nobody to probe, gossip or push-pull with
   * except through those dead records every push-pull period. If it was the one survivor while the rest of the
   * cluster restarted, the new lives do not know it unless it is their seed, so it would sit alone until that
   * slow exchange (memberlist issue #311 in another guise). Going back to its seeds, with the backoff reset,
   * finds the cluster within a period or two of its return.
   */
  private rejoinIfAlone(nowMs: Millis): void {
    if (!this.joined || this.leaving || this.seeds.length === 0 || this.liveCount() > 1) return
    this.joined = false
    this.joinBackoffMs = this.config.probeIntervalMs
    this.nextJoinAttemptAtMs = nowMs
  }

  /** Until one seed answers, call every seed not already being called, doubling the wait up to a push-pull period. */
  private advanceJoin(nowMs: Millis, out: Out): void {
    if (this.joined || this.leaving || nowMs < this.nextJoinAttemptAtMs) return
    for (const seed of this.seeds) {
      if (this.joinCallsInFlight.has(seed)) continue
      this.joinCallsInFlight.add(seed)
      out.push(this.pushPullCall(seed, true))
    }
    this.nextJoinAttemptAtMs = nowMs + this.joinBackoffMs
    this.joinBackoffMs = Math.min(this.joinBackoffMs * 2, this.config.pushPullIntervalMs)
  }

  private reap(nowMs: Millis): void {
    this.nextReapAtMs = nowMs + this.config.probeIntervalMs
    for (const id of this.table.reap(nowMs, this.config.deadMemberReapMs)) {
      this.phi.remove(id)
      this.order.remove(id)
      this.suspicions.delete(id)
      this.phiSuspectedSince.delete(id)
      this.lastRefusalCheckMs.delete(id)
    }
  }

  // ---- helpers -------------------------------------------------------------------------------------------

  private advanceTime(nowMs: Millis): void {
    assert(nowMs >= this.lastNowMs, () => `time went backwards: ${nowMs} < ${this.lastNowMs}`)
    this.lastNowMs = nowMs
  }

  /** Any message from a known live member is a heartbeat for φ. */
  private heardFrom(id: NodeId, nowMs: Millis): void {
    if (id === this.identity.id) return
    const record = this.table.get(id)
    if (record !== undefined && isLive(record.state)) this.phi.heartbeat(id, nowMs)
  }

  private selfUpdate(kind: 'alive' | 'left'): MemberUpdate {
    return {
      kind,
      node: this.identity.id,
      address: this.identity.address,
      generation: this.identity.generation,
      incarnation: this.incarnationValue,
      metadata: this.identity.metadata,
    }
  }

  private liveOthers(): MemberRecord[] {
    return this.table.all().filter((record) => record.id !== this.identity.id && isLive(record.state))
  }

  private liveCount(): number {
    return this.table.liveCount()
  }

  private localState(): MemberUpdate[] {
    return this.table.all().map((record) => recordToUpdate(record, this.identity.id))
  }

  private ack(seq: number, updates: readonly MemberUpdate[]): SwimAck {
    return { kind: 'swim-ack', seq, from: this.identity.id, updates }
  }

  private nack(seq: number, target: NodeId, refused: boolean, updates: readonly MemberUpdate[]): SwimNack {
    return { kind: 'swim-nack', seq, from: this.identity.id, target, refused, updates }
  }

  private respond(to: PeerAddress, callId: CallId, message: MembershipMessage): MembershipEffect {
    return { kind: 'respond', to, callId, message }
  }

  private sendDatagram(to: PeerAddress, message: DatagramMessage, recipient?: NodeId): MembershipEffect {
    const carrier: Carrier = 'datagram'
    return { kind: 'send', to, carrier, message: this.withUpdates(message, recipient) }
  }

  /**
   * Fills the message's `updates` from the dissemination queue up to the datagram budget. The buddy system
   * (Lifeguard): a message to a member we hold suspect or dead leads with that accusation, so it can refute now
   * rather than when gossip happens to reach it.
   */
  private withUpdates<M extends DatagramMessage>(message: M, recipient?: NodeId): M {
    let budgetBytes = this.config.maxDatagramBytes - DATAGRAM_ENVELOPE_RESERVE_BYTES - estimateEncodedBytes(message)
    const updates = [...message.updates]
    const buddy = recipient === undefined ? undefined : this.accusationAbout(recipient)
    if (buddy !== undefined && !updates.some((update) => update.node === buddy.node)) {
      updates.push(buddy)
      budgetBytes -= estimateEncodedBytes(buddy)
    }
    const carried = new Set(updates.map((update) => update.node))
    updates.push(...this.queue.take(Math.max(0, budgetBytes), this.liveCount(), carried))
    return { ...message, updates }
  }

  private accusationAbout(id: NodeId): MemberUpdate | undefined {
    const record = this.table.get(id)
    if (record === undefined || (record.state !== 'suspect' && record.state !== 'dead')) return undefined
    return recordToUpdate(record, this.identity.id)
  }

  private emit(event: MembershipEvent): void {
    if (this.events.length >= MAX_PENDING_EVENTS) {
      this.events.shift()
      this.counters.eventsDropped++
    }
    this.events.push(event)
  }

  private noteLeader(): void {
    const leader = this.leader()
    if (leader === this.lastLeader) return
    this.lastLeader = leader
    this.emit({ kind: 'leader-changed', leader })
  }
}
