/**
 * One anti-entropy exchange of one partition between this node (the initiator) and one peer replica:
 *
 *   descend ─► ae-hashes level by level, only into inner nodes whose hashes differ
 *           ─► ae-keys of the differing leaves: (key, digest) lists compared entry by entry
 *           ─► fetch: ae-fetch the keys the peer holds differently, merge each locally through the replica's
 *                     per-key serialized path (merge, never overwrite)
 *           ─► push:  send the local (now merged) object of every key the peer lacked or held differently with
 *                     replica-merge, which the peer merges through its own serialized path
 *
 * Afterwards both hold merge(local, remote) of every differing key, unless a write raced the exchange, which the
 * next round repairs. One exception: a tombstone already reapable under the initiator's low-water mark is not copied
 * to a side that lacks the key altogether (that side reaped it, or holds nothing it could delete); copying it would
 * only undo the reaping, one round at a time (tombstone-reaper.ts). Only differing subtrees, keys and objects cross the wire. Steps run one call at a time, and
 * objects move in pages of maxKeysPerFetch, so an exchange holds at most one page of objects in flight.
 */
import type { NodeId, PeerAddress } from '../primitives/ids.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import type { CallOutcome } from '../node/input.ts'
import { isAntiEntropyMessage } from '../node/message.ts'
import type { Replica } from '../replication/replica.ts'
import type { ConflictMode } from '../replication/replication-messages.ts'
import type { AeFetchedObject, AeHashes, AeKeyAddress, AeKeyEntry, AntiEntropyMessage } from './anti-entropy-messages.ts'
import { antiEntropyLimits } from './anti-entropy-messages.ts'
import { mergeFetched } from './merge-fetched.ts'
import { digestBytes, readDigest, sameDigest } from './digest64.ts'
import { isReapable } from './tombstone-reaper.ts'
import type { MerkleTree } from './merkle-tree.ts'

export interface ExchangePorts {
  readonly io: IoContinuations
  readonly self: NodeId
  readonly replica: Replica
  readonly partitions: number
  readonly callTimeoutMs: number
  conflictFor(bucket: string): ConflictMode
  /** Tombstones whose every sibling is older than this are reapable (the mark minus the grace); null: none. */
  readonly reapBeforeMs?: number | null
}

export interface ExchangeStats {
  keysCompared: number
  keysRepaired: number
  bytesExchanged: number
}

export type ExchangeOutcome = 'in-sync' | 'repaired' | 'unreachable' | 'not-ready' | 'failed'

/** What the initiator tells the peer on level 0: its round's start and its tombstone mark (tombstone-reaper.ts). */
export type RoundAnnouncement = Pick<AeHashes, 'roundMs' | 'lowWaterMs' | 'lowWaterOwners'>

export class PeerExchange {
  private readonly fetchKeys: AeKeyAddress[] = []
  private readonly pushKeys: AeKeyAddress[] = []
  /** Keys only one side holds (bucket NUL key). */
  private readonly oneSided = new Set<string>()
  private finished = false
  private repairedAny = false
  /** The peer's durable log position when it answered level 0 (change-log-catch-up.ts); null if not reported. */
  peerLogSeq: number | null = null

  constructor(
    private readonly ports: ExchangePorts,
    private readonly partition: number,
    private readonly tree: MerkleTree,
    private readonly peer: PeerAddress,
    private readonly stats: ExchangeStats,
    private readonly done: (outcome: ExchangeOutcome, out: Out) => void,
    private readonly announcement: RoundAnnouncement = {},
  ) {}

  start(out: Out): void {
    this.descend(0, [0], [], out)
  }

  /** Compares the children of `nodes` (at `level`) chunk by chunk, collecting the children that differ. */
  private descend(level: number, nodes: readonly number[], differing: number[], out: Out): void {
    const { fanout, depth } = this.tree.shape
    if (nodes.length === 0) {
      if (level + 1 === depth) return this.listLeaves(differing, out)
      if (differing.length === 0) return this.finish('in-sync', out)
      return this.descend(level + 1, differing, [], out)
    }
    const chunk = nodes.slice(0, antiEntropyLimits.maxNodesPerRequest)
    const rest = nodes.slice(chunk.length)
    const message = { kind: 'ae-hashes' as const, from: this.ports.self, partition: this.partition, level, nodes: chunk, ...(level === 0 ? this.announcement : {}) }
    this.call(message, 'ae-hashes-reply', out, (reply, next) => {
      if (reply.kind !== 'ae-hashes-reply') return
      if (reply.hashes.length !== chunk.length * fanout * digestBytes) return this.finish('failed', next)
      if (level === 0 && reply.logSeq !== undefined) this.peerLogSeq = reply.logSeq
      this.stats.bytesExchanged += reply.hashes.length
      chunk.forEach((node, i) => {
        for (let child = 0; child < fanout; child++) {
          const index = node * fanout + child
          const remote = readDigest(reply.hashes, (i * fanout + child) * digestBytes)
          if (!sameDigest(remote, this.tree.hash(level + 1, index))) differing.push(index)
        }
      })
      this.descend(level, rest, differing, next)
    })
  }

  /** Lists the differing leaves on the peer and compares them with ours, key by key. */
  private listLeaves(leaves: readonly number[], out: Out): void {
    if (leaves.length === 0) return this.fetch(out)
    const chunk = leaves.slice(0, antiEntropyLimits.maxLeavesPerRequest)
    const message = { kind: 'ae-keys' as const, from: this.ports.self, partition: this.partition, leaves: chunk }
    this.call(message, 'ae-keys-reply', out, (reply, next) => {
      if (reply.kind !== 'ae-keys-reply') return
      const covered = reply.leavesCovered
      if (covered < 1 || covered > chunk.length) return this.finish('failed', next)
      this.compareLeaves(chunk.slice(0, covered), reply.entries)
      this.listLeaves(leaves.slice(covered), next)
    })
  }

