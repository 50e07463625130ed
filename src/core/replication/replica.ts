/**
 * The replica side of the data path: this node's copy of each key. Storage does not merge, so every change is a
 * read-merge-write cycle done here, and two cycles of one key must never overlap or the second would overwrite
 * the first one's sibling. A per-key waiting list serializes them: a key's jobs run one at a time in arrival
 * order, different keys run concurrently.
 *
 *   mint:  get-object ─► update with this node's actor (a new dot) ─► put-object durable ─► minted
 *   merge: get-object ─► merge (never overwrite) ─► put-object (+ put-hint for a fallback) durable ─► stored
 *   read:  get-object ─► decoded object (not serialized: a read sees the state before or after a cycle)
 *
 * Only a primary mints (the coordinator sees to that); every other replica only merges, so dots of one actor
 * are minted in order by one process whose generation is unique. Results are reported only after the fsync,
 * which is what makes an acknowledgement mean "survives a crash".
 */
import { digest64OfPair } from '../anti-entropy/digest64.ts'
import { assert } from '../primitives/assert.ts'
import { utf8Bytes } from '../primitives/byte-pool.ts'
import { IdTable } from '../primitives/id-table.ts'
import type { NodeId } from '../primitives/ids.ts'
import type { ClientErrorCode } from '../node/client.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import type { Mutation, StorageResult } from '../node/storage-operation.ts'
import type { Actor, Dot } from '../versioning/actor.ts'
import { formatDot } from '../versioning/actor.ts'
import { collapseRetriedWrites, latestTimestamp, mergeObjects, findWrite, updateObject } from '../versioning/dotted-version-vector-set.ts'
import type { HlcTimestamp } from '../versioning/hybrid-logical-clock.ts'
import { mergeLastWriteWins, updateLastWriteWins } from '../versioning/last-write-wins.ts'
import { decodeObject, encodeObject } from '../versioning/object-codec.ts'
import type { DottedVersionVectorSet } from '../versioning/sibling.ts'
import { emptyObject } from '../versioning/sibling.ts'
import type { VersionVector } from '../versioning/version-vector.ts'
import type { VersioningLimits } from '../versioning/versioning-limits.ts'
import { sameBytes } from './read-quorum.ts'
import type { ConflictMode, WriteContent } from './replication-messages.ts'

export interface ReplicaPorts {
  readonly io: IoContinuations
  readonly actor: Actor
  /** A hybrid-logical-clock timestamp after `latest` (the object's newest), for a write this node mints. */
  readonly stamp: (latest: HlcTimestamp | null) => HlcTimestamp
  readonly limits: VersioningLimits
  /** Jobs queued over all keys before new ones are refused (STYLE rule 7). */
  readonly maxQueued: number
  /**
   * True only when the node is sure it stores no object under the key (anti-entropy's Merkle trees know every key
   * they hold): a write then skips reading the disk, which for a fresh key costs a LevelDB miss through every
   * level. Absent: every write reads.
   */
  readonly knownAbsent?: ((address: KeyAddress) => boolean) | undefined
}

export interface KeyAddress {
  readonly partition: number
  readonly bucket: string
  readonly key: string
}

export interface MintRequest extends KeyAddress {
  readonly conflict: ConflictMode
  readonly content: WriteContent
  readonly context: VersionVector | null
  readonly seenWriteIds?: readonly string[] | undefined
  readonly clientRequestId?: string | undefined
}

export type MintOutcome =
  /** `newDot` is the dot this write created: the coordinator hands the writer back its context plus this dot. */
  | { readonly kind: 'minted'; readonly object: DottedVersionVectorSet; readonly encoded: Uint8Array; readonly newDot: Dot }
  /**
   * The client's request id was applied before: nothing written; the stored object is what it produced. `dot` is
   * that write's dot when the object still holds its sibling (a retry that arrived after the first attempt's
   * replica write did).
   */
  | { readonly kind: 'duplicate'; readonly object: DottedVersionVectorSet; readonly encoded: Uint8Array; readonly dot?: Dot }
  | { readonly kind: 'refused'; readonly code: ClientErrorCode; readonly message: string }
  | { readonly kind: 'failed'; readonly message: string }

