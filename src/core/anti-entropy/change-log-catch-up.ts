/**
 * Change-log catch-up (issue 8, DESIGN.md section 6): a replica that was briefly away asks each live co-owner for
 * the change-log entries it wrote since the high-water mark this node holds for that peer and partition
 * (catch-up-marks.ts), fetches the objects those entries name that it holds differently, and merges them (merge,
 * never overwrite, through the replica's per-key serialized path). Much cheaper than a Merkle round when a few
 * writes were missed, and it runs at once instead of waiting for the partition's next round.
 *
 * When: a peer comes (back) up, as this node sees it, queues one job per partition both own: a member-up event
 * (back from dead, or restarted with a new generation), or the peer turning alive again after this node suspected
 * it (watchLiveness). A node that starts learns every peer that way as it joins, so a restart is covered by the
 * same rule; and both sides of a healed partition see each other come back, so each catches up from the other. Jobs wait until the marks are loaded from disk and this node's tree of the partition is rebuilt;
 * at most `maxConcurrent` run at once; a job whose peer went away again is dropped (its next member-up re-queues it).
 *
 * One job (peer, partition):
 *
 *   ae-log(afterSeq = mark) ─ok─► compare each named key's digest with our tree ─► ae-fetch the differing keys,
 *        │                        merge each ─► mark := nextAfterSeq ─► next page, until `complete`
 *        ├─truncated─► Merkle exchange with the peer (fallback) ─► mark := firstRetainedSeq − 1 ─► ae-log again
 *        └─ok, but more than maxCatchUpEntries behind─► Merkle exchange (fallback) ─► mark := the peer's logSeq
 *
 * Why the fallback's marks are true: everything below the peer's firstRetainedSeq was written before the peer
 * truncated, hence before the exchange started, and an exchange that ends in-sync or repaired leaves this node
 * holding everything the peer held when it started. The peer's logSeq (on its level-0 ae-hashes-reply) is a seq
 * it had durably written before it answered, so the same argument holds.
 *
 * Pull only: a job only brings the peer's writes here. The opposite direction is the peer's own job, queued by its
 * member-up of this node. Limits: the peer's log is read a page of maxLogEntriesPerPage at a time, objects are
 * fetched maxKeysPerFetch at a time, one call in flight per job. What catch-up cannot see (a peer whose disk was
 * wiped restarts its seqs below our mark; objects written without a log entry) is left to the Merkle rounds,
 * which remain the backstop. Pure: time arrives as nowMs, I/O leaves through IoContinuations.
 */
