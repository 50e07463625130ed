/**
 * The production KvStore: one classic-level (LevelDB) database per node, in the node's data directory.
 * Keys and values are raw bytes ('view' encoding) so key-layout.ts controls the ordering exactly. LevelDB's
 * own log is our physical write-ahead log: a batch written with `sync: true` has been fdatasync'ed when the
 * promise resolves (the strace audit in test/storage checks this).
 */
import { ClassicLevel } from 'classic-level'
import { AbstractLevelStore } from './abstract-level-store.ts'
import type { ByteLevel } from './abstract-level-store.ts'

export interface LevelStoreOptions {
  /** LevelDB memtable size. 4 MiB is LevelDB's default; bigger means fewer, larger flushes. */
  readonly writeBufferSizeBytes?: number
}

export class LevelStore extends AbstractLevelStore {
  constructor(
    readonly directory: string,
    options: LevelStoreOptions = {},
  ) {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(directory, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      createIfMissing: true,
      writeBufferSize: options.writeBufferSizeBytes ?? 4 * 1024 * 1024,
    })
    super(db as unknown as ByteLevel, `level store ${directory}`)
  }
}
