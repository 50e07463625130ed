/**
 * The commit queue: the one writer of a node's database (Singular Update Queue) doing group commit. Callers
 * submit batches of operations and wait; the writer takes everything that is waiting, writes it as one atomic
 * LevelDB batch with one `sync: true` (one fdatasync of LevelDB's log), and only then resolves every caller in
 * submission order. While one batch is syncing the next one fills up, so under load the cost of a sync is
 * shared by every writer that arrived during it, and durable throughput approaches non-durable throughput.
 *
 *     idle --submit--> writing(batch k) --write returned--> resolve batch k --queue empty--> idle
 *                              ^                                   |
 *                              +----------- queue not empty -------+
 *
 * Under load the writer also lingers (a commit delay, like PostgreSQL's commit_delay with commit_siblings): when
 * the last batch carried at least `lingerAfterBatchOf` requests, many writers are committing at once, and waiting
 * before the next batch lets it gather more of them, so the node spends fewer fdatasyncs per write. The wait is
 * twice the last commit's duration, at most `lingerMs`, and ends early once as many writers wait as the last batch
 * carried (or `lingerUntilRequests`, if fewer): under a steady load that is all the batch will gather, and waiting
 * on for the timer only adds latency (ending there measured 1.06–1.11× the PUTs/s at the same CPU). Why: an
 * fdatasync costs ~200 µs of CPU on our test VM besides its wait, and in a loaded 3-node cluster syncing was a
 * quarter of a PUT's CPU (`--sync-writes false` measured 24–27% less per PUT); lingering took the batches from
 * ~13 to ~25 writes and a PUT's CPU down 15% (`npm run bench -- chorus-ab`, README). A lightly loaded node
 * commits batches of one or two and never lingers; nor does a disk that syncs in well under a millisecond.
 *
 * Do not "optimise" by resolving callers before the write returns, or by starting batch k+1 before batch k
 * returned: an ack must mean durable, and one writer is what lets the engine allocate sequence numbers in
 * commit order. `syncWrites: false` is UNSAFE: acknowledged writes can be lost on power failure or kernel crash;
 * it exists for benchmarks only. A failed write poisons the queue (see STORAGE_FAILED in storage-error.ts).
 */
import { performance } from 'node:perf_hooks'
import type { Durability } from '../core/node/storage-operation.ts'
import { assert } from '../core/primitives/assert.ts'
import { BoundedQueue } from '../core/primitives/bounded-queue.ts'
import type { KvOperation, KvStore } from './kv-store.ts'
import { StorageError } from './storage-error.ts'

export interface CommitQueueOptions {
  /**
   * true (the default everywhere): a batch holding any durable request is written with `sync: true`.
   * false: UNSAFE, nothing is ever synced; acknowledged writes can vanish on power loss. Benchmarks only.
   */
  readonly syncWrites: boolean
  /** Requests waiting before submit refuses with STORAGE_OVERLOADED. 10,000 is ~150 batches of 64 writers:
   *  far more than a healthy node queues, small enough that a stalled disk shows up as errors, not memory. */
  readonly maxQueuedRequests: number
  /** Operations per batch. A drain stops here (never splitting a request) so one LevelDB batch stays a few MiB. */
  readonly maxBatchOperations: number
  /**
   * Yield one macrotask (setImmediate) before taking each batch, so that writers woken by the previous batch, and
   * callers submitting in a loop, can all queue and join it. Without it the first writer to resubmit goes alone
   * in a batch of one and batches alternate 1, 63, 1, 63 (measured: 32 writes per batch instead of 64 with 64
   * writers). Costs microseconds of latency against a sync of about a millisecond. The simulator turns it off,
   * so that nothing runs outside its own event queue.
   */
  readonly gatherFollowers: boolean
  /** The longest wait for more writers before a batch, when lingering (see the header); 0 never lingers. */
  readonly lingerMs: number
  /** Linger only after a batch of at least this many requests: below it the node is not busy enough to gain. */
  readonly lingerAfterBatchOf: number
  /**
   * A linger ends early once this many requests wait, even after a bigger batch: a batch that size already spreads
   * its fsync thin. (It also ends once as many wait as the last batch carried.)
   */
  readonly lingerUntilRequests: number
}

