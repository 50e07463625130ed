/**
 * Schemas for the membership protocol's messages (src/core/membership/membership-messages.ts). Every update
 * carries a member's full identity, so the schema checks it whole; the value rules that order state
 * (non-negative generations, non-empty ids) are re-checked by the core's isWellFormedUpdate, as a pair.
 *
 * Limits: a datagram is at most 1400 bytes, so `updates` can never be long in practice; the bound below only
 * caps what a stream-borne message may claim. `members` in push-pull carries the whole table.
 */
import type {
  AliveUpdate,
  DeadUpdate,
  LeftUpdate,
  MemberMetadata,
  MemberUpdate,
  MembershipMessage,
  SuspectUpdate,
} from '../../core/membership/membership-messages.ts'
import { array, boolean, literal, object, string, uint, uint32, variant, type Schema } from '../schema.ts'
import { MAX_PEER_ADDRESS_BYTES, nodeIdSchema, peerAddressSchema, sequenceSchema } from './common-schemas.ts'

/** Updates piggybacked on one message; a 1400-byte datagram holds a dozen or so. */
export const MAX_UPDATES_PER_MESSAGE = 1_024
/** Members in one push-pull exchange: far beyond the clusters Chorus targets, far below the frame limit. */
export const MAX_MEMBERS_PER_PUSH_PULL = 16_384
/** A zone label, e.g. "rack-12" or "eu-west-1a". */
export const MAX_ZONE_BYTES = 256

const metadataSchema: Schema<MemberMetadata> = object({
  httpAddress: string({ maxBytes: MAX_PEER_ADDRESS_BYTES }),
  zone: string({ maxBytes: MAX_ZONE_BYTES }),
  partitions: uint32(),
  protocolVersion: uint32(),
})

const identity = {
  node: nodeIdSchema,
  address: peerAddressSchema,
  generation: uint(),
  incarnation: uint(),
  metadata: metadataSchema,
} as const

export const memberUpdateSchema: Schema<MemberUpdate> = variant<MemberUpdate>({
  alive: object({ kind: literal('alive'), ...identity }) satisfies Schema<AliveUpdate>,
  suspect: object({ kind: literal('suspect'), ...identity, accuser: nodeIdSchema }) satisfies Schema<SuspectUpdate>,
  dead: object({ kind: literal('dead'), ...identity, accuser: nodeIdSchema }) satisfies Schema<DeadUpdate>,
  left: object({ kind: literal('left'), ...identity }) satisfies Schema<LeftUpdate>,
})

const updates = array(memberUpdateSchema, { maxLength: MAX_UPDATES_PER_MESSAGE })
const members = array(memberUpdateSchema, { maxLength: MAX_MEMBERS_PER_PUSH_PULL })

type Of<K extends MembershipMessage['kind']> = Schema<Extract<MembershipMessage, { kind: K }>>

export const membershipSchemas: { readonly [K in MembershipMessage['kind']]: Of<K> } = {
  'swim-ping': object({ kind: literal('swim-ping'), seq: sequenceSchema, from: nodeIdSchema, target: nodeIdSchema, updates }),
  'swim-ack': object({ kind: literal('swim-ack'), seq: sequenceSchema, from: nodeIdSchema, updates }),
  'swim-ping-req': object({
    kind: literal('swim-ping-req'),
    seq: sequenceSchema,
    from: nodeIdSchema,
    target: nodeIdSchema,
    targetAddress: peerAddressSchema,
    updates,
  }),
  'swim-nack': object({
    kind: literal('swim-nack'),
    seq: sequenceSchema,
    from: nodeIdSchema,
    target: nodeIdSchema,
    refused: boolean(),
    updates,
  }),
  'swim-indirect-ack': object({
    kind: literal('swim-indirect-ack'),
    seq: sequenceSchema,
    from: nodeIdSchema,
    target: nodeIdSchema,
    updates,
  }),
  'swim-gossip': object({ kind: literal('swim-gossip'), from: nodeIdSchema, updates }),
  'swim-push-pull-request': object({ kind: literal('swim-push-pull-request'), from: nodeIdSchema, join: boolean(), members }),
  'swim-push-pull-response': object({ kind: literal('swim-push-pull-response'), from: nodeIdSchema, members }),
}
