/**
 * Field schemas shared by every protocol area: node ids, peer addresses and the sizes they may take on the
 * wire. Limits live here, named, so that every area's messages agree on them (STYLE rule 7).
 */
import { parseHostPort, type NodeId, type PeerAddress } from '../../core/primitives/ids.ts'
import { refined, string, uint, type Schema } from '../schema.ts'

/** Longest node id in bytes: operator-chosen names or derived host:port strings stay far below it. */
export const MAX_NODE_ID_BYTES = 256
/** Longest "host:port": a bracketed IPv6 address or a DNS name (253) plus the port. */
export const MAX_PEER_ADDRESS_BYTES = 262
/**
 * Largest opaque byte payload a message field may carry. Values themselves are bounded by maxValueBytes (4 MiB)
 * before they reach the core; the frame limit bounds the whole message again.
 */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024

export const nodeIdSchema: Schema<NodeId> = refined<string, NodeId>(
  string({ maxBytes: MAX_NODE_ID_BYTES }),
  'non-empty node id',
  (value) => value.length > 0,
)

export const peerAddressSchema: Schema<PeerAddress> = refined<string, PeerAddress>(
  string({ maxBytes: MAX_PEER_ADDRESS_BYTES }),
  'host:port',
  (value) => parseHostPort(value) !== null,
)

/** A sequence number or counter: safe integers only, so arithmetic on it stays exact. */
export const sequenceSchema: Schema<number> = uint()
