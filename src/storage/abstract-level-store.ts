/**
 * Adapts any abstract-level database (classic-level on disk, memory-level in memory) to the KvStore port, so
 * both implementations share one code path and differ only in the database they wrap. Its one decision is the
 * error mapping: abstract-level's `LEVEL_*` codes become the stable StorageError codes callers match on.
 */
import type { AbstractChainedBatchWriteOptions, AbstractLevel } from 'abstract-level'
import { assert } from '../core/primitives/assert.ts'
import type { KvEntry, KvOperation, KvRange, KvScan, KvStore, KvWriteOptions } from './kv-store.ts'
import { maxScanLimit } from './kv-store.ts'
import { StorageError } from './storage-error.ts'

export type ByteLevel = AbstractLevel<string | Uint8Array, Uint8Array, Uint8Array>

export class AbstractLevelStore implements KvStore {
  constructor(
    private readonly db: ByteLevel,
    private readonly description: string,
  ) {}

  async open(): Promise<void> {
    await this.guard('open', () => this.db.open())
  }

  async close(): Promise<void> {
    await this.guard('close', () => this.db.close())
  }

  async get(key: Uint8Array): Promise<Uint8Array | null> {
    const value = await this.guard('get', () => this.db.get(key))
    return value ?? null
  }

  readonly getSync = (key: Uint8Array): Uint8Array | null => {
    try {
      return this.db.getSync(key) ?? null
    } catch (error) {
      throw toStorageError(error, `${this.description}: getSync`)
    }
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    if (keys.length === 0) return []
    const values = await this.guard('getMany', () => this.db.getMany(keys.slice()))
    assert(values.length === keys.length, 'getMany must answer one value per key')
    return values.map((value) => value ?? null)
  }

  async write(operations: readonly KvOperation[], options: KvWriteOptions): Promise<void> {
    if (operations.length === 0 && !options.sync) return
    // `sync` is a classic-level option that abstract-level's types do not list; memory-level ignores it.
    const writeOptions = { sync: options.sync } as AbstractChainedBatchWriteOptions
    await this.guard('write', () => {
      // A chained batch, not db.batch(array): the array form clones and re-validates every operation in
      // JavaScript and measured 3-5x slower per operation here, which group commit would pay on every write.
      const batch = this.db.batch()
      for (const operation of operations) {
        if (operation.kind === 'put') batch.put(operation.key, operation.value)
        else batch.del(operation.key)
      }
      return batch.write(writeOptions)
    })
  }

  async scan(scan: KvScan): Promise<KvEntry[]> {
    assert(Number.isInteger(scan.limit) && scan.limit > 0 && scan.limit <= maxScanLimit, () => `bad scan limit ${scan.limit}`)
    const range = { gte: scan.gte, lt: scan.lt, limit: scan.limit, reverse: scan.reverse ?? false }
    if (scan.keysOnly === true) {
      const keys = await this.guard('scan', () => this.db.keys(range).all())
      return keys.map((key) => ({ key, value: new Uint8Array(0) }))
    }
    const entries = await this.guard('scan', () => this.db.iterator(range).all())
    return entries.map(([key, value]) => ({ key, value }))
  }

  async clear(range: KvRange): Promise<void> {
    await this.guard('clear', () => this.db.clear({ gte: range.gte, lt: range.lt }))
  }

  private async guard<T>(operation: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action()
    } catch (error) {
      throw toStorageError(error, `${this.description}: ${operation}`)
    }
  }
}

function toStorageError(error: unknown, context: string): StorageError {
  if (error instanceof StorageError) return error
  const code = (error as { code?: unknown } | null)?.code
  const message = error instanceof Error ? error.message : String(error)
  switch (code) {
    case 'LEVEL_DATABASE_NOT_OPEN':
    case 'LEVEL_ITERATOR_NOT_OPEN':
    case 'LEVEL_BATCH_NOT_OPEN':
      return new StorageError('STORAGE_CLOSED', `${context}: ${message}`, { cause: error })
    case 'LEVEL_INVALID_KEY':
    case 'LEVEL_INVALID_VALUE':
      return new StorageError('INVALID_ARGUMENT', `${context}: ${message}`, { cause: error })
    case 'LEVEL_CORRUPTION':
    case 'LEVEL_DECODE_ERROR':
      return new StorageError('CORRUPT_RECORD', `${context}: ${message}`, { cause: error })
    default:
      return new StorageError('STORAGE_FAILED', `${context}: ${message}`, { cause: error })
  }
}
