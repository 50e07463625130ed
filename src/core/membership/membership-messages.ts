/**
 * The messages of the membership protocol (SWIM, Das et al. 2002, with the Lifeguard extensions of Dadgar et al.
 * 2017) and the gossip updates they carry. Every datagram-borne message has an `updates` array: SWIM's
 * infection-style dissemination piggybacks membership updates on the probes it sends anyway, and the
 * dissemination queue fills that array up to the datagram budget (a compound message in memberlist's terms).
 *
 * These types are not yet part of the node's `Message` union; the lead wires them into the wire codec. Kinds are
 * prefixed `swim-` so that they cannot collide with other areas' messages once they share one union.
 *
 * `estimateEncodedBytes` is a pure upper bound on the MessagePack encoding of any of these values, so the
 * dissemination queue can pack compound datagrams under `maxDatagramBytes` without calling the codec.
 */
import type { NodeId, PeerAddress } from '../primitives/ids.ts'

/** What a member advertises about itself. Fixed for one generation: a node changes it only by restarting. */
export interface MemberMetadata {
  /** Where the member's HTTP API listens, "host:port". */
  readonly httpAddress: string
  /** Failure-domain label for replica placement; empty when the operator set none. */
  readonly zone: string
  /** Q, the number of fixed partitions the member was started with; members with a different Q must not mix. */
  readonly partitions: number
  /** The membership protocol version the member speaks. */
  readonly protocolVersion: number
}

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'

/**
 * One gossiped fact about a member. Every update carries the full identity (address, generation, metadata) so
 * that a member table can merge updates in any order: the record is simply the greatest update seen, ordered by
 * (generation, incarnation, state). `accuser` names who suspected or declared the member dead; independent
 * accusers confirm a suspicion and shorten its timeout (Lifeguard).
 */
interface MemberUpdateFields {
  readonly node: NodeId
  readonly address: PeerAddress
  /** Raised on every process start (unix seconds or stored + 1): a higher generation is a new life of the node. */
  readonly generation: number
  /** Raised only by the member itself, to refute a suspicion within one generation. */
  readonly incarnation: number
  readonly metadata: MemberMetadata
}

export interface AliveUpdate extends MemberUpdateFields {
  readonly kind: 'alive'
}

export interface SuspectUpdate extends MemberUpdateFields {
  readonly kind: 'suspect'
  readonly accuser: NodeId
}

export interface DeadUpdate extends MemberUpdateFields {
  readonly kind: 'dead'
  readonly accuser: NodeId
}

export interface LeftUpdate extends MemberUpdateFields {
  readonly kind: 'left'
}

export type MemberUpdate = AliveUpdate | SuspectUpdate | DeadUpdate | LeftUpdate

/** A direct probe. `target` lets the receiver drop a ping meant for a previous owner of its address. */
export interface SwimPing {
  readonly kind: 'swim-ping'
  readonly seq: number
  readonly from: NodeId
  readonly target: NodeId
  readonly updates: readonly MemberUpdate[]
}

export interface SwimAck {
  readonly kind: 'swim-ack'
  readonly seq: number
  readonly from: NodeId
  readonly updates: readonly MemberUpdate[]
}

/** "Please probe `target` for me": sent to k helpers when a direct probe went unanswered. */
export interface SwimPingReq {
  readonly kind: 'swim-ping-req'
  readonly seq: number
  readonly from: NodeId
  readonly target: NodeId
  readonly targetAddress: PeerAddress
  readonly updates: readonly MemberUpdate[]
}

/**
 * A helper's "I could not reach it either" (Lifeguard). Its arrival tells the requester that its own network
 * works; a missing nack is evidence against the requester's health. `refused` reports that the helper's send was
 * refused (the target's port is closed), the strong evidence that lets a suspicion run on a short timeout.
 */
export interface SwimNack {
  readonly kind: 'swim-nack'
  readonly seq: number
  readonly from: NodeId
  readonly target: NodeId
  readonly refused: boolean
  readonly updates: readonly MemberUpdate[]
}

/** A helper relaying the target's ack to the requester; `seq` is the requester's sequence number. */
export interface SwimIndirectAck {
  readonly kind: 'swim-indirect-ack'
  readonly seq: number
  readonly from: NodeId
  readonly target: NodeId
  readonly updates: readonly MemberUpdate[]
}

