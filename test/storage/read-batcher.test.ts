import { describe, expect, it } from 'vitest'
import type { KvStore } from '../../src/storage/kv-store.ts'
import { MemoryStore } from '../../src/storage/memory-store.ts'
import { ReadBatcher, maxReadBatchKeys } from '../../src/storage/read-batcher.ts'
import { isStorageError } from '../../src/storage/storage-error.ts'
import { bytes, text } from './fixtures/stores.ts'

/** A MemoryStore that counts the calls the batcher makes. */
function countingStore(): { store: KvStore; calls: { get: number; getMany: number[] } } {
  const inner = new MemoryStore()
  const calls = { get: 0, getMany: [] as number[] }
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
    const batcher = new ReadBatcher(store, true)
    const values = await Promise.all([batcher.get(bytes('a')), batcher.get(bytes('missing')), batcher.get(bytes('b')), batcher.get(bytes('a'))])
    expect(values.map((value) => (value === null ? null : text(value)))).toEqual(['1', null, '2', '1'])
    expect(calls).toEqual({ get: 0, getMany: [4] })
  })

  it('uses a plain get for a lone read and splits a big turn into bounded batches', async () => {
    const { store, calls } = countingStore()
    await store.open()
    const batcher = new ReadBatcher(store, true)
    expect(await batcher.get(bytes('x'))).toBeNull()
    expect(calls).toEqual({ get: 1, getMany: [] })
    const reads = Array.from({ length: maxReadBatchKeys + 2 }, (_, i) => batcher.get(bytes(`k${i}`)))
    await Promise.all(reads)
    expect(calls.getMany).toEqual([maxReadBatchKeys, 2])
  })

  it('sees every write that returned before the read was asked for', async () => {
    const { store } = countingStore()
    await store.open()
    const batcher = new ReadBatcher(store, true)
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
    const batcher = new ReadBatcher(store, true)
    const outcomes = await Promise.allSettled([batcher.get(bytes('a')), batcher.get(bytes('b'))])
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected')
      expect(isStorageError((outcome as PromiseRejectedResult).reason, 'STORAGE_CLOSED')).toBe(true)
    }
  })

  it('issues each read on its own when gathering is off', async () => {
    const { store, calls } = countingStore()
    await store.open()
    const batcher = new ReadBatcher(store, false)
    await Promise.all([batcher.get(bytes('a')), batcher.get(bytes('b'))])
    expect(calls).toEqual({ get: 2, getMany: [] })
  })
})
