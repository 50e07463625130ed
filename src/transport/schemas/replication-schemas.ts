/**
 * Schemas for the data path (replica-*) and the cluster-metadata gossip (placement-*). Objects and contexts are
 * checked here only as bounded bytes and strings; the core decodes and validates them again (object-codec.ts,
 * causal-context.ts) before use, as a pair, because only the core knows their invariants.
 */
import type { BucketProps } from '../../core/node/client.ts'
import type { QuorumSetting } from '../../core/node/node-config.ts'
import type { OwnershipTable, TableVersion } from '../../core/partitioning/ownership-table.ts'
import type { PlacementMessage } from '../../core/partitioning/placement-messages.ts'
import type { BucketPropsEntry } from '../../core/replication/bucket-props-registry.ts'
import { MAX_BUCKET_PROPS_ENTRIES } from '../../core/replication/bucket-props-registry.ts'
import type { ReplicationMessage, WriteContent, WriteResult } from '../../core/replication/replication-messages.ts'
import type { HlcTimestamp } from '../../core/versioning/hybrid-logical-clock.ts'
import { array, boolean, bytes, literal, object, oneOf, optional, string, uint, uint32, variant, type Schema } from '../schema.ts'
import { MAX_PAYLOAD_BYTES, nodeIdSchema } from './common-schemas.ts'

/** Bucket names and keys: far above the API's 256- and 1024-byte limits, so only nonsense is refused here. */
export const MAX_BUCKET_BYTES = 4_096
export const MAX_KEY_BYTES = 4_096
/** A client's context as text: 8 KiB decoded is about 11 KiB of base64url. */
export const MAX_CONTEXT_TEXT_BYTES = 16 * 1024
/** An encoded object may hold several siblings of a maximal value; versioning refuses writes past 50 MiB. */
export const MAX_OBJECT_BYTES = 50 * 1024 * 1024
export const MAX_CONTENT_TYPE_TEXT_BYTES = 1_024
export const MAX_ERROR_TEXT_BYTES = 4_096
/** Keys in one scan answer; the core bounds it by maxListedKeys, this only caps what a peer may claim. */
export const MAX_SCANNED_KEYS = 1_000_000
/** Objects in one handoff page; the core sends handoffPageKeys, this only caps what a peer may claim. */
export const MAX_HANDOFF_OBJECTS = 10_000
/** Q is at most 65536 (partitionOf) and n is small; these bound what a peer may claim a table holds. */
export const MAX_TABLE_PARTITIONS = 65_536
export const MAX_TABLE_REPLICAS = 64

const bucket = string({ maxBytes: MAX_BUCKET_BYTES })
const key = string({ maxBytes: MAX_KEY_BYTES })
const conflict = oneOf(['siblings', 'lww'] as const)

const quorumSettingSchema: Schema<QuorumSetting> = {
  description: 'one, quorum, all or an integer ≥ 1',
  parse(value) {
    if (value === 'one' || value === 'quorum' || value === 'all') return value
    return uint(MAX_TABLE_REPLICAS).parse(value)
  },
}

const writeContentSchema: Schema<WriteContent> = variant<WriteContent>({
  value: object({ kind: literal('value'), value: bytes({ maxBytes: MAX_PAYLOAD_BYTES }), contentType: string({ maxBytes: MAX_CONTENT_TYPE_TEXT_BYTES }) }),
  tombstone: object({ kind: literal('tombstone') }),
})

const text = string({ maxBytes: MAX_ERROR_TEXT_BYTES })

const writeResultSchema: Schema<WriteResult> = variant<WriteResult>({
  written: object({ kind: literal('written'), context: string({ maxBytes: MAX_CONTEXT_TEXT_BYTES }), object: optional(bytes({ maxBytes: MAX_OBJECT_BYTES })) }),
  unavailable: object({ kind: literal('unavailable'), required: uint32(), acknowledged: uint32(), message: text }),
  timeout: object({ kind: literal('timeout'), message: text }),
  error: object({ kind: literal('error'), code: string({ maxBytes: 64 }), message: text }),
})

const tableVersionSchema: Schema<TableVersion> = object({ leaderGeneration: uint(), version: uint() })

const tableSchema: Schema<OwnershipTable> = object({
  partitions: uint(MAX_TABLE_PARTITIONS),
  n: uint(MAX_TABLE_REPLICAS),
  version: tableVersionSchema,
  owners: array(array(nodeIdSchema, { maxLength: MAX_TABLE_REPLICAS }), { maxLength: MAX_TABLE_PARTITIONS }),
})

