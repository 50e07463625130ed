/**
 * The request coordinator: any node coordinates any client request. It resolves the bucket's n and the request's
 * r/w/pr/pw, picks the replicas (replica-targets.ts), asks them, feeds their answers into a pure quorum
 * accumulator, and answers the client as soon as the quorum is met, with `unavailable` {required, acknowledged}
 * as soon as it can no longer be met, or with `timeout` at the deadline. Open requests wait in a request waiting
 * list keyed by a local id; the deadlines are checked on tick.
 *
 * Writes: a dot must be minted by a primary. A coordinator that is a live primary of the key mints itself (as
 * Riak's put FSM coordinates on a node of the preference list); any other forwards the write to the first live
 * primary (replica-write) and relays its answer. The primary mints with its own actor, persists, then sends
 * the merged object to the other targets, which merge it (never overwrite); a fallback among them also keeps a
 * hint for the primary it stands in for. A forward refused or unreachable never arrived, so the coordinator tries
 * the next live primary; a forward that timed out may have been applied and is answered `timeout`
 * (indeterminate, as the client must treat it).
 *
 * Reads: each replica read costs a storage read, two frames and a decode, so only as many targets are asked as
 * can meet r and pr (read-quorum.ts picks them): this node first when it is a target (a local read crosses no
 * network), then the others in preference order from a random offset, so that reads of a key spread over its
 * replicas. A failed answer (unreachable, refused, storage error) asks the next target at once; if the quorum
 * is still pending `speculativeReadMs` after the request, every remaining target is asked (a slow replica
 * costs one delay, not a timeout). 0 asks every target at once, in preference order. The answer goes out at r
 * replies; the accumulator keeps collecting until every asked target answered (and no more will be asked) or
 * the deadline passed, then read repair sends the merged object to every asked primary whose copy differed, in
 * the background, never delaying the reply. Replicas not asked are left to anti-entropy and later reads.
 */
import { IdTable } from '../primitives/id-table.ts'
import type { CallId, Millis, NodeId, PeerAddress, RequestId } from '../primitives/ids.ts'
import type { Random } from '../primitives/random.ts'
import type { ClientResponse, DeleteRequest, GetRequest, PutRequest } from '../node/client.ts'
import type { QuorumSetting } from '../node/node-config.ts'
import { resolveQuorum } from '../node/node-config.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import type { CallOutcome } from '../node/input.ts'
import { partitionOf } from '../partitioning/key-hash.ts'
import { encodeCausalContext } from '../versioning/causal-context.ts'
import { contextAfterWrite } from '../versioning/write-context.ts'
import { decodeObject, encodeObject } from '../versioning/object-codec.ts'
import type { DottedVersionVectorSet } from '../versioning/sibling.ts'
import type { VersionVector } from '../versioning/version-vector.ts'
import { emptyVersionVector } from '../versioning/version-vector.ts'
import type { BucketPropsRegistry } from './bucket-props-registry.ts'
import { isQuorumSettingFor } from './bucket-props-registry.ts'
import type { ClusterView } from './cluster-view.ts'
import { ReadQuorum, sameBytes } from './read-quorum.ts'
import type { ReadReply } from './read-quorum.ts'
import type { KeyAddress, MintOutcome, Replica } from './replica.ts'
import { mergeFor } from './replica.ts'
import type { ReplicaTargets } from './replica-targets.ts'
import { replicaTargets } from './replica-targets.ts'
import type { ConflictMode, ReplicaWrite, WriteContent, WriteResult } from './replication-messages.ts'
import { WriteQuorum } from './write-quorum.ts'
import { clientResponseOf, objectResponse, unavailable } from './write-result.ts'

export interface CoordinatorPorts {
  readonly io: IoContinuations
  readonly replica: Replica
  readonly cluster: ClusterView
  readonly bucketProps: BucketPropsRegistry
  /** This node's copy of a key as reads should see it (ownership handoff adds previous owners'); default replica.read. */
  readonly readLocal?: Replica['read']
  /** Picks where each read starts in the preference list, so reads spread over a key's replicas. */
  readonly random: Random
}

