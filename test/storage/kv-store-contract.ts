/**
 * The KvStore contract (abstract-level's idea: one suite, every implementation). What the rest of storage relies
 * on: bytes in are bytes out, keys order as unsigned bytes, batches are atomic, scans honour bounds, limits,
 * reverse and keysOnly, clear removes exactly its range, data outlives a close, and a closed store fails with
 * the stable STORAGE_CLOSED code.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { KvStore } from '../../src/storage/kv-store.ts'
import { isStorageError } from '../../src/storage/storage-error.ts'
import type { StoreFactory } from './fixtures/stores.ts'
import { bytes, text } from './fixtures/stores.ts'

const all = { gte: new Uint8Array([0]), lt: new Uint8Array([0xff, 0xff, 0xff]) }

export function runKvStoreContract(factory: StoreFactory): void {
  describe(`KvStore contract: ${factory.name}`, () => {
    let cleanups: (() => Promise<void> | void)[] = []
    afterEach(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup()
      cleanups = []
    })

    async function fresh(): Promise<{ store: KvStore; reopen: () => KvStore }> {
      const created = factory.create()
      await created.store.open()
      cleanups.push(created.cleanup)
      cleanups.push(() => created.store.close().catch(() => {}))
      return created
    }

    it('returns null for a missing key and exact bytes for a stored one', async () => {
      const { store } = await fresh()
      expect(await store.get(bytes('missing'))).toBeNull()
      const value = new Uint8Array([0, 1, 2, 254, 255, 0])
      await store.write([{ kind: 'put', key: bytes('k'), value }], { sync: true })
      expect(Array.from((await store.get(bytes('k'))) ?? [])).toEqual(Array.from(value))
      expect((await store.getMany([bytes('k'), bytes('missing')])).map((v) => v?.length ?? null)).toEqual([6, null])
    })

    it('answers getMany in the order asked, repeated and missing keys included', async () => {
      const { store } = await fresh()
      expect(await store.getMany([])).toEqual([])
      await store.write(
        [
          { kind: 'put', key: bytes('b'), value: bytes('2') },
          { kind: 'put', key: bytes('a'), value: bytes('1') },
          { kind: 'put', key: bytes('e'), value: new Uint8Array(0) },
        ],
        { sync: true },
      )
      const values = await store.getMany([bytes('b'), bytes('x'), bytes('a'), bytes('b'), bytes('e')])
      expect(values.map((value) => (value === null ? null : text(value)))).toEqual(['2', null, '1', '2', ''])
    })

    it('stores an empty value as empty, not as missing', async () => {
      const { store } = await fresh()
      await store.write([{ kind: 'put', key: bytes('e'), value: new Uint8Array(0) }], { sync: false })
      expect((await store.get(bytes('e')))?.length).toBe(0)
    })

    it('applies a batch of puts and deletes as a whole, last write wins within it', async () => {
      const { store } = await fresh()
      await store.write([{ kind: 'put', key: bytes('a'), value: bytes('1') }], { sync: true })
      await store.write(
        [
          { kind: 'del', key: bytes('a') },
          { kind: 'put', key: bytes('b'), value: bytes('2') },
          { kind: 'put', key: bytes('b'), value: bytes('3') },
        ],
        { sync: true },
      )
      expect(await store.get(bytes('a'))).toBeNull()
      expect(text((await store.get(bytes('b'))) ?? new Uint8Array())).toBe('3')
    })

    it('orders keys as unsigned bytes, prefixes first', async () => {
      const { store } = await fresh()
      const keys = [[0x01], [0x01, 0x00], [0x01, 0xff], [0x02], [0x7f], [0x80], [0xff], [0xff, 0x00]]
      const shuffledKeys = [...keys].reverse()
      await store.write(shuffledKeys.map((key) => ({ kind: 'put', key: new Uint8Array(key), value: new Uint8Array([key.length]) })), { sync: false })
      const rows = await store.scan({ ...all, limit: 100 })
      expect(rows.map((row) => Array.from(row.key))).toEqual(keys)
      const reversed = await store.scan({ ...all, limit: 3, reverse: true })
      expect(reversed.map((row) => Array.from(row.key))).toEqual([[0xff, 0x00], [0xff], [0x80]])
    })

    it('honours gte/lt bounds, limit and keysOnly', async () => {
      const { store } = await fresh()
      await store.write(
        ['a', 'b', 'c', 'd', 'e'].map((k) => ({ kind: 'put', key: bytes(k), value: bytes(k.toUpperCase()) })),
        { sync: false },
      )
      const rows = await store.scan({ gte: bytes('b'), lt: bytes('e'), limit: 10 })
      expect(rows.map((row) => `${text(row.key)}=${text(row.value)}`)).toEqual(['b=B', 'c=C', 'd=D'])
      expect((await store.scan({ gte: bytes('b'), lt: bytes('e'), limit: 2 })).length).toBe(2)
      const keysOnly = await store.scan({ gte: bytes('a'), lt: bytes('z'), limit: 10, keysOnly: true })
      expect(keysOnly.map((row) => [text(row.key), row.value.length])).toEqual([['a', 0], ['b', 0], ['c', 0], ['d', 0], ['e', 0]])
    })

    it('clears exactly [gte, lt)', async () => {
      const { store } = await fresh()
      await store.write(['a', 'b', 'c', 'd'].map((k) => ({ kind: 'put', key: bytes(k), value: bytes(k) })), { sync: false })
      await store.clear({ gte: bytes('b'), lt: bytes('d') })
      expect((await store.scan({ ...all, limit: 10 })).map((row) => text(row.key))).toEqual(['a', 'd'])
    })

    it('keeps data across close and reopen', async () => {
      const { store, reopen } = await fresh()
      await store.write([{ kind: 'put', key: bytes('durable'), value: bytes('yes') }], { sync: true })
      await store.close()
      const again = reopen()
      await again.open()
      cleanups.push(() => again.close().catch(() => {}))
      expect(text((await again.get(bytes('durable'))) ?? new Uint8Array())).toBe('yes')
    })

    it('fails with STORAGE_CLOSED once closed', async () => {
      const { store } = await fresh()
      await store.close()
      const error = await store.get(bytes('x')).then(
        () => null,
        (e: unknown) => e,
      )
      expect(isStorageError(error, 'STORAGE_CLOSED')).toBe(true)
      const writeError = await store.write([{ kind: 'put', key: bytes('x'), value: bytes('y') }], { sync: true }).then(
        () => null,
        (e: unknown) => e,
      )
      expect(isStorageError(writeError, 'STORAGE_CLOSED')).toBe(true)
    })

    it('answers concurrent writes and reads consistently', async () => {
      const { store } = await fresh()
      await Promise.all(
        Array.from({ length: 200 }, (_, i) => store.write([{ kind: 'put', key: bytes(`k${String(i).padStart(3, '0')}`), value: bytes(String(i)) }], { sync: false })),
      )
      const rows = await store.scan({ ...all, limit: 1000 })
      expect(rows.length).toBe(200)
      expect(rows.every((row, i) => text(row.value) === String(i))).toBe(true)
    })
  })
}
