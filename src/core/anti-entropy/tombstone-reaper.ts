/**
 * Tombstone reaping at the low-water mark (DESIGN.md section 5, issue 8). A delete writes a tombstone sibling that
 * must outlive every copy of what it deleted, or a replica still holding the old value would merge it back into
 * the others (a resurrected key). This module decides, per partition, when a tombstone may be removed outright.
 *
 * The low-water mark of a partition, for an owner list O (the ownership table's owners of the partition):
 *
 *   M = the wall-clock time, on the initiator's clock, at which a *covering* anti-entropy round started: a round
 *       whose initiator was an owner, in which every other owner of O was live and its exchange ended in-sync or
 *       repaired (anti-entropy.ts runs the second pass when the first repaired anything).
 *
 * After a covering round, everything any owner held at M is held, merged, by every owner. The initiator sends the
 * mark it holds on every level-0 `ae-hashes` (lowWaterMs, lowWaterOwners), so each owner learns it within one more
 * round; a node keeps the highest mark it has seen for its current owner list and forgets it when the list changes.
 *
 * Reaping: each replica decides locally, from the mark it holds. An object is removed with `delete-object` (which
 * also takes it out of the Merkle tree, partition-trees.ts) when
 *   - every sibling is a tombstone and the newest sibling's timestamp is below M − tombstoneGraceMs (the grace
 *     absorbs clock skew between the node that stamped the delete and the one that stamped the mark), and
 *   - this node has not written the key since the covering round first reached it. Every level-0 `ae-hashes`
 *     carries its round's start (roundMs); each node remembers, for its last few rounds, the local write sequence
 *     number at which it first saw that round (the initiator: when it started it). A tombstone this node stored
 *     later (a late hint, a slow write) may not have been spread by that round, so it waits for a later mark:
 *     otherwise an owner still holding the value it superseded would push that value back to a node that had
 *     already dropped the tombstone. A mark whose round this node does not remember reaps nothing here.
 *   - no replica job of the partition is running when the page is read (Replica.busyIn), and the key is not
 *     written between the read and the decision, so a concurrent merge is never overwritten: its write is queued
 *     after the delete and lands on top of it.
 *
 * The rule that keeps deleted keys deleted when a replica comes back. A mark only advances through a round that
 * reached *every* owner, so an owner that is down, partitioned away or still rebuilding its tree freezes the mark
 * of each of its partitions: nothing it might have missed is reaped while it is away, however long that is. When
 * it returns, the first covering round merges the still-present tombstone into its stale copy (the tombstone's
 * context covers the old value, so the delete wins) and only then can a later mark reap it, on every owner alike.
 * This is the "a replica away longer than the horizon must sync before it pushes" rule in its strongest form: an
 * owner's last completed exchange can never be older than the reaping horizon, because the horizon stops for it.
 * The price: reaping in a partition stalls while one of its owners is down, until it returns or an operator
 * removes it from the table (Riak behaves the same way). The gain over "push only after a pull-only exchange":
 * no acknowledged write that only the returning replica holds is ever discarded.
 *
 * Scans only where tombstones may be: a scan reads and decodes every object of its partition, once per covering
 * round, so a node holding millions of keys and few deletes would spend its background CPU finding nothing. Each
 * partition carries a "may hold tombstones" flag, true after a restart and set by every put-object that may leave
 * only tombstones; a scan clears it when it read the whole partition, left no tombstone-only object behind (all
 * reaped, none too young), and no such put was emitted since it started or still uncommitted when it started (a
 * put in flight might land behind a page already read). A partition whose flag is clear skips its scans.
 *
 * Exchanges do not copy a tombstone that is reapable under the initiator's mark to a side that lacks the key
 * (exchange.ts), so reaping is not undone while the owners reap one after another.
 *
 * Data held outside the owner list: a hint carrying an old value for an owner, replayed only after the tombstone
 * that covers it was reaped (the replay kept failing while a covering round ran), or a node removed from the table
 * while down that comes back and hands its old copies off. Merging such a copy into a key this node no longer holds
 * would bring the key back. The rule (isSuperseded, applied by node.ts to every incoming replica-merge that is not a
 * fallback's hint, and to each object of a replica-handoff page):
 *
 *   an incoming object of a key this node reaped is dropped (answered as stored, never merged) when every one of
 *   its siblings has a dot that the reaped object's history covers and a timestamp no newer than the reaped
 *   object's newest sibling.
 *
 * Why that is exactly "superseded by the reaped delete": in a DVV set a dot covered by the history but absent from
 * the siblings was seen and replaced; the reaped object held only tombstones, so everything its history covers was
 * deleted (or was a tombstone itself). The timestamp clause protects writes made after the reaping: a key written
 * again starts its per-key dot counters from scratch, so a new write's dot can look covered by the old history,
 * but its timestamp is later than the reaped tombstones (they were older than mark − grace when reaped). The rule
 * never drops a sibling the history does not cover, so no write the delete did not see is lost. This node keeps the
 * histories of its last `maxRememberedReapedKeys` reaped keys, in memory: a hint replayed later than that, or after
 * this node restarted, can still resurrect (documented limit; hints are replayed at member-up, normally seconds
 * after the owner returns, while reaping needs a covering round and the grace, an hour by default).
 */
