/**
 * The simulator's disk: a KvStore that remembers which writes reached stable storage, so `crash()` can model
 * power loss. It keeps two memory stores: `visible` is what reads see (every write, like the page cache), and
 * `durable` is what survives a crash. A batch written with `sync: true` makes itself and every unsynced batch
 * before it durable, because LevelDB's log is one sequential file and fdatasync flushes all of it. `clear` is
 * never synced (classic-level does not sync it either), so a crash can undo it; callers must make clears
 * idempotent and redo them on recovery.
 *
 * After `crash()` the store is closed; `open()` brings it back holding exactly the durable state.
 */
import { assert } from '../core/primitives/assert.ts'
import type { KvEntry, KvOperation, KvRange, KvScan, KvStore, KvWriteOptions } from './kv-store.ts'
import { MemoryStore } from './memory-store.ts'
import { StorageError } from './storage-error.ts'

type UnsyncedChange = { readonly kind: 'batch'; readonly operations: readonly KvOperation[] } | { readonly kind: 'clear'; readonly range: KvRange }

export interface SimDiskStats {
  readonly syncs: number
  readonly unsyncedBatches: number
  readonly crashes: number
}

export class SimDiskStore implements KvStore {
  private visible = new MemoryStore('sim disk (visible)')
  private readonly durable = new MemoryStore('sim disk (durable)')
  private unsynced: UnsyncedChange[] = []
  private isOpen = false
  private counters = { syncs: 0, crashes: 0 }

  async open(): Promise<void> {
    if (this.isOpen) return
    await this.visible.open()
    await this.durable.open()
    this.isOpen = true
  }

  async close(): Promise<void> {
    // A clean close is not a sync: LevelDB's close does not fsync the log either.
    this.isOpen = false
    await this.visible.close()
  }

  /** Power loss: everything not synced is gone, and the store is closed until `open()`. */
  async crash(): Promise<void> {
    this.isOpen = false
    this.counters.crashes++
    this.unsynced = []
    await this.visible.close()
    this.visible = new MemoryStore('sim disk (visible)')
    await this.visible.open()
    await copyAll(this.durable, this.visible)
    await this.visible.close()
  }

  get stats(): SimDiskStats {
    return { syncs: this.counters.syncs, unsyncedBatches: this.unsynced.length, crashes: this.counters.crashes }
  }

  async get(key: Uint8Array): Promise<Uint8Array | null> {
    this.checkOpen('get')
    return this.visible.get(key)
  }

  async getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    this.checkOpen('getMany')
    return this.visible.getMany(keys)
  }

  async write(operations: readonly KvOperation[], options: KvWriteOptions): Promise<void> {
    this.checkOpen('write')
    await this.visible.write(operations, { sync: false })
    this.unsynced.push({ kind: 'batch', operations })
    if (options.sync) await this.syncAll()
  }

  async scan(scan: KvScan): Promise<KvEntry[]> {
    this.checkOpen('scan')
    return this.visible.scan(scan)
  }

  async clear(range: KvRange): Promise<void> {
    this.checkOpen('clear')
    await this.visible.clear(range)
    this.unsynced.push({ kind: 'clear', range })
  }

  private async syncAll(): Promise<void> {
    const changes = this.unsynced
    this.unsynced = []
    for (const change of changes) {
      if (change.kind === 'batch') await this.durable.write(change.operations, { sync: true })
      else await this.durable.clear(change.range)
    }
    this.counters.syncs++
  }

  private checkOpen(operation: string): void {
    if (!this.isOpen) throw new StorageError('STORAGE_CLOSED', `sim disk: ${operation} on a closed store`)
  }
}

async function copyAll(from: MemoryStore, to: MemoryStore): Promise<void> {
  const pageSize = 10_000
  let gte: Uint8Array = new Uint8Array(0)
  const end = new Uint8Array(64).fill(0xff)
  for (;;) {
    const page = await from.scan({ gte, lt: end, limit: pageSize })
    if (page.length === 0) return
    await to.write(page.map((entry) => ({ kind: 'put' as const, key: entry.key, value: entry.value })), { sync: false })
    const last = page[page.length - 1]
    assert(last !== undefined, 'non-empty page has a last entry')
    if (page.length < pageSize) return
    gte = successor(last.key)
  }
}

/** The smallest key greater than `key`: the key with a zero byte appended. */
function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1)
  next.set(key)
  return next
}
