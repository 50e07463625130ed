/**
 * Turns the core's mutations into KvStore operations, in commit order: allocates change-log seqs, hint ids and
 * request-id records, and decides which put-objects are repeats of a request id already applied (idempotent
 * receiver). Planning is synchronous once the round's request ids have been looked up, so two writes planned one
 * after the other can never interleave.
 *
 * A request id is in one of three places: committed (found by the round's lookup), in flight (claimed by a
 * mutation planned earlier whose batch has not returned; its claim settles when it does), or unknown. Settled
 * claims are purged only at the start of a round, before that round's lookup: a claim that settles while the
 * lookup runs is therefore still here, and one purged earlier is visible to the lookup. Do not purge elsewhere.
 */
import type { Mutation, MutationOutcome } from '../core/node/storage-operation.ts'
import { assert, unreachable } from '../core/primitives/assert.ts'
import type { ChangeLog, TruncationPlan } from './change-log.ts'
import type { HintStore } from './hint-store.ts'
import { metaKey, objectKey } from './key-layout.ts'
import type { KvOperation } from './kv-store.ts'
import { reservedMetaPrefix } from './node-metadata.ts'
import { encodeObjectRecord } from './object-record.ts'
import { encodeRecord } from './record-codec.ts'
import type { RequestIdStore } from './request-id-store.ts'
import { StorageError } from './storage-error.ts'

/** One mutation, planned: the operations for the batch, its outcome, and work to run once committed. */
export interface PlannedMutation {
  readonly operations: readonly KvOperation[]
  /** A promise only for a repeat of a request id still in flight: it settles with that first write. */
  readonly outcome: MutationOutcome | Promise<MutationOutcome>
  readonly truncation?: TruncationPlan
  /** The request id this mutation claimed; the engine settles `claim` when the batch commits or fails. */
  readonly requestId?: string
  readonly claim?: Claim
}

export class Claim {
  settled = false
  resolve!: (outcome: MutationOutcome) => void
  reject!: (error: unknown) => void
  readonly promise = new Promise<MutationOutcome>((resolve, reject) => {
    this.resolve = (outcome) => ((this.settled = true), resolve(outcome))
    this.reject = (error) => ((this.settled = true), reject(error))
  })

  constructor() {
    // Waiters attach their own handlers; this one keeps a failure nobody waits for from being "unhandled".
    this.promise.catch(() => {})
  }
}

/** Outcomes of request ids found committed by a round's lookup. */
export type CommittedRequests = ReadonlyMap<string, MutationOutcome>

export class WritePlanner {
  private readonly inFlight = new Map<string, Claim>()
  private duplicateCount = 0

  constructor(
    private readonly changeLog: ChangeLog,
    private readonly hints: HintStore,
    private readonly requestIds: RequestIdStore,
  ) {}

  get duplicates(): number {
    return this.duplicateCount
  }

  /** Call at the start of a round, before `lookup` (see the header). */
  purgeSettledClaims(): void {
    for (const [requestId, claim] of this.inFlight) if (claim.settled) this.inFlight.delete(requestId)
  }

  /** One read for every request id of the round. */
  async lookup(batches: readonly (readonly Mutation[])[]): Promise<CommittedRequests> {
    const ids = [...new Set(batches.flatMap((mutations) => mutations.flatMap((m) => (m.kind === 'put-object' && m.requestId !== undefined ? [m.requestId] : []))))]
    for (const id of ids) this.requestIds.validate(id)
    const records = await this.requestIds.lookupMany(ids)
    const committed = new Map<string, MutationOutcome>()
    for (const record of records) if (record !== null) committed.set(record.requestId, { kind: 'object-written', partition: record.partition, seq: record.seq })
    return committed
  }

  /** Plans one write effect; throws INVALID_ARGUMENT (before planning anything) on bad input. */
  plan(mutations: readonly Mutation[], committed: CommittedRequests): PlannedMutation[] {
    for (const mutation of mutations) validate(mutation)
    const planned: PlannedMutation[] = []
    for (const mutation of mutations) planned.push(this.duplicateOf(mutation, planned, committed) ?? this.planOne(mutation))
    return planned
  }