import type { Millis, NodeId, OperationId } from '../primitives/ids.ts'
import type { Effect } from '../node/effect.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import type { StoredObject } from '../node/storage-operation.ts'
import type { Replica } from '../replication/replica.ts'
import { latestTimestamp } from '../versioning/dotted-version-vector-set.ts'
import type { HlcTimestamp } from '../versioning/hybrid-logical-clock.ts'
import { compareHlcTimestamps } from '../versioning/hybrid-logical-clock.ts'
import { decodeObject } from '../versioning/object-codec.ts'
import type { VersionVector } from '../versioning/version-vector.ts'
import { coversDot } from '../versioning/version-vector.ts'

export interface TombstoneReaperPorts {
  readonly io: IoContinuations
  readonly replica: Replica
}

export interface TombstoneReaperOptions {
  readonly partitions: number
  readonly graceMs: Millis
  readonly pageSize: number
  /** Keys remembered per partition as "written since the checkpoint"; beyond it the partition skips one reap. */
  readonly maxTrackedKeys?: number
}

export interface TombstoneReaperCounters {
  tombstonesReaped: number
  /** Incoming hint, merge or handoff objects dropped because a reaped delete superseded them (isSuperseded). */
  supersededCopiesDropped: number
  reapScans: number
  /** Scans not run because the partition holds no tombstone (see "Scans only where tombstones may be"). */
  reapScansSkipped: number
  reapPagesDeferred: number
  marksAdvanced: number
}

interface Mark {
  readonly owners: string
  readonly ms: Millis
}

interface PartitionState {
  mark: Mark | null
  /** Local write sequence number of the latest put-object of each key since the oldest remembered round. */
  readonly written: Map<string, number>
  /** Keys written before this sequence number may have been forgotten (the map overflowed). */
  forgottenBelow: number
  /** Round start (wall ms) → the write sequence number at which the round first reached this node; oldest first. */
  readonly visits: Map<Millis, number>
  /** A reap is scanning the partition; a newer one waits in `pending` until it is done. */
  scanning: boolean
  pending: ReapJob | null
  /** False only when a scan proved the partition holds no tombstone-only object (see the header). */
  mayHoldTombstones: boolean
  /** `seq` of the latest put-object in the partition that may have left only tombstones. */
  lastTombstoneWriteSeq: number
  /** Write effects with such puts in the partition whose storage result has not arrived. */
  tombstoneWritesInFlight: number
}

/** One scan's findings so far: whether it may clear `mayHoldTombstones` when it completes. */
interface ScanProgress {
  readonly startedAtSeq: number
  tombstonesLeft: boolean
}

interface ReapJob {
  readonly mark: Millis
  readonly sinceSeq: number
}

/** Rounds remembered per partition: a mark arrives one round after its own round, so a few suffice. */
const rememberedRounds = 8
const defaultMaxTrackedKeys = 100_000
/**
 * Reaped keys whose histories are kept to recognise late copies (isSuperseded): a history is a few actors, so
 * 100,000 keys is a few MiB, and covers every key reaped in the hours a failing hint replay might take to succeed.
 */
