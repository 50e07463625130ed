/**
 * Anti-entropy on one node (DESIGN.md section 5, invariant 3): the Merkle trees of its partitions
 * (partition-trees.ts), the rounds it initiates (scheduler below, exchange.ts), and its answers to peers' ae-*
 * calls. Pure: time arrives as nowMs, I/O leaves as effects through IoContinuations.
 *
 * Who runs a round: the first live owner of a partition in the ownership table's order, as this node sees it,
 * exchanges with every other live owner. This replaces the DESIGN's "the emergent leader schedules" with a rule
 * that needs no messages: two nodes that briefly both think they are first just run two idempotent rounds, and
 * a node that is first in nobody's view exists only while views disagree, which SWIM ends within seconds.
 *
 * When: every partition is first due at start + interval, then every `antiEntropyIntervalMs` after its round
 * started; the first whole interval is left alone so that a starting node (and a cluster that has just formed) is
 * not busy comparing empty trees while membership and placement settle. A round that could not finish with every
 * live owner (unreachable, still rebuilding, storage trouble) is retried after a quarter interval instead of a
 * whole one, so that after faults stop every partition converges within two intervals.
 *
 * How: the rounds due in one tick are opened together, with one `ae-roots` call per peer carrying the root hash
 * (and the round's announcement) of every partition the two share:
 *
 *   due ─► probe: ae-roots to each peer, all partitions at once ─► every root equal ─► complete (in-sync)
 *                                                                └► some differ ─► repair queue ─► visit
 *
 * so an idle cluster costs one small call per peer per interval instead of one ae-hashes exchange per partition
 * and peer. Only a round whose roots differed (or whose peer could not answer) descends: it waits in the repair
 * queue for one of `antiEntropyMaxConcurrentRounds` slots, which is what bounds repair traffic, and then visits
 * the owners one after another with the full exchange (exchange.ts), then, if anything was repaired and there are
 * several peers, visits them once more so that what a later peer contributed reaches the earlier ones too.
 *
 * Catch-up (change-log-catch-up.ts): when a peer comes (back) up, this node first pulls that peer's change-log entries
 * since the high-water mark it holds for it, per partition, and falls back to an exchange with that peer when the
 * log no longer reaches back that far. Rounds keep those marks fresh: a peer reports its durable log position on
 * its level-0 ae-hashes-reply, and an exchange that ends in-sync or repaired raises the initiator's mark to it.
 *
 * Tombstones: a round that reached every owner of the table (all live, all exchanges in-sync or repaired) makes its
 * start the partition's low-water mark; rounds announce their start and the mark on level 0, and each owner reaps
 * tombstones below the mark locally (tombstone-reaper.ts, which also documents why a returning replica cannot
 * resurrect a reaped key).
 */
import type { CallId, Millis, NodeId, OperationId, PeerAddress } from '../primitives/ids.ts'
import type { ClusterView } from '../replication/cluster-view.ts'
import type { Replica } from '../replication/replica.ts'
import type { ConflictMode, ReplicationMessage } from '../replication/replication-messages.ts'
import type { Effect } from '../node/effect.ts'
import type { CallOutcome } from '../node/input.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import { isAntiEntropyMessage } from '../node/message.ts'
import type { StorageResult } from '../node/storage-operation.ts'
import { partitionOf } from '../partitioning/key-hash.ts'
import type { AeFetch, AeFetchedObject, AeHashes, AeKeyEntry, AeRoots, AeRootsReply, AntiEntropyMessage } from './anti-entropy-messages.ts'
import { antiEntropyLimits } from './anti-entropy-messages.ts'
import { ChangeLogCatchUp } from './change-log-catch-up.ts'
import type { CatchUpCounters } from './change-log-catch-up.ts'
import { digestBytes, digestToBytes, readDigest, sameDigest, writeDigest } from './digest64.ts'
import type { ExchangeOutcome, RoundAnnouncement } from './exchange.ts'
import { PeerExchange } from './exchange.ts'
import { defaultMerkleShape } from './merkle-tree.ts'
import type { MerkleShape, MerkleTree } from './merkle-tree.ts'
import { PartitionTrees } from './partition-trees.ts'
import { TombstoneReaper, ownersKey } from './tombstone-reaper.ts'

export interface AntiEntropyPorts {
  readonly io: IoContinuations
  readonly cluster: ClusterView
  readonly replica: Replica
  conflictFor(bucket: string): ConflictMode
  /** The node's wall clock (what the hybrid logical clock stamps writes with): low-water marks are on it. */
  wallClockMs?(): Millis
}

