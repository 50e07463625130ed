import { describe, expect, it } from 'vitest'
import type { KvStore } from '../../src/storage/kv-store.ts'
import { MemoryStore } from '../../src/storage/memory-store.ts'
import { ReadBatcher, maxReadBatchKeys } from '../../src/storage/read-batcher.ts'
import { isStorageError } from '../../src/storage/storage-error.ts'
import { bytes, text } from './fixtures/stores.ts'

/** A MemoryStore that counts the calls the batcher makes. */
function countingStore(): { store: KvStore; calls: { get: number; getMany: number[]; getSync: number } } {
  const inner = new MemoryStore()
  const calls = { get: 0, getMany: [] as number[], getSync: 0 }
  const store: KvStore = {
    open: () => inner.open(),
    close: () => inner.close(),
    get: (key) => {
      calls.get++
      return inner.get(key)
    },
    getMany: (keys) => {
      calls.getMany.push(keys.length)
      return inner.getMany(keys)
    },
    write: (operations, options) => inner.write(operations, options),
    scan: (scan) => inner.scan(scan),
    clear: (range) => inner.clear(range),
  }
  return { store, calls }
}

/** The counting store plus a getSync, and a clock that each inline read advances by `readCostMs`. */
function inlineStore(readCostMs: number): { store: KvStore; calls: { get: number; getMany: number[]; getSync: number }; clock: { nowMs: number } } {
  const inner = new MemoryStore()
  const counting = countingStore()
  const clock = { nowMs: 0 }
  const store: KvStore = {
    ...counting.store,
    open: () => Promise.all([inner.open(), counting.store.open()]).then(() => undefined),
    get: (key) => counting.store.get(key),
    write: (operations, options) => Promise.all([inner.write(operations, options), counting.store.write(operations, options)]).then(() => undefined),
    getSync: (key) => {
      counting.calls.getSync++
      clock.nowMs += readCostMs
      return inner.getSync(key)
    },
  }
  return { store, calls: counting.calls, clock }
}

