import { afterEach, describe, expect, it } from 'vitest'
import type { StorageResult } from '../../src/core/node/storage-operation.ts'
import type { StorageEngine } from '../../src/storage/storage-engine.ts'
import { MemoryStore } from '../../src/storage/memory-store.ts'
import { onlyOutcome, openEngine, outcomesOf, putObject } from './fixtures/engine.ts'
import { ManualClock, levelStoreFactory, text } from './fixtures/stores.ts'

let cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  cleanups = []
})

async function logLength(engine: StorageEngine, partition: number): Promise<number> {
  const page = await engine.read({ kind: 'read-change-log', partition, afterSeq: 0, limit: 1_000 })
  if (page.kind !== 'change-log') throw new Error(page.kind)
  return page.entries.length
}

async function valueOf(engine: StorageEngine, partition: number, key: string): Promise<string | null> {
  const result: StorageResult = await engine.read({ kind: 'get-object', partition, bucket: 'b', key })
  if (result.kind !== 'object') throw new Error(result.kind)
  return result.object === null ? null : text(result.object.value)
}

describe('idempotent receiver', () => {
  it('applies a request id once when 64 copies arrive concurrently', async () => {
    const engine = await openEngine(new MemoryStore())
    cleanups.push(() => engine.close())
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => engine.apply([putObject(1, 'k', `copy-${i}`, 'req-1')], 'durable')))
    const outcomes = results.map(onlyOutcome)
    const written = outcomes.filter((o) => o.kind === 'object-written')
    expect(written).toEqual([{ kind: 'object-written', partition: 1, seq: 1 }])
    expect(outcomes.filter((o) => o.kind === 'duplicate')).toHaveLength(63)
    expect(outcomes.every((o) => o.kind === 'object-written' || (o.kind === 'duplicate' && o.seq === 1 && o.requestId === 'req-1'))).toBe(true)
    expect(await valueOf(engine, 1, 'k')).toBe('copy-0')
    expect(await logLength(engine, 1)).toBe(1)
    expect(engine.stats.duplicateRequests).toBe(63)
  })

  it('applies a request id once when it repeats inside one write effect', async () => {
    const engine = await openEngine(new MemoryStore())
    cleanups.push(() => engine.close())
    const outcomes = outcomesOf(await engine.apply([putObject(1, 'k', 'first', 'r'), putObject(1, 'k', 'second', 'r')], 'durable'))
    expect(outcomes.map((o) => o.kind)).toEqual(['object-written', 'duplicate'])
    expect(await valueOf(engine, 1, 'k')).toBe('first')
  })

  it('applies a request id once across a restart', async () => {
    const { store, reopen, cleanup } = levelStoreFactory.create()
    cleanups.push(cleanup)
    const clock = new ManualClock()
    const before = await openEngine(store, clock)
    expect(onlyOutcome(await before.apply([putObject(2, 'k', 'v1', 'req-restart')], 'durable')).kind).toBe('object-written')
    await before.close()
    const after = await openEngine(reopen(), clock)
    cleanups.push(() => after.close())
    expect(onlyOutcome(await after.apply([putObject(2, 'k', 'v2', 'req-restart')], 'durable'))).toEqual({ kind: 'duplicate', requestId: 'req-restart', partition: 2, seq: 1 })
    expect(await valueOf(after, 2, 'k')).toBe('v1')
    expect(await logLength(after, 2)).toBe(1)
    const record = await after.read({ kind: 'get-request-record', requestId: 'req-restart' })
    expect(record).toMatchObject({ kind: 'request-record', record: { requestId: 'req-restart', partition: 2, seq: 1 } })
  })

  it('forgets a request id after the TTL, and the sweep deletes only expired records', async () => {
    const clock = new ManualClock()
    const engine = await openEngine(new MemoryStore(), clock, { requestIds: { ttlMs: 1_000, maxRequestIdBytes: 64 } })
    cleanups.push(() => engine.close())
    await engine.apply([putObject(0, 'a', 'v1', 'old')], 'durable')
    clock.advance(600)
    await engine.apply([putObject(0, 'b', 'v1', 'young')], 'durable')
    clock.advance(500) // 'old' is 1100 ms old: expired; 'young' is 500 ms old
    expect(onlyOutcome(await engine.apply([putObject(0, 'a', 'v2', 'old')], 'durable'))).toEqual({ kind: 'object-written', partition: 0, seq: 3 })
    expect(onlyOutcome(await engine.apply([putObject(0, 'b', 'v2', 'young')], 'durable')).kind).toBe('duplicate')
    // 'old' was re-recorded with a fresh expiry; its first expiry-index entry must not take the new record along.
    expect(await engine.sweepExpiredRequests()).toBe(0)
    expect(await engine.read({ kind: 'get-request-record', requestId: 'old' })).toMatchObject({ record: { seq: 3 } })
    clock.advance(2_000)
    expect(await engine.sweepExpiredRequests()).toBe(2)
    expect(await engine.read({ kind: 'get-request-record', requestId: 'young' })).toEqual({ kind: 'request-record', record: null })
    expect(engine.stats.expiredRequestsSwept).toBe(2)
  })

  it('refuses an empty or oversized request id without writing', async () => {
    const engine = await openEngine(new MemoryStore())
    cleanups.push(() => engine.close())
    expect(await engine.apply([putObject(0, 'k', 'v', '')], 'durable')).toMatchObject({ kind: 'failed', code: 'INVALID_ARGUMENT' })
    expect(await engine.apply([putObject(0, 'k', 'v', 'x'.repeat(300))], 'durable')).toMatchObject({ kind: 'failed', code: 'INVALID_ARGUMENT' })
    expect(await logLength(engine, 0)).toBe(0)
  })
})