export interface AntiEntropyOptions {
  readonly partitions: number
  readonly intervalMs: Millis
  readonly maxConcurrentRounds: number
  readonly callTimeoutMs: Millis
  readonly rebuildPageSize: number
  /** Tombstones are reaped below the low-water mark minus this (NodeConfig.tombstoneGraceMs); absent: never. */
  readonly tombstoneGraceMs?: Millis
  readonly shape?: MerkleShape
}

export interface AntiEntropyCounters extends CatchUpCounters {
  roundsStarted: number
  roundsCompleted: number
  roundsIncomplete: number
  keysCompared: number
  keysRepaired: number
  bytesExchanged: number
  roundDurationMsTotal: number
  roundDurationMsMax: number
  malformedRequests: number
}

interface Peer {
  readonly id: NodeId
  readonly address: PeerAddress
}

interface Round {
  readonly owners: readonly NodeId[]
  /** The live owners other than this node when the round opened. */
  readonly peers: readonly Peer[]
  readonly startedMs: Millis
  /** ae-roots answers still awaited. */
  probesPending: number
  /** Some peer's root differed, was not ready, or could not be asked: the round descends. */
  differs: boolean
  /** Every other owner is a peer of this round (none was down or unknown when it started). */
  readonly covering: boolean
  readonly roundMs: Millis
  readonly announcement: RoundAnnouncement
  /** Tombstones older than this are reapable under the mark the round started with; null: no mark. */
  readonly reapBeforeMs: number | null
  complete: boolean
  repaired: boolean
}

export class AntiEntropy {
  readonly trees: PartitionTrees
  readonly reaper: TombstoneReaper
  readonly counters: AntiEntropyCounters = {
    roundsStarted: 0, roundsCompleted: 0, roundsIncomplete: 0, keysCompared: 0, keysRepaired: 0, bytesExchanged: 0,
    roundDurationMsTotal: 0, roundDurationMsMax: 0, malformedRequests: 0,
    catchUpJobs: 0, catchUpJobsFromMark: 0, catchUpJobsCompleted: 0, catchUpJobsFailed: 0, catchUpEntries: 0, catchUpObjectsFetched: 0, catchUpFallbacks: 0,
  }
  readonly catchUp: ChangeLogCatchUp
  private readonly nextDueMs: Millis[] = []
  /** Open rounds by partition: probing, waiting for a repair slot, or repairing. */
  private readonly rounds = new Map<number, Round>()
  /** Partitions whose probe found a difference, waiting for a repair slot, oldest first. */
  private readonly repairQueue: number[] = []
  private repairing = 0

  constructor(private readonly ports: AntiEntropyPorts, private readonly options: AntiEntropyOptions, startedAtMs: Millis) {
    const shape = options.shape ?? defaultMerkleShape
    this.trees = new PartitionTrees(ports.io, { partitions: options.partitions, shape, rebuildPageSize: options.rebuildPageSize })
    this.reaper = new TombstoneReaper(ports, { partitions: options.partitions, graceMs: options.tombstoneGraceMs ?? Infinity, pageSize: options.rebuildPageSize })
    this.catchUp = new ChangeLogCatchUp(
      { ...ports, tree: (partition) => this.trees.tree(partition), reapBeforeMs: (partition) => this.reapBeforeMs(partition) },
      { partitions: options.partitions, callTimeoutMs: options.callTimeoutMs, maxConcurrent: options.maxConcurrentRounds },
      this.counters,
    )
    // All at once, not spread: the rounds due together are probed with one call per peer (see the header).
    for (let p = 0; p < options.partitions; p++) this.nextDueMs.push(startedAtMs + options.intervalMs)
  }

  /** Every effect the node emits passes here, so every object write updates its tree. */
  observe(effects: readonly Effect[]): void {
    this.trees.observe(effects)
    this.reaper.observe(effects)
  }

  /** A peer came back from dead or restarted (membership's member-up): catch up from its change log. */
  memberUp(peer: NodeId): void {
    this.catchUp.memberUp(peer)
  }

  /** Every storage result the node receives: object writes tell catch-up how far this node's log is durable. */
  observeStorageResult(operationId: OperationId, result: StorageResult): void {
    this.catchUp.observeStorageResult(result)
    this.reaper.settled(operationId)
  }