describe('ReadBatcher', () => {
  it('answers the reads of one turn with one getMany, each with its own value', async () => {
    const { store, calls } = countingStore()
    await store.open()
    await store.write(
      [
        { kind: 'put', key: bytes('a'), value: bytes('1') },
        { kind: 'put', key: bytes('b'), value: bytes('2') },
      ],
      { sync: true },
    )
    const batcher = new ReadBatcher(store, { gather: true })
    const values = await Promise.all([batcher.get(bytes('a')), batcher.get(bytes('missing')), batcher.get(bytes('b')), batcher.get(bytes('a'))])
    expect(values.map((value) => (value === null ? null : text(value)))).toEqual(['1', null, '2', '1'])
    expect(calls).toEqual({ get: 0, getMany: [4], getSync: 0 })
  })

  it('uses a plain get for a lone read and splits a big turn into bounded batches', async () => {
    const { store, calls } = countingStore()
    await store.open()
    const batcher = new ReadBatcher(store, { gather: true })
    expect(await batcher.get(bytes('x'))).toBeNull()
    expect(calls).toEqual({ get: 1, getMany: [], getSync: 0 })
    const reads = Array.from({ length: maxReadBatchKeys + 2 }, (_, i) => batcher.get(bytes(`k${i}`)))
    await Promise.all(reads)
    expect(calls.getMany).toEqual([maxReadBatchKeys, 2])
  })

  it('sees every write that returned before the read was asked for', async () => {
    const { store } = countingStore()
    await store.open()
    const batcher = new ReadBatcher(store, { gather: true })
    for (let round = 0; round < 20; round++) {
      const value = bytes(`v${round}`)
      await store.write([{ kind: 'put', key: bytes('k'), value }], { sync: true })
      const [first, second] = await Promise.all([batcher.get(bytes('k')), batcher.get(bytes('k'))])
      expect(text(first ?? new Uint8Array())).toBe(`v${round}`)
      expect(text(second ?? new Uint8Array())).toBe(`v${round}`)
    }
  })

  it('fails every read of a failed batch with the store error', async () => {
    const { store } = countingStore()
    await store.open()
    await store.close()
    const batcher = new ReadBatcher(store, { gather: true })
    const outcomes = await Promise.allSettled([batcher.get(bytes('a')), batcher.get(bytes('b'))])
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected')
      expect(isStorageError((outcome as PromiseRejectedResult).reason, 'STORAGE_CLOSED')).toBe(true)
    }
  })

  it('issues each read on its own when gathering is off', async () => {
    const { store, calls } = countingStore()
    await store.open()
    const batcher = new ReadBatcher(store, { gather: false })
    await Promise.all([batcher.get(bytes('a')), batcher.get(bytes('b'))])
    expect(calls).toEqual({ get: 2, getMany: [], getSync: 0 })
  })

  it('reads inline while the reads stay within their budget, without touching the thread pool', async () => {
    const { store, calls, clock } = inlineStore(0.01)
    await store.open()
    await store.write([{ kind: 'put', key: bytes('a'), value: bytes('1') }], { sync: true })
    const batcher = new ReadBatcher(store, { nowMs: () => clock.nowMs })
    const values = await Promise.all(Array.from({ length: 1_000 }, (_, i) => batcher.get(bytes(i % 2 === 0 ? 'a' : 'missing'))))
    expect(values.filter((value) => value !== null).map(text)).toEqual(Array.from({ length: 500 }, () => '1'))
    expect(calls).toEqual({ get: 0, getMany: [], getSync: 1_000 })
    expect(batcher.stats).toEqual({ inlineReads: 1_000, pooledReads: 0, budgetExceeded: 0 })
  })

  it('falls back to the thread pool for a while once inline reads block the loop past the budget, then tries again', async () => {
    // 30 ms per read: the fourth read of a window takes the loop to 120 ms blocked, over the 100 ms budget.
    const { store, calls, clock } = inlineStore(30)
    await store.open()
    const batcher = new ReadBatcher(store, { nowMs: () => clock.nowMs, inlineBudgetMs: 100, budgetWindowMs: 1_000, pooledForMs: 5_000 })
    for (let i = 0; i < 4; i++) await batcher.get(bytes('k'))
    expect(batcher.stats).toMatchObject({ inlineReads: 4, budgetExceeded: 1 })
    await Promise.all([batcher.get(bytes('k')), batcher.get(bytes('k'))])
    expect(calls.getMany).toEqual([2])
    expect(batcher.stats.pooledReads).toBe(2)
    clock.nowMs += 5_000
    await batcher.get(bytes('k'))
    expect(batcher.stats).toMatchObject({ inlineReads: 5, pooledReads: 2 })
  })

  it('does not count fast reads spread over many windows against one budget', async () => {
    const { store, clock } = inlineStore(5)
    await store.open()
    const batcher = new ReadBatcher(store, { nowMs: () => clock.nowMs, inlineBudgetMs: 100, budgetWindowMs: 1_000 })
    for (let i = 0; i < 200; i++) {
      await batcher.get(bytes('k'))
      clock.nowMs += 100
    }
    expect(batcher.stats).toEqual({ inlineReads: 200, pooledReads: 0, budgetExceeded: 0 })
  })

  it('fails an inline read of a closed store with the store error', async () => {
    const { store } = inlineStore(0)
    await store.open()
    const level = new MemoryStore()
    await level.open()
    await level.close()
    const batcher = new ReadBatcher({ ...store, getSync: level.getSync })
    await expect(batcher.get(bytes('a'))).rejects.toSatisfy((error: unknown) => isStorageError(error, 'STORAGE_CLOSED'))
  })

  it('answers getNow inline within the budget, and says undefined when the read must go through the pool', async () => {
    const { store, clock } = inlineStore(30)
    await store.open()
    await store.write([{ kind: 'put', key: bytes('a'), value: bytes('1') }], { sync: true })
    const batcher = new ReadBatcher(store, { nowMs: () => clock.nowMs, inlineBudgetMs: 100, budgetWindowMs: 1_000, pooledForMs: 5_000 })
    expect(text(batcher.getNow(bytes('a')) ?? new Uint8Array())).toBe('1')
    expect(batcher.getNow(bytes('missing'))).toBeNull()
    batcher.getNow(bytes('a'))
    batcher.getNow(bytes('a'))
    expect(batcher.stats.budgetExceeded).toBe(1)
    expect(batcher.getNow(bytes('a'))).toBeUndefined()
    const { store: poolOnly } = countingStore()
    await poolOnly.open()
    expect(new ReadBatcher(poolOnly).getNow(bytes('a'))).toBeUndefined()
  })
})