export interface CoordinatorOptions {
  readonly requestTimeoutMs: Millis
  readonly maxPendingRequests: number
  readonly maxValueBytes: number
  /** false: no fallbacks stand in for down primaries (no sloppy quorum, no hints). Default true. */
  readonly hintedHandoff?: boolean
  /** false: reads never repair stale primaries (anti-entropy tests). Default true. */
  readonly readRepair?: boolean
  /**
   * A read asks the minimal set of targets first and every other target once this long has passed without a
   * quorum. 0 (the default) asks every target at once.
   */
  readonly speculativeReadMs?: Millis
}

/** A write on its way to a primary, everything resolved. */
export interface WriteSpec extends KeyAddress {
  readonly conflict: ConflictMode
  readonly n: number
  readonly w: number
  readonly pw: number
  readonly content: WriteContent
  readonly context: VersionVector | null
  /** Request ids the client's context names: superseded by id as well (retried writes, sibling.ts). */
  readonly seenWriteIds?: readonly string[] | undefined
  readonly clientRequestId?: string | undefined
  readonly returnBody: boolean
  readonly deadlineMs: Millis
}

type Answer = (result: WriteResult, out: Out) => void

interface Plan {
  readonly address: KeyAddress
  readonly conflict: ConflictMode
  readonly n: number
  readonly targets: ReplicaTargets
}

/** A waiting-list entry: its deadline and what to do when the deadline passes first. */
interface Waiting {
  readonly deadlineMs: Millis
  readonly expire: (out: Out) => void
  /** Reads only: asks the targets not yet asked, once, at `atMs`; null when there is none (or it has run). */
  speculation: Speculation | null
}

interface Speculation {
  readonly atMs: Millis
  readonly run: (out: Out) => void
}

/** Remaining time below which a forwarded write is not worth sending: the answer could not come back in time. */
const MIN_FORWARD_MS = 1

export class Coordinator {
  /** Not a Map: see id-table.ts for how a churned long-lived Map kept every finished request alive. */
  private readonly waiting = new IdTable<Waiting>()
  private nextWaitingId = 1
  readonly counters = {
    reads: 0, writes: 0, forwarded: 0, reforwarded: 0, timeouts: 0, unavailable: 0, readRepairs: 0,
    /** Replica reads sent (local ones included): the cost partial asking saves. */
    replicaReads: 0,
    /** Reads whose speculative delay passed before the quorum, so that every remaining target was asked. */
    speculativeReads: 0,
  }

  constructor(private readonly ports: CoordinatorPorts, private readonly options: CoordinatorOptions) {}

  /** Requests in the waiting list. */
  get pendingRequests(): number {
    return this.waiting.size
  }

  tick(nowMs: Millis, out: Out): void {
    for (const [id, entry] of this.waiting.entries()) {
      // The list is a snapshot: skip what an earlier entry's expiry already took out, as a Map's iteration would.
      if (this.waiting.get(id) !== entry) continue
      if (nowMs >= entry.deadlineMs) {
        this.waiting.delete(id)
        entry.expire(out)
        continue
      }
      // A read's speculative delay: asking more replicas is pointless once the deadline has passed, hence second.
      const speculation = entry.speculation
      if (speculation === null || nowMs < speculation.atMs) continue
      entry.speculation = null
      speculation.run(out)
    }
  }