  tick(nowMs: Millis, out: Out): void {
    this.trees.tick(out)
    this.catchUp.tick(nowMs, out)
    let roundMs: Millis | null = null
    const probes = new Map<NodeId, { readonly peer: Peer; readonly partitions: number[] }>()
    for (let partition = 0; partition < this.options.partitions; partition++) {
      if (this.rounds.has(partition) || (this.nextDueMs[partition] as Millis) > nowMs) continue
      // One wall-clock reading for every round opened in this tick: they share one announcement per call.
      roundMs ??= this.ports.wallClockMs?.() ?? this.ports.cluster.nowMs()
      this.openRound(partition, nowMs, roundMs, probes, out)
    }
    if (roundMs !== null) for (const { peer, partitions } of probes.values()) this.probe(peer, partitions, roundMs, out)
    this.startRepairs(out)
  }

  private openRound(partition: number, nowMs: Millis, roundMs: Millis, probes: Map<NodeId, { readonly peer: Peer; readonly partitions: number[] }>, out: Out): void {
    const peers = this.peersFor(partition)
    if (peers === null) {
      this.nextDueMs[partition] = nowMs + this.options.intervalMs
      return
    }
    if (this.trees.tree(partition) === null) {
      this.nextDueMs[partition] = nowMs + Math.ceil(this.options.intervalMs / 4)
      return
    }
    this.counters.roundsStarted++
    const owners = this.owners(partition)
    this.reaper.visited(partition, roundMs)
    const mark = this.reaper.markFor(partition, owners)
    const reapBeforeMs = this.reapBeforeMs(partition)
    const announcement: RoundAnnouncement = { roundMs, ...(mark === null ? {} : { lowWaterMs: mark, lowWaterOwners: ownersKey(owners) }) }
    const round: Round = {
      owners, peers, startedMs: nowMs, probesPending: peers.length, differs: false,
      // Covering: every other owner is one of the peers, so a complete round reaches the whole owner list.
      covering: peers.length === owners.length - 1, roundMs, announcement, reapBeforeMs, complete: true, repaired: false,
    }
    this.rounds.set(partition, round)
    if (peers.length === 0) return this.probed(partition, round, out)
    for (const peer of peers) {
      let probe = probes.get(peer.id)
      if (probe === undefined) {
        probe = { peer, partitions: [] }
        probes.set(peer.id, probe)
      }
      probe.partitions.push(partition)
    }
  }

  /** Asks `peer` for its roots of `partitions` (opened rounds), maxRootsPerCall per call. */
  private probe(peer: Peer, partitions: readonly number[], roundMs: Millis, out: Out): void {
    for (let at = 0; at < partitions.length; at += antiEntropyLimits.maxRootsPerCall) {
      const chunk = partitions.slice(at, at + antiEntropyLimits.maxRootsPerCall)
      const roots = new Uint8Array(chunk.length * digestBytes)
      const lowWaterMs: number[] = []
      const lowWaterOwners: string[] = []
      chunk.forEach((partition, i) => {
        const tree = this.trees.tree(partition)
        if (tree !== null) writeDigest(roots, i * digestBytes, tree.root)
        const announcement = this.rounds.get(partition)?.announcement
        lowWaterMs.push(announcement?.lowWaterMs ?? 0)
        lowWaterOwners.push(announcement?.lowWaterOwners ?? '')
      })
      const message: AeRoots = { kind: 'ae-roots', from: this.ports.cluster.self, roundMs, partitions: chunk, roots, lowWaterMs, lowWaterOwners }
      this.ports.io.call(peer.address, message, this.options.callTimeoutMs, out, (outcome, next) => this.probeAnswered(peer, chunk, outcome, next))
    }
  }

  /** Equal roots: that (partition, peer) is in sync. Anything else sends the round down the full exchange. */
  private probeAnswered(peer: Peer, partitions: readonly number[], outcome: CallOutcome, out: Out): void {
    const message = outcome.kind === 'ok' ? outcome.message : null
    const reply: AeRootsReply | null = message !== null && isAntiEntropyMessage(message) && message.kind === 'ae-roots-reply' && message.outcome === 'ok' &&
      message.roots.length === partitions.length * digestBytes && message.logSeqs.length === partitions.length ? message : null
    if (reply !== null) this.counters.bytesExchanged += reply.roots.length
    const notReady = new Set(reply?.notReady ?? [])
    partitions.forEach((partition, i) => {
      const round = this.rounds.get(partition)
      if (round === undefined) return
      const tree = this.trees.tree(partition)
      const same = reply !== null && tree !== null && !notReady.has(i) && sameDigest(readDigest(reply.roots, i * digestBytes), tree.root)
      if (same) this.catchUp.exchanged(peer.id, partition, reply.logSeqs[i] ?? 0)
      else round.differs = true
      if (--round.probesPending === 0) this.probed(partition, round, out)
    })
  }

