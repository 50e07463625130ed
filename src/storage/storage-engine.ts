/**
 * The storage engine: executes the core's storage vocabulary (storage-operation.ts) against one KvStore.
 * `apply(mutations, durability)` turns one write effect into one atomic batch (object + change-log entry +
 * request-id record, hints, meta) committed through the commit queue; `read(query)` answers read effects.
 * Failures come back as `{ kind: 'failed', code }`, never as exceptions; assertion failures do escape, on
 * purpose (crash rather than continue corrupt).
 *
 * Ordering: write effects are planned in the order `apply` is called and handed to the commit queue in that
 * order, so seqs and batches follow call order and a later write never overtakes an earlier one. Planning runs
 * in rounds, like the commit queue: everything waiting is planned together after one read of all its request
 * ids (write-planner.ts decides duplicates), so idempotency costs one read per round, not one per write.
 *
 * Recovery on open: open the store, check the format and node id, raise and persist the generation, rebuild the
 * change log's seqs (finishing interrupted truncations) and the hint index.
 */
import type { Durability, Mutation, MutationOutcome, ReadQuery, StorageResult } from '../core/node/storage-operation.ts'
import type { Clock } from '../core/primitives/clock.ts'
import type { Millis, NodeId } from '../core/primitives/ids.ts'
import type { ChangeLogOptions, CorruptEntryReport } from './change-log.ts'
import { ChangeLog, defaultChangeLogOptions } from './change-log.ts'
import type { CommitObserver, CommitQueueStats } from './commit-queue.ts'
import { CommitQueue, defaultCommitQueueOptions } from './commit-queue.ts'
import type { HintStoreOptions, HintStoreStats } from './hint-store.ts'
import { HintStore, defaultHintStoreOptions } from './hint-store.ts'
import type { KvStore } from './kv-store.ts'
import type { NodeIdentityRecord } from './node-metadata.ts'
import { claimNodeIdentity } from './node-metadata.ts'
import { ReadBatcher } from './read-batcher.ts'
import type { ReadBatcherStats } from './read-batcher.ts'
import { readQuery, readQueryNow } from './storage-reader.ts'
import type { StorageReaderParts } from './storage-reader.ts'
import type { RequestIdStoreOptions } from './request-id-store.ts'
import { RequestIdStore, defaultRequestIdStoreOptions } from './request-id-store.ts'
import { StorageError, isStorageError } from './storage-error.ts'
import type { CommittedRequests, PlannedMutation } from './write-planner.ts'
import { WritePlanner } from './write-planner.ts'

export interface StorageEngineOptions {
  readonly nodeId: NodeId
  /** false is UNSAFE (see commit-queue.ts): acknowledged writes may be lost on power failure. Benchmarks only. */
  readonly syncWrites: boolean
  /** Background sweep of expired request ids; null turns the timer off (the simulator calls sweep itself). */
  readonly requestSweepIntervalMs: Millis | null
  /** Expired request records deleted per sweep batch, so a sweep never becomes one giant batch. */
  readonly requestSweepBatch: number
  readonly maxQueuedRequests: number
  readonly maxBatchOperations: number
  /** See CommitQueueOptions.gatherFollowers; the simulator sets false. */
  readonly gatherFollowers: boolean
  /** See CommitQueueOptions.lingerMs: the longest commit delay under load; 0 never delays. */
  readonly commitLingerMs: number
  /** Gather a turn's thread-pool object reads into one getMany (read-batcher.ts); false issues each read alone. */
  readonly gatherReads: boolean
  /** Read objects on the event loop while that stays within its budget (read-batcher.ts); false never does. */
  readonly inlineReads: boolean
  readonly changeLog: ChangeLogOptions
  readonly hints: HintStoreOptions
  readonly requestIds: RequestIdStoreOptions
}

export const defaultStorageEngineOptions: Omit<StorageEngineOptions, 'nodeId'> = {
  syncWrites: true,
  // Once a minute: a record lingering a minute past its 10-minute TTL costs nothing, lookups ignore it.
  requestSweepIntervalMs: 60_000,
  requestSweepBatch: 1_000,
  maxQueuedRequests: defaultCommitQueueOptions.maxQueuedRequests,
  maxBatchOperations: defaultCommitQueueOptions.maxBatchOperations,
  gatherFollowers: defaultCommitQueueOptions.gatherFollowers,
  commitLingerMs: defaultCommitQueueOptions.lingerMs,
  gatherReads: true,
  inlineReads: true,
  changeLog: defaultChangeLogOptions,
  hints: defaultHintStoreOptions,
  requestIds: defaultRequestIdStoreOptions,
}

export interface StorageEnginePorts {
  readonly store: KvStore
  readonly clock: Clock
  /** Told about every corrupt change-log entry found (it is also counted and skipped). */
  readonly onCorruptEntry?: (report: CorruptEntryReport) => void
  readonly commitObserver?: CommitObserver
}