  get(requestId: RequestId, request: GetRequest, out: Out): void {
    const reply = (response: ClientResponse, next: Out): void => void next.push({ kind: 'reply', requestId, response })
    const refusal = this.admit()
    if (refusal !== null) return reply(refusal, out)
    const plan = this.plan(request.bucket, request.key, [])
    if ('kind' in plan) return reply(plan, out)
    const r = this.resolve('r', request.r ?? this.ports.bucketProps.get(request.bucket).r, plan.n)
    const pr = request.pr === undefined ? 0 : this.resolve('pr', request.pr, plan.n)
    if (typeof r !== 'number') return reply(r, out)
    if (typeof pr !== 'number') return reply(pr, out)
    this.counters.reads++
    const { targets, primaryTargets } = plan.targets
    const quorum = new ReadQuorum({ targets, primaries: primaryTargets, r, pr, merge: mergeFor(plan.conflict) })
    const early = quorum.status()
    if (early === 'failed') return reply(this.unavailableResponse(r, pr, targets.length, primaryTargets.size), out)
    let answered = false
    const finish = (next: Out): void => {
      const { merged, mergedEncoded, repairs } = quorum.outcome()
      this.readRepair(plan, merged, mergedEncoded, repairs, next)
    }
    const entry = this.wait(this.deadline(request.timeoutMs), (next) => {
      if (!answered) reply(this.timeoutResponse('read'), next)
      answered = true
      finish(next)
    })
    const speculativeReadMs = this.options.speculativeReadMs ?? 0
    // 0 keeps the old behaviour exactly: every target at once, in preference order, and no random draw.
    const order = speculativeReadMs > 0 ? this.readOrder(targets) : targets
    const ask = (chosen: readonly NodeId[], next: Out): void => {
      for (const target of chosen) this.readFrom(target, plan.address, entry, quorum, settle, next)
    }
    const settle = (from: NodeId, answer: ReadReply, next: Out): void => {
      quorum.add(from, answer)
      const status = quorum.status()
      if (!answered && status !== 'pending') {
        answered = true
        reply(status === 'satisfied' ? objectResponse(quorum.merged) : this.readFailed(quorum, r, pr), next)
      }
      // A failed answer leaves the asked targets short of the quorum: ask the next ones now, not at the deadline.
      if (this.waiting.has(entry)) ask(quorum.askNext(order), next)
      if (quorum.complete && this.release(entry)) finish(next)
    }
    if (speculativeReadMs === 0) return ask(quorum.askRest(order), out)
    this.speculate(entry, this.ports.cluster.nowMs() + speculativeReadMs, (next) => {
      const rest = quorum.askRest(order)
      if (rest.length > 0) this.counters.speculativeReads++
      ask(rest, next)
    })
    ask(quorum.askNext(order), out)
  }

  /** Runs `run` once at `atMs` (checked on tick) unless the entry leaves the waiting list first. */
  private speculate(entry: number, atMs: Millis, run: (out: Out) => void): void {
    const waiting = this.waiting.get(entry)
    if (waiting !== undefined) waiting.speculation = { atMs, run }
  }

  /**
   * The order in which a read asks its targets: this node first when it is one (its read crosses no network),
   * then the others in preference order, rotated by a random offset so that coordinators that are not replicas
   * spread their reads over every replica instead of always loading the first.
   */
  private readOrder(targets: readonly NodeId[]): readonly NodeId[] {
    const self = this.ports.cluster.self
    const others = targets.filter((id) => id !== self)
    const offset = others.length > 1 ? this.ports.random.nextInt(others.length) : 0
    const rotated = [...others.slice(offset), ...others.slice(0, offset)]
    return others.length === targets.length ? rotated : [self, ...rotated]
  }

  write(requestId: RequestId, request: PutRequest | DeleteRequest, out: Out): void {
    const reply = (response: ClientResponse, next: Out): void => void next.push({ kind: 'reply', requestId, response })
    const refusal = this.admit()
    if (refusal !== null) return reply(refusal, out)
    if (request.kind === 'put' && request.value.length > this.options.maxValueBytes) {
      return reply({ kind: 'error', code: 'VALUE_TOO_LARGE', message: `the value exceeds ${this.options.maxValueBytes} bytes` }, out)
    }
    const plan = this.plan(request.bucket, request.key, [])
    if ('kind' in plan) return reply(plan, out)
    const w = this.resolve('w', request.w ?? this.ports.bucketProps.get(request.bucket).w, plan.n)
    const pw = request.pw === undefined ? 0 : this.resolve('pw', request.pw, plan.n)
    if (typeof w !== 'number') return reply(w, out)
    if (typeof pw !== 'number') return reply(pw, out)
    this.counters.writes++
    const content: WriteContent = request.kind === 'put'
      ? { kind: 'value', value: request.value, contentType: request.contentType }
      : { kind: 'tombstone' }
    const returnBody = request.kind === 'put' && request.returnBody
    // One literal with every field, optional ones included as undefined: spreads here made a new object shape per
    // combination and cost more than the rest of this function (profiled).
    const { partition, bucket, key } = plan.address
    const spec: WriteSpec = {
      partition, bucket, key, conflict: plan.conflict, n: plan.n, w, pw, content, context: request.context, returnBody,
      deadlineMs: this.deadline(request.timeoutMs), clientRequestId: request.clientRequestId,
      seenWriteIds: request.seenWriteIds === undefined || request.seenWriteIds.length === 0 ? undefined : request.seenWriteIds,
    }
    this.route(spec, [], (result, next) => reply(clientResponseOf(result, returnBody), next), out, plan)
  }