import type { Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { CallOutcome } from '../node/input.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import { isAntiEntropyMessage } from '../node/message.ts'
import type { StorageResult } from '../node/storage-operation.ts'
import { partitionOf } from '../partitioning/key-hash.ts'
import type { ClusterView } from '../replication/cluster-view.ts'
import type { Replica } from '../replication/replica.ts'
import type { ConflictMode } from '../replication/replication-messages.ts'
import type { AeFetchedObject, AeKeyAddress, AeKeyEntry, AeLog, AeLogReply, AntiEntropyMessage } from './anti-entropy-messages.ts'
import { antiEntropyLimits } from './anti-entropy-messages.ts'
import { CatchUpMarks, catchUpMarksMetaName, persistSpacingMs } from './catch-up-marks.ts'
import { digestBytes, digestToBytes, readDigest, sameDigest } from './digest64.ts'
import type { ExchangeOutcome, ExchangeStats } from './exchange.ts'
import { PeerExchange } from './exchange.ts'
import type { MerkleTree } from './merkle-tree.ts'
import { mergeFetched } from './merge-fetched.ts'
import { isReapable } from './tombstone-reaper.ts'

export interface CatchUpPorts {
  readonly io: IoContinuations
  readonly cluster: ClusterView
  readonly replica: Replica
  conflictFor(bucket: string): ConflictMode
  /** This node's tree of the partition once rebuilt; null while it is not. */
  tree(partition: number): MerkleTree | null
  /** Tombstones whose every sibling is older than this are reapable in the partition; null: none. */
  reapBeforeMs(partition: number): number | null
}

export interface CatchUpOptions {
  readonly partitions: number
  readonly callTimeoutMs: Millis
  /** Jobs running at once (NodeConfig.antiEntropyMaxConcurrentRounds: catch-up is repair traffic too). */
  readonly maxConcurrent: number
}

export interface CatchUpCounters {
  /** Jobs (peer, partition) started. */
  catchUpJobs: number
  /** Jobs that started from a known (non-zero) high-water mark rather than from the start of the peer's log. */
  catchUpJobsFromMark: number
  catchUpJobsCompleted: number
  /** Jobs that ended without reaching the peer's log head (unreachable, storage trouble); member-up retries. */
  catchUpJobsFailed: number
  /** Log entries (distinct keys per page) received from peers. */
  catchUpEntries: number
  /** Objects fetched because our digest differed, and merged. */
  catchUpObjectsFetched: number
  /** Jobs that fell back to a Merkle exchange: the peer's log was truncated past our mark, or too far ahead. */
  catchUpFallbacks: number
}

interface Job {
  readonly peer: NodeId
  readonly partition: number
  notBeforeMs: Millis
  attempts: number
}

/** Attempts of a job that the peer answered `not-ready` or failed before it is dropped until the next member-up. */
const maxAttempts = 5
/** Wait before retrying a job the peer could not serve yet (its tree was still rebuilding). */
const retryDelayMs: Millis = 500

export class ChangeLogCatchUp {
  readonly marks = new CatchUpMarks()
  private readonly jobs = new Map<string, Job>()
  private readonly running = new Set<string>()
  /** Peers that came up before the table or the marks were known; expanded into jobs on a later tick. */
  private readonly wanted = new Set<NodeId>()
  /** Peers alive at the last tick (watchLiveness). */
  private readonly live = new Set<NodeId>()
  private marksState: 'unloaded' | 'loading' | 'loaded' = 'unloaded'
  private persisting = false
  private lastPersistMs: Millis = -Infinity
  /** This node's own durable log position per partition, from the storage results it saw this life. */
  private readonly durableSeq: number[] = []

  constructor(private readonly ports: CatchUpPorts, private readonly options: CatchUpOptions, private readonly counters: CatchUpCounters & ExchangeStats) {
    for (let p = 0; p < options.partitions; p++) this.durableSeq.push(0)
  }

  /** A peer came (back) up: catch up from it on every partition both own. */
  memberUp(peer: NodeId): void {
    if (peer !== this.ports.cluster.self) this.wanted.add(peer)
  }

  /**
   * Every storage result this node sees: an object write's seq is durable once its result arrives, and batches
   * commit in order, so the highest seen is a lower bound of the durable log head (what logSeq reports).
   */
  observeStorageResult(result: StorageResult): void {
    if (result.kind !== 'written') return
    for (const outcome of result.outcomes) {
      if (outcome.kind !== 'object-written' && outcome.kind !== 'duplicate') continue
      const current = this.durableSeq[outcome.partition]
      if (current !== undefined && outcome.seq > current) this.durableSeq[outcome.partition] = outcome.seq
    }
  }

  /** The durable lower bound of this node's log head of the partition (0: nothing written this life). */
  logSeq(partition: number): number {
    return this.durableSeq[partition] ?? 0
  }

  /** A Merkle exchange with `peer` ended in-sync or repaired after the peer reported logSeq: raise the mark. */
  exchanged(peer: NodeId, partition: number, logSeq: number): void {
    // A replica job still in flight may be a merge the tree already shows but the disk does not yet hold.
    if (this.ports.replica.busyIn(partition)) return
    this.marks.raise(peer, partition, logSeq)
  }

  tick(nowMs: Millis, out: Out): void {
    this.watchLiveness()
    if (this.marksState === 'unloaded') return this.loadMarks(out)
    if (this.marksState === 'loading') return
    this.expandWanted(nowMs)
    this.startJobs(nowMs, out)
    this.persist(nowMs, out)
  }

  /**
   * A peer that this node saw as not alive (suspect, dead, unknown) and now sees alive may hold writes this node
   * missed, or this node may have been the one cut off: membership reports member-up only for dead → alive and new
   * generations, and a node on the small side of a partition often only ever suspects the others. So every tick
   * compares who is alive with the last tick; a false suspicion that clears costs one cheap catch-up.
   */
  private watchLiveness(): void {
    const { cluster } = this.ports
    for (const id of cluster.members()) {
      if (id === cluster.self) continue
      if (!cluster.isLive(id)) this.live.delete(id)
      else if (!this.live.has(id)) {
        this.live.add(id)
        this.wanted.add(id)
      }
    }
  }

  private loadMarks(out: Out): void {
    this.marksState = 'loading'
    this.ports.io.read({ kind: 'get-meta', name: catchUpMarksMetaName }, out, (result) => {
      if (result.kind !== 'meta') {
        // Storage trouble: try again on the next tick rather than run without the marks we may have.
        this.marksState = 'unloaded'
        return
      }
      // An unreadable record leaves every mark at 0: catch-up replays more, or falls back, but misses nothing.
      if (result.value !== null) this.marks.restore(result.value)
      this.marksState = 'loaded'
    })
  }

  private expandWanted(nowMs: Millis): void {
    const table = this.ports.cluster.table()
    if (table === null || this.wanted.size === 0) return
    const self = this.ports.cluster.self
    for (const peer of [...this.wanted].sort()) {
      this.wanted.delete(peer)
      table.owners.forEach((owners, partition) => {
        if (!owners.includes(self) || !owners.includes(peer)) return
        const id = jobId(peer, partition)
        // A job already waiting keeps its place; one running is queued again (the peer may have more by now).
        const waiting = this.jobs.get(id)
        if (waiting !== undefined) {
          waiting.attempts = 0
          return
        }
        this.jobs.set(id, { peer, partition, notBeforeMs: nowMs, attempts: 0 })
      })
    }
  }

  private startJobs(nowMs: Millis, out: Out): void {
    for (const [id, job] of this.jobs) {
      if (this.running.size >= this.options.maxConcurrent) return
      if (this.running.has(id) || job.notBeforeMs > nowMs) continue
      const address = this.ports.cluster.isLive(job.peer) ? this.ports.cluster.address(job.peer) : null
      const owners = this.ports.cluster.table()?.owners[job.partition] ?? []
      if (address === null || !owners.includes(job.peer) || !owners.includes(this.ports.cluster.self)) {
        this.jobs.delete(id)
        continue
      }
      const tree = this.ports.tree(job.partition)
      if (tree === null) continue
      this.jobs.delete(id)
      this.running.add(id)
      this.counters.catchUpJobs++
      if (this.marks.get(job.peer, job.partition) > 0) this.counters.catchUpJobsFromMark++
      const run = new CatchUpRun(this.runPorts(), job, address, tree, (outcome) => this.finish(id, job, outcome))
      run.start(out)
    }
  }

  private finish(id: string, job: Job, outcome: 'completed' | 'failed' | 'retry'): void {
    this.running.delete(id)
    if (outcome === 'completed') this.counters.catchUpJobsCompleted++
    if (outcome === 'failed') this.counters.catchUpJobsFailed++
    if (outcome !== 'retry') return
    if (job.attempts + 1 >= maxAttempts) {
      this.counters.catchUpJobsFailed++
      return
    }
    // A member-up that arrived meanwhile already queued it again; keep that one.
    if (!this.jobs.has(id)) this.jobs.set(id, { ...job, attempts: job.attempts + 1, notBeforeMs: this.ports.cluster.nowMs() + retryDelayMs })
  }

  private persist(nowMs: Millis, out: Out): void {
    if (this.persisting || nowMs < this.lastPersistMs + persistSpacingMs) return
    const record = this.marks.takeChanged()
    if (record === null) return
    this.persisting = true
    this.lastPersistMs = nowMs
    this.ports.io.write([{ kind: 'put-meta', name: catchUpMarksMetaName, value: record }], 'durable', out, (result) => {
      this.persisting = false
      if (result.kind !== 'written') this.marks.persistFailed()
    })
  }

  private runPorts(): CatchUpRunPorts {
    return { ...this.ports, options: this.options, counters: this.counters, marks: this.marks }
  }

  // ---- answering peers ------------------------------------------------------------------------------------

  /** ae-log: one page of our log after afterSeq, keys deduplicated, each with our tree's current digest. */
  answer(message: AeLog, out: Out, respond: (reply: AeLogReply, out: Out) => void): void {
    const self = this.ports.cluster.self
    const reply = (outcome: AeLogReply['outcome'], fields: Partial<AeLogReply> = {}, next: Out = out): void =>
      respond({ kind: 'ae-log-reply', from: self, outcome, entries: [], nextAfterSeq: message.afterSeq, highWaterSeq: 0, complete: false, ...fields }, next)
    if (message.partition >= this.options.partitions) return reply('failed')
    if (this.ports.tree(message.partition) === null) return reply('not-ready')
    const query = { kind: 'read-change-log' as const, partition: message.partition, afterSeq: message.afterSeq, limit: antiEntropyLimits.maxLogEntriesPerPage }
    this.ports.io.read(query, out, (result, next) => {
      const tree = this.ports.tree(message.partition)
      if (result.kind === 'change-log-truncated') return reply('truncated', { firstRetainedSeq: result.firstRetainedSeq }, next)
      if (result.kind !== 'change-log' || tree === null) return reply('failed', {}, next)
      // The latest entry of a key stands for all of its entries: the peer fetches the current object anyway.
      const latest = new Map<string, AeKeyEntry>()
      for (const entry of result.entries) {
        const id = `${entry.bucket}\u0000${entry.key}`
        latest.delete(id)
        const digest = tree.get(entry.bucket, entry.key)
        // A key our tree no longer holds was reaped or handed off: nothing to send for it.
        if (digest !== null) latest.set(id, { bucket: entry.bucket, key: entry.key, digest: digestToBytes(digest) })
      }
      const { nextAfterSeq, highWaterSeq, complete } = result
      reply('ok', { entries: [...latest.values()], nextAfterSeq, highWaterSeq, complete }, next)
    })
  }
}

type CatchUpRunPorts = CatchUpPorts & {
  readonly options: CatchUpOptions
  readonly counters: CatchUpCounters & ExchangeStats
  readonly marks: CatchUpMarks
}

/** One job: pages of the peer's log, the fetches they need, and at most one fallback exchange. */
class CatchUpRun {
  private fellBack = false
  private finished = false
  /** Where the next page starts: the mark, or past it when the mark could not be raised yet (advance). */
  private cursor: number

  constructor(
    private readonly ports: CatchUpRunPorts,
    private readonly job: Job,
    private readonly peer: PeerAddress,
    private readonly tree: MerkleTree,
    private readonly done: (outcome: 'completed' | 'failed' | 'retry', out: Out) => void,
  ) {
    this.cursor = ports.marks.get(job.peer, job.partition)
  }

  start(out: Out): void {
    this.page(true, out)
  }

  /**
   * Everything the peer's log names up to `seq` is merged here. The mark follows only while no replica job of the
   * partition is in flight: a key skipped because our tree already shows the peer's digest may be a write of ours
   * that is not yet durable, and a mark must stay true across a crash. A mark left behind only costs a replay.
   */
  private advance(seq: number): void {
    this.cursor = Math.max(this.cursor, seq)
    if (!this.ports.replica.busyIn(this.job.partition)) this.ports.marks.raise(this.job.peer, this.job.partition, this.cursor)
  }

  private page(first: boolean, out: Out): void {
    const afterSeq = this.cursor
    const message: AeLog = { kind: 'ae-log', from: this.ports.cluster.self, partition: this.job.partition, afterSeq }
    this.call(message, out, (reply, next) => {
      switch (reply.outcome) {
        case 'not-ready':
          return this.finish('retry', next)
        case 'failed':
          return this.finish('failed', next)
        case 'truncated':
          return this.fallBack(reply.firstRetainedSeq ?? null, next)
        case 'ok':
          if (first && reply.highWaterSeq - afterSeq > antiEntropyLimits.maxCatchUpEntries) return this.fallBack(null, next)
          return this.apply(reply, next)
      }
    })
  }

  private apply(reply: AeLogReply, out: Out): void {
    const { partition } = this.job
    const differing: AeKeyAddress[] = []
    for (const entry of reply.entries) {
      this.ports.counters.catchUpEntries++
      this.ports.counters.bytesExchanged += entry.bucket.length + entry.key.length + entry.digest.length
      if (entry.digest.length !== digestBytes || partitionOf(entry.bucket, entry.key, this.ports.options.partitions) !== partition) return this.finish('failed', out)
      const ours = this.tree.get(entry.bucket, entry.key)
      if (ours !== null && sameDigest(ours, readDigest(entry.digest, 0))) continue
      differing.push({ bucket: entry.bucket, key: entry.key })
    }
    this.fetch(differing, out, (ok, next) => {
      if (!ok) return this.finish('failed', next)
      this.advance(reply.nextAfterSeq)
      if (reply.complete) return this.finish('completed', next)
      this.page(false, next)
    })
  }

  /** Fetches `keys` maxKeysPerFetch at a time and merges each; `then(true)` once every one is stored. */
  private fetch(keys: readonly AeKeyAddress[], out: Out, then: (ok: boolean, out: Out) => void): void {
    if (keys.length === 0) return then(true, out)
    const page = keys.slice(0, antiEntropyLimits.maxKeysPerFetch)
    const message = { kind: 'ae-fetch' as const, from: this.ports.cluster.self, partition: this.job.partition, keys: page }
    this.ports.io.call(this.peer, message, this.ports.options.callTimeoutMs, out, (outcome, next) => {
      const reply = outcome.kind === 'ok' ? outcome.message : null
      if (reply === null || reply.kind !== 'ae-fetch-reply' || reply.outcome !== 'ok') return then(false, next)
      this.mergeAll(reply.objects, next, (ok, after) => (ok ? this.fetch(keys.slice(page.length), after, then) : then(false, after)))
    })
  }

  private mergeAll(objects: readonly AeFetchedObject[], out: Out, then: (ok: boolean, out: Out) => void): void {
    const { partition } = this.job
    const reapBeforeMs = this.ports.reapBeforeMs(partition)
    mergeFetched(objects, {
      replica: this.ports.replica, partition, partitions: this.ports.options.partitions,
      conflictFor: (bucket) => this.ports.conflictFor(bucket),
      // As in exchange.ts: a reapable tombstone of a key we lack was reaped here; copying it back undoes that.
      skip: (bucket, key, object) => reapBeforeMs !== null && this.tree.get(bucket, key) === null && isReapable(object, reapBeforeMs),
      received: (bytes) => {
        this.ports.counters.bytesExchanged += bytes
      },
      merging: () => {
        this.ports.counters.catchUpObjectsFetched++
      },
    }, out, then)
  }

  /**
   * The log cannot serve the job: compare trees with the peer instead. After a truncation, the log is read again
   * from the first retained entry (see the header for why the mark may move there); at most once per job.
   */
  private fallBack(firstRetainedSeq: number | null, out: Out): void {
    if (this.fellBack) return this.finish('failed', out)
    this.fellBack = true
    this.ports.counters.catchUpFallbacks++
    const { partition } = this.job
    const reapBeforeMs = this.ports.reapBeforeMs(partition)
    const exchangePorts = {
      io: this.ports.io, replica: this.ports.replica, self: this.ports.cluster.self, partitions: this.ports.options.partitions,
      callTimeoutMs: this.ports.options.callTimeoutMs, conflictFor: (bucket: string) => this.ports.conflictFor(bucket), reapBeforeMs,
    }
    const exchange: PeerExchange = new PeerExchange(exchangePorts, partition, this.tree, this.peer, this.ports.counters, (outcome: ExchangeOutcome, next) => {
      if (outcome === 'not-ready') return this.finish('retry', next)
      if (outcome !== 'in-sync' && outcome !== 'repaired') return this.finish('failed', next)
      if (exchange.peerLogSeq !== null) this.advance(exchange.peerLogSeq)
      if (firstRetainedSeq === null) return this.finish('completed', next)
      this.advance(firstRetainedSeq - 1)
      this.page(false, next)
    })
    exchange.start(out)
  }

  private call(message: AntiEntropyMessage, out: Out, then: (reply: AeLogReply, out: Out) => void): void {
    this.ports.io.call(this.peer, message, this.ports.options.callTimeoutMs, out, (outcome: CallOutcome, next) => {
      // A lost call is retried a few times: the peer may be busy rather than gone (a real departure drops the job).
      if (outcome.kind === 'failed') return this.finish('retry', next)
      const reply = outcome.message
      if (!isAntiEntropyMessage(reply) || reply.kind !== 'ae-log-reply') return this.finish('failed', next)
      then(reply, next)
    })
  }

  private finish(outcome: 'completed' | 'failed' | 'retry', out: Out): void {
    if (this.finished) return
    this.finished = true
    this.done(outcome, out)
  }
}

function jobId(peer: NodeId, partition: number): string {
  return `${peer}\u0000${partition}`
}