export interface StorageStats {
  readonly commits: CommitQueueStats
  readonly hints: HintStoreStats
  readonly corruptedLogEntries: number
  readonly duplicateRequests: number
  readonly expiredRequestsSwept: number
  readonly objectReads: ReadBatcherStats
}

export class StorageEngine {
  private readonly planner: WritePlanner
  private readonly readerParts: StorageReaderParts
  private waitingApplies: WaitingApply[] = []
  private planning = false
  private planningIdleWaiters: (() => void)[] = []
  private swept = 0
  private sweepTimer: NodeJS.Timeout | null = null
  private closed = false

  private constructor(
    private readonly store: KvStore,
    private readonly queue: CommitQueue,
    private readonly changeLog: ChangeLog,
    private readonly hintStore: HintStore,
    private readonly requestIds: RequestIdStore,
    readonly identity: NodeIdentityRecord,
    private readonly options: StorageEngineOptions,
    private readonly objectReads: ReadBatcher,
  ) {
    this.planner = new WritePlanner(changeLog, hintStore, requestIds)
    this.readerParts = { store, objects: this.objectReads, changeLog, hints: hintStore, requestIds }
  }

  static async open(ports: StorageEnginePorts, options: StorageEngineOptions): Promise<StorageEngine> {
    const { store, clock } = ports
    await store.open()
    const queue = new CommitQueue(
      store,
      {
        syncWrites: options.syncWrites,
        maxQueuedRequests: options.maxQueuedRequests,
        maxBatchOperations: options.maxBatchOperations,
        gatherFollowers: options.gatherFollowers,
        lingerMs: options.commitLingerMs,
        lingerAfterBatchOf: defaultCommitQueueOptions.lingerAfterBatchOf,
        lingerUntilRequests: defaultCommitQueueOptions.lingerUntilRequests,
      },
      ports.commitObserver ?? {},
    )
    try {
      const identity = await claimNodeIdentity(store, queue, clock, options.nodeId)
      const changeLog = await ChangeLog.recover(store, options.changeLog, ports.onCorruptEntry ?? (() => {}))
      const hintStore = await HintStore.recover(store, options.hints)
      const reads = new ReadBatcher(store, { gather: options.gatherReads, inline: options.inlineReads })
      const requestIds = new RequestIdStore(store, clock, options.requestIds, reads)
      const engine = new StorageEngine(store, queue, changeLog, hintStore, requestIds, identity, options, reads)
      engine.startSweepTimer()
      return engine
    } catch (error) {
      // Release the directory's lock so the operator (or a test) can retry after fixing the cause.
      await store.close().catch(() => {})
      throw error
    }
  }

  /** One write effect: all of its mutations in one atomic batch. Outcomes come back in mutation order. */
  apply(mutations: readonly Mutation[], durability: Durability): Promise<StorageResult> {
    return new Promise<StorageResult>((resolve, reject) => this.applyWith(mutations, durability, resolve, reject))
  }

  /**
   * apply with callbacks instead of a promise (the runtime's write path: a write's promises and their microtasks
   * were a measurable share of its cost). Exactly one of the two runs, never synchronously: `done` with the
   * result, `fail` only for a bug (an assertion), as apply's promise would reject.
   */
  applyWith(mutations: readonly Mutation[], durability: Durability, done: (result: StorageResult) => void, fail: (error: unknown) => void): void {
    if (this.closed) return queueMicrotask(() => done({ kind: 'failed', code: 'STORAGE_CLOSED', message: 'storage engine is closed' }))
    // The planning queue has the commit queue's bound, so a stalled disk surfaces as errors, not memory growth.
    if (this.waitingApplies.length >= this.options.maxQueuedRequests) {
      const message = `${this.waitingApplies.length} writes waiting to be planned`
      return queueMicrotask(() => done({ kind: 'failed', code: 'STORAGE_OVERLOADED', message }))
    }
    this.waitingApplies.push({ mutations, durability, resolve: done, reject: fail })
    if (!this.planning) void this.planRounds()
  }

  /** The result of `read(query)` right now when it can be had without waiting (see readQueryNow), else undefined. */
  readNow(query: ReadQuery): StorageResult | undefined {
    try {
      if (this.closed) throw new StorageError('STORAGE_CLOSED', 'storage engine is closed')
      return readQueryNow(this.readerParts, query)
    } catch (error) {
      return failure(error)
    }
  }

  async read(query: ReadQuery): Promise<StorageResult> {
    try {
      if (this.closed) throw new StorageError('STORAGE_CLOSED', 'storage engine is closed')
      return await readQuery(this.readerParts, query)
    } catch (error) {
      return failure(error)
    }
  }

  /** Deletes expired request records, a batch at a time; returns how many went. Not durable: a lost sweep redoes. */
  async sweepExpiredRequests(): Promise<number> {
    let total = 0
    for (;;) {
      const { expired, operations } = await this.requestIds.planSweep(this.options.requestSweepBatch)
      if (operations.length > 0) await this.queue.submit(operations, 'unsafe')
      total += expired
      if (operations.length === 0 || expired < this.options.requestSweepBatch / 2) break
    }
    this.swept += total
    return total
  }