  /** A write forwarded to us as the first live primary: coordinate it and answer the forwarder. */
  forwarded(from: PeerAddress, callId: CallId, message: ReplicaWrite, context: VersionVector | null, seenWriteIds: readonly string[], out: Out): void {
    const answer: Answer = (result, next) => void next.push({
      kind: 'respond', to: from, callId, message: { kind: 'replica-write-reply', from: this.ports.cluster.self, result },
    })
    const spec: WriteSpec = {
      partition: message.partition, bucket: message.bucket, key: message.key, conflict: message.conflict,
      n: message.n, w: message.w, pw: message.pw, content: message.content, context, returnBody: message.returnBody,
      deadlineMs: this.ports.cluster.nowMs() + message.timeoutMs, clientRequestId: message.clientRequestId,
      seenWriteIds: seenWriteIds.length === 0 ? undefined : seenWriteIds,
    }
    this.coordinate(spec, answer, out)
  }

  // ---- writes ----------------------------------------------------------------------------------------------

  /**
   * Sends the write to the first live primary not yet excluded (this node itself, or a forward). `known`: the
   * plan with nothing excluded, when the caller has computed it already.
   */
  private route(spec: WriteSpec, excluded: readonly NodeId[], answer: Answer, out: Out, known?: Plan): void {
    const plan = known !== undefined && excluded.length === 0 ? known : this.plan(spec.bucket, spec.key, excluded, spec.n)
    if ('kind' in plan) return answer({ kind: 'error', code: String(plan.code), message: plan.message }, out)
    const { targets, primaryTargets } = plan.targets
    const primary = targets.find((id) => primaryTargets.has(id))
    const infeasible = this.infeasible(spec, plan.targets)
    if (primary === undefined || infeasible !== null) {
      this.counters.unavailable++
      return answer(infeasible ?? unavailable(spec.w, 0, 'no primary replica of this key is reachable'), out)
    }
    // Dots of different actors never clash, so any live primary may mint; it saves the forward's round trip.
    if (primaryTargets.has(this.ports.cluster.self)) return this.coordinate(spec, answer, out, excluded.length === 0 ? plan : undefined)
    this.forward(spec, primary, excluded, answer, out)
  }

  private forward(spec: WriteSpec, primary: NodeId, excluded: readonly NodeId[], answer: Answer, out: Out): void {
    const address = this.ports.cluster.address(primary)
    const remainingMs = spec.deadlineMs - this.ports.cluster.nowMs()
    if (address === null || remainingMs < MIN_FORWARD_MS) return answer(this.timeoutResult('write'), out)
    this.counters.forwarded++
    let answered = false
    const entry = this.wait(spec.deadlineMs, (next) => {
      answered = true
      answer(this.timeoutResult('write'), next)
    })
    const message: ReplicaWrite = {
      kind: 'replica-write', from: this.ports.cluster.self, partition: spec.partition, bucket: spec.bucket, key: spec.key,
      conflict: spec.conflict, n: spec.n, w: spec.w, pw: spec.pw, content: spec.content, timeoutMs: Math.floor(remainingMs),
      returnBody: spec.returnBody,
      ...(spec.context === null ? {} : { context: encodeCausalContext(spec.context, spec.seenWriteIds) }),
      ...(spec.clientRequestId === undefined ? {} : { clientRequestId: spec.clientRequestId }),
    }
    this.ports.io.call(address, message, remainingMs, out, (outcome, next) => {
      if (answered) return
      this.release(entry)
      answered = true
      if (outcome.kind === 'ok' && outcome.message.kind === 'replica-write-reply') return answer(outcome.message.result, next)
      // Refused or unreachable: the forward never arrived, so trying the next primary cannot apply it twice.
      if (outcome.kind === 'failed' && (outcome.reason === 'refused' || outcome.reason === 'unreachable')) {
        this.counters.reforwarded++
        return this.route(spec, [...excluded, primary], answer, next)
      }
      answer(outcome.kind === 'failed' && outcome.reason === 'timeout' ? this.timeoutResult('write') : unavailable(spec.w, 0, 'the primary replica did not answer'), next)
    })
  }

