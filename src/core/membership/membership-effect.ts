/**
 * What the membership state machine asks its shell to do, and the inputs it takes back. These mirror the node's
 * `send`/`call`/`respond`/`log` effects and `call-result` input exactly, with the message narrowed to
 * `MembershipMessage`; once the lead adds the membership messages to the node's `Message` union, every
 * `MembershipEffect` is assignable to `Effect` unchanged.
 *
 * Membership events (a member came up, went down, left; the leader changed) are not effects: the node drains
 * them with `Swim.drainEvents()` and hands them to placement and replication.
 */
import type { CallId, Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { CallFailure, Carrier } from '../node/input.ts'
import type { LogEffect } from '../node/effect.ts'
import type { MembershipMessage } from './membership-messages.ts'

export interface MembershipSendEffect {
  readonly kind: 'send'
  readonly to: PeerAddress
  readonly carrier: Carrier
  readonly message: MembershipMessage
}

export interface MembershipCallEffect {
  readonly kind: 'call'
  readonly to: PeerAddress
  readonly callId: CallId
  readonly message: MembershipMessage
  readonly timeoutMs: Millis
}

export interface MembershipRespondEffect {
  readonly kind: 'respond'
  readonly to: PeerAddress
  readonly callId: CallId
  readonly message: MembershipMessage
}

export type MembershipEffect = MembershipSendEffect | MembershipCallEffect | MembershipRespondEffect | LogEffect

/** The outcome of a membership call, as the node's `call-result` input carries it. */
export type MembershipCallOutcome =
  | { readonly kind: 'ok'; readonly message: MembershipMessage }
  | { readonly kind: 'failed'; readonly reason: CallFailure }

/** What placement and replication react to. `generation` tells a restart apart from a refutation. */
export type MembershipEvent =
  | { readonly kind: 'member-up'; readonly node: NodeId; readonly generation: number }
  | { readonly kind: 'member-down'; readonly node: NodeId; readonly generation: number }
  | { readonly kind: 'member-left'; readonly node: NodeId; readonly generation: number }
  | { readonly kind: 'leader-changed'; readonly leader: NodeId | null }

export function logEffect(
  level: LogEffect['level'],
  event: string,
  fields: Record<string, string | number | boolean | null>,
): LogEffect {
  return { kind: 'log', level, event, fields }
}