export type MintedObject = Extract<MintOutcome, { kind: 'minted' }>

export type LocalRead =
  | { readonly kind: 'found'; readonly object: DottedVersionVectorSet; readonly encoded: Uint8Array }
  | { readonly kind: 'missing' }
  | { readonly kind: 'failed'; readonly message: string }

/** A local read for a peer: the stored bytes as they are (the peer decodes and validates them). */
export type LocalBytes =
  | { readonly kind: 'found'; readonly encoded: Uint8Array }
  | { readonly kind: 'missing' }
  | { readonly kind: 'failed'; readonly message: string }

export type MergeOutcome = 'stored' | 'failed'

type Job = (out: Out, finish: (out: Out) => void) => void

export function mergeFor(conflict: ConflictMode): (a: DottedVersionVectorSet, b: DottedVersionVectorSet) => DottedVersionVectorSet {
  return conflict === 'lww' ? mergeLastWriteWins : mergeSiblings
}

/** The join, then one sibling per client write (a retry minted on two primaries is one write). */
function mergeSiblings(a: DottedVersionVectorSet, b: DottedVersionVectorSet): DottedVersionVectorSet {
  return collapseRetriedWrites(mergeObjects(a, b))
}

export class Replica {
  /**
   * Each key's jobs in arrival order, by queueId (one key, barring a digest collision). Not a Map of id strings: see
   * id-table.ts for how a churned long-lived Map kept finished jobs alive.
   */
  private readonly queues = new IdTable<Job[]>()
  /** Per partition: jobs waiting or running (busyIn). */
  private readonly jobsByPartition: number[] = []
  private queued = 0
  /** The last counter this node's actor minted, on any key (Write.counterFloor: no dot is ever minted twice). */
  private lastCounter = 0
  readonly counters = { mints: 0, merges: 0, unchangedMerges: 0, skippedReads: 0, hintsStored: 0, refusedOverload: 0, corruptObjects: 0 }

  constructor(private readonly ports: ReplicaPorts) {}

  read(address: KeyAddress, out: Out, done: (read: LocalRead, out: Out) => void): void {
    const { partition, bucket, key } = address
    this.ports.io.read({ kind: 'get-object', partition, bucket, key }, out, (result, next) => done(this.decodeStored(address, result), next))
  }

  /**
   * `read` without decoding, for a peer's replica read: the coordinator decodes the reply anyway (and skips even that
   * when it matches the copy it has), so decoding here too was a third decode per GET. A corrupt object then fails
   * at the coordinator, which counts the reply as no answer, as it counted this node's `failed`.
   */
  readBytes(address: KeyAddress, out: Out, done: (read: LocalBytes, out: Out) => void): void {
    const { partition, bucket, key } = address
    this.ports.io.read({ kind: 'get-object', partition, bucket, key }, out, (result, next) => done(storedBytes(result), next))
  }

  /**
   * Mints the client's write. `minted`, when given, hears of the new object as soon as it exists, before the local
   * write is durable, so the coordinator can send it to the other replicas while this node's fsync runs: the
   * write then waits for one fsync round instead of two in a row. That is safe because a dot is never reused: if
   * this node crashes before its fsync, it restarts with a new generation, and the replicas' copies stand.
   */
  mint(request: MintRequest, out: Out, done: (outcome: MintOutcome, out: Out) => void, minted?: (outcome: MintedObject, out: Out) => void): void {
    this.enqueue(request, out, (failure, next) => done({ kind: 'failed', message: failure }, next), (next, finish) => {
      this.readForMint(request, next, (stored, appliedBefore, afterRead) => {
        if (stored.kind === 'failed') return finish(afterRead, () => done(stored, afterRead))
        const current = stored.kind === 'found' ? stored.object : emptyObject
        const earlier = stored.kind === 'found' ? this.earlierAttempt(current, request) : null
        if (appliedBefore || (earlier !== null && stored.kind === 'found')) {
          const encoded = stored.kind === 'found' ? stored.encoded : encodeObject(emptyObject)
          const duplicate: MintOutcome = earlier?.kind === 'live'
            ? { kind: 'duplicate', object: current, encoded, dot: earlier.sibling.dot }
            : { kind: 'duplicate', object: current, encoded }
          return finish(afterRead, () => done(duplicate, afterRead))
        }
        const updated = this.apply(current, request)
        if (updated.kind !== 'minted') return finish(afterRead, () => done(updated, afterRead))
        const put: Mutation = {
          kind: 'put-object', partition: request.partition, bucket: request.bucket, key: request.key, value: updated.encoded,
          dot: updated.dot, tombstonesOnly: holdsOnlyTombstones(updated.object), requestId: request.clientRequestId,
        }
        minted?.({ kind: 'minted', object: updated.object, encoded: updated.encoded, newDot: updated.newDot }, afterRead)
        this.ports.io.write([put], 'durable', afterRead, (result, afterWrite) => {
          finish(afterWrite, () => done(this.mintResult(result, updated, stored), afterWrite))
        })
      })
    })
  }

