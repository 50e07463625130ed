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

const text = fc.string({ maxLength: 30 })
const partition = fc.nat(65_535)
const conflict = fc.constantFrom('siblings' as const, 'lww' as const)
const smallCount = fc.nat(10)
const quorumSetting = fc.oneof(fc.constantFrom('one' as const, 'quorum' as const, 'all' as const), fc.integer({ min: 1, max: 10 }))
const tableVersion = fc.record({ leaderGeneration: sequenceArbitrary, version: sequenceArbitrary })
const table = fc.record({
  partitions: fc.integer({ min: 1, max: 64 }),
  n: fc.integer({ min: 1, max: 5 }),
  version: tableVersion,
  owners: fc.array(fc.array(nodeIdArbitrary, { maxLength: 3 }), { maxLength: 8 }),
})
const bucketPropsEntry = fc.record({
  bucket: text,
  props: fc.record({ n: fc.integer({ min: 1, max: 5 }), r: quorumSetting, w: quorumSetting, conflict }),
  stamp: fc.record({ physicalMs: sequenceArbitrary, logical: fc.nat(0xffff_ffff) }),
  writer: nodeIdArbitrary,
})
const writeResult = fc.oneof(
  fc.record({ kind: fc.constant('written' as const), context: text, object: payloadArbitrary }, { requiredKeys: ['kind', 'context'] }),
  fc.record({ kind: fc.constant('unavailable' as const), required: smallCount, acknowledged: smallCount, message: text }),
  fc.record({ kind: fc.constant('timeout' as const), message: text }),
  fc.record({ kind: fc.constant('error' as const), code: fc.constantFrom('TOO_MANY_SIBLINGS', 'STORAGE_ERROR'), message: text }),
)
const writeContent = fc.oneof(
  fc.record({ kind: fc.constant('value' as const), value: payloadArbitrary, contentType: text }),
  fc.record({ kind: fc.constant('tombstone' as const) }),
)

