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
 * When: partition p is first due at start + interval·(1 + p/Q), then every `antiEntropyIntervalMs`, so rounds are
 * spread over the interval; the first whole interval is left alone so that a starting node (and a cluster that
 * has just formed) is not busy comparing empty trees while membership and placement settle; at most `antiEntropyMaxConcurrentRounds` run at once and due partitions wait for a
 * slot. A round that could not finish with every live owner (unreachable, still rebuilding, storage trouble) is
 * retried after a quarter interval instead of a whole one, so that after faults stop every partition converges
 * within two intervals. A round visits the owners one after another, then, if anything was repaired and there
 * are several peers, visits them once more so that what a later peer contributed reaches the earlier ones too.
 *
 * Tombstones: a round that reached every owner of the table (all live, all exchanges in-sync or repaired) makes its
 * start the partition's low-water mark; rounds announce their start and the mark on level 0, and each owner reaps
 * tombstones below the mark locally (tombstone-reaper.ts, which also documents why a returning replica cannot
 * resurrect a reaped key).
 */
import type { CallId, Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { ClusterView } from '../replication/cluster-view.ts'
import type { Replica } from '../replication/replica.ts'
import type { ConflictMode } from '../replication/replication-messages.ts'
import type { Effect } from '../node/effect.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import { partitionOf } from '../partitioning/key-hash.ts'
import type { AeFetch, AeFetchedObject, AeHashes, AeKeyEntry, AntiEntropyMessage } from './anti-entropy-messages.ts'
import { antiEntropyLimits } from './anti-entropy-messages.ts'
import { digestToBytes } from './digest64.ts'
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

export interface AntiEntropyCounters {
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

interface Round {
  readonly owners: readonly NodeId[]
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
  }
  private readonly nextDueMs: Millis[] = []
  private readonly running = new Set<number>()
  /** Where the next tick starts looking for due partitions, so low partitions cannot starve high ones. */
  private cursor = 0

  constructor(private readonly ports: AntiEntropyPorts, private readonly options: AntiEntropyOptions, startedAtMs: Millis) {
    const shape = options.shape ?? defaultMerkleShape
    this.trees = new PartitionTrees(ports.io, { partitions: options.partitions, shape, rebuildPageSize: options.rebuildPageSize })
    this.reaper = new TombstoneReaper(ports, { partitions: options.partitions, graceMs: options.tombstoneGraceMs ?? Infinity, pageSize: options.rebuildPageSize })
    for (let p = 0; p < options.partitions; p++) this.nextDueMs.push(startedAtMs + options.intervalMs + Math.floor((options.intervalMs * p) / options.partitions))
  }

  /** Every effect the node emits passes here, so every object write updates its tree. */
  observe(effects: readonly Effect[]): void {
    this.trees.observe(effects)
    this.reaper.observe(effects)
  }

  tick(nowMs: Millis, out: Out): void {
    this.trees.tick(out)
    const count = this.options.partitions
    for (let i = 0; i < count && this.running.size < this.options.maxConcurrentRounds; i++) {
      const partition = (this.cursor + i) % count
      if (this.running.has(partition) || (this.nextDueMs[partition] as Millis) > nowMs) continue
      this.cursor = (partition + 1) % count
      this.startRound(partition, nowMs, out)
    }
  }

  private startRound(partition: number, nowMs: Millis, out: Out): void {
    const peers = this.peersFor(partition)
    const tree = this.trees.tree(partition)
    if (peers === null) {
      this.nextDueMs[partition] = nowMs + this.options.intervalMs
      return
    }
    if (tree === null) {
      this.nextDueMs[partition] = nowMs + Math.ceil(this.options.intervalMs / 4)
      return
    }
    this.running.add(partition)
    this.counters.roundsStarted++
    const owners = this.owners(partition)
    const roundMs = this.ports.wallClockMs?.() ?? this.ports.cluster.nowMs()
    this.reaper.visited(partition, roundMs)
    const mark = this.reaper.markFor(partition, owners)
    const reapBeforeMs = mark === null ? null : mark - (this.options.tombstoneGraceMs ?? Infinity)
    const announcement: RoundAnnouncement = { roundMs, ...(mark === null ? {} : { lowWaterMs: mark, lowWaterOwners: ownersKey(owners) }) }
    // Covering: every other owner is one of the peers, so a complete round reaches the whole owner list.
    const round: Round = { owners, covering: peers.length === owners.length - 1, roundMs, announcement, reapBeforeMs, complete: true, repaired: false }
    this.visit(partition, tree, peers, 0, 1, round, nowMs, out)
  }

  /** Exchanges with peers[index], then the next; a second pass follows when the first one repaired something. */
  private visit(partition: number, tree: MerkleTree, peers: readonly PeerAddress[], index: number, pass: number, state: Round, startedMs: Millis, out: Out): void {
    const peer = peers[index]
    if (peer === undefined) {
      if (pass === 1 && state.repaired && peers.length > 1) return this.visit(partition, tree, peers, 0, 2, state, startedMs, out)
      this.endRound(partition, state.complete, startedMs)
      // The owner list must still be the one the round started with for its start to become the mark.
      const covering = state.complete && state.covering && ownersKey(this.owners(partition)) === ownersKey(state.owners)
      if (covering) this.reaper.advance(partition, state.owners, state.roundMs, ownersKey(state.owners), out)
      return
    }
    const exchange = new PeerExchange(this.exchangePorts(state.reapBeforeMs), partition, tree, peer, this.counters, (outcome: ExchangeOutcome, next) => {
      if (outcome === 'repaired') state.repaired = true
      if (outcome !== 'repaired' && outcome !== 'in-sync') state.complete = false
      this.visit(partition, tree, peers, index + 1, pass, state, startedMs, next)
    }, state.announcement)
    exchange.start(out)
  }

  private endRound(partition: number, complete: boolean, startedMs: Millis): void {
    const nowMs = this.ports.cluster.nowMs()
    const durationMs = nowMs - startedMs
    this.running.delete(partition)
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
    const { partition, roundMs, lowWaterMs, lowWaterOwners } = message
    const owners = this.owners(partition)
    if (message.level !== 0 || !owners.includes(this.ports.cluster.self) || !owners.includes(message.from)) return
    if (roundMs !== undefined) this.reaper.visited(partition, roundMs)
    if (lowWaterMs !== undefined && lowWaterOwners !== undefined) this.reaper.advance(partition, owners, lowWaterMs, lowWaterOwners, out)
  }

  /** The other live owners when this node is the partition's first live owner; null when it is not. */
  private peersFor(partition: number): PeerAddress[] | null {
    const { cluster } = this.ports
    const owners = cluster.table()?.owners[partition] ?? []
    const live = owners.filter((id) => cluster.isLive(id))
    if (live[0] !== cluster.self) return null
    return live.slice(1).map((id: NodeId) => cluster.address(id)).filter((address): address is PeerAddress => address !== null)
  }

  private exchangePorts(reapBeforeMs: number | null): ConstructorParameters<typeof PeerExchange>[0] {
    const { io, cluster, replica } = this.ports
    return {
      io, replica, self: cluster.self, partitions: this.options.partitions, callTimeoutMs: this.options.callTimeoutMs,
      conflictFor: (bucket) => this.ports.conflictFor(bucket), reapBeforeMs,
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
        return respond({ kind: 'ae-hashes-reply', from: self, outcome: notReady ? 'not-ready' : hashes === null ? 'failed' : 'ok', hashes: hashes ?? new Uint8Array(0) })
      }
      case 'ae-keys': {
        const listed = tree === null ? null : this.leafEntries(tree, message.leaves)
        if (listed === null) this.counters.malformedRequests += notReady ? 0 : 1
        const fields = listed ?? { leavesCovered: 0, entries: [] }
        return respond({ kind: 'ae-keys-reply', from: self, outcome: notReady ? 'not-ready' : listed === null ? 'failed' : 'ok', ...fields })
      }
      case 'ae-fetch':
        return this.fetch(message, out, (outcome, objects, next) => void next.push({ kind: 'respond', to: from, callId, message: { kind: 'ae-fetch-reply', from: self, outcome, objects } }))
      case 'ae-hashes-reply':
      case 'ae-keys-reply':
      case 'ae-fetch-reply':
        // An answer sent as a request: a confused peer. It still gets exactly one answer.
        this.counters.malformedRequests++
        return respond({ kind: 'ae-fetch-reply', from: self, outcome: 'failed', objects: [] })
    }
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