  private compareLeaves(leaves: readonly number[], remoteEntries: readonly AeKeyEntry[]): void {
    const remote = new Map<string, AeKeyEntry>()
    for (const entry of remoteEntries) {
      this.stats.bytesExchanged += entry.bucket.length + entry.key.length + entry.digest.length
      if (entry.digest.length === digestBytes) remote.set(`${entry.bucket}\u0000${entry.key}`, entry)
    }
    const local = new Set<string>()
    for (const leaf of leaves) {
      for (const entry of this.tree.leafEntries(leaf)) {
        const id = `${entry.bucket}\u0000${entry.key}`
        local.add(id)
        const theirs = remote.get(id)
        if (theirs !== undefined && sameDigest(readDigest(theirs.digest, 0), entry.digest)) continue
        if (theirs !== undefined) this.fetchKeys.push({ bucket: entry.bucket, key: entry.key })
        else this.oneSided.add(id)
        this.pushKeys.push({ bucket: entry.bucket, key: entry.key })
      }
    }
    for (const [id, entry] of remote) {
      if (local.has(id)) continue
      this.fetchKeys.push({ bucket: entry.bucket, key: entry.key })
      this.oneSided.add(id)
    }
    this.stats.keysCompared += local.size + [...remote.keys()].filter((id) => !local.has(id)).length
  }

  /** Pulls the peer's copies of the differing keys a page at a time and merges each into ours. */
  private fetch(out: Out): void {
    const page = this.fetchKeys.splice(0, antiEntropyLimits.maxKeysPerFetch)
    if (page.length === 0) return this.push(out)
    const message = { kind: 'ae-fetch' as const, from: this.ports.self, partition: this.partition, keys: page }
    this.call(message, 'ae-fetch-reply', out, (reply, next) => {
      if (reply.kind !== 'ae-fetch-reply') return
      this.mergeAll(reply.objects, next, (ok, after) => (ok ? this.fetch(after) : this.finish('failed', after)))
    })
  }

  private mergeAll(objects: readonly AeFetchedObject[], out: Out, then: (ok: boolean, out: Out) => void): void {
    mergeFetched(objects, {
      replica: this.ports.replica, partition: this.partition, partitions: this.ports.partitions,
      conflictFor: (bucket) => this.ports.conflictFor(bucket),
      skip: (bucket, key, object) => this.reapedCopy(bucket, key, object),
      received: (bytes) => {
        this.stats.bytesExchanged += bytes
      },
      merging: () => {
        this.stats.keysRepaired++
        this.repairedAny = true
      },
    }, out, then)
  }

  /** Sends our (merged) copy of every key the peer lacked or held differently, a page at a time. */
  private push(out: Out): void {
    const page = this.pushKeys.splice(0, antiEntropyLimits.maxKeysPerFetch)
    if (page.length === 0) return this.finish(this.repairedAny ? 'repaired' : 'in-sync', out)
    let waiting = 1
    let ok = true
    const settle = (success: boolean, next: Out): void => {
      ok &&= success
      if (--waiting > 0) return
      if (ok) this.push(next)
      else this.finish('failed', next)
    }
    for (const { bucket, key } of page) {
      waiting++
      const address = { partition: this.partition, bucket, key }
      this.ports.replica.read(address, out, (local, next) => {
        if (local.kind !== 'found') return settle(local.kind === 'missing', next)
        if (this.reapedCopy(bucket, key, local.encoded)) return settle(true, next)
        this.stats.bytesExchanged += local.encoded.length
        this.stats.keysRepaired++
        this.repairedAny = true
        const message = { kind: 'replica-merge' as const, from: this.ports.self, ...address, conflict: this.ports.conflictFor(bucket), object: local.encoded }
        this.ports.io.call(this.peer, message, this.ports.callTimeoutMs, next, (outcome, after) => {
          settle(outcome.kind === 'ok' && outcome.message.kind === 'replica-merge-reply' && outcome.message.outcome === 'stored', after)
        })
      })
    }
    settle(true, out)
  }

  /** A reapable tombstone of a key the other side lacks altogether: not copied (see the header). */
  private reapedCopy(bucket: string, key: string, encoded: Uint8Array): boolean {
    const before = this.ports.reapBeforeMs ?? null
    return before !== null && this.oneSided.has(`${bucket}\u0000${key}`) && isReapable(encoded, before)
  }

  /** One ae-* call; failures, refusals and wrong answers end the exchange, so `then` sees only the expected kind. */
  private call(message: AntiEntropyMessage, expected: AntiEntropyMessage['kind'], out: Out, then: (reply: AntiEntropyMessage, out: Out) => void): void {
    this.ports.io.call(this.peer, message, this.ports.callTimeoutMs, out, (outcome: CallOutcome, next) => {
      if (outcome.kind === 'failed') return this.finish('unreachable', next)
      const reply = outcome.message
      if (!isAntiEntropyMessage(reply) || reply.kind !== expected || !('outcome' in reply)) return this.finish('failed', next)
      if (reply.outcome === 'not-ready') return this.finish('not-ready', next)
      if (reply.outcome !== 'ok') return this.finish('failed', next)
      then(reply, next)
    })
  }

  private finish(outcome: ExchangeOutcome, out: Out): void {
    if (this.finished) return
    this.finished = true
    this.done(outcome, out)
  }
}
