/**
 * The in-memory KvStore on memory-level: same ordering and batch semantics as LevelStore, no disk. Data
 * survives close and reopen of the same instance (like a directory survives a process), and `sync` is accepted
 * and ignored; SimDiskStore builds crash behaviour on top of it.
 */
import { MemoryLevel } from 'memory-level'
import { AbstractLevelStore } from './abstract-level-store.ts'
import type { ByteLevel } from './abstract-level-store.ts'

export class MemoryStore extends AbstractLevelStore {
  constructor(description = 'memory store') {
    const db = new MemoryLevel<Uint8Array, Uint8Array>({
      keyEncoding: 'view',
      valueEncoding: 'view',
      // 'view' keeps keys as bytes, so they compare as unsigned bytes exactly like LevelDB's default comparator.
      storeEncoding: 'view',
    })
    super(db as unknown as ByteLevel, description)
  }
}
