/**
 * A Chorus node as one deterministic state machine: `step(input, nowMs)` returns the effects the shell must
 * perform. This file only routes: each protocol area (membership, replication, anti-entropy) owns its state
 * and handles the inputs addressed to it. Both shells, the production runtime and the simulator, drive the
 * same Node, which is what lets a simulated run stand for a real one.
 */
import type { Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { Random } from '../primitives/random.ts'
import { assert, unreachable } from '../primitives/assert.ts'
import type { Effect } from './effect.ts'
import type { Input } from './input.ts'
import type { Message } from './message.ts'
import type { ClientRequest, ClientResponse } from './client.ts'
import type { NodeConfig } from './node-config.ts'

export interface NodeIdentity {
  readonly id: NodeId
  /** Raised on every start and never repeated (DESIGN section 3, generation clock). */
  readonly generation: number
}

export interface NodePorts {
  readonly random: Random
}

export class Node {
  private lastNowMs: Millis = -Infinity

  constructor(
    readonly identity: NodeIdentity,
    private readonly ports: NodePorts,
    readonly config: NodeConfig,
  ) {
    assert(identity.generation >= 0, 'generation must not be negative')
    void this.ports
  }

  step(input: Input, nowMs: Millis): Effect[] {
    // Time arrives from outside and must never run backwards; a shell that violates this is broken.
    assert(nowMs >= this.lastNowMs, `time went backwards: ${nowMs} < ${this.lastNowMs}`)
    this.lastNowMs = nowMs
    switch (input.kind) {
      case 'tick':
        return []
      case 'packet':
        return this.onMessage(input.from, input.message)
      case 'call': {
        const answer = this.answer(input.message)
        return answer === null ? [] : [{ kind: 'respond', to: input.from, callId: input.callId, message: answer }]
      }
      case 'call-result':
      case 'send-failed':
      case 'storage-result':
        return []
      case 'client-request':
        return [{ kind: 'reply', requestId: input.requestId, response: this.serve(input.request) }]
      default:
        return unreachable(input)
    }
  }

  private onMessage(from: PeerAddress, message: Message): Effect[] {
    const answer = this.answer(message)
    return answer === null ? [] : [{ kind: 'send', to: from, carrier: 'datagram', message: answer }]
  }

  /** The echo protocol: the smallest request/response a peer can ask of any node, used to measure the wire. */
  private answer(message: Message): Message | null {
    switch (message.kind) {
      case 'echo':
        return { kind: 'echo-reply', from: this.identity.id, seq: message.seq, payload: message.payload }
      case 'echo-reply':
        return null
      default:
        return unreachable(message)
    }
  }

  private serve(request: ClientRequest): ClientResponse {
    switch (request.kind) {
      case 'health':
        return { kind: 'health', id: this.identity.id, status: 'ok' }
      default:
        return unreachable(request.kind)
    }
  }
}
