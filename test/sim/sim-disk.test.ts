/**
 * The simulated disk: unsynced writes die with a crash, a durable batch makes everything before it durable,
 * and the storage semantics the core relies on (sequence numbers, idempotent request ids, segment-aligned
 * change-log truncation, paging) hold as src/storage defines them.
 */
import { describe, expect, it } from 'vitest'
import { nodeId } from '../../src/core/primitives/ids.ts'
import type { Mutation, StorageResult } from '../../src/core/node/storage-operation.ts'
import { MemorySimDisk, defaultMemorySimDiskOptions } from '../../src/sim/sim-disk.ts'

const bytes = (text: string) => new TextEncoder().encode(text)
const meta = (name: string, value: string): Mutation => ({ kind: 'put-meta', name, value: bytes(value) })
const object = (key: string, value: string, requestId?: string): Mutation => ({
  kind: 'put-object', partition: 3, bucket: 'b', key, value: bytes(value), dot: null, ...(requestId === undefined ? {} : { requestId }),
})
const metaValue = (result: StorageResult) => (result.kind === 'meta' && result.value !== null ? new TextDecoder().decode(result.value) : null)

describe('MemorySimDisk', () => {
  it('loses unsynced writes on crash and keeps synced ones', () => {
    const disk = new MemorySimDisk()
    disk.write([meta('a', '1')], 'durable', 0)
    disk.write([meta('b', '2')], 'unsafe', 0)
    expect(metaValue(disk.read({ kind: 'get-meta', name: 'b' }, 0))).toBe('2')
    disk.crash()
    expect(metaValue(disk.read({ kind: 'get-meta', name: 'a' }, 0))).toBe('1')
    expect(metaValue(disk.read({ kind: 'get-meta', name: 'b' }, 0))).toBeNull()
    expect(disk.stats().entriesLostOnCrash).toBe(1)
  })

  it('a durable batch makes every earlier unsafe batch durable too (one log, one fsync)', () => {
    const disk = new MemorySimDisk()
    disk.write([meta('early', 'x')], 'unsafe', 0)
    disk.write([meta('late', 'y')], 'durable', 0)
    disk.crash()
    expect(metaValue(disk.read({ kind: 'get-meta', name: 'early' }, 0))).toBe('x')
  })

  it('numbers object writes per partition and answers a repeated request id with the first outcome', () => {
    const disk = new MemorySimDisk({ ...defaultMemorySimDiskOptions, requestIdTtlMs: 1_000 })
    expect(disk.write([object('k1', 'v1'), object('k2', 'v2', 'req-1')], 'durable', 0)).toEqual({
      kind: 'written', outcomes: [{ kind: 'object-written', partition: 3, seq: 1 }, { kind: 'object-written', partition: 3, seq: 2 }],
    })
    expect(disk.write([object('k2', 'other', 'req-1')], 'durable', 500)).toEqual({
      kind: 'written', outcomes: [{ kind: 'duplicate', requestId: 'req-1', partition: 3, seq: 2 }],
    })
    // After the TTL the id is forgotten and the write applies.
    expect(disk.write([object('k2', 'other', 'req-1')], 'durable', 1_500)).toEqual({
      kind: 'written', outcomes: [{ kind: 'object-written', partition: 3, seq: 3 }],
    })
    const read = disk.read({ kind: 'get-object', partition: 3, bucket: 'b', key: 'k2' }, 1_500)
    expect(read.kind === 'object' && read.object?.seq).toBe(3)
  })

  it('pages a partition scan in key order', () => {
    const disk = new MemorySimDisk()
    disk.write(['c', 'a', 'b', 'd'].map((key) => object(key, key)), 'durable', 0)
    const first = disk.read({ kind: 'scan-partition', partition: 3, after: null, limit: 3 }, 0)
    expect(first.kind === 'objects' && first.objects.map((o) => o.key)).toEqual(['a', 'b', 'c'])
    expect(first.kind === 'objects' && first.complete).toBe(false)
    const second = disk.read({ kind: 'scan-partition', partition: 3, after: { bucket: 'b', key: 'c' }, limit: 3 }, 0)
    expect(second.kind === 'objects' && second.objects.map((o) => o.key)).toEqual(['d'])
    expect(second.kind === 'objects' && second.complete).toBe(true)
  })

  it('truncates the change log by whole segments and reports reads that fall below it', () => {
    const disk = new MemorySimDisk({ ...defaultMemorySimDiskOptions, segmentEntries: 4 })
    disk.write(Array.from({ length: 10 }, (_, i) => object(`k${i}`, 'v')), 'durable', 0)
    expect(disk.write([{ kind: 'truncate-change-log', partition: 3, lowWaterSeq: 9 }], 'durable', 0)).toEqual({
      kind: 'written', outcomes: [{ kind: 'change-log-truncated', firstRetainedSeq: 8, removedSegments: 2 }],
    })
    expect(disk.read({ kind: 'read-change-log', partition: 3, afterSeq: 0, limit: 100 }, 0)).toEqual({
      kind: 'change-log-truncated', firstRetainedSeq: 8,
    })
    const page = disk.read({ kind: 'read-change-log', partition: 3, afterSeq: 7, limit: 2 }, 0)
    expect(page).toMatchObject({ kind: 'change-log', nextAfterSeq: 9, highWaterSeq: 10, complete: false })
    expect(page.kind === 'change-log' && page.entries.map((e) => e.seq)).toEqual([8, 9])
  })

  it('stores hints per target in order and lists the targets', () => {
    const disk = new MemorySimDisk()
    const hint = (target: string, key: string): Mutation => ({ kind: 'put-hint', target: nodeId(target), partition: 1, bucket: 'b', key, value: bytes(key) })
    disk.write([hint('n2', 'x'), hint('n3', 'y'), hint('n2', 'z')], 'durable', 0)
    const hints = disk.read({ kind: 'list-hints', target: nodeId('n2'), afterHintId: 0, limit: 10 }, 0)
    expect(hints.kind === 'hints' && hints.hints.map((h) => [h.hintId, h.key])).toEqual([[1, 'x'], [3, 'z']])
    disk.write([{ kind: 'delete-hint', target: nodeId('n2'), hintId: 1 }], 'durable', 0)
    expect(disk.read({ kind: 'list-hint-targets' }, 0)).toEqual({
      kind: 'hint-targets', targets: [{ target: 'n2', count: 1 }, { target: 'n3', count: 1 }],
    })
  })

  it('refuses a scan without a sane limit', () => {
    const disk = new MemorySimDisk()
    expect(disk.read({ kind: 'scan-partition', partition: 0, after: null, limit: 0 }, 0).kind).toBe('failed')
  })
})
