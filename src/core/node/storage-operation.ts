/**
 * The storage vocabulary the core speaks in its effects: semantic mutations and queries, not LevelDB keys.
 * src/storage turns a write effect into one atomic LevelDB batch (object + change-log entry + request-id record)
 * and answers with a storage-result input. Keeping key layout out of the core lets the simulator run the same
 * core against the memory store.
 */

/** `durable`: one fsync before the storage-result. `unsafe`: no fsync, only for benchmarks, documented as such. */
export type Durability = 'durable' | 'unsafe'

/** Replace a node metadata entry (generation, ownership table, bucket properties). */
export interface PutMetaMutation {
  readonly kind: 'put-meta'
  readonly name: string
  readonly value: Uint8Array
}

export type Mutation = PutMetaMutation

export interface GetMetaQuery {
  readonly kind: 'get-meta'
  readonly name: string
}

export type ReadQuery = GetMetaQuery

export type StorageResult =
  | { readonly kind: 'written' }
  | { readonly kind: 'meta'; readonly value: Uint8Array | null }
  | { readonly kind: 'failed'; readonly code: string; readonly message: string }
