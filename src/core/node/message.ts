/**
 * Every message one node sends another, as a discriminated union on `kind`. Each protocol area adds its own
 * message types here (membership, replication, anti-entropy) and a matching schema in src/transport/schemas.ts,
 * which validates untrusted bytes into exactly these shapes; a type without a schema does not compile there.
 *
 * Byte payloads are Uint8Array (never Buffer) so that the core stays free of node:* types.
 */
import type { NodeId } from '../primitives/ids.ts'
import type { MembershipMessage } from '../membership/membership-messages.ts'
import type { ReplicationMessage } from '../replication/replication-messages.ts'
import type { PlacementMessage } from '../partitioning/placement-messages.ts'
import type { AntiEntropyMessage } from '../anti-entropy/anti-entropy-messages.ts'

/** Liveness and round-trip probe used by the transport benchmark and the simulator's echo protocol. */
export interface EchoRequest {
  readonly kind: 'echo'
  readonly from: NodeId
  readonly seq: number
  readonly payload: Uint8Array
}

export interface EchoReply {
  readonly kind: 'echo-reply'
  readonly from: NodeId
  readonly seq: number
  readonly payload: Uint8Array
}

export type Message = EchoRequest | EchoReply | MembershipMessage | ReplicationMessage | PlacementMessage | AntiEntropyMessage

/** Membership messages are the ones whose kind starts with `swim-`. */
export function isMembershipMessage(message: Message): message is MembershipMessage {
  return message.kind.startsWith('swim-')
}

/** Data-path messages between replicas: kinds start with `replica-`. */
export function isReplicationMessage(message: Message): message is ReplicationMessage {
  return message.kind.startsWith('replica-')
}

/** Ownership-table and bucket-props gossip: kinds start with `placement-`. */
export function isPlacementMessage(message: Message): message is PlacementMessage {
  return message.kind.startsWith('placement-')
}

/** Anti-entropy exchange between replicas: kinds start with `ae-`. */
export function isAntiEntropyMessage(message: Message): message is AntiEntropyMessage {
  return message.kind.startsWith('ae-')
}

export type MessageKind = Message['kind']
