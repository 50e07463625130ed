/**
 * Gathers the point reads that arrive in one turn of the event loop into one `getMany` (the Request Batch idea
 * of frame-writer.ts, applied to LevelDB). An async classic-level `get` costs about as much CPU as a whole
 * `getMany` of a few dozen keys: most of it is the hop to libuv's thread pool and back, not the lookup. Under
 * load a node serves many GETs (and replica reads) per turn, so they share that cost; at one read in flight the
 * delay is a single loop turn.
 *
 * Measured on classic-level 3 (150-byte values, one process): async get 15-25 µs CPU per read whatever the
 * concurrency; gathered, 9 µs at 4 reads per turn and 3 µs at 32; getSync about 2 µs. The read stays
 * asynchronous nevertheless, not getSync: a LevelDB lookup that misses the block cache reads the disk (more so
 * while compaction churns the files and the page cache, and for large values), and on the event loop that read
 * would stall every request, heartbeat and timer of the node for its whole length. Gathering keeps the disk off
 * the event loop and gets most of getSync's saving under load, where it matters.
 *
 * Freshness is unchanged: a read is issued no earlier than it arrived, so it sees every batch that had returned
 * (every acknowledged write) by then. A failed getMany fails every read of its batch with the store's error.
 */
import type { KvStore } from './kv-store.ts'

/** Most keys in one getMany; a bigger turn is split, so one batch never holds an unbounded array. */
export const maxReadBatchKeys = 256

interface PendingRead {
  readonly key: Uint8Array
  readonly resolve: (value: Uint8Array | null) => void
  readonly reject: (error: unknown) => void
}

export class ReadBatcher {
  private pending: PendingRead[] = []
  private scheduled = false

  /** `gather`: wait for the rest of the turn's reads (setImmediate); false issues each read on its own. */
  constructor(
    private readonly store: KvStore,
    private readonly gather: boolean,
  ) {}

  get(key: Uint8Array): Promise<Uint8Array | null> {
    if (!this.gather) return this.store.get(key)
    return new Promise<Uint8Array | null>((resolve, reject) => {
      this.pending.push({ key, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(this.flush)
      }
    })
  }

  private readonly flush = (): void => {
    this.scheduled = false
    const reads = this.pending
    this.pending = []
    for (let start = 0; start < reads.length; start += maxReadBatchKeys) {
      this.issue(reads.slice(start, start + maxReadBatchKeys))
    }
  }

  private issue(reads: readonly PendingRead[]): void {
    if (reads.length === 1) {
      const only = reads[0] as PendingRead
      this.store.get(only.key).then(only.resolve, only.reject)
      return
    }
    this.store.getMany(reads.map((read) => read.key)).then(
      (values) => {
        reads.forEach((read, index) => read.resolve(values[index] ?? null))
      },
      (error: unknown) => {
        for (const read of reads) read.reject(error)
      },
    )
  }
}