  /** This node is a primary: mint the dot, persist, replicate, count. */
  private coordinate(spec: WriteSpec, answer: Answer, out: Out, known?: Plan): void {
    const plan = known ?? this.plan(spec.bucket, spec.key, [], spec.n)
    if ('kind' in plan) return answer({ kind: 'error', code: String(plan.code), message: plan.message }, out)
    const { targets, primaryTargets } = plan.targets
    const self = this.ports.cluster.self
    const infeasible = this.infeasible(spec, plan.targets)
    if (!primaryTargets.has(self)) return answer(unavailable(spec.w, 0, 'this node is not a primary replica of the key'), out)
    if (infeasible !== null) return answer(infeasible, out)
    const quorum = new WriteQuorum({ targets, primaries: primaryTargets, w: spec.w, pw: spec.pw })
    let answered = false
    let written: WriteResult | null = null
    const entry = this.wait(spec.deadlineMs, (next) => {
      answered = true
      answer(this.timeoutResult('write'), next)
    })
    const decide = (result: WriteResult | null, next: Out): void => {
      if (answered) return
      const status = result === null ? quorum.status() : 'failed'
      if (status === 'pending') return
      answered = true
      this.release(entry)
      if (status === 'satisfied' && written !== null) return answer(written, next)
      const outcome = quorum.outcome()
      this.counters.unavailable += result === null ? 1 : 0
      answer(result ?? this.writeFailed(outcome), next)
    }
    const replicate = (encoded: Uint8Array, next: Out): void => this.replicate(spec, plan.targets, encoded, (from, ack, after) => {
      quorum.add(from, ack ? 'ack' : 'nack')
      decide(null, after)
    }, next)
    const answerWith = (minted: MintOutcome): void => {
      const context = spec.content.kind === 'tombstone' ? '' : encodeCausalContext(writtenContext(spec, minted), ownWriteId(spec))
      written = { kind: 'written', context, ...(spec.returnBody && minted.kind !== 'refused' && minted.kind !== 'failed' ? { object: minted.encoded } : {}) }
    }
    let replicated = false
    this.ports.replica.mint(spec, out, (minted, next) => {
      if (minted.kind === 'refused') return decide({ kind: 'error', code: minted.code, message: minted.message }, next)
      if (minted.kind === 'failed') {
        if (!replicated) return decide({ kind: 'error', code: 'STORAGE_ERROR', message: minted.message }, next)
        // The replicas already have it (sent before the local fsync): their acks may still make the quorum.
        quorum.add(self, 'nack')
        return decide(null, next)
      }
      if (!replicated) answerWith(minted)
      quorum.add(self, 'ack')
      decide(null, next)
      // A duplicate wrote nothing new; send the stored object, so a retry still reaches w replicas.
      if (!replicated) replicate(minted.encoded, next)
    }, (minted, next) => {
      replicated = true
      answerWith(minted)
      replicate(minted.encoded, next)
    })
  }

  /** Sends the primary's merged object to every other target; a fallback is told whose hint to keep. */
  private replicate(spec: WriteSpec, plan: ReplicaTargets, encoded: Uint8Array, settle: (from: NodeId, ack: boolean, out: Out) => void, out: Out): void {
    const self = this.ports.cluster.self
    for (const target of plan.targets) {
      if (target === self) continue
      const address = this.ports.cluster.address(target)
      if (address === null) {
        settle(target, false, out)
        continue
      }
      const hintFor = plan.fallbackFor.get(target)
      const message = {
        kind: 'replica-merge' as const, from: self, partition: spec.partition, bucket: spec.bucket, key: spec.key,
        conflict: spec.conflict, object: encoded, ...(hintFor === undefined ? {} : { hintFor }),
      }
      const timeoutMs = Math.max(1, spec.deadlineMs - this.ports.cluster.nowMs())
      this.ports.io.call(address, message, timeoutMs, out, (outcome, next) => {
        const ack = outcome.kind === 'ok' && outcome.message.kind === 'replica-merge-reply' && outcome.message.outcome === 'stored'
        settle(target, ack, next)
      })
    }
  }

