/**
 * A Chorus node as one deterministic state machine: `step(input, nowMs)` returns the effects the shell must
 * perform. This file only routes: each protocol area (membership now; replication and anti-entropy later) owns
 * its state and handles the inputs addressed to it. Both shells, the production runtime and the simulator, drive
 * the same Node, which is what lets a simulated run stand for a real one.
 */
import type { CallId, Millis, NodeId, PeerAddress, RequestId } from '../primitives/ids.ts'
import { callId } from '../primitives/ids.ts'
import type { Random } from '../primitives/random.ts'
import { assert, unreachable } from '../primitives/assert.ts'
import type { MemberMetadata } from '../membership/membership-messages.ts'
import type { MembershipCallOutcome, MembershipEvent } from '../membership/membership-effect.ts'
import { Swim } from '../membership/swim.ts'
import type { Effect } from './effect.ts'
import type { CallOutcome, Input } from './input.ts'
import type { Message } from './message.ts'
import { isMembershipMessage } from './message.ts'
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

export class Node {
  private lastNowMs: Millis
  private nextCallId = 1
  readonly membership: Swim
  /** Membership events not yet consumed by placement (which arrives with replication). */
  private readonly pendingEvents: MembershipEvent[] = []

  constructor(
    readonly identity: NodeIdentity,
    ports: NodePorts,
    readonly config: NodeConfig,
    startedAtMs: Millis,
  ) {
    assert(identity.generation >= 0, 'generation must not be negative')
    this.lastNowMs = startedAtMs
    this.membership = new Swim(
      identity,
      { random: ports.random, nextCallId: () => this.allocateCallId() },
      config,
      startedAtMs,
    )
  }

  step(input: Input, nowMs: Millis): Effect[] {
    // Time arrives from outside and must never run backwards; a shell that violates this is broken.
    assert(nowMs >= this.lastNowMs, `time went backwards: ${nowMs} < ${this.lastNowMs}`)
    this.lastNowMs = nowMs
    const effects = this.route(input, nowMs)
    this.pendingEvents.push(...this.membership.drainEvents())
    return effects
  }

  /** Membership events since the last call (member up/down/left, leader changed), oldest first. */
  drainMembershipEvents(): MembershipEvent[] {
    return this.pendingEvents.splice(0, this.pendingEvents.length)
  }

  private route(input: Input, nowMs: Millis): Effect[] {
    switch (input.kind) {
      case 'tick':
        if (input.lagMs !== undefined) this.membership.reportLag(input.lagMs)
        return this.membership.tick(nowMs)
      case 'packet':
        return this.onMessage(input.from, input.message, nowMs)
      case 'call':
        return this.onCall(input.from, input.callId, input.message, nowMs)
      case 'call-result':
        return this.onCallResult(input.callId, input.to, input.outcome, nowMs)
      case 'send-failed':
        return this.membership.sendFailed(input.to, input.reason, nowMs)
      case 'storage-result':
        return []
      case 'client-request':
        return this.serve(input.requestId, input.request, nowMs)
      default:
        return unreachable(input)
    }
  }

  private allocateCallId(): CallId {
    return callId(this.nextCallId++)
  }

  private onMessage(from: PeerAddress, message: Message, nowMs: Millis): Effect[] {
    if (isMembershipMessage(message)) return this.membership.receive(from, message, nowMs)
    const answer = this.answerEcho(message)
    return answer === null ? [] : [{ kind: 'send', to: from, carrier: 'datagram', message: answer }]
  }

  private onCall(from: PeerAddress, id: CallId, message: Message, nowMs: Millis): Effect[] {
    if (isMembershipMessage(message)) return this.membership.receiveCall(from, id, message, nowMs)
    const answer = this.answerEcho(message)
    // Every call gets exactly one answer; a call that has none is answered with an echo of itself so the
    // caller is not left to time out.
    return [{ kind: 'respond', to: from, callId: id, message: answer ?? message }]
  }

  private onCallResult(id: CallId, to: PeerAddress, outcome: CallOutcome, nowMs: Millis): Effect[] {
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
        return [...this.membership.leave(nowMs), reply({ kind: 'ok' })]
      case 'remove':
      case 'partitions':
      case 'get':
      case 'put':
      case 'delete':
      case 'list-keys':
      case 'get-bucket-props':
      case 'put-bucket-props':
        // The data path arrives with replication (issue 6); until then these are answered honestly.
        return [reply({ kind: 'error', code: 'UNAVAILABLE', message: `${request.kind} is not implemented by this node yet` })]
      default:
        return unreachable(request)
    }
  }
}
