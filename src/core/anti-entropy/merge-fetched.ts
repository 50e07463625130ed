/**
 * Merging a page of objects fetched from a peer (`ae-fetch-reply`) into this node's copies, for both a Merkle
 * exchange (exchange.ts) and a change-log catch-up (change-log-catch-up.ts): each object is checked (it decodes,
 * and its key hashes to the partition being repaired), skipped when the caller says so (the old copy of a key
 * reaped here), and merged through the replica's serialized path, never written over. `then` hears once every
 * merge has finished, with false if any object was bad or any merge failed.
 */
import type { Out } from '../node/io-continuations.ts'
import { partitionOf } from '../partitioning/key-hash.ts'
import type { Replica } from '../replication/replica.ts'
import type { ConflictMode } from '../replication/replication-messages.ts'
import { decodeObject } from '../versioning/object-codec.ts'
import type { AeFetchedObject } from './anti-entropy-messages.ts'

export interface FetchedMerge {
  readonly replica: Replica
  readonly partition: number
  readonly partitions: number
  conflictFor(bucket: string): ConflictMode
  /** True when this copy must not be merged (a reaped key's old copy would undo the reaping). */
  skip(bucket: string, key: string, object: Uint8Array): boolean
  /** Each object received, merged or not: for the byte counters. */
  received(bytes: number): void
  /** Each object handed to the replica. */
  merging(): void
}

export function mergeFetched(objects: readonly AeFetchedObject[], target: FetchedMerge, out: Out, then: (ok: boolean, out: Out) => void): void {
  let waiting = 1
  let ok = true
  const settle = (stored: boolean, next: Out): void => {
    ok &&= stored
    if (--waiting === 0) then(ok, next)
  }
  for (const fetched of objects) {
    if (fetched.object === undefined) continue
    target.received(fetched.object.length)
    if (target.skip(fetched.bucket, fetched.key, fetched.object)) continue
    const decoded = decodeObject(fetched.object)
    if (decoded.kind !== 'decoded' || partitionOf(fetched.bucket, fetched.key, target.partitions) !== target.partition) {
      ok = false
      continue
    }
    waiting++
    target.merging()
    const address = { partition: target.partition, bucket: fetched.bucket, key: fetched.key }
    target.replica.merge(address, target.conflictFor(fetched.bucket), decoded.object, null, out, (outcome, next) => settle(outcome === 'stored', next))
  }
  settle(true, out)
}