  private probed(partition: number, round: Round, out: Out): void {
    if (!round.differs) return this.closeRound(partition, round, out)
    this.repairQueue.push(partition)
    this.startRepairs(out)
  }

  private startRepairs(out: Out): void {
    while (this.repairing < this.options.maxConcurrentRounds) {
      const partition = this.repairQueue.shift()
      if (partition === undefined) return
      const round = this.rounds.get(partition)
      if (round === undefined) continue
      const tree = this.trees.tree(partition)
      if (tree === null) {
        round.complete = false
        this.closeRound(partition, round, out)
        continue
      }
      this.repairing++
      this.visit(partition, tree, round.peers, 0, 1, round, round.startedMs, out)
    }
  }

  /** Ends the round; a complete covering round's start becomes the partition's low-water mark. */
  private closeRound(partition: number, state: Round, out: Out): void {
    this.rounds.delete(partition)
    this.endRound(partition, state.complete, state.startedMs)
    // The owner list must still be the one the round started with for its start to become the mark.
    const covering = state.complete && state.covering && ownersKey(this.owners(partition)) === ownersKey(state.owners)
    if (covering) this.reaper.advance(partition, state.owners, state.roundMs, ownersKey(state.owners), out)
  }

  /** Exchanges with peers[index], then the next; a second pass follows when the first one repaired something. */
  private visit(partition: number, tree: MerkleTree, peers: readonly Peer[], index: number, pass: number, state: Round, startedMs: Millis, out: Out): void {
    const peer = peers[index]
    if (peer === undefined) {
      if (pass === 1 && state.repaired && peers.length > 1) return this.visit(partition, tree, peers, 0, 2, state, startedMs, out)
      this.repairing--
      this.closeRound(partition, state, out)
      return this.startRepairs(out)
    }
    const exchange: PeerExchange = new PeerExchange(this.exchangePorts(state.reapBeforeMs), partition, tree, peer.address, this.counters, (outcome: ExchangeOutcome, next) => {
      if (outcome === 'repaired') state.repaired = true
      if ((outcome === 'repaired' || outcome === 'in-sync') && exchange.peerLogSeq !== null) this.catchUp.exchanged(peer.id, partition, exchange.peerLogSeq)
      if (outcome !== 'repaired' && outcome !== 'in-sync') state.complete = false
      this.visit(partition, tree, peers, index + 1, pass, state, startedMs, next)
    }, state.announcement)
    exchange.start(out)
  }

  /** Tombstones older than this are reapable under the mark this node holds for the partition; null: no mark. */
  private reapBeforeMs(partition: number): number | null {
    const mark = this.reaper.markFor(partition, this.owners(partition))
    return mark === null ? null : mark - (this.options.tombstoneGraceMs ?? Infinity)
  }

  private endRound(partition: number, complete: boolean, startedMs: Millis): void {
    const nowMs = this.ports.cluster.nowMs()
    const durationMs = nowMs - startedMs
    this.counters.roundDurationMsTotal += durationMs
    this.counters.roundDurationMsMax = Math.max(this.counters.roundDurationMsMax, durationMs)
    if (complete) this.counters.roundsCompleted++
    else this.counters.roundsIncomplete++
    this.nextDueMs[partition] = complete ? startedMs + this.options.intervalMs : nowMs + Math.ceil(this.options.intervalMs / 4)
  }

  private owners(partition: number): readonly NodeId[] {
    return this.ports.cluster.table()?.owners[partition] ?? []
  }

  /** An initiator's level-0 ae-hashes: remember when its round reached us, and adopt the mark it holds. */
  private heard(message: AeHashes, out: Out): void {
    if (message.level === 0) this.heardRound(message.partition, message.from, message.roundMs, message.lowWaterMs, message.lowWaterOwners, out)
  }