export const maxRememberedReapedKeys = 100_000

function reapedId(partition: number, bucket: string, key: string): string {
  return `${partition}\u0000${bucket}\u0000${key}`
}

export function ownersKey(owners: readonly NodeId[]): string {
  return owners.join(',')
}

/** An object every sibling of which is a tombstone, newest timestamp below `beforeMs`. */
export function isReapable(encoded: Uint8Array, beforeMs: Millis): boolean {
  return tombstoneVerdict(encoded, beforeMs) === 'reapable'
}

/** Whether an object holds only tombstones, and whether they are old enough to reap. Undecodable: 'live' (never reaped). */
function tombstoneVerdict(encoded: Uint8Array, beforeMs: Millis): 'live' | 'young' | 'reapable' {
  const decoded = decodeObject(encoded)
  if (decoded.kind !== 'decoded') return 'live'
  const { siblings } = decoded.object
  if (siblings.length === 0 || !siblings.every((sibling) => sibling.content.kind === 'tombstone')) return 'live'
  return siblings.every((sibling) => sibling.timestamp.physicalMs < beforeMs) ? 'reapable' : 'young'
}

export class TombstoneReaper {
  readonly counters: TombstoneReaperCounters = { tombstonesReaped: 0, supersededCopiesDropped: 0, reapScans: 0, reapScansSkipped: 0, reapPagesDeferred: 0, marksAdvanced: 0 }
  /** What this node reaped, by partition NUL bucket NUL key, oldest first: the object's history and newest time. */
  private readonly reaped = new Map<string, { readonly history: VersionVector; readonly newest: HlcTimestamp }>()
  private readonly states: PartitionState[] = []
  private scanRunning = false
  /** Scans waiting for the running one, oldest first (see startScan). */
  private readonly waitingScans: { readonly partition: number; readonly job: ReapJob }[] = []
  /** Counts put-object mutations this node emitted, over all partitions. */
  private seq = 0
  /** Write effects holding puts that may leave only tombstones, by operation: their partitions, until the result. */
  private readonly tombstoneWrites = new Map<OperationId, number[]>()

  constructor(private readonly ports: TombstoneReaperPorts, private readonly options: TombstoneReaperOptions) {
    for (let p = 0; p < options.partitions; p++) {
      this.states.push({
        mark: null, written: new Map(), forgottenBelow: 0, visits: new Map(), scanning: false, pending: null,
        mayHoldTombstones: true, lastTombstoneWriteSeq: 0, tombstoneWritesInFlight: 0,
      })
    }
  }

  /** The mark this node holds for the partition and owner list, or null. */
  markFor(partition: number, owners: readonly NodeId[]): Millis | null {
    const mark = this.states[partition]?.mark ?? null
    return mark !== null && mark.owners === ownersKey(owners) ? mark.ms : null
  }

  /** Every put-object this node emits: a key written after a round reached this node is not reaped on its mark. */
  observe(effects: readonly Effect[]): void {
    for (const effect of effects) {
      if (effect.kind !== 'write') continue
      let partitions: number[] | null = null
      for (const mutation of effect.mutations) {
        // A write that left live values is never reapable, so only writes that may have left tombstones count.
        if (mutation.kind !== 'put-object' || mutation.tombstonesOnly === false) continue
        const state = this.states[mutation.partition]
        if (state === undefined) continue
        this.seq++
        state.written.set(`${mutation.bucket}\u0000${mutation.key}`, this.seq)
        if (state.written.size > (this.options.maxTrackedKeys ?? defaultMaxTrackedKeys)) {
          state.written.clear()
          state.forgottenBelow = this.seq + 1
        }
        state.mayHoldTombstones = true
        state.lastTombstoneWriteSeq = this.seq
        state.tombstoneWritesInFlight++
        ;(partitions ??= []).push(mutation.partition)
      }
      if (partitions !== null) this.tombstoneWrites.set(effect.operationId, partitions)
    }
  }