export const defaultCommitQueueOptions: CommitQueueOptions = {
  syncWrites: true,
  maxQueuedRequests: 10_000,
  maxBatchOperations: 10_000,
  gatherFollowers: true,
  lingerMs: 0,
  lingerAfterBatchOf: 8,
  lingerUntilRequests: 64,
}

/** Hooks for tests and audits (the strace audit prints markers from them). Called synchronously. */
export interface CommitObserver {
  batchStarted?(batch: CommitBatchInfo): void
  batchCommitted?(batch: CommitBatchInfo): void
}

export interface CommitBatchInfo {
  readonly batchNumber: number
  readonly requests: number
  readonly operations: number
  readonly synced: boolean
}

/** What a caller learns when its request is committed. */
export interface CommitReceipt {
  readonly batchNumber: number
  readonly synced: boolean
}

export interface CommitQueueStats {
  readonly batches: number
  /** Batches taken after a linger (a wait for more writers). */
  readonly lingers: number
  readonly syncedBatches: number
  readonly requests: number
  readonly operations: number
  readonly largestBatchRequests: number
  readonly refusedOverloaded: number
}

/** Called once: with the receipt when the request is committed, or with the error that refused or failed it. */
export type CommitCallback = (error: StorageError | null, receipt: CommitReceipt | null) => void

interface PendingRequest {
  readonly operations: readonly KvOperation[]
  readonly durable: boolean
  readonly done: CommitCallback
}

export class CommitQueue {
  private readonly waiting: BoundedQueue<PendingRequest>
  private writing = false
  private closed = false
  private failure: StorageError | null = null
  private idleWaiters: (() => void)[] = []
  private batchNumber = 0
  /** Requests in the last batch committed: whether the next one lingers. */
  private lastBatchRequests = 0
  /** How long the last batch's write took, sync included (ms). */
  private lastCommitMs = 0
  /** Ends the current linger at once; null when not lingering. */
  private endLinger: (() => void) | null = null
  /** Writers waiting that end the current linger early: the last batch's size, capped by lingerUntilRequests. */
  private lingerTarget = 0
  private counters = { batches: 0, lingers: 0, syncedBatches: 0, requests: 0, operations: 0, largestBatchRequests: 0, refusedOverloaded: 0 }

  constructor(
    private readonly store: KvStore,
    private readonly options: CommitQueueOptions = defaultCommitQueueOptions,
    private readonly observer: CommitObserver = {},
    /** Milliseconds from any origin, to time commits; tests pass their own. */
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    assert(options.maxBatchOperations > 0, 'maxBatchOperations must be positive')
    this.waiting = new BoundedQueue(options.maxQueuedRequests)
  }

  /** Resolves once the operations are committed (and synced, for a durable request with syncWrites on). */
  submit(operations: readonly KvOperation[], durability: Durability): Promise<CommitReceipt> {
    return new Promise<CommitReceipt>((resolve, reject) => {
      this.submitWith(operations, durability, (error, receipt) => (error === null ? resolve(receipt as CommitReceipt) : reject(error)))
    })
  }

  /**
   * submit with a callback instead of a promise, for the engine's write path: a promise per write and the
   * microtasks to settle it were a measurable share of a write's cost. `done` runs when the batch has returned
   * (synchronously inside the commit loop, in submission order), or in a microtask when the request is refused.
   */
  submitWith(operations: readonly KvOperation[], durability: Durability, done: CommitCallback): void {
    const refuse = (error: StorageError): void => queueMicrotask(() => done(error, null))
    if (this.failure !== null) return refuse(this.failure)
    if (this.closed) return refuse(new StorageError('STORAGE_CLOSED', 'commit queue is closed'))
    const accepted = this.waiting.push({ operations, durable: durability === 'durable', done })
    if (!accepted) {
      this.counters.refusedOverloaded++
      return refuse(new StorageError('STORAGE_OVERLOADED', `commit queue holds ${this.options.maxQueuedRequests} requests`))
    }
    if (!this.writing) void this.drain()
    else if (this.endLinger !== null && this.waiting.length >= this.lingerTarget) this.endLinger()
  }

  get stats(): CommitQueueStats {
    return { ...this.counters }
  }