  get stats(): StorageStats {
    return {
      commits: this.queue.stats,
      hints: this.hintStore.stats,
      corruptedLogEntries: this.changeLog.corruptedEntries,
      duplicateRequests: this.planner.duplicates,
      expiredRequestsSwept: this.swept,
      objectReads: this.objectReads.stats,
    }
  }

  /** Highest seq handed out for the partition (0: none): the replica's own high-water mark. */
  lastSeq(partition: number): number {
    return this.changeLog.lastSeq(partition)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer)
    if (this.planning) await new Promise<void>((resolve) => this.planningIdleWaiters.push(resolve))
    await this.queue.close()
    await this.store.close()
  }

  private startSweepTimer(): void {
    const interval = this.options.requestSweepIntervalMs
    if (interval === null) return
    this.sweepTimer = setInterval(() => {
      // A failed sweep is retried at the next interval; the queue reports real failures to writers.
      this.sweepExpiredRequests().catch(() => {})
    }, interval)
    this.sweepTimer.unref()
  }

  /** Plans everything waiting: one lookup of the round's request ids, then each write effect in call order. */
  private async planRounds(): Promise<void> {
    this.planning = true
    // Same reason as the commit queue's gatherFollowers: let the writers woken by the last batch join this round.
    if (this.options.gatherFollowers) await new Promise<void>((resolve) => setImmediate(resolve))
    while (this.waitingApplies.length > 0) {
      const round = this.waitingApplies.splice(0, maxApplicationsPerRound)
      this.planner.purgeSettledClaims()
      let committed: CommittedRequests
      try {
        committed = await this.planner.lookup(round.map((waiting) => waiting.mutations))
      } catch (error) {
        for (const waiting of round) settle(waiting, error)
        continue
      }
      for (const waiting of round) this.planAndSubmit(waiting, committed)
    }
    this.planning = false
    for (const wake of this.planningIdleWaiters.splice(0)) wake()
  }

  /** Synchronous from plan to submit, so batches reach the commit queue in the order seqs were allocated. */
  private planAndSubmit(waiting: WaitingApply, committed: CommittedRequests): void {
    let planned: PlannedMutation[]
    try {
      planned = this.planner.plan(waiting.mutations, committed)
    } catch (error) {
      settle(waiting, error)
      return
    }
    const operations = planned.flatMap((mutation) => mutation.operations)
    if (operations.length === 0) return queueMicrotask(() => this.finish(planned, null, waiting))
    this.queue.submitWith(operations, waiting.durability, (error) => this.finish(planned, error, waiting))
  }

  /** Settles a write once its batch returned (error null) or failed. Synchronous unless something must wait. */
  private finish(planned: readonly PlannedMutation[], error: StorageError | null, waiting: WaitingApply): void {
    if (error !== null) {
      for (const mutation of planned) mutation.claim?.reject(error)
      return waiting.resolve(failure(error))
    }
    // A repeat of a request id still in flight, or a change-log truncation, has something to wait for.
    if (planned.some((mutation) => mutation.outcome instanceof Promise || mutation.truncation !== undefined)) {
      void this.finishLater(planned).then(waiting.resolve, waiting.reject)
      return
    }
    let outcomes: MutationOutcome[]
    try {
      outcomes = planned.map((mutation) => {
        const outcome = mutation.outcome as MutationOutcome
        mutation.claim?.resolve(outcome)
        return outcome
      })
    } catch (thrown) {
      return settle(waiting, thrown)
    }
    // Outside the try: what the caller does with the result is not this write failing, and must not answer twice.
    waiting.resolve({ kind: 'written', outcomes })
  }

  private async finishLater(planned: readonly PlannedMutation[]): Promise<StorageResult> {
    try {
      const outcomes: MutationOutcome[] = []
      for (const mutation of planned) {
        // Only a repeat of a request id still in flight has a promise; awaiting a plain value costs a microtask.
        const outcome = mutation.outcome instanceof Promise ? await mutation.outcome : mutation.outcome
        mutation.claim?.resolve(outcome)
        outcomes.push(outcome)
      }
      for (const mutation of planned) if (mutation.truncation !== undefined) await this.changeLog.completeTruncation(mutation.truncation)
      return { kind: 'written', outcomes }
    } catch (error) {
      return failure(error)
    }
  }
}

interface WaitingApply {
  readonly mutations: readonly Mutation[]
  readonly durability: Durability
  readonly resolve: (result: StorageResult) => void
  readonly reject: (error: unknown) => void
}

/** Bounds one planning round (and its one request-id read); the rest waits for the next round. */
const maxApplicationsPerRound = 1_024

/** A StorageError becomes a failed result; anything else (an assertion) rejects, on purpose. */
function settle(waiting: WaitingApply, error: unknown): void {
  if (isStorageError(error)) waiting.resolve(failure(error))
  else waiting.reject(error)
}

function failure(error: unknown): StorageResult {
  if (isStorageError(error)) return { kind: 'failed', code: error.code, message: error.message }
  throw error
}
