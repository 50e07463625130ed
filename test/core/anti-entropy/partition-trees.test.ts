/**
 * PartitionTrees.knownAbsent: the replica skips its disk read when this says a key is not stored, so it must never
 * say so for a key the disk may hold: not before the partition's tree is rebuilt, not for a key found by the scan
 * or written since, and only after the last emitted change removed it.
 */
import { describe, expect, it } from 'vitest'
import type { Effect } from '../../../src/core/node/effect.ts'
import { IoContinuations } from '../../../src/core/node/io-continuations.ts'
import type { Mutation, StoredObject } from '../../../src/core/node/storage-operation.ts'
import { PartitionTrees } from '../../../src/core/anti-entropy/partition-trees.ts'
import { callId, operationId } from '../../../src/core/primitives/ids.ts'
import type { OperationId } from '../../../src/core/primitives/ids.ts'

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)
const stored = (partition: number, key: string): StoredObject => ({ partition, bucket: 'b', key, value: bytes(key), seq: 1 })
const writeEffect = (mutation: Mutation): Effect => ({ kind: 'write', operationId: operationId(999), mutations: [mutation], durability: 'durable' })

function harness() {
  let ids = 1
  const io = new IoContinuations({ nextCallId: () => callId(ids++), nextOperationId: () => operationId(ids++) })
  const trees = new PartitionTrees(io, { partitions: 2, shape: { fanout: 4, depth: 2 }, rebuildPageSize: 10 })
  /** Answers the pending scan of `partition` with `objects`, as its last page. */
  const answerScan = (out: Effect[], partition: number, objects: readonly StoredObject[]): Effect[] => {
    const scan = out.find((e) => e.kind === 'read' && e.query.kind === 'scan-partition' && e.query.partition === partition)
    expect(scan).toBeDefined()
    const next: Effect[] = []
    io.storageResult((scan as { operationId: OperationId }).operationId, { kind: 'objects', objects, complete: true }, next)
    return next
  }
  return { trees, answerScan }
}

describe('PartitionTrees.knownAbsent', () => {
  it('says nothing until a partition is rebuilt, then only for keys neither scanned nor written', () => {
    const { trees, answerScan } = harness()
    expect(trees.knownAbsent(0, 'b', 'missing')).toBe(false)
    const out: Effect[] = []
    trees.tick(out)
    // A write during the rebuild is known at once; the partition is still not trusted for absence.
    trees.observe([writeEffect({ kind: 'put-object', partition: 0, bucket: 'b', key: 'written', value: bytes('w'), dot: null, tombstonesOnly: false })])
    expect(trees.knownAbsent(0, 'b', 'missing')).toBe(false)
    const afterFirst = answerScan(out, 0, [stored(0, 'scanned')])
    expect(trees.knownAbsent(0, 'b', 'missing')).toBe(true)
    expect(trees.knownAbsent(0, 'b', 'scanned')).toBe(false)
    expect(trees.knownAbsent(0, 'b', 'written')).toBe(false)
    expect(trees.knownAbsent(0, 'other-bucket', 'scanned')).toBe(true)
    // Partition 1 is being scanned now: not yet trusted.
    expect(trees.knownAbsent(1, 'b', 'missing')).toBe(false)
    answerScan(afterFirst, 1, [])
    expect(trees.knownAbsent(1, 'b', 'missing')).toBe(true)

    trees.observe([writeEffect({ kind: 'delete-object', partition: 0, bucket: 'b', key: 'scanned' })])
    expect(trees.knownAbsent(0, 'b', 'scanned')).toBe(true)
    trees.observe([writeEffect({ kind: 'put-object', partition: 0, bucket: 'b', key: 'scanned', value: bytes('again'), dot: null, tombstonesOnly: false })])
    expect(trees.knownAbsent(0, 'b', 'scanned')).toBe(false)
  })
})