  private infeasible(spec: WriteSpec, plan: ReplicaTargets): WriteResult | null {
    if (plan.targets.length < spec.w) return unavailable(spec.w, plan.targets.length, `only ${plan.targets.length} replicas are reachable, w=${spec.w} needed`)
    if (plan.primaryTargets.size < spec.pw) return unavailable(spec.pw, plan.primaryTargets.size, `only ${plan.primaryTargets.size} primary replicas are reachable, pw=${spec.pw} needed`)
    return null
  }

  private writeFailed(outcome: ReturnType<WriteQuorum['outcome']>): WriteResult {
    if (outcome.acknowledgedPrimaries < outcome.requiredPrimaries && outcome.acknowledged >= outcome.required) {
      return unavailable(outcome.requiredPrimaries, outcome.acknowledgedPrimaries, 'too few primary replicas acknowledged the write')
    }
    return unavailable(outcome.required, outcome.acknowledged, 'too few replicas acknowledged the write')
  }

  // ---- reads -----------------------------------------------------------------------------------------------

  private readFrom(target: NodeId, address: KeyAddress, entry: number, quorum: ReadQuorum, settle: (from: NodeId, reply: ReadReply, out: Out) => void, out: Out): void {
    if (target === this.ports.cluster.self) {
      const readLocal = this.ports.readLocal ?? ((a, o, d) => this.ports.replica.read(a, o, d))
      this.counters.replicaReads++
      return readLocal(address, out, (local, next) => settle(target, local.kind === 'found' ? { kind: 'found', object: local.object, encoded: local.encoded } : { kind: local.kind }, next))
    }
    const peer = this.ports.cluster.address(target)
    if (peer === null) return settle(target, { kind: 'failed' }, out)
    this.counters.replicaReads++
    const timeoutMs = Math.max(1, (this.waiting.get(entry)?.deadlineMs ?? 0) - this.ports.cluster.nowMs())
    const message = { kind: 'replica-read' as const, from: this.ports.cluster.self, partition: address.partition, bucket: address.bucket, key: address.key }
    this.ports.io.call(peer, message, timeoutMs, out, (outcome, next) => settle(target, readReplyOf(outcome, quorum), next))
  }

  private readRepair(plan: Plan, merged: DottedVersionVectorSet, mergedEncoded: Uint8Array | null, repairs: readonly NodeId[], out: Out): void {
    if (this.options.readRepair === false) return
    const self = this.ports.cluster.self
    for (const target of repairs) {
      // Only primaries: a fallback's copy is temporary, and repairing it would need a hint to mean anything.
      if (!plan.targets.primaryTargets.has(target)) continue
      this.counters.readRepairs++
      if (target === self) {
        this.ports.replica.merge(plan.address, plan.conflict, merged, null, out, () => {})
        continue
      }
      const address = this.ports.cluster.address(target)
      if (address === null) continue
      const message = { kind: 'replica-merge' as const, from: self, ...plan.address, conflict: plan.conflict, object: mergedEncoded ?? encodeObject(merged) }
      this.ports.io.call(address, message, this.options.requestTimeoutMs, out, () => {})
    }
  }

  private readFailed(quorum: ReadQuorum, r: number, pr: number): ClientResponse {
    const outcome = quorum.outcome()
    this.counters.unavailable++
    const details = { required: r, acknowledged: outcome.answered, ...(pr > 0 ? { requiredPrimaries: pr } : {}) }
    return { kind: 'error', code: 'UNAVAILABLE', message: 'too few replicas answered the read', details }
  }

  // ---- shared ----------------------------------------------------------------------------------------------

  private plan(bucket: string, key: string, excluded: readonly NodeId[], n?: number): Plan | Extract<ClientResponse, { kind: 'error' }> {
    const table = this.ports.cluster.table()
    if (table === null) return { kind: 'error', code: 'UNAVAILABLE', message: 'the cluster has no ownership table yet', details: { required: 1, acknowledged: 0 } }
    const props = this.ports.bucketProps.get(bucket)
    const replicas = Math.min(n ?? props.n, table.n)
    const partition = partitionOf(bucket, key, table.partitions)
    const isLive = (id: NodeId): boolean => !excluded.includes(id) && this.ports.cluster.isLive(id)
    const fallbackCandidates = this.options.hintedHandoff === false ? () => [] : () => this.ports.cluster.members()
    const targets = replicaTargets(table, partition, replicas, fallbackCandidates, isLive)
    return { address: { partition, bucket, key }, conflict: props.conflict, n: replicas, targets }
  }

