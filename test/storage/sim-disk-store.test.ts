import { describe, expect, it } from 'vitest'
import { SimDiskStore } from '../../src/storage/sim-disk-store.ts'
import { bytes, simDiskStoreFactory } from './fixtures/stores.ts'
import { runKvStoreContract } from './kv-store-contract.ts'

runKvStoreContract(simDiskStoreFactory)

describe('SimDiskStore crash', () => {
  it('keeps synced batches and everything before them, loses unsynced batches after the last sync', async () => {
    const disk = new SimDiskStore()
    await disk.open()
    await disk.write([{ kind: 'put', key: bytes('a'), value: bytes('1') }], { sync: false })
    await disk.write([{ kind: 'put', key: bytes('b'), value: bytes('2') }], { sync: true })
    await disk.write([{ kind: 'put', key: bytes('c'), value: bytes('3') }], { sync: false })
    await disk.clear({ gte: bytes('a'), lt: bytes('b') })
    expect(await disk.get(bytes('a'))).toBeNull()
    expect(disk.stats.unsyncedBatches).toBe(2)
    await disk.crash()
    await expect(disk.get(bytes('a'))).rejects.toMatchObject({ code: 'STORAGE_CLOSED' })
    await disk.open()
    expect(await disk.get(bytes('a'))).not.toBeNull()
    expect(await disk.get(bytes('b'))).not.toBeNull()
    expect(await disk.get(bytes('c'))).toBeNull()
    expect(disk.stats).toEqual({ syncs: 1, unsyncedBatches: 0, crashes: 1 })
  })
})
