/**
 * Ownership handoff: when this node adopts a new ownership table, every partition it owned under the previous
 * table that gained new owners is streamed to each of them, and a partition this node no longer owns is dropped
 * once every new owner has confirmed all of it (DESIGN section 4; Riak's ownership handoff).
 *
 *   sender, per partition:  waiting ─(a slot of maxPartitionsInFlight; no local merge of it in flight)─► streaming
 *     streaming: per new owner, scan-partition pages of pageKeys ─► replica-handoff call ─► stored ─► next page,
 *                the final page carries `last`; a failed call is retried after retryIntervalMs
 *     all new owners confirmed ─► done (still an owner) or, after dropDelayMs, dropping: delete-object per key
 *   receiver: merges every object through the replica's per-key serialized path (never overwrites), and only then
 *             confirms the page; a `last` page marks the sender's stream complete.
 *
 * Reads and writes keep working, and lose nothing acknowledged, under this rule:
 *
 *   - Writes follow the new table at once. A new owner that lacks the partition still mints and merges correctly:
 *     objects are dotted version vector sets, and the handed-off copy merges with whatever it wrote meanwhile.
 *   - A node that owned a partition under the previous table and does not under the new one refuses replica-merge
 *     for it (except as a fallback keeping a hint), so its copy stops changing and the stream misses nothing.
 *   - While a majority of a gained partition's previous owners has not completed its stream to this node, this
 *     node's replica reads of that partition ask those previous owners too and answer with the merge of its own
 *     copy and theirs, and only when, together with the completed streams, a majority of previous owners is
 *     represented. So each new owner's answer covers a read quorum of the previous owners, and a quorum read of
 *     the new owners sees every write acknowledged at a quorum of the old ones.
 *   - The old owner keeps its copy for dropDelayMs after the last confirmation, so coordinators that have not yet
 *     adopted the new table still find the data where they look for it.
 *
 * Not covered yet: the previous table lives in memory only, so a restart during a handoff leaves the partition to
 * anti-entropy; a node that adopts its first table with no previous one cannot know the previous owners; a hint
 * kept for a previous owner is replayed to it, not to the new owner.
 *
 * Pure: time arrives as nowMs; I/O as effects through IoContinuations.
 */