const hlcSchema: Schema<HlcTimestamp> = object({ physicalMs: uint(), logical: uint32() })

const bucketPropsSchema: Schema<BucketProps> = object({ n: uint(MAX_TABLE_REPLICAS), r: quorumSettingSchema, w: quorumSettingSchema, conflict })

const bucketPropsEntrySchema: Schema<BucketPropsEntry> = object({ bucket, props: bucketPropsSchema, stamp: hlcSchema, writer: nodeIdSchema })

type ReplicationOf<K extends ReplicationMessage['kind']> = Schema<Extract<ReplicationMessage, { kind: K }>>
type PlacementOf<K extends PlacementMessage['kind']> = Schema<Extract<PlacementMessage, { kind: K }>>

export const replicationSchemas: { readonly [K in ReplicationMessage['kind']]: ReplicationOf<K> } = {
  'replica-read': object({ kind: literal('replica-read'), from: nodeIdSchema, partition: uint32(), bucket, key }),
  'replica-read-reply': object({
    kind: literal('replica-read-reply'),
    from: nodeIdSchema,
    outcome: oneOf(['found', 'missing', 'failed'] as const),
    object: optional(bytes({ maxBytes: MAX_OBJECT_BYTES })),
  }),
  'replica-write': object({
    kind: literal('replica-write'),
    from: nodeIdSchema,
    partition: uint32(),
    bucket,
    key,
    conflict,
    n: uint(MAX_TABLE_REPLICAS),
    w: uint(MAX_TABLE_REPLICAS),
    pw: uint(MAX_TABLE_REPLICAS),
    content: writeContentSchema,
    context: optional(string({ maxBytes: MAX_CONTEXT_TEXT_BYTES })),
    clientRequestId: optional(string({ maxBytes: 1_024 })),
    timeoutMs: uint(),
    returnBody: boolean(),
  }),
  'replica-write-reply': object({ kind: literal('replica-write-reply'), from: nodeIdSchema, result: writeResultSchema }),
  'replica-merge': object({
    kind: literal('replica-merge'),
    from: nodeIdSchema,
    partition: uint32(),
    bucket,
    key,
    conflict,
    object: bytes({ maxBytes: MAX_OBJECT_BYTES }),
    hintFor: optional(nodeIdSchema),
  }),
  'replica-merge-reply': object({ kind: literal('replica-merge-reply'), from: nodeIdSchema, outcome: oneOf(['stored', 'failed'] as const) }),
  'replica-scan': object({ kind: literal('replica-scan'), from: nodeIdSchema, partition: uint32(), bucket, limit: uint32() }),
  'replica-scan-reply': object({
    kind: literal('replica-scan-reply'),
    from: nodeIdSchema,
    outcome: oneOf(['complete', 'truncated', 'failed'] as const),
    keys: array(key, { maxLength: MAX_SCANNED_KEYS }),
  }),
  'replica-handoff': object({
    kind: literal('replica-handoff'),
    from: nodeIdSchema,
    partition: uint32(),
    tableVersion: tableVersionSchema,
    objects: array(object({ bucket, key, object: bytes({ maxBytes: MAX_OBJECT_BYTES }) }), { maxLength: MAX_HANDOFF_OBJECTS }),
    last: boolean(),
  }),
  'replica-handoff-reply': object({ kind: literal('replica-handoff-reply'), from: nodeIdSchema, outcome: oneOf(['stored', 'failed'] as const) }),
}

export const placementSchemas: { readonly [K in PlacementMessage['kind']]: PlacementOf<K> } = {
  'placement-digest': object({
    kind: literal('placement-digest'),
    from: nodeIdSchema,
    version: optional(tableVersionSchema),
    propsDigest: string({ maxBytes: 128 }),
  }),
  'placement-state': object({
    kind: literal('placement-state'),
    from: nodeIdSchema,
    table: optional(tableSchema),
    buckets: array(bucketPropsEntrySchema, { maxLength: MAX_BUCKET_PROPS_ENTRIES }),
  }),
  'placement-remove': object({ kind: literal('placement-remove'), from: nodeIdSchema, node: nodeIdSchema }),
  'placement-remove-reply': object({
    kind: literal('placement-remove-reply'),
    from: nodeIdSchema,
    outcome: oneOf(['accepted', 'not-leader', 'unknown-node'] as const),
  }),
}
