/**
 * Schemas for the anti-entropy exchange (ae-*). Objects are checked as bounded bytes only; the core decodes and
 * validates them again before merging, and checks that each key hashes to the partition named.
 */
import type { AntiEntropyMessage } from '../../core/anti-entropy/anti-entropy-messages.ts'
import { antiEntropyLimits } from '../../core/anti-entropy/anti-entropy-messages.ts'
import { array, boolean, bytes, literal, object, oneOf, optional, string, uint, uint32, type Schema } from '../schema.ts'
import { nodeIdSchema } from './common-schemas.ts'
import { MAX_BUCKET_BYTES, MAX_KEY_BYTES, MAX_OBJECT_BYTES } from './replication-schemas.ts'

const bucket = string({ maxBytes: MAX_BUCKET_BYTES })
const key = string({ maxBytes: MAX_KEY_BYTES })
const outcome = oneOf(['ok', 'not-ready', 'failed'] as const)
const indices = array(uint32(), { maxLength: Math.max(antiEntropyLimits.maxNodesPerRequest, antiEntropyLimits.maxLeavesPerRequest) })
const digest = bytes({ maxBytes: 8 })

type AntiEntropyOf<K extends AntiEntropyMessage['kind']> = Schema<Extract<AntiEntropyMessage, { kind: K }>>

const rootsLimit = { maxLength: antiEntropyLimits.maxRootsPerCall }

export const antiEntropySchemas: { readonly [K in AntiEntropyMessage['kind']]: AntiEntropyOf<K> } = {
  'ae-roots': object({
    kind: literal('ae-roots'), from: nodeIdSchema, roundMs: uint(), partitions: array(uint32(), rootsLimit),
    roots: bytes({ maxBytes: 8 * antiEntropyLimits.maxRootsPerCall }), lowWaterMs: array(uint(), rootsLimit),
    lowWaterOwners: array(string({ maxBytes: 4_096 }), rootsLimit),
  }),
  'ae-roots-reply': object({
    kind: literal('ae-roots-reply'), from: nodeIdSchema, outcome, roots: bytes({ maxBytes: 8 * antiEntropyLimits.maxRootsPerCall }),
    notReady: array(uint32(), rootsLimit), logSeqs: array(uint(), rootsLimit),
  }),
  'ae-hashes': object({
    kind: literal('ae-hashes'), from: nodeIdSchema, partition: uint32(), level: uint(8), nodes: indices,
    lowWaterMs: optional(uint()), lowWaterOwners: optional(string({ maxBytes: 4_096 })),
    roundMs: optional(uint()),
  }),
  'ae-hashes-reply': object({
    kind: literal('ae-hashes-reply'), from: nodeIdSchema, outcome, hashes: bytes({ maxBytes: antiEntropyLimits.maxWireHashBytes }),
    logSeq: optional(uint()),
  }),
  'ae-keys': object({ kind: literal('ae-keys'), from: nodeIdSchema, partition: uint32(), leaves: indices }),
  'ae-keys-reply': object({
    kind: literal('ae-keys-reply'), from: nodeIdSchema, outcome, leavesCovered: uint32(),
    entries: array(object({ bucket, key, digest }), { maxLength: antiEntropyLimits.maxWireEntries }),
  }),
  'ae-fetch': object({
    kind: literal('ae-fetch'), from: nodeIdSchema, partition: uint32(),
    keys: array(object({ bucket, key }), { maxLength: antiEntropyLimits.maxKeysPerFetch }),
  }),
  'ae-fetch-reply': object({
    kind: literal('ae-fetch-reply'), from: nodeIdSchema, outcome,
    objects: array(object({ bucket, key, object: optional(bytes({ maxBytes: MAX_OBJECT_BYTES })) }), { maxLength: antiEntropyLimits.maxKeysPerFetch }),
  }),
  'ae-log': object({ kind: literal('ae-log'), from: nodeIdSchema, partition: uint32(), afterSeq: uint() }),
  'ae-log-reply': object({
    kind: literal('ae-log-reply'), from: nodeIdSchema, outcome: oneOf(['ok', 'truncated', 'not-ready', 'failed'] as const),
    entries: array(object({ bucket, key, digest }), { maxLength: antiEntropyLimits.maxLogEntriesPerPage }),
    nextAfterSeq: uint(), highWaterSeq: uint(), complete: boolean(), firstRetainedSeq: optional(uint()),
  }),
}