  /**
   * The stored object and, for a write with a client request id, whether this node applied that id before: both
   * reads go out at once. Checking the id before minting (not only when the write is planned) matters because the
   * minted object may already be on its way to the other replicas by then.
   */
  private readForMint(request: MintRequest, out: Out, done: (stored: LocalRead, appliedBefore: boolean, out: Out) => void): void {
    const requestId = request.clientRequestId
    if (requestId === undefined) return this.readForWrite(request, out, (stored, next) => done(stored, false, next))
    let stored: LocalRead | null = null
    let record: boolean | null = null
    const join = (next: Out): void => {
      if (stored !== null && record !== null) done(stored, record, next)
    }
    this.readForWrite(request, out, (result, next) => {
      stored = result
      join(next)
    })
    this.ports.io.read({ kind: 'get-request-record', requestId }, out, (result, next) => {
      // A failed lookup is not a duplicate; the write planner checks the id again when the write is planned.
      record = result.kind === 'request-record' && result.record !== null
      join(next)
    })
  }

  /**
   * `incomingEncoded`: the bytes `incoming` was decoded from, when it came off the wire. A key this node does not
   * hold, merged with an object the merge leaves as it is (the usual replica write of a fresh key), is stored as
   * those bytes instead of encoding the same object again: decodeObject accepts only the one encoding of an object
   * (object-codec.test.ts checks that decoding then encoding gives back the bytes).
   */
  merge(
    address: KeyAddress, conflict: ConflictMode, incoming: DottedVersionVectorSet, hintFor: NodeId | null, out: Out,
    done: (outcome: MergeOutcome, out: Out) => void, incomingEncoded?: Uint8Array,
  ): void {
    this.enqueue(address, out, (_, next) => done('failed', next), (next, finish) => {
      this.readForWrite(address, next, (stored, afterRead) => {
        if (stored.kind === 'failed') return finish(afterRead, () => done('failed', afterRead))
        const merged = mergeFor(conflict)(stored.kind === 'found' ? stored.object : emptyObject, incoming)
        const asReceived = stored.kind === 'missing' && incomingEncoded !== undefined && sameContent(merged, incoming)
        const encoded = asReceived ? incomingEncoded : encodeObject(merged)
        const unchanged = stored.kind === 'found' && sameBytes(stored.encoded, encoded)
        const mutations = this.mergeMutations(address, encoded, holdsOnlyTombstones(merged), unchanged, hintFor)
        this.counters.merges++
        if (mutations.length === 0) {
          this.counters.unchangedMerges++
          return finish(afterRead, () => done('stored', afterRead))
        }
        this.ports.io.write(mutations, 'durable', afterRead, (result, afterWrite) => {
          const ok = result.kind === 'written' && result.outcomes.length === mutations.length
          if (ok && hintFor !== null) this.counters.hintsStored++
          finish(afterWrite, () => done(ok ? 'stored' : 'failed', afterWrite))
        })
      })
    })
  }