  private resolve(name: string, setting: QuorumSetting, n: number): number | ClientResponse {
    if (!isQuorumSettingFor(setting, n)) return { kind: 'error', code: 'INVALID_PARAMETER', message: `${name} must be one, quorum, all or an integer in 1..${n}` }
    return resolveQuorum(setting, n)
  }

  private admit(): ClientResponse | null {
    if (this.waiting.size < this.options.maxPendingRequests) return null
    return { kind: 'error', code: 'OVERLOADED', message: `this node coordinates ${this.waiting.size} requests already` }
  }

  private deadline(timeoutMs: Millis | undefined): Millis {
    return this.ports.cluster.nowMs() + (timeoutMs ?? this.options.requestTimeoutMs)
  }

  private wait(deadlineMs: Millis, expire: (out: Out) => void): number {
    const id = this.nextWaitingId++
    this.waiting.set(id, {
      deadlineMs,
      expire: (out) => {
        this.counters.timeouts++
        expire(out)
      },
      speculation: null,
    })
    return id
  }

  /** Leaves the waiting list; false if the entry had already left it (its deadline passed). */
  private release(id: number): boolean {
    return this.waiting.delete(id)
  }

  private unavailableResponse(r: number, pr: number, targets: number, primaries: number): ClientResponse {
    this.counters.unavailable++
    const short = primaries < pr ? { required: pr, acknowledged: primaries } : { required: r, acknowledged: targets }
    return { kind: 'error', code: 'UNAVAILABLE', message: `only ${targets} replicas (${primaries} primaries) are reachable`, details: short }
  }

  private timeoutResponse(what: string): ClientResponse {
    return clientResponseOf(this.timeoutResult(what), false)
  }

  private timeoutResult(what: string): WriteResult {
    return { kind: 'timeout', message: `the ${what} did not reach its quorum before the deadline` }
  }
}

function readReplyOf(outcome: CallOutcome, quorum: ReadQuorum): ReadReply {
  if (outcome.kind !== 'ok' || outcome.message.kind !== 'replica-read-reply') return { kind: 'failed' }
  const reply = outcome.message
  if (reply.outcome === 'missing') return { kind: 'missing' }
  if (reply.outcome !== 'found' || reply.object === undefined) return { kind: 'failed' }
  // The same bytes as every copy received so far (replicas in sync): the same object, already decoded and valid.
  const agreed = quorum.agreedEncoding
  if (agreed !== null && sameBytes(agreed, reply.object)) return { kind: 'found', object: quorum.merged, encoded: reply.object }
  const decoded = decodeObject(reply.object)
  // The received bytes stay with the reply: the read quorum compares them with the merge instead of re-encoding.
  return decoded.kind === 'decoded' ? { kind: 'found', object: decoded.object, encoded: reply.object } : { kind: 'failed' }
}


/**
 * The X-Context of a 204: the writer's context plus its new dot (write-context.ts says why not the object's whole
 * history). A retried request id answers with the writer's own context: the first attempt's dot is not known
 * here, and covering less is safe (at worst a false sibling of its own value), covering more is not.
 */
/** The PUT's own request id goes into the context it hands back, so the client's next write replaces it by id too. */
function ownWriteId(spec: WriteSpec): readonly string[] {
  return spec.conflict === 'lww' || spec.clientRequestId === undefined ? [] : [spec.clientRequestId]
}

function writtenContext(spec: { readonly context: VersionVector | null }, minted: MintOutcome): VersionVector {
  if (minted.kind === 'minted') return contextAfterWrite(minted.object, spec.context, minted.newDot)
  if (minted.kind === 'duplicate' && minted.dot !== undefined) return contextAfterWrite(minted.object, spec.context, minted.dot)
  return spec.context ?? emptyVersionVector
}