  get queuedRequests(): number {
    return this.waiting.length
  }

  /** Resolves when nothing is waiting or being written. */
  idle(): Promise<void> {
    if (!this.writing && this.waiting.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Refuses new requests, commits what is already queued. */
  async close(): Promise<void> {
    this.closed = true
    this.endLinger?.()
    await this.idle()
  }

  private async drain(): Promise<void> {
    assert(!this.writing, 'two writers in the commit queue')
    this.writing = true
    while (this.waiting.length > 0 && this.failure === null) {
      if (this.options.gatherFollowers) await this.gather()
      await this.commit(this.takeBatch())
    }
    this.writing = false
    const failure = this.failure
    if (failure !== null) for (const request of this.waiting.drain()) notify(request, failure, null)
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const wake of waiters) wake()
  }

  /** One macrotask (gatherFollowers), or a linger of up to lingerMs when the node is busy (see the header). */
  private gather(): Promise<void> {
    const { lingerMs, lingerAfterBatchOf, lingerUntilRequests } = this.options
    // Twice the last commit's duration keeps the wait in proportion to the disk: a write queues for at most about
    // three commits' time instead of two. Timers have 1 ms resolution, so a disk that commits in under 0.5 ms
    // never lingers.
    const waitMs = Math.min(lingerMs, Math.floor(2 * this.lastCommitMs))
    this.lingerTarget = Math.min(this.lastBatchRequests, lingerUntilRequests)
    const linger = waitMs >= 1 && !this.closed && this.lastBatchRequests >= lingerAfterBatchOf && this.waiting.length < this.lingerTarget
    if (!linger) return new Promise<void>((resolve) => setImmediate(resolve))
    this.counters.lingers++
    return new Promise<void>((resolve) => {
      const end = (): void => {
        clearTimeout(timer)
        this.endLinger = null
        resolve()
      }
      const timer = setTimeout(end, waitMs)
      this.endLinger = end
    })
  }

  /** Everything waiting, up to maxBatchOperations; always at least one request so an oversized one still goes. */
  private takeBatch(): PendingRequest[] {
    const requests: PendingRequest[] = []
    let operations = 0
    for (;;) {
      const next = this.waiting.peek()
      if (next === undefined) break
      if (requests.length > 0 && operations + next.operations.length > this.options.maxBatchOperations) break
      this.waiting.shift()
      requests.push(next)
      operations += next.operations.length
    }
    return requests
  }

  private async commit(requests: readonly PendingRequest[]): Promise<void> {
    const operations = requests.flatMap((request) => request.operations)
    const synced = this.options.syncWrites && requests.some((request) => request.durable)
    const info: CommitBatchInfo = { batchNumber: ++this.batchNumber, requests: requests.length, operations: operations.length, synced }
    this.observer.batchStarted?.(info)
    const startedAt = this.nowMs()
    try {
      await this.store.write(operations, { sync: synced })
      this.lastCommitMs = this.nowMs() - startedAt
    } catch (error) {
      this.failure = new StorageError('STORAGE_FAILED', `commit of batch ${info.batchNumber} failed; restart the node`, { cause: error })
      const failure = this.failure
      for (const request of requests) notify(request, failure, null)
      return
    }
    this.count(info)
    this.observer.batchCommitted?.(info)
    const receipt: CommitReceipt = { batchNumber: info.batchNumber, synced }
    for (const request of requests) notify(request, null, receipt)
  }

  private count(info: CommitBatchInfo): void {
    this.lastBatchRequests = info.requests
    this.counters.batches++
    if (info.synced) this.counters.syncedBatches++
    this.counters.requests += info.requests
    this.counters.operations += info.operations
    this.counters.largestBatchRequests = Math.max(this.counters.largestBatchRequests, info.requests)
  }
}

/**
 * Runs a request's callback. One that throws has a bug, but it must not stop the loop from telling the rest of its
 * batch: its error is rethrown on its own, as an uncaught exception, the way a throwing promise handler surfaces.
 */
function notify(request: PendingRequest, error: StorageError | null, receipt: CommitReceipt | null): void {
  try {
    request.done(error, receipt)
  } catch (thrown) {
    queueMicrotask(() => {
      throw thrown
    })
  }
}