import type { CallId, Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import type { StorageResult } from '../node/storage-operation.ts'
import { partitionOf } from '../partitioning/key-hash.ts'
import type { OwnershipTable, TableVersion } from '../partitioning/ownership-table.ts'
import { decodeObject, encodeObject } from '../versioning/object-codec.ts'
import type { DottedVersionVectorSet } from '../versioning/sibling.ts'
import type { ClusterView } from './cluster-view.ts'
import type { HandoffObject, ReplicaHandoff, ReplicaHandoffReply } from './handoff-messages.ts'
import type { KeyAddress, LocalBytes, LocalRead, Replica } from './replica.ts'
import { mergeFor } from './replica.ts'
import type { ConflictMode } from './replication-messages.ts'

export interface OwnershipHandoffPorts {
  readonly io: IoContinuations
  readonly cluster: ClusterView
  readonly replica: Replica
  readonly conflictFor: (bucket: string) => ConflictMode
}

export interface OwnershipHandoffOptions {
  readonly pageKeys: number
  readonly maxPartitionsInFlight: number
  readonly retryIntervalMs: Millis
  readonly dropDelayMs: Millis
  readonly callTimeoutMs: Millis
}

type Cursor = { readonly bucket: string; readonly key: string } | null

interface Stream {
  readonly target: NodeId
  after: Cursor
  state: 'ready' | 'busy' | 'done'
  retryAtMs: Millis
}

interface Outgoing {
  readonly partition: number
  version: TableVersion
  streams: Stream[]
  /** This node is no longer an owner: drop the copy once every stream is done. */
  drop: boolean
  started: boolean
  confirmedAtMs: Millis | null
  dropping: boolean
}

/** A partition this node gained, and which previous owners have completed their streams to it. */
interface Incoming {
  readonly sources: readonly NodeId[]
  readonly completed: Set<NodeId>
}

export class OwnershipHandoff {
  private previous: OwnershipTable | null = null
  private current: OwnershipTable | null = null
  private readonly outgoing = new Map<number, Outgoing>()
  private readonly incoming = new Map<number, Incoming>()
  /** partition → sender → the table version its completed stream belonged to (may arrive before our table). */
  private readonly completions = new Map<number, Map<NodeId, string>>()
  readonly counters = {
    handoffsStarted: 0, handoffsCompleted: 0, keysSent: 0, keysReceived: 0, partitionsDropped: 0, keysDropped: 0,
    partitionsReceived: 0, proxiedReads: 0, refusedMerges: 0, failedCalls: 0, malformed: 0,
  }

  constructor(private readonly ports: OwnershipHandoffPorts, private readonly options: OwnershipHandoffOptions) {}

  /** Partitions with an outgoing handoff not yet finished (streaming, waiting, or waiting to drop). */
  get pendingOutgoing(): number {
    return this.outgoing.size
  }

  /** Partitions this node gained whose previous owners have not yet (by majority) handed them over. */
  get pendingIncoming(): number {
    return this.incoming.size
  }

  /** Nothing left to send or drop: a leaving node may go. */
  get idle(): boolean {
    return this.outgoing.size === 0
  }

  /** Called after every step with the node's current table; a changed table starts the handoffs it implies. */
  observeTable(table: OwnershipTable | null, nowMs: Millis, out: Out): void {
    if (table === this.current) return
    this.previous = this.current
    this.current = table
    if (this.previous === null || table === null || table.partitions !== this.previous.partitions) return
    const self = this.ports.cluster.self
    for (let partition = 0; partition < table.partitions; partition++) {
      const before = this.previous.owners[partition] ?? []
      const after = table.owners[partition] ?? []
      if (before.includes(self)) this.planOutgoing(partition, before, after, table.version)
      this.planIncoming(partition, before, after, table.version)
    }
    this.tick(nowMs, out)
  }

  tick(nowMs: Millis, out: Out): void {
    // A job that has streamed everything and only waits out dropDelayMs holds no slot: it costs nothing meanwhile.
    const occupies = (job: Outgoing): boolean => job.started && (job.dropping || job.streams.some((s) => s.state !== 'done'))
    let active = [...this.outgoing.values()].filter(occupies).length
    for (const job of this.outgoing.values()) {
      if (!job.started && active < this.options.maxPartitionsInFlight && !this.ports.replica.busyIn(job.partition)) {
        job.started = true
        active++
        this.counters.handoffsStarted++
      }
      if (job.started) this.advance(job, nowMs, out)
    }
  }

  /**
   * A replica-merge for `partition` that is not a fallback's: refused when we owned the partition under the
   * previous table and no longer do, so that the copy being handed off stops changing.
   */
  refusesMerge(partition: number, hintFor: NodeId | null): boolean {
    if (hintFor !== null || this.previous === null || this.current === null) return false
    const self = this.ports.cluster.self
    const refuse = (this.previous.owners[partition] ?? []).includes(self) && !(this.current.owners[partition] ?? []).includes(self)
    if (refuse) this.counters.refusedMerges++
    return refuse
  }

  /** readLocal for a peer's replica read: the stored bytes, decoded and merged only while previous owners count. */
  readLocalBytes(address: KeyAddress, out: Out, done: (read: LocalBytes, out: Out) => void): void {
    if (!this.incoming.has(address.partition)) return this.ports.replica.readBytes(address, out, done)
    this.readLocal(address, out, (read, next) => done(read.kind === 'found' ? { kind: 'found', encoded: read.encoded } : read, next))
  }

  /** This node's copy of a key, as the data path should see it: with previous owners' copies while a gain is pending. */
  readLocal(address: KeyAddress, out: Out, done: (read: LocalRead, out: Out) => void): void {
    const incoming = this.incoming.get(address.partition)
    if (incoming === undefined) return this.ports.replica.read(address, out, done)
    this.counters.proxiedReads++
    const ask = incoming.sources.filter((id) => !incoming.completed.has(id) && id !== this.ports.cluster.self)
    const needed = majority(incoming.sources.length) - this.completedCount(incoming)
    const conflict = this.ports.conflictFor(address.bucket)
    let merged: DottedVersionVectorSet | null = null
    let answered = 0
    let waiting = ask.length + 1
    let localFailed = false
    const settle = (read: LocalRead | null, isLocal: boolean, next: Out): void => {
      if (read === null || read.kind === 'failed') localFailed ||= isLocal
      else if (!isLocal) answered++
      if (read?.kind === 'found') merged = merged === null ? read.object : mergeFor(conflict)(merged, read.object)
      if (--waiting > 0) return
      if (localFailed || answered < needed) return done({ kind: 'failed', message: 'previous owners of a partition in handoff did not answer' }, next)
      const object: DottedVersionVectorSet | null = merged
      done(object === null ? { kind: 'missing' } : { kind: 'found', object, encoded: encodeObject(object) }, next)
    }
    this.ports.replica.read(address, out, (read, next) => settle(read, true, next))
    for (const source of ask) this.askPrevious(source, address, out, (read, next) => settle(read, false, next))
  }

  /** A peer's replica-handoff call: merge every object, then confirm the page. */
  receive(from: PeerAddress, callId: CallId, message: ReplicaHandoff, out: Out): void {
    const self = this.ports.cluster.self
    const respond = (outcome: ReplicaHandoffReply['outcome'], next: Out): void => void next.push({
      kind: 'respond', to: from, callId, message: { kind: 'replica-handoff-reply', from: self, outcome },
    })
    const decoded = this.validate(message)
    if (decoded === null) {
      this.counters.malformed++
      return respond('failed', out)
    }
    let waiting = decoded.length
    let ok = true
    const finish = (next: Out): void => {
      if (!ok) return respond('failed', next)
      this.counters.keysReceived += decoded.length
      if (message.last) this.recordCompletion(message.partition, message.from, versionKey(message.tableVersion))
      respond('stored', next)
    }
    if (waiting === 0) return finish(out)
    for (const { address, object } of decoded) {
      this.ports.replica.merge(address, this.ports.conflictFor(address.bucket), object, null, out, (outcome, next) => {
        ok &&= outcome === 'stored'
        if (--waiting === 0) finish(next)
      })
    }
  }

  // ---- planning --------------------------------------------------------------------------------------------

  private planOutgoing(partition: number, before: readonly NodeId[], after: readonly NodeId[], version: TableVersion): void {
    const self = this.ports.cluster.self
    const existing = this.outgoing.get(partition)
    // Targets of an earlier change that still own the partition and have not confirmed keep their streams.
    const kept = (existing?.streams ?? []).filter((s) => s.state !== 'done' && after.includes(s.target) && s.target !== self)
    const added = after.filter((id) => !before.includes(id) && !kept.some((s) => s.target === id))
    const streams = [...kept, ...added.map((target): Stream => ({ target, after: null, state: 'ready', retryAtMs: 0 }))]
    const drop = !after.includes(self)
    if (streams.length === 0 && !drop && existing === undefined) return
    if (streams.length === 0 && !drop) return void this.outgoing.delete(partition)
    // The old job's callbacks stop at their next step (they check they are still the partition's job); a drop in
    // progress starts over after the new streams confirm, and stops at once if the new table gives it back to us.
    this.outgoing.set(partition, {
      partition, version, streams, drop, started: existing?.started ?? false, confirmedAtMs: null, dropping: false,
    })
  }

  private planIncoming(partition: number, before: readonly NodeId[], after: readonly NodeId[], version: TableVersion): void {
    const self = this.ports.cluster.self
    if (!after.includes(self)) return void this.incoming.delete(partition)
    // Still gaining from an earlier change: keep waiting on its sources.
    if (before.includes(self) || before.length === 0) return
    const completed = new Set<NodeId>()
    for (const [sender, key] of this.completions.get(partition) ?? []) if (key === versionKey(version) && before.includes(sender)) completed.add(sender)
    const incoming: Incoming = { sources: [...before], completed }
    if (this.completedCount(incoming) >= majority(before.length)) return void this.incoming.delete(partition)
    this.incoming.set(partition, incoming)
  }

  private recordCompletion(partition: number, sender: NodeId, version: string): void {
    const senders = this.completions.get(partition) ?? new Map<NodeId, string>()
    senders.set(sender, version)
    this.completions.set(partition, senders)
    const incoming = this.incoming.get(partition)
    if (incoming === undefined || this.current === null || versionKey(this.current.version) !== version || !incoming.sources.includes(sender)) return
    incoming.completed.add(sender)
    if (this.completedCount(incoming) < majority(incoming.sources.length)) return
    this.incoming.delete(partition)
    this.counters.partitionsReceived++
  }

  private completedCount(incoming: Incoming): number {
    return incoming.sources.filter((id) => incoming.completed.has(id)).length
  }

  // ---- sending ---------------------------------------------------------------------------------------------

  private advance(job: Outgoing, nowMs: Millis, out: Out): void {
    if (job.dropping) return
    for (const stream of job.streams) {
      if (stream.state === 'ready' && nowMs >= stream.retryAtMs) this.sendPage(job, stream, out)
    }
    if (!job.streams.every((s) => s.state === 'done')) return
    if (job.confirmedAtMs === null) job.confirmedAtMs = nowMs
    if (!job.drop) return this.finish(job)
    if (nowMs - job.confirmedAtMs < this.options.dropDelayMs) return
    job.dropping = true
    this.dropPage(job, null, out)
  }

  private finish(job: Outgoing): void {
    if (this.outgoing.get(job.partition) !== job) return
    this.outgoing.delete(job.partition)
    this.counters.handoffsCompleted++
  }

  private sendPage(job: Outgoing, stream: Stream, out: Out): void {
    const address = this.ports.cluster.address(stream.target)
    if (address === null) return this.retryLater(stream)
    stream.state = 'busy'
    const query = { kind: 'scan-partition' as const, partition: job.partition, after: stream.after, limit: this.options.pageKeys }
    this.ports.io.read(query, out, (result, next) => {
      const page = pageOf(result)
      if (page === null) return this.retryLater(stream)
      const message: ReplicaHandoff = {
        kind: 'replica-handoff', from: this.ports.cluster.self, partition: job.partition, tableVersion: job.version,
        objects: page.objects, last: page.complete,
      }
      this.ports.io.call(address, message, this.options.callTimeoutMs, next, (outcome, after) => {
        const stored = outcome.kind === 'ok' && outcome.message.kind === 'replica-handoff-reply' && outcome.message.outcome === 'stored'
        if (!stored) return this.retryLater(stream)
        this.counters.keysSent += page.objects.length
        const lastObject = page.objects[page.objects.length - 1]
        if (lastObject !== undefined) stream.after = { bucket: lastObject.bucket, key: lastObject.key }
        stream.state = page.complete ? 'done' : 'ready'
        // Keep streaming without waiting for a tick; the tick takes over only after a failure.
        if (!page.complete && this.outgoing.get(job.partition) === job) this.sendPage(job, stream, after)
        else if (page.complete) this.advance(job, this.ports.cluster.nowMs(), after)
      })
    })
  }

  private retryLater(stream: Stream): void {
    this.counters.failedCalls++
    stream.state = 'ready'
    stream.retryAtMs = this.ports.cluster.nowMs() + this.options.retryIntervalMs
  }

  /** Deletes the partition's keys page by page, as long as this node still does not own it. */
  private dropPage(job: Outgoing, after: Cursor, out: Out): void {
    if (this.outgoing.get(job.partition) !== job) return
    if ((this.current?.owners[job.partition] ?? []).includes(this.ports.cluster.self)) return this.finish(job)
    const query = { kind: 'scan-partition' as const, partition: job.partition, after, limit: this.options.pageKeys }
    this.ports.io.read(query, out, (result, next) => {
      const page = pageOf(result)
      if (page === null) {
        job.dropping = false
        job.confirmedAtMs = this.ports.cluster.nowMs()
        return
      }
      if (page.objects.length === 0) {
        this.counters.partitionsDropped++
        return this.finish(job)
      }
      const deletes = page.objects.map(({ bucket, key }) => ({ kind: 'delete-object' as const, partition: job.partition, bucket, key }))
      this.ports.io.write(deletes, 'durable', next, (written, afterWrite) => {
        if (written.kind === 'written') this.counters.keysDropped += deletes.length
        const last = page.objects[page.objects.length - 1] as HandoffObject
        if (page.complete) {
          this.counters.partitionsDropped++
          return this.finish(job)
        }
        this.dropPage(job, { bucket: last.bucket, key: last.key }, afterWrite)
      })
    })
  }

  // ---- helpers ---------------------------------------------------------------------------------------------

  private askPrevious(source: NodeId, address: KeyAddress, out: Out, done: (read: LocalRead | null, out: Out) => void): void {
    const peer = this.ports.cluster.address(source)
    if (peer === null) return done(null, out)
    const message = { kind: 'replica-read' as const, from: this.ports.cluster.self, ...address }
    // Half the request timeout: the coordinator that asked us must still get our answer before its deadline.
    this.ports.io.call(peer, message, Math.max(1, Math.floor(this.options.callTimeoutMs / 2)), out, (outcome, next) => {
      if (outcome.kind !== 'ok' || outcome.message.kind !== 'replica-read-reply') return done(null, next)
      const reply = outcome.message
      if (reply.outcome === 'missing') return done({ kind: 'missing' }, next)
      const decoded = reply.outcome === 'found' && reply.object !== undefined ? decodeObject(reply.object) : null
      if (decoded?.kind !== 'decoded' || reply.object === undefined) return done(null, next)
      done({ kind: 'found', object: decoded.object, encoded: reply.object }, next)
    })
  }

  private validate(message: ReplicaHandoff): { address: KeyAddress; object: DottedVersionVectorSet }[] | null {
    const partitions = this.current?.partitions ?? this.previous?.partitions
    if (partitions === undefined || !Number.isInteger(message.partition) || message.partition < 0 || message.partition >= partitions) return null
    const decoded: { address: KeyAddress; object: DottedVersionVectorSet }[] = []
    for (const { bucket, key, object } of message.objects) {
      if (partitionOf(bucket, key, partitions) !== message.partition) return null
      const result = decodeObject(object)
      if (result.kind !== 'decoded') return null
      decoded.push({ address: { partition: message.partition, bucket, key }, object: result.object })
    }
    return decoded
  }
}

function pageOf(result: StorageResult): { objects: HandoffObject[]; complete: boolean } | null {
  if (result.kind !== 'objects') return null
  return { objects: result.objects.map(({ bucket, key, value }) => ({ bucket, key, object: value })), complete: result.complete }
}

function majority(count: number): number {
  return Math.floor(count / 2) + 1
}

function versionKey(version: TableVersion): string {
  return `${version.leaderGeneration}.${version.version}`
}
