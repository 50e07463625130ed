/**
 * fast-check arbitraries for every Message kind, for the codec round-trip property and for the simulator's
 * tests. The mapped type makes a kind without an arbitrary a compile error: when you add a message kind,
 * add its arbitrary here (usually one line per field).
 */
import fc from 'fast-check'
import type {
  MemberMetadata,
  MemberUpdate,
} from '../../src/core/membership/membership-messages.ts'
import type { Message, MessageKind } from '../../src/core/node/message.ts'
import { nodeId, peerAddress, type NodeId, type PeerAddress } from '../../src/core/primitives/ids.ts'
import type { MessageOf } from '../../src/transport/schemas.ts'

// 'binary' units are whole code points (never lone surrogates), at most 4 bytes each: 40 stay under the limit.
export const nodeIdArbitrary: fc.Arbitrary<NodeId> = fc.string({ minLength: 1, maxLength: 40, unit: 'binary' }).map(nodeId)
export const peerAddressArbitrary: fc.Arbitrary<PeerAddress> = fc
  .tuple(fc.ipV4(), fc.integer({ min: 1, max: 65_535 }))
  .map(([host, port]) => peerAddress(`${host}:${port}`))
export const sequenceArbitrary: fc.Arbitrary<number> = fc.oneof(fc.nat(), fc.maxSafeNat())
export const payloadArbitrary: fc.Arbitrary<Uint8Array> = fc.uint8Array({ maxLength: 600 })

export const memberMetadataArbitrary: fc.Arbitrary<MemberMetadata> = fc.record({
  httpAddress: peerAddressArbitrary.map(String),
  zone: fc.string({ maxLength: 20 }),
  partitions: fc.integer({ min: 1, max: 4_096 }),
  protocolVersion: fc.nat(10),
})

const identity = {
  node: nodeIdArbitrary,
  address: peerAddressArbitrary,
  generation: sequenceArbitrary,
  incarnation: sequenceArbitrary,
  metadata: memberMetadataArbitrary,
}

export const memberUpdateArbitrary: fc.Arbitrary<MemberUpdate> = fc.oneof(
  fc.record({ kind: fc.constant('alive' as const), ...identity }),
  fc.record({ kind: fc.constant('suspect' as const), ...identity, accuser: nodeIdArbitrary }),
  fc.record({ kind: fc.constant('dead' as const), ...identity, accuser: nodeIdArbitrary }),
  fc.record({ kind: fc.constant('left' as const), ...identity }),
)

const updates = fc.array(memberUpdateArbitrary, { maxLength: 4 })
const members = fc.array(memberUpdateArbitrary, { maxLength: 8 })

export const messageArbitraries: { readonly [K in MessageKind]: fc.Arbitrary<MessageOf<K>> } = {
  echo: fc.record({ kind: fc.constant('echo'), from: nodeIdArbitrary, seq: sequenceArbitrary, payload: payloadArbitrary }),
  'echo-reply': fc.record({
    kind: fc.constant('echo-reply'),
    from: nodeIdArbitrary,
    seq: sequenceArbitrary,
    payload: payloadArbitrary,
  }),
  'swim-ping': fc.record({
    kind: fc.constant('swim-ping'),
    seq: sequenceArbitrary,
    from: nodeIdArbitrary,
    target: nodeIdArbitrary,
    updates,
  }),
  'swim-ack': fc.record({ kind: fc.constant('swim-ack'), seq: sequenceArbitrary, from: nodeIdArbitrary, updates }),
  'swim-ping-req': fc.record({
    kind: fc.constant('swim-ping-req'),
    seq: sequenceArbitrary,
    from: nodeIdArbitrary,
    target: nodeIdArbitrary,
    targetAddress: peerAddressArbitrary,
    updates,
  }),
  'swim-nack': fc.record({
    kind: fc.constant('swim-nack'),
    seq: sequenceArbitrary,
    from: nodeIdArbitrary,
    target: nodeIdArbitrary,
    refused: fc.boolean(),
    updates,
  }),
  'swim-indirect-ack': fc.record({
    kind: fc.constant('swim-indirect-ack'),
    seq: sequenceArbitrary,
    from: nodeIdArbitrary,
    target: nodeIdArbitrary,
    updates,
  }),
  'swim-gossip': fc.record({ kind: fc.constant('swim-gossip'), from: nodeIdArbitrary, updates }),
  'swim-push-pull-request': fc.record({
    kind: fc.constant('swim-push-pull-request'),
    from: nodeIdArbitrary,
    join: fc.boolean(),
    members,
  }),
  'swim-push-pull-response': fc.record({ kind: fc.constant('swim-push-pull-response'), from: nodeIdArbitrary, members }),
}

export const messageKinds = Object.keys(messageArbitraries) as MessageKind[]

export const anyMessageArbitrary: fc.Arbitrary<Message> = fc.oneof(
  ...messageKinds.map((kind) => messageArbitraries[kind] as fc.Arbitrary<Message>),
)