  private duplicateOf(mutation: Mutation, plannedSoFar: readonly PlannedMutation[], committed: CommittedRequests): PlannedMutation | null {
    if (mutation.kind !== 'put-object' || mutation.requestId === undefined) return null
    const requestId = mutation.requestId
    const first = plannedSoFar.find((planned) => planned.requestId === requestId)?.outcome ?? this.inFlight.get(requestId)?.promise ?? committed.get(requestId)
    if (first === undefined) return null
    this.duplicateCount++
    const asDuplicate = (outcome: MutationOutcome): MutationOutcome => {
      assert(outcome.kind === 'object-written', 'a request id guards an object write')
      return { kind: 'duplicate', requestId, partition: outcome.partition, seq: outcome.seq }
    }
    if (!(first instanceof Promise)) return { operations: [], outcome: asDuplicate(first) }
    const outcome = first.then(asDuplicate)
    outcome.catch(() => {}) // the engine awaits it; this only stops an early failure counting as unhandled
    return { operations: [], outcome }
  }

  private planOne(mutation: Mutation): PlannedMutation {
    switch (mutation.kind) {
      case 'put-meta':
        return { operations: [{ kind: 'put', key: metaKey(mutation.name), value: encodeRecord('meta', { value: mutation.value }) }], outcome: { kind: 'meta-written' } }
      case 'put-object':
        return this.planPutObject(mutation)
      case 'delete-object':
        return { operations: [{ kind: 'del', key: objectKey(mutation.partition, mutation.bucket, mutation.key) }], outcome: { kind: 'object-deleted' } }
      case 'put-hint': {
        const added = this.hints.add(mutation)
        return added.kind === 'stored' ? { operations: [added.operation], outcome: { kind: 'hint-stored', hintId: added.hintId } } : { operations: [], outcome: { kind: 'hint-dropped' } }
      }
      case 'delete-hint': {
        const operation = this.hints.remove(mutation.target, mutation.hintId)
        return { operations: operation === null ? [] : [operation], outcome: { kind: 'hint-deleted' } }
      }
      case 'truncate-change-log':
        return this.planTruncation(mutation.partition, mutation.lowWaterSeq)
      default:
        return unreachable(mutation)
    }
  }

  private planPutObject(mutation: Extract<Mutation, { kind: 'put-object' }>): PlannedMutation {
    const { partition, bucket, key, value, dot, requestId } = mutation
    const { entry, operation: logOperation } = this.changeLog.append(partition, { bucket, key, dot })
    const operations: KvOperation[] = [{ kind: 'put', key: objectKey(partition, bucket, key), value: encodeObjectRecord(entry.seq, value) }, logOperation]
    const outcome: MutationOutcome = { kind: 'object-written', partition, seq: entry.seq }
    if (requestId === undefined) return { operations, outcome }
    operations.push(...this.requestIds.plan(requestId, { partition, seq: entry.seq }).operations)
    const claim = new Claim()
    this.inFlight.set(requestId, claim)
    return { operations, outcome, requestId, claim }
  }

  private planTruncation(partition: number, lowWaterSeq: number): PlannedMutation {
    const plan = this.changeLog.planTruncation(partition, lowWaterSeq)
    if (plan === null) return { operations: [], outcome: { kind: 'change-log-truncated', firstRetainedSeq: this.changeLog.firstRetainedSeq(partition), removedSegments: 0 } }
    return { operations: [plan.marker], outcome: { kind: 'change-log-truncated', firstRetainedSeq: plan.firstRetainedSeq, removedSegments: plan.removedSegments }, truncation: plan }
  }
}

/** Bad input is refused before anything is planned, so planning cannot fail halfway and leak a claim. */
function validate(mutation: Mutation): void {
  if (mutation.kind === 'put-meta' && mutation.name.startsWith(reservedMetaPrefix)) {
    throw new StorageError('INVALID_ARGUMENT', `meta name ${mutation.name} is reserved`)
  }
  if ('partition' in mutation && !(Number.isInteger(mutation.partition) && mutation.partition >= 0 && mutation.partition <= 0xffff_ffff)) {
    throw new StorageError('INVALID_ARGUMENT', `bad partition ${mutation.partition}`)
  }
  if (mutation.kind === 'truncate-change-log' && !(Number.isSafeInteger(mutation.lowWaterSeq) && mutation.lowWaterSeq >= 0)) {
    throw new StorageError('INVALID_ARGUMENT', `bad lowWaterSeq ${mutation.lowWaterSeq}`)
  }
  if (mutation.kind === 'delete-hint' && !(Number.isSafeInteger(mutation.hintId) && mutation.hintId >= 0)) {
    throw new StorageError('INVALID_ARGUMENT', `bad hintId ${mutation.hintId}`)
  }
}
