/**
 * How a node's object reads reach LevelDB. Two ways, chosen per read:
 *
 * - Inline (`getSync` on the event loop), while that is cheap. A lookup whose block is in LevelDB's cache or the
 *   page cache takes a few microseconds; an async classic-level `get` costs 15-25 µs of CPU whatever the
 *   concurrency, most of it the hop to libuv's thread pool and back (measured on classic-level 3, 150-byte
 *   values). Inline reads took the cluster bench's GET from 3.6k to 5.1k requests/s.
 * - Gathered: the reads that arrive in one turn of the event loop go out as one `getMany` in the thread pool (the
 *   Request Batch idea of frame-writer.ts, applied to LevelDB): 9 µs per read at 4 reads per turn, 3 µs at 32.
 *
 * An inline read that misses the caches reads the disk, and on the event loop that read stalls every request,
 * heartbeat and timer of the node for its whole length. So inline reads run on a budget: they may block the loop
 * for at most `inlineBudgetMs` in any `budgetWindowMs`; a node that spends more (a working set bigger than memory,
 * compaction churning the page cache) reads through the thread pool for the next `pooledForMs`, then tries
 * again. A budget of time blocked rather than a count of slow reads, because on a busy machine the scheduler
 * preempts a few fast reads every second and those must not switch a healthy node to the slow path.
 *
 * Freshness is the same either way: a read is issued no earlier than it arrived, so it sees every batch that had
 * returned (every acknowledged write) by then. A failed read fails with the store's error; a failed getMany fails
 * every read of its batch.
 */
import type { KvStore } from './kv-store.ts'

/** Most keys in one getMany; a bigger turn is split, so one batch never holds an unbounded array. */
export const maxReadBatchKeys = 256

export interface ReadBatcherOptions {
  /** Gather a turn's pooled reads into one getMany (setImmediate); false issues each pooled read on its own. */
  readonly gather: boolean
  /** Read inline when the store can; false always goes through the thread pool. */
  readonly inline: boolean
  readonly inlineBudgetMs: number
  readonly budgetWindowMs: number
  readonly pooledForMs: number
  /** Monotonic milliseconds with sub-millisecond resolution; tests drive it to make reads look slow. */
  readonly nowMs: () => number
}

export const defaultReadBatcherOptions: ReadBatcherOptions = {
  gather: true,
  inline: true,
  // 10% of the event loop: page-cache hits use a fraction of it even at tens of thousands of reads a second.
  inlineBudgetMs: 100,
  budgetWindowMs: 1_000,
  pooledForMs: 5_000,
  nowMs: () => performance.now(),
}

export interface ReadBatcherStats {
  readonly inlineReads: number
  readonly pooledReads: number
  /** Times the node went over its inline budget and fell back to the thread pool. */
  readonly budgetExceeded: number
}

interface PendingRead {
  readonly key: Uint8Array
  readonly resolve: (value: Uint8Array | null) => void
  readonly reject: (error: unknown) => void
}

export class ReadBatcher {
  private pending: PendingRead[] = []
  private scheduled = false
  private readonly options: ReadBatcherOptions
  private windowStartMs = Number.NEGATIVE_INFINITY
  private blockedInWindowMs = 0
  private pooledUntilMs = Number.NEGATIVE_INFINITY
  private counts = { inlineReads: 0, pooledReads: 0, budgetExceeded: 0 }

  constructor(
    private readonly store: KvStore,
    options: Partial<ReadBatcherOptions> = {},
  ) {
    this.options = { ...defaultReadBatcherOptions, ...options }
  }

  get stats(): ReadBatcherStats {
    return { ...this.counts }
  }

  get(key: Uint8Array): Promise<Uint8Array | null> {
    let value: Uint8Array | null | undefined
    try {
      value = this.getNow(key)
    } catch (error) {
      return Promise.reject(error)
    }
    if (value !== undefined) return Promise.resolve(value)
    this.counts.pooledReads++
    if (!this.options.gather) return this.store.get(key)
    return new Promise<Uint8Array | null>((resolve, reject) => {
      this.pending.push({ key, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(this.flush)
      }
    })
  }

  /**
   * The value now, read inline, when the budget allows an inline read; undefined when the read must go through
   * the thread pool (call `get`). Lets the caller skip a promise and a microtask per read on the common path.
   */
  getNow(key: Uint8Array): Uint8Array | null | undefined {
    return this.inline(1, (getSync) => getSync(key))
  }

  /** Several keys at once, in order: inline while the budget lasts, else one getMany through the thread pool. */
  getMany(keys: readonly Uint8Array[]): Promise<(Uint8Array | null)[]> {
    let values: (Uint8Array | null)[] | undefined
    try {
      values = this.inline(keys.length, (getSync) => keys.map((key) => getSync(key)))
    } catch (error) {
      return Promise.reject(error)
    }
    if (values !== undefined) return Promise.resolve(values)
    this.counts.pooledReads += keys.length
    return this.store.getMany(keys)
  }

  /** Runs `read` on the event loop and charges its time to the budget; undefined when reads must use the pool now. */
  private inline<T>(reads: number, read: (getSync: (key: Uint8Array) => Uint8Array | null) => T): T | undefined {
    const getSync = this.store.getSync
    if (!this.options.inline || getSync === undefined) return undefined
    const startedMs = this.options.nowMs()
    if (startedMs < this.pooledUntilMs) return undefined
    this.counts.inlineReads += reads
    try {
      return read(getSync)
    } finally {
      this.charge(startedMs, this.options.nowMs())
    }
  }

  private charge(startedMs: number, endedMs: number): void {
    if (startedMs - this.windowStartMs >= this.options.budgetWindowMs) {
      this.windowStartMs = startedMs
      this.blockedInWindowMs = 0
    }
    this.blockedInWindowMs += endedMs - startedMs
    if (this.blockedInWindowMs > this.options.inlineBudgetMs) {
      this.counts.budgetExceeded++
      this.pooledUntilMs = endedMs + this.options.pooledForMs
      this.windowStartMs = Number.NEGATIVE_INFINITY
    }
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
