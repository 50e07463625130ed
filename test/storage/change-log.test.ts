import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import type { StorageResult } from '../../src/core/node/storage-operation.ts'
import type { CorruptEntryReport } from '../../src/storage/change-log.ts'
import { changeLogKey, changeLogRange } from '../../src/storage/key-layout.ts'
import type { KvStore } from '../../src/storage/kv-store.ts'
import { MemoryStore } from '../../src/storage/memory-store.ts'
import { SimDiskStore } from '../../src/storage/sim-disk-store.ts'
import type { StorageEngine } from '../../src/storage/storage-engine.ts'
import { onlyOutcome, openEngine, putObject } from './fixtures/engine.ts'
import { ManualClock, levelStoreFactory } from './fixtures/stores.ts'

let cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  cleanups = []
})

async function writeEntries(engine: StorageEngine, partition: number, count: number): Promise<number[]> {
  const seqs: number[] = []
  for (let i = 0; i < count; i++) {
    const outcome = onlyOutcome(await engine.apply([putObject(partition, `k${i}`, `v${i}`)], 'durable'))
    if (outcome.kind !== 'object-written') throw new Error(outcome.kind)
    seqs.push(outcome.seq)
  }
  return seqs
}

function seqsOf(result: StorageResult): number[] {
  if (result.kind !== 'change-log') throw new Error(`expected change-log, got ${result.kind}`)
  return result.entries.map((entry) => entry.seq)
}

async function storedSeqs(store: KvStore, partition: number): Promise<number[]> {
  const rows = await store.scan({ ...changeLogRange(partition, 0, Number.MAX_SAFE_INTEGER), limit: 10_000, keysOnly: true })
  return rows.map((row) => new DataView(row.key.buffer, row.key.byteOffset).getUint32(9))
}

describe('change log', () => {
  it('never repeats a seq across restarts, in every partition (skip-scan recovery)', async () => {
    const { store, reopen, cleanup } = levelStoreFactory.create()
    cleanups.push(cleanup)
    let engine = await openEngine(store)
    const partitions = [0, 7, 255, 0xffff_ffff]
    for (const p of partitions) expect(await writeEntries(engine, p, 3)).toEqual([1, 2, 3])
    await engine.close()
    engine = await openEngine(reopen())
    cleanups.push(() => engine.close())
    for (const p of partitions) {
      expect(engine.lastSeq(p)).toBe(3)
      expect(await writeEntries(engine, p, 2)).toEqual([4, 5])
    }
    expect(engine.lastSeq(1)).toBe(0)
  })

  it('readSince returns exactly the entries after the mark, in order, page by page', async () => {
    const engine = await openEngine(new MemoryStore())
    cleanups.push(() => engine.close())
    const total = 60
    await writeEntries(engine, 2, total)
    await writeEntries(engine, 3, 5) // a neighbour partition must never leak in
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: total + 3 }), fc.integer({ min: 1, max: 25 }), async (afterSeq, limit) => {
        const expected = Array.from({ length: total }, (_, i) => i + 1).filter((seq) => seq > afterSeq)
        const collected: number[] = []
        let mark = afterSeq
        for (;;) {
          const page = await engine.read({ kind: 'read-change-log', partition: 2, afterSeq: mark, limit })
          if (page.kind !== 'change-log') throw new Error(page.kind)
          expect(page.entries.length).toBeLessThanOrEqual(limit)
          expect(page.entries.every((entry) => entry.partition === 2 && entry.key.startsWith('k'))).toBe(true)
          collected.push(...seqsOf(page))
          mark = page.nextAfterSeq
          if (page.complete) break
        }
        expect(collected).toEqual(expected)
      }),
      { seed: 4242, numRuns: 60 },
    )
  })

  it('truncation removes whole segments below the low-water mark and nothing above it', async () => {
    const store = new MemoryStore()
    const engine = await openEngine(store) // 16 entries per segment
    cleanups.push(() => engine.close())
    await writeEntries(engine, 1, 100)
    await writeEntries(engine, 2, 20)
    const outcome = onlyOutcome(await engine.apply([{ kind: 'truncate-change-log', partition: 1, lowWaterSeq: 40 }], 'durable'))
    expect(outcome).toEqual({ kind: 'change-log-truncated', firstRetainedSeq: 32, removedSegments: 2 })
    expect(await storedSeqs(store, 1)).toEqual(Array.from({ length: 69 }, (_, i) => i + 32))
    expect((await storedSeqs(store, 2)).length).toBe(20)
    expect(await engine.read({ kind: 'read-change-log', partition: 1, afterSeq: 30, limit: 10 })).toEqual({ kind: 'change-log-truncated', firstRetainedSeq: 32 })
    expect(seqsOf(await engine.read({ kind: 'read-change-log', partition: 1, afterSeq: 31, limit: 3 }))).toEqual([32, 33, 34])
    // A lower mark later is a no-op, not a resurrection.
    expect(onlyOutcome(await engine.apply([{ kind: 'truncate-change-log', partition: 1, lowWaterSeq: 20 }], 'durable'))).toMatchObject({ removedSegments: 0 })
  })

  it('keeps seqs unique even when truncation removed every entry, and finishes an interrupted truncation', async () => {
    const disk = new SimDiskStore()
    let engine = await openEngine(disk)
    await writeEntries(engine, 5, 31)
    onlyOutcome(await engine.apply([{ kind: 'truncate-change-log', partition: 5, lowWaterSeq: 1_000 }], 'durable'))
    expect(await storedSeqs(disk, 5)).toEqual([])
    // Power loss: the marker was synced, the range delete was not, so the entries come back from the disk.
    await disk.crash()
    await disk.open()
    expect((await storedSeqs(disk, 5)).length).toBe(31)
    await disk.close()
    engine = await openEngine(disk)
    cleanups.push(() => engine.close())
    expect(await storedSeqs(disk, 5)).toEqual([])
    expect(await writeEntries(engine, 5, 1)).toEqual([32])
  })

  it('detects a corrupted entry: reported, counted, skipped, and paging moves past it', async () => {
    const store = new MemoryStore()
    const reports: CorruptEntryReport[] = []
    const engine = await openEngine(store, new ManualClock(), {}, { onCorruptEntry: (report) => reports.push(report) })
    cleanups.push(() => engine.close())
    await writeEntries(engine, 0, 5)
    const key = changeLogKey(0, 3)
    const raw = await store.get(key)
    if (raw === null) throw new Error('entry 3 missing')
    const flipped = new Uint8Array(raw)
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01
    await store.write([{ kind: 'put', key, value: flipped }], { sync: false })
    const page = await engine.read({ kind: 'read-change-log', partition: 0, afterSeq: 2, limit: 1 })
    expect(page).toMatchObject({ kind: 'change-log', entries: [], corruptedEntries: 1, nextAfterSeq: 3 })
    expect(seqsOf(await engine.read({ kind: 'read-change-log', partition: 0, afterSeq: 0, limit: 10 }))).toEqual([1, 2, 4, 5])
    expect(reports.map((r) => [r.partition, r.seq])).toEqual([[0, 3], [0, 3]])
    expect(reports[0]?.reason).toMatch(/crc32c/)
    expect(engine.stats.corruptedLogEntries).toBe(2)
  })
})