  /**
   * The read of a read-merge-write cycle: none when the key is known absent. Answering at once is safe here because
   * the cycle runs inside its key's job, which finishes only after its own write's result arrives in a later step.
   */
  private readForWrite(address: KeyAddress, out: Out, done: (read: LocalRead, out: Out) => void): void {
    if (this.ports.knownAbsent?.(address) === true) {
      this.counters.skippedReads++
      return done({ kind: 'missing' }, out)
    }
    this.read(address, out, done)
  }

  /** Jobs waiting or running, over all keys. */
  get queuedJobs(): number {
    return this.queued
  }

  /** Whether a job of any key of `partition` is waiting or running (ownership handoff waits for none). */
  busyIn(partition: number): boolean {
    return (this.jobsByPartition[partition] ?? 0) > 0
  }

  private mergeMutations(address: KeyAddress, encoded: Uint8Array, tombstonesOnly: boolean, unchanged: boolean, hintFor: NodeId | null): Mutation[] {
    const { partition, bucket, key } = address
    const mutations: Mutation[] = []
    if (!unchanged) mutations.push({ kind: 'put-object', partition, bucket, key, value: encoded, dot: null, tombstonesOnly })
    // A fallback keeps a hint even when its own copy did not change: the primary it stands in for still lacks it.
    if (hintFor !== null) mutations.push({ kind: 'put-hint', target: hintFor, partition, bucket, key, value: encoded })
    return mutations
  }

  /**
   * What an earlier attempt of this client request left here, minted by another primary and replicated to us: its
   * sibling, or its retirement by a later write. Minting again would make a twin for collapseRetriedWrites to
   * remove, or bring back a write the client already replaced. (This node's own request-id records catch
   * retries of writes it minted itself, for longer.)
   */
  private earlierAttempt(current: DottedVersionVectorSet, request: MintRequest): ReturnType<typeof findWrite> {
    if (request.conflict === 'lww' || request.clientRequestId === undefined) return null
    return findWrite(current, request.clientRequestId)
  }

  private apply(current: DottedVersionVectorSet, request: MintRequest): { kind: 'minted'; object: DottedVersionVectorSet; encoded: Uint8Array; dot: Uint8Array; newDot: Dot } | Extract<MintOutcome, { kind: 'refused' }> {
    const timestamp = this.ports.stamp(latestTimestamp(current))
    const { actor, limits } = this.ports
    const outcome = request.conflict === 'lww'
      ? updateLastWriteWins(current, { content: request.content, actor, timestamp, counterFloor: this.lastCounter }, limits)
      : updateObject(current, {
          context: request.context, content: request.content, actor, timestamp, counterFloor: this.lastCounter,
          writeId: request.clientRequestId, seenWriteIds: request.seenWriteIds,
        }, limits)
    switch (outcome.kind) {
      case 'updated': {
        this.counters.mints++
        this.lastCounter = outcome.dot.counter
        const dot = utf8Bytes(formatDot(outcome.dot))
        return { kind: 'minted', object: outcome.object, encoded: encodeObject(outcome.object), dot, newDot: outcome.dot }
      }
      case 'too-many-siblings':
        return { kind: 'refused', code: 'TOO_MANY_SIBLINGS', message: `the object has ${outcome.siblingCount} siblings, more than ${outcome.maxSiblings}; read it and write with its context to resolve them` }
      case 'too-large':
        return { kind: 'refused', code: 'VALUE_TOO_LARGE', message: `the object would be ${outcome.objectBytes} bytes, more than ${outcome.maxObjectBytes}` }
      case 'invalid-content-type':
        return { kind: 'refused', code: 'INVALID_PARAMETER', message: outcome.message }
    }
  }

  private mintResult(result: StorageResult, updated: { object: DottedVersionVectorSet; encoded: Uint8Array; newDot: Dot }, stored: LocalRead): MintOutcome {
    if (result.kind !== 'written') return { kind: 'failed', message: result.kind === 'failed' ? `${result.code}: ${result.message}` : `unexpected ${result.kind}` }
    const [first] = result.outcomes
    if (first?.kind !== 'duplicate') return { kind: 'minted', object: updated.object, encoded: updated.encoded, newDot: updated.newDot }
    // The first attempt's write is in what we read (unless a later write superseded it): answer with that.
    if (stored.kind === 'found') return { kind: 'duplicate', object: stored.object, encoded: stored.encoded }
    return { kind: 'duplicate', object: emptyObject, encoded: encodeObject(emptyObject) }
  }