  /** A round of `from` reached us (ae-roots or level-0 ae-hashes): note its start, adopt the mark it holds. */
  private heardRound(partition: number, from: NodeId, roundMs: number | undefined, lowWaterMs: number | undefined, lowWaterOwners: string | undefined, out: Out): void {
    const owners = this.owners(partition)
    if (!owners.includes(this.ports.cluster.self) || !owners.includes(from)) return
    if (roundMs !== undefined) this.reaper.visited(partition, roundMs)
    if (lowWaterMs !== undefined && lowWaterOwners !== undefined) this.reaper.advance(partition, owners, lowWaterMs, lowWaterOwners, out)
  }

  /** The other live owners when this node is the partition's first live owner; null when it is not. */
  private peersFor(partition: number): Peer[] | null {
    const { cluster } = this.ports
    const owners = cluster.table()?.owners[partition] ?? []
    const live = owners.filter((id) => cluster.isLive(id))
    if (live[0] !== cluster.self) return null
    const peers: Peer[] = []
    for (const id of live.slice(1)) {
      const address = cluster.address(id)
      if (address !== null) peers.push({ id, address })
    }
    return peers
  }

  private exchangePorts(reapBeforeMs: number | null): ConstructorParameters<typeof PeerExchange>[0] {
    const { io, cluster, replica } = this.ports
    return {
      io, replica, self: cluster.self, partitions: this.options.partitions, callTimeoutMs: this.options.callTimeoutMs,
      conflictFor: (bucket) => this.ports.conflictFor(bucket), reapBeforeMs,
    }
  }

  /**
   * An incoming data-path call, before replication sees it: a copy superseded by a delete this node reaped (a late
   * hint, an old owner's handoff; tombstone-reaper.ts) is dropped. Null: answer `stored` and merge nothing; a
   * handoff page comes back without the dropped objects.
   */
  admit(message: ReplicationMessage): ReplicationMessage | null {
    switch (message.kind) {
      case 'replica-merge':
        // A fallback storing a hint is not an owner: its copy is checked when the hint reaches the owner.
        if (message.hintFor !== undefined) return message
        return this.reaper.isSuperseded(message.partition, message.bucket, message.key, message.object) ? null : message
      case 'replica-handoff': {
        const objects = message.objects.filter((object) => !this.reaper.isSuperseded(message.partition, object.bucket, object.key, object.object))
        return objects.length === message.objects.length ? message : { ...message, objects }
      }
      default:
        return message
    }
  }

  // ---- answering peers ------------------------------------------------------------------------------------

  receiveCall(from: PeerAddress, callId: CallId, message: AntiEntropyMessage, out: Out): void {
    const respond = (answer: AntiEntropyMessage): void => void out.push({ kind: 'respond', to: from, callId, message: answer })
    const self = this.ports.cluster.self
    const tree = 'partition' in message && message.partition < this.options.partitions ? this.trees.tree(message.partition) : null
    const notReady = 'partition' in message && message.partition < this.options.partitions && tree === null
    switch (message.kind) {
      case 'ae-hashes': {
        if (tree !== null) this.heard(message, out)
        const hashes = tree === null ? null : this.hashes(tree, message.level, message.nodes)
        if (hashes === null) this.counters.malformedRequests += notReady ? 0 : 1
        // Level 0 starts an exchange: report how far our log is durable, for the asker's catch-up mark.
        const logSeq = message.level === 0 && hashes !== null ? { logSeq: this.catchUp.logSeq(message.partition) } : {}
        return respond({ kind: 'ae-hashes-reply', from: self, outcome: notReady ? 'not-ready' : hashes === null ? 'failed' : 'ok', hashes: hashes ?? new Uint8Array(0), ...logSeq })
      }
      case 'ae-keys': {
        const listed = tree === null ? null : this.leafEntries(tree, message.leaves)
        if (listed === null) this.counters.malformedRequests += notReady ? 0 : 1
        const fields = listed ?? { leavesCovered: 0, entries: [] }
        return respond({ kind: 'ae-keys-reply', from: self, outcome: notReady ? 'not-ready' : listed === null ? 'failed' : 'ok', ...fields })
      }
      case 'ae-fetch':
        return this.fetch(message, out, (outcome, objects, next) => void next.push({ kind: 'respond', to: from, callId, message: { kind: 'ae-fetch-reply', from: self, outcome, objects } }))
      case 'ae-roots':
        return respond(this.roots(message, out))
      case 'ae-log':
        return this.catchUp.answer(message, out, (reply, next) => void next.push({ kind: 'respond', to: from, callId, message: reply }))
      case 'ae-roots-reply':
      case 'ae-hashes-reply':
      case 'ae-keys-reply':
      case 'ae-fetch-reply':
      case 'ae-log-reply':
        // An answer sent as a request: a confused peer. It still gets exactly one answer.
        this.counters.malformedRequests++
        return respond({ kind: 'ae-fetch-reply', from: self, outcome: 'failed', objects: [] })
    }
  }