  /** Every storage result: a write observed above is now committed (or failed, which poisons the node anyway). */
  settled(operationId: OperationId): void {
    const partitions = this.tombstoneWrites.get(operationId)
    if (partitions === undefined) return
    this.tombstoneWrites.delete(operationId)
    for (const partition of partitions) (this.states[partition] as PartitionState).tombstoneWritesInFlight--
  }

  /** A round of the partition reached this node: started here, or its first level-0 ae-hashes arrived. */
  visited(partition: number, roundMs: Millis): void {
    const state = this.states[partition]
    if (state === undefined || state.visits.has(roundMs)) return
    state.visits.set(roundMs, this.seq + 1)
    for (const oldest of state.visits.keys()) {
      if (state.visits.size <= rememberedRounds) break
      state.visits.delete(oldest)
    }
    this.prune(state)
  }

  /**
   * A mark for the partition: from this node's own covering round, or heard from an initiator. `owners` is this
   * node's current owner list; a mark computed over another list is ignored.
   */
  advance(partition: number, owners: readonly NodeId[], markMs: Millis, markOwners: string, out: Out): void {
    const state = this.states[partition]
    const key = ownersKey(owners)
    if (state === undefined || markOwners !== key) return
    if (state.mark !== null && state.mark.owners === key && state.mark.ms >= markMs) return
    state.mark = { owners: key, ms: markMs }
    this.counters.marksAdvanced++
    const sinceSeq = state.visits.get(markMs)
    if (sinceSeq === undefined) return
    const job: ReapJob = { mark: markMs, sinceSeq }
    if (state.scanning) {
      // A later mark with an earlier checkpoint would exclude fewer keys than it should: keep the smaller one.
      state.pending = { mark: Math.max(markMs, state.pending?.mark ?? markMs), sinceSeq: Math.min(sinceSeq, state.pending?.sinceSeq ?? sinceSeq) }
      return
    }
    this.startScan(partition, state, job, out)
  }

  /**
   * Scans run one partition at a time; the others wait their turn (still `scanning`, so a newer mark waits in
   * `pending` as it would behind a running scan). A scan reads and decodes every object of its partition, and the
   * marks of all partitions advance together after a round of exchanges: 256 scans at once kept the thread pool
   * returning pages faster than the event loop took them, and the loop ran them back to back without yielding
   * (measured: a 0.9-1.2 s event-loop stall on the initiating node, 60 s into a loaded run, shedding ~3% of GETs).
   */
  private startScan(partition: number, state: PartitionState, job: ReapJob, out: Out): void {
    if (job.sinceSeq < state.forgottenBelow) {
      this.counters.reapPagesDeferred++
      return
    }
    if (!state.mayHoldTombstones) {
      this.counters.reapScansSkipped++
      return
    }
    state.scanning = true
    if (this.scanRunning) {
      this.waitingScans.push({ partition, job })
      return
    }
    this.scanRunning = true
    this.counters.reapScans++
    const progress: ScanProgress = { startedAtSeq: this.seq, tombstonesLeft: state.tombstoneWritesInFlight > 0 }
    this.scanPage(partition, state, job, progress, null, out)
  }

  private scanPage(
    partition: number, state: PartitionState, job: ReapJob, progress: ScanProgress,
    after: { readonly bucket: string; readonly key: string } | null, out: Out,
  ): void {
    if (this.ports.replica.busyIn(partition)) {
      // A merge of this partition is between its read and its write: try again at the next mark instead.
      this.counters.reapPagesDeferred++
      return this.endScan(partition, state, null, out)
    }
    const issuedAtSeq = this.seq + 1
    const query = { kind: 'scan-partition' as const, partition, after, limit: this.options.pageSize }
    this.ports.io.read(query, out, (result, next) => {
      if (result.kind !== 'objects') return this.endScan(partition, state, null, next)
      const beforeMs = job.mark - this.options.graceMs
      const checkpoint = Math.min(job.sinceSeq, issuedAtSeq)
      const doomed = result.objects.filter((object) => this.reapable(state, object, beforeMs, checkpoint, progress))
      const last = result.objects[result.objects.length - 1]
      const continueScan = (afterPage: Out): void => {
        if (!result.complete && last !== undefined) this.scanPage(partition, state, job, progress, { bucket: last.bucket, key: last.key }, afterPage)
        else this.endScan(partition, state, progress, afterPage)
      }
      if (doomed.length === 0) return continueScan(next)
      const deletes = doomed.map(({ bucket, key }) => ({ kind: 'delete-object' as const, partition, bucket, key }))
      this.ports.io.write(deletes, 'durable', next, (written, afterWrite) => {
        if (written.kind === 'written') {
          this.counters.tombstonesReaped += deletes.length
          for (const object of doomed) this.remember(object)
        } else {
          progress.tombstonesLeft = true
        }
        continueScan(afterWrite)
      })
    })
  }