  private decodeStored(address: KeyAddress, result: StorageResult): LocalRead {
    const stored = storedBytes(result)
    if (stored.kind !== 'found') return stored
    const decoded = decodeObject(stored.encoded)
    if (decoded.kind !== 'decoded') {
      this.counters.corruptObjects++
      return { kind: 'failed', message: `stored object ${address.bucket}/${address.key} is ${decoded.kind}` }
    }
    return { kind: 'found', object: decoded.object, encoded: stored.encoded }
  }

  /**
   * Runs `job` when every earlier job of the same key has finished. `finish(out, report)` ends the job: it reports
   * the outcome first and then starts the key's next job, so a caller never observes the next cycle before its own.
   */
  private enqueue(address: KeyAddress, out: Out, refuse: (reason: string, out: Out) => void, job: (out: Out, finish: (out: Out, report: () => void) => void) => void): void {
    if (this.queued >= this.ports.maxQueued) {
      this.counters.refusedOverload++
      return refuse(`replica queue is full (${this.ports.maxQueued} operations)`, out)
    }
    const id = queueId(address)
    const { partition } = address
    const run: Job = (next, done) => job(next, (after, report) => {
      report()
      this.jobsByPartition[partition] = (this.jobsByPartition[partition] ?? 1) - 1
      done(after)
    })
    const queue = this.queues.get(id)
    this.queued++
    this.jobsByPartition[partition] = (this.jobsByPartition[partition] ?? 0) + 1
    if (queue !== undefined) {
      queue.push(run)
      return
    }
    this.queues.set(id, [run])
    this.runHead(id, out)
  }

  private runHead(id: number, out: Out): void {
    const queue = this.queues.get(id)
    const head = queue?.[0]
    assert(queue !== undefined && head !== undefined, () => `replica queue ${id} is empty`)
    let finished = false
    head(out, (after) => {
      assert(!finished, () => `a replica job of queue ${id} finished twice`)
      finished = true
      this.queued--
      queue.shift()
      if (queue.length === 0) this.queues.delete(id)
      else this.runHead(id, after)
    })
  }
}

/**
 * Whether a merge result holds exactly what `incoming` held. The merges build their result from the inputs' own
 * parts (a history joined with an empty one is that history, kept siblings and retired writes are the inputs'
 * objects), so comparing references is exact here, and cheap.
 */
function sameContent(merged: DottedVersionVectorSet, incoming: DottedVersionVectorSet): boolean {
  if (merged === incoming) return true
  return merged.history === incoming.history && sameItems(merged.siblings, incoming.siblings) && sameItems(merged.retired ?? [], incoming.retired ?? [])
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i])
}

function storedBytes(result: StorageResult): LocalBytes {
  if (result.kind === 'failed') return { kind: 'failed', message: `${result.code}: ${result.message}` }
  if (result.kind !== 'object') return { kind: 'failed', message: `unexpected storage result ${result.kind}` }
  return result.object === null ? { kind: 'missing' } : { kind: 'found', encoded: result.object.value }
}

/**
 * The queue a key's jobs run in: a 53-bit digest of the key instead of an id string, so that the queues can live in
 * an IdTable. Two keys whose digests collide share a queue and merely wait for each other's jobs.
 */
function queueId({ partition, bucket, key }: KeyAddress): number {
  const { hi, lo } = digest64OfPair(bucket, key, partition)
  return (hi & 0x1f_ffff) * 0x1_0000_0000 + (lo >>> 0)
}

/** Every sibling a tombstone (and at least one): the only objects the tombstone reaper may ever remove. */
function holdsOnlyTombstones(object: DottedVersionVectorSet): boolean {
  return object.siblings.length > 0 && object.siblings.every((sibling) => sibling.content.kind === 'tombstone')
}
