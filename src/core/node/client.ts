/**
 * Client requests as the core sees them, after src/api has parsed and validated HTTP (or the shell issued them
 * itself, as it does with `join` at start). The core answers each with exactly one reply effect carrying a
 * ClientResponse; only src/api maps responses to HTTP statuses.
 */
import type { NodeId, PeerAddress } from '../primitives/ids.ts'
import type { MemberView } from '../membership/swim.ts'

export interface HealthRequest {
  readonly kind: 'health'
}

export interface MembersRequest {
  readonly kind: 'members'
}

/** Join the cluster through these seeds; retried by membership until one answers. */
export interface JoinRequest {
  readonly kind: 'join'
  readonly seeds: readonly PeerAddress[]
}

/** Leave gracefully: gossip `left`; the answer comes once the leave has been disseminated (or times out). */
export interface LeaveRequest {
  readonly kind: 'leave'
}

export type ClientRequest = HealthRequest | MembersRequest | JoinRequest | LeaveRequest

export type ClientResponse =
  | { readonly kind: 'health'; readonly id: NodeId; readonly status: 'ok' }
  | { readonly kind: 'members'; readonly members: readonly MemberView[]; readonly leader: NodeId | null }
  | { readonly kind: 'ok' }
  | { readonly kind: 'error'; readonly code: string; readonly message: string }