const updates = fc.array(memberUpdateArbitrary, { maxLength: 4 })
const members = fc.array(memberUpdateArbitrary, { maxLength: 8 })
const aeOutcome = fc.constantFrom('ok' as const, 'not-ready' as const, 'failed' as const)
const aeIndices = fc.array(fc.nat(1_023), { maxLength: 16 })

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
  'replica-read': fc.record({ kind: fc.constant('replica-read'), from: nodeIdArbitrary, partition, bucket: text, key: text }),
  'replica-read-reply': fc.record(
    { kind: fc.constant('replica-read-reply'), from: nodeIdArbitrary, outcome: fc.constantFrom('found' as const, 'missing' as const, 'failed' as const), object: payloadArbitrary },
    { requiredKeys: ['kind', 'from', 'outcome'] },
  ),
  'replica-write': fc.record(
    {
      kind: fc.constant('replica-write'), from: nodeIdArbitrary, partition, bucket: text, key: text, conflict,
      n: smallCount, w: smallCount, pw: smallCount, content: writeContent, context: text, clientRequestId: text,
      timeoutMs: sequenceArbitrary, returnBody: fc.boolean(),
    },
    { requiredKeys: ['kind', 'from', 'partition', 'bucket', 'key', 'conflict', 'n', 'w', 'pw', 'content', 'timeoutMs', 'returnBody'] },
  ),
  'replica-write-reply': fc.record({ kind: fc.constant('replica-write-reply'), from: nodeIdArbitrary, result: writeResult }),
  'replica-merge': fc.record(
    { kind: fc.constant('replica-merge'), from: nodeIdArbitrary, partition, bucket: text, key: text, conflict, object: payloadArbitrary, hintFor: nodeIdArbitrary },
    { requiredKeys: ['kind', 'from', 'partition', 'bucket', 'key', 'conflict', 'object'] },
  ),
  'replica-merge-reply': fc.record({ kind: fc.constant('replica-merge-reply'), from: nodeIdArbitrary, outcome: fc.constantFrom('stored' as const, 'failed' as const) }),
  'replica-scan': fc.record({ kind: fc.constant('replica-scan'), from: nodeIdArbitrary, partition, bucket: text, limit: fc.nat(100_000) }),
  'replica-scan-reply': fc.record({
    kind: fc.constant('replica-scan-reply'), from: nodeIdArbitrary,
    outcome: fc.constantFrom('complete' as const, 'truncated' as const, 'failed' as const), keys: fc.array(text, { maxLength: 5 }),
  }),
  'replica-handoff': fc.record({
    kind: fc.constant('replica-handoff'), from: nodeIdArbitrary, partition, tableVersion,
    objects: fc.array(fc.record({ bucket: text, key: text, object: payloadArbitrary }), { maxLength: 3 }), last: fc.boolean(),
  }),
  'replica-handoff-reply': fc.record({ kind: fc.constant('replica-handoff-reply'), from: nodeIdArbitrary, outcome: fc.constantFrom('stored' as const, 'failed' as const) }),
  'placement-digest': fc.record(
    { kind: fc.constant('placement-digest'), from: nodeIdArbitrary, version: tableVersion, propsDigest: text },
    { requiredKeys: ['kind', 'from', 'propsDigest'] },
  ),
  'placement-state': fc.record(
    { kind: fc.constant('placement-state'), from: nodeIdArbitrary, table, buckets: fc.array(bucketPropsEntry, { maxLength: 3 }) },
    { requiredKeys: ['kind', 'from', 'buckets'] },
  ),
  'placement-remove': fc.record({ kind: fc.constant('placement-remove'), from: nodeIdArbitrary, node: nodeIdArbitrary }),
  'placement-remove-reply': fc.record({
    kind: fc.constant('placement-remove-reply'), from: nodeIdArbitrary,
    outcome: fc.constantFrom('accepted' as const, 'not-leader' as const, 'unknown-node' as const),
  }),
  'ae-hashes': fc.record(
    { kind: fc.constant('ae-hashes'), from: nodeIdArbitrary, partition, level: fc.nat(8), nodes: aeIndices, lowWaterMs: fc.nat(), lowWaterOwners: text, roundMs: fc.nat() },
    { requiredKeys: ['kind', 'from', 'partition', 'level', 'nodes'] },
  ),
  'ae-hashes-reply': fc.record(
    { kind: fc.constant('ae-hashes-reply'), from: nodeIdArbitrary, outcome: aeOutcome, hashes: fc.uint8Array({ maxLength: 64 }), logSeq: fc.nat() },
    { requiredKeys: ['kind', 'from', 'outcome', 'hashes'] },
  ),
  'ae-keys': fc.record({ kind: fc.constant('ae-keys'), from: nodeIdArbitrary, partition, leaves: aeIndices }),
  'ae-keys-reply': fc.record({
    kind: fc.constant('ae-keys-reply'), from: nodeIdArbitrary, outcome: aeOutcome, leavesCovered: fc.nat(16),
    entries: fc.array(fc.record({ bucket: text, key: text, digest: fc.uint8Array({ minLength: 8, maxLength: 8 }) }), { maxLength: 4 }),
  }),
  'ae-fetch': fc.record({ kind: fc.constant('ae-fetch'), from: nodeIdArbitrary, partition, keys: fc.array(fc.record({ bucket: text, key: text }), { maxLength: 4 }) }),
  'ae-fetch-reply': fc.record({
    kind: fc.constant('ae-fetch-reply'), from: nodeIdArbitrary, outcome: aeOutcome,
    objects: fc.array(fc.record({ bucket: text, key: text, object: payloadArbitrary }, { requiredKeys: ['bucket', 'key'] }), { maxLength: 4 }),
  }),
  'ae-roots': fc.record({
    kind: fc.constant('ae-roots'), from: nodeIdArbitrary, roundMs: fc.nat(), partitions: fc.array(partition, { maxLength: 4 }),
    roots: fc.uint8Array({ maxLength: 32 }), lowWaterMs: fc.array(fc.nat(), { maxLength: 4 }), lowWaterOwners: fc.array(text, { maxLength: 4 }),
  }),
  'ae-roots-reply': fc.record({
    kind: fc.constant('ae-roots-reply'), from: nodeIdArbitrary, outcome: aeOutcome, roots: fc.uint8Array({ maxLength: 32 }),
    notReady: fc.array(fc.nat(3), { maxLength: 4 }), logSeqs: fc.array(fc.nat(), { maxLength: 4 }),
  }),
  'ae-log': fc.record({ kind: fc.constant('ae-log'), from: nodeIdArbitrary, partition, afterSeq: fc.nat() }),
  'ae-log-reply': fc.record(
    {
      kind: fc.constant('ae-log-reply'), from: nodeIdArbitrary, outcome: fc.constantFrom('ok' as const, 'truncated' as const, 'not-ready' as const, 'failed' as const),
      entries: fc.array(fc.record({ bucket: text, key: text, digest: fc.uint8Array({ minLength: 8, maxLength: 8 }) }), { maxLength: 4 }),
      nextAfterSeq: fc.nat(), highWaterSeq: fc.nat(), complete: fc.boolean(), firstRetainedSeq: fc.nat(),
    },
    { requiredKeys: ['kind', 'from', 'outcome', 'entries', 'nextAfterSeq', 'highWaterSeq', 'complete'] },
  ),
}

export const messageKinds = Object.keys(messageArbitraries) as MessageKind[]

export const anyMessageArbitrary: fc.Arbitrary<Message> = fc.oneof(
  ...messageKinds.map((kind) => messageArbitraries[kind] as fc.Arbitrary<Message>),
)