  /**
   * Whether an incoming copy of (partition, bucket, key) is superseded by a delete this node reaped (see the
   * header's rule); such a copy must be dropped, not merged. False for anything this node does not remember.
   */
  isSuperseded(partition: number, bucket: string, key: string, encoded: Uint8Array): boolean {
    const reaped = this.reaped.get(reapedId(partition, bucket, key))
    if (reaped === undefined) return false
    const decoded = decodeObject(encoded)
    if (decoded.kind !== 'decoded') return false
    const superseded = decoded.object.siblings.every((sibling) =>
      coversDot(reaped.history, sibling.dot) && compareHlcTimestamps(sibling.timestamp, reaped.newest) <= 0)
    if (superseded) this.counters.supersededCopiesDropped++
    return superseded
  }

  private remember(object: StoredObject): void {
    const decoded = decodeObject(object.value)
    const newest = decoded.kind === 'decoded' ? latestTimestamp(decoded.object) : null
    if (decoded.kind !== 'decoded' || newest === null) return
    const id = reapedId(object.partition, object.bucket, object.key)
    this.reaped.delete(id)
    this.reaped.set(id, { history: decoded.object.history, newest })
    for (const oldest of this.reaped.keys()) {
      if (this.reaped.size <= maxRememberedReapedKeys) break
      this.reaped.delete(oldest)
    }
  }

  /** Whether to reap the object now; anything tombstone-only that stays marks the scan's `tombstonesLeft`. */
  private reapable(state: PartitionState, object: StoredObject, beforeMs: Millis, checkpoint: number, progress: ScanProgress): boolean {
    const writtenAt = state.written.get(`${object.bucket}\u0000${object.key}`)
    if (writtenAt !== undefined && writtenAt >= checkpoint) {
      progress.tombstonesLeft = true
      return false
    }
    const verdict = tombstoneVerdict(object.value, beforeMs)
    if (verdict === 'young') progress.tombstonesLeft = true
    return verdict === 'reapable'
  }

  /** `progress` is null for a scan that stopped before the partition's end: it proves nothing. */
  private endScan(partition: number, state: PartitionState, progress: ScanProgress | null, out: Out): void {
    if (progress !== null && !progress.tombstonesLeft && state.lastTombstoneWriteSeq <= progress.startedAtSeq) state.mayHoldTombstones = false
    this.scanRunning = false
    state.scanning = false
    const pending = state.pending
    state.pending = null
    if (pending !== null) this.startScan(partition, state, pending, out)
    else this.prune(state)
    // A waiting job may have become too old to run (startScan defers it): then the next one's turn has come.
    while (!this.scanRunning) {
      const next = this.waitingScans.shift()
      if (next === undefined) return
      const waiting = this.states[next.partition] as PartitionState
      waiting.scanning = false
      this.startScan(next.partition, waiting, next.job, out)
    }
  }

  /** Forgets writes older than every remembered round and any pending reap. */
  private prune(state: PartitionState): void {
    if (state.scanning) return
    let floor = state.pending?.sinceSeq ?? Infinity
    for (const seq of state.visits.values()) floor = Math.min(floor, seq)
    if (floor === Infinity) return
    for (const [key, seq] of state.written) if (seq < floor) state.written.delete(key)
  }
}