/** Gossip with no probe attached: the periodic fan-out and the leave broadcast. */
export interface SwimGossip {
  readonly kind: 'swim-gossip'
  readonly from: NodeId
  readonly updates: readonly MemberUpdate[]
}

/** Full-state exchange over the stream carrier, periodically and on join; it heals partitions. */
export interface SwimPushPullRequest {
  readonly kind: 'swim-push-pull-request'
  readonly from: NodeId
  readonly join: boolean
  readonly members: readonly MemberUpdate[]
}

export interface SwimPushPullResponse {
  readonly kind: 'swim-push-pull-response'
  readonly from: NodeId
  readonly members: readonly MemberUpdate[]
}

export type MembershipMessage =
  | SwimPing
  | SwimAck
  | SwimPingReq
  | SwimNack
  | SwimIndirectAck
  | SwimGossip
  | SwimPushPullRequest
  | SwimPushPullResponse

export type MembershipMessageKind = MembershipMessage['kind']

/** The datagram-borne messages, which carry piggybacked updates. */
export type DatagramMessage = Exclude<MembershipMessage, SwimPushPullRequest | SwimPushPullResponse>

/**
 * Bytes reserved in every datagram for what the codec adds around a message: a type tag or envelope and, with a
 * cluster secret, a 32-byte HMAC-SHA256. The lead checks this against the real codec.
 */
export const DATAGRAM_ENVELOPE_RESERVE_BYTES = 64

/**
 * Slack per object on top of the MessagePack map header, covering msgpackr's record extension (which writes a
 * record definition the first time a shape appears). Generous on purpose: an overestimate costs a little packing
 * density, an underestimate a datagram the network drops.
 */
const OBJECT_OVERHEAD_BYTES = 16

/** Largest header MessagePack puts in front of a string, binary, array or map (the 32-bit length forms). */
const LENGTH_HEADER_MAX_BYTES = 5

/** Largest encoding of any number (float64 or 64-bit integer, plus the type byte). */
const NUMBER_MAX_BYTES = 9

/**
 * An upper bound on the MessagePack encoding of `value`: exact-ish for strings, worst case for numbers and
 * headers. Pure and total over the JSON-like values our messages are made of.
 */
export function estimateEncodedBytes(value: unknown): number {
  if (value === null || value === undefined || typeof value === 'boolean') return 1
  if (typeof value === 'number') return NUMBER_MAX_BYTES
  if (typeof value === 'string') return LENGTH_HEADER_MAX_BYTES + utf8BytesUpperBound(value)
  if (value instanceof Uint8Array) return LENGTH_HEADER_MAX_BYTES + value.byteLength
  if (Array.isArray(value)) {
    let total = LENGTH_HEADER_MAX_BYTES
    for (const item of value) total += estimateEncodedBytes(item)
    return total
  }
  if (typeof value === 'object') {
    let total = LENGTH_HEADER_MAX_BYTES + OBJECT_OVERHEAD_BYTES
    for (const [key, item] of Object.entries(value)) total += estimateEncodedBytes(key) + estimateEncodedBytes(item)
    return total
  }
  // bigint, symbol, function: not part of any message; count them as a large number so the bound stays safe.
  return NUMBER_MAX_BYTES
}

/** UTF-8 length bound per UTF-16 code unit: a surrogate pair (4 bytes) counts as 3 + 3. */
function utf8BytesUpperBound(text: string): number {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3
  }
  return bytes
}

/** The state a member update asserts, which is also its `kind`. */
export function updateState(update: MemberUpdate): MemberState {
  return update.kind
}

/**
 * Whether an update from the network is safe to merge: the codec checks shapes, this checks the values that
 * order state. A malformed update is dropped and counted by the caller, never asserted on: bad input must not
 * crash a node (DESIGN.md invariant 5).
 */
export function isWellFormedUpdate(update: MemberUpdate): boolean {
  return (
    Number.isSafeInteger(update.generation) &&
    update.generation >= 0 &&
    Number.isSafeInteger(update.incarnation) &&
    update.incarnation >= 0 &&
    update.node.length > 0 &&
    update.address.length > 0
  )
}
