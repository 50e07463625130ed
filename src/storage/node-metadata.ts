/**
 * Node identity on disk: which node this data directory belongs to, and the generation clock. On every open
 * the generation becomes max(stored + 1, current unix seconds) and is persisted durably before anyone can use
 * it, so it never repeats: not after a crash (stored + 1), and not after the disk was wiped (the wall clock has
 * moved on since the old generation was minted, as long as restarts are more than a second apart).
 *
 * Also the storage format version, checked so an incompatible layout is refused instead of misread.
 */
import type { Clock } from '../core/primitives/clock.ts'
import type { NodeId } from '../core/primitives/ids.ts'
import { assert } from '../core/primitives/assert.ts'
import type { CommitQueue } from './commit-queue.ts'
import { metaKey } from './key-layout.ts'
import type { KvStore } from './kv-store.ts'
import { decodeRecord, encodeRecord, isObjectRecord, isUint53 } from './record-codec.ts'
import { StorageError } from './storage-error.ts'

/** Bump when key-layout.ts or a record's shape changes incompatibly. */
export const storageFormatVersion = 1

/** Meta names under this prefix belong to storage itself; the core's put-meta may not write them. */
export const reservedMetaPrefix = 'chorus.'

const names = { format: 'chorus.format-version', nodeId: 'chorus.node-id', generation: 'chorus.generation' } as const

export interface NodeIdentityRecord {
  readonly nodeId: NodeId
  readonly generation: number
  /** The generation stored before this open; null on a fresh directory. */
  readonly previousGeneration: number | null
}

/** Verifies the directory, raises the generation and persists it (synced) before returning. */
export async function claimNodeIdentity(store: KvStore, queue: CommitQueue, clock: Clock, nodeId: NodeId): Promise<NodeIdentityRecord> {
  const format = await readNumber(store, names.format, 'version')
  if (format !== null && format !== storageFormatVersion) {
    throw new StorageError('WRONG_DATA_DIRECTORY', `storage format ${format} is not the supported ${storageFormatVersion}`)
  }
  const storedNodeId = await readString(store, names.nodeId, 'nodeId')
  if (storedNodeId !== null && storedNodeId !== nodeId) {
    throw new StorageError('WRONG_DATA_DIRECTORY', `data directory belongs to node ${storedNodeId}, not ${nodeId}`)
  }
  const previousGeneration = await readNumber(store, names.generation, 'generation')
  const generation = Math.max((previousGeneration ?? 0) + 1, Math.floor(clock.wallClockMs() / 1_000))
  assert(previousGeneration === null || generation > previousGeneration, 'generation must increase')
  await queue.submit(
    [
      { kind: 'put', key: metaKey(names.format), value: encodeRecord('meta', { version: storageFormatVersion }) },
      { kind: 'put', key: metaKey(names.nodeId), value: encodeRecord('meta', { nodeId }) },
      { kind: 'put', key: metaKey(names.generation), value: encodeRecord('meta', { generation }) },
    ],
    'durable',
  )
  // Assertion pair: read back what we just persisted before handing it out.
  const persisted = await readNumber(store, names.generation, 'generation')
  assert(persisted === generation, () => `generation read back as ${persisted}, wrote ${generation}`)
  return { nodeId, generation, previousGeneration }
}

async function readField(store: KvStore, name: string, field: string): Promise<unknown> {
  const raw = await store.get(metaKey(name))
  if (raw === null) return null
  const decoded = decodeRecord('meta', raw, (payload) => (isObjectRecord(payload) && field in payload ? payload : null))
  if (decoded.kind === 'corrupt') throw new StorageError('CORRUPT_RECORD', `meta ${name}: ${decoded.reason}`)
  return decoded.value[field]
}

async function readNumber(store: KvStore, name: string, field: string): Promise<number | null> {
  const value = await readField(store, name, field)
  if (value !== null && !isUint53(value)) throw new StorageError('CORRUPT_RECORD', `meta ${name} is not a number`)
  return value
}

async function readString(store: KvStore, name: string, field: string): Promise<string | null> {
  const value = await readField(store, name, field)
  if (value !== null && typeof value !== 'string') throw new StorageError('CORRUPT_RECORD', `meta ${name} is not a string`)
  return value
}