  /** ae-roots: our root of each partition asked; each round's announcement is heard as on a level-0 ae-hashes. */
  private roots(message: AeRoots, out: Out): AeRootsReply {
    const { partitions, lowWaterMs, lowWaterOwners } = message
    const self = this.ports.cluster.self
    const count = partitions.length
    const valid = count <= antiEntropyLimits.maxRootsPerCall && lowWaterMs.length === count && lowWaterOwners.length === count &&
      partitions.every((partition) => partition < this.options.partitions)
    if (!valid) {
      this.counters.malformedRequests++
      return { kind: 'ae-roots-reply', from: self, outcome: 'failed', roots: new Uint8Array(0), notReady: [], logSeqs: [] }
    }
    const roots = new Uint8Array(count * digestBytes)
    const notReady: number[] = []
    const logSeqs: number[] = []
    partitions.forEach((partition, i) => {
      const tree = this.trees.tree(partition)
      if (tree === null) {
        notReady.push(i)
        logSeqs.push(0)
        return
      }
      const markMs = lowWaterMs[i] ?? 0
      const markOwners = lowWaterOwners[i] ?? ''
      this.heardRound(partition, message.from, message.roundMs, markMs > 0 ? markMs : undefined, markOwners !== '' ? markOwners : undefined, out)
      writeDigest(roots, i * digestBytes, tree.root)
      logSeqs.push(this.catchUp.logSeq(partition))
    })
    return { kind: 'ae-roots-reply', from: self, outcome: 'ok', roots, notReady, logSeqs }
  }

  private hashes(tree: MerkleTree, level: number, nodes: readonly number[]): Uint8Array | null {
    const { fanout, depth } = tree.shape
    if (level >= depth || nodes.length > antiEntropyLimits.maxNodesPerRequest) return null
    if (nodes.some((node) => node >= fanout ** level)) return null
    const parts = nodes.map((node) => tree.childHashes(level, node))
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0))
    let at = 0
    for (const part of parts) {
      bytes.set(part, at)
      at += part.length
    }
    return bytes
  }

  private leafEntries(tree: MerkleTree, leaves: readonly number[]): { leavesCovered: number; entries: AeKeyEntry[] } | null {
    if (leaves.length === 0 || leaves.length > antiEntropyLimits.maxLeavesPerRequest || leaves.some((leaf) => leaf >= tree.leafCount)) return null
    const entries: AeKeyEntry[] = []
    let leavesCovered = 0
    for (const leaf of leaves) {
      const listed = tree.leafEntries(leaf)
      // Never split a leaf, but always answer at least one so that the asker makes progress.
      if (leavesCovered > 0 && entries.length + listed.length > antiEntropyLimits.maxEntriesPerReply) break
      for (const entry of listed) entries.push({ bucket: entry.bucket, key: entry.key, digest: digestToBytes(entry.digest) })
      leavesCovered++
    }
    return { leavesCovered, entries }
  }

  private fetch(message: AeFetch, out: Out, done: (outcome: 'ok' | 'failed', objects: AeFetchedObject[], out: Out) => void): void {
    const { partition, keys } = message
    const valid = partition < this.options.partitions && keys.length <= antiEntropyLimits.maxKeysPerFetch &&
      keys.every(({ bucket, key }) => partitionOf(bucket, key, this.options.partitions) === partition)
    if (!valid) {
      this.counters.malformedRequests++
      return done('failed', [], out)
    }
    const objects: AeFetchedObject[] = new Array<AeFetchedObject>(keys.length)
    let waiting = keys.length + 1
    let failed = false
    const settle = (next: Out): void => {
      if (--waiting === 0) done(failed ? 'failed' : 'ok', objects, next)
    }
    keys.forEach(({ bucket, key }, i) => {
      this.ports.replica.read({ partition, bucket, key }, out, (local, next) => {
        if (local.kind === 'failed') failed = true
        objects[i] = local.kind === 'found' ? { bucket, key, object: local.encoded } : { bucket, key }
        settle(next)
      })
    })
    settle(out)
  }
}
