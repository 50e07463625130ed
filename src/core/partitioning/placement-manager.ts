/**
 * Who owns which partition, cluster-wide. Every node holds the newest ownership table it has seen; the emergent
 * leader (membership.leader() === self) is the only one that computes new ones, with claim(), and only when:
 *
 *   - the set of members that should own partitions differs from the table's (a join, a graceful leave, or an
 *     explicit removal; a member that is merely down keeps its partitions, sloppy quorum covers it);
 *   - membership has been quiet for `placementSettleMs` (a rolling start costs one table, not one per node);
 *   - it sees a majority of the members it knows of (the table's nodes and every non-left member), so the
 *     minority side of a network partition never reshuffles ownership.
 *
 * Tables carry a fencing version (leader generation, version); a node adopts a table only when it is newer, so
 * a stale leader's table loses everywhere. A new table is pushed to every live member at once and persisted
 * (put-meta); a periodic digest datagram to one random member repairs any push that was lost: a peer whose digest
 * differs gets our state in a `placement-state` call and answers with its own when that still differs (push-pull
 * in one round trip). The same exchange spreads bucket properties (bucket-props-registry.ts).
 *
 * The digest is only needed around changes, so its pace follows them: every `gossipIntervalMs` for a while after
 * a membership event, a table adoption or a props change (long enough for the leader to settle, compute and push,
 * and for the repair rounds after it), and IDLE_GOSSIP_SLOWDOWN times slower otherwise. An idle cluster then
 * spends almost nothing on it, and a node that missed a push while down still hears a digest from everyone
 * within one fast window of coming back, since its return is itself a membership event.
 *
 * A member started with another Q (its metadata's `partitions`) is never given partitions: Q is fixed at
 * cluster creation and every node must hash keys the same way.
 *
 * Pure: time arrives as nowMs, randomness from the injected Random, I/O as effects through IoContinuations.
 */
import type { CallId, Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { Random } from '../primitives/random.ts'
import type { MemberView } from '../membership/swim.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import { logEffect } from '../membership/membership-effect.ts'
import type { BucketPropsRegistry } from '../replication/bucket-props-registry.ts'
import { bucketPropsMetaName, digestEntries } from '../replication/bucket-props-registry.ts'
import { claim } from './claim.ts'
import type { ClaimMember } from './claim.ts'
import type { OwnershipTable, TableVersion } from './ownership-table.ts'
import { assertValidTable, compareVersions, tableProblems } from './ownership-table.ts'
import type { PlacementDigest, PlacementMessage, PlacementRemoveReply, PlacementState } from './placement-messages.ts'

export const placementTableMetaName = 'placement.table'

/** What placement needs to know about membership (a narrow view of Swim). */
export interface PlacementMembership {
  members(nowMs: Millis): readonly MemberView[]
  leader(): NodeId | null
  readonly isJoined: boolean
  /** Changes whenever a member's record does (state, generation, metadata): members() is the same until then. */
  readonly tableVersion: number
}

export interface PlacementPorts {
  readonly io: IoContinuations
  readonly random: Random
  readonly self: { readonly id: NodeId; readonly generation: number }
  readonly membership: PlacementMembership
  readonly bucketProps: BucketPropsRegistry
}

export interface PlacementOptions {
  readonly partitions: number
  readonly n: number
  readonly settleMs: Millis
  readonly gossipIntervalMs: Millis
  readonly callTimeoutMs: Millis
}

export type RemoveOutcome = PlacementRemoveReply['outcome'] | 'no-leader' | 'unreachable'

/**
 * With nothing changing, digests go this many times less often than `gossipIntervalMs` (30 s on lan, the
 * push-pull period): at the fast pace, ten idle nodes spent more bytes on digests than on SWIM probing.
 */
const IDLE_GOSSIP_SLOWDOWN = 15
/** Gossip intervals of fast pace after the settle period that follows a change: the O(log n) repair rounds. */
const FAST_GOSSIP_ROUNDS_AFTER_SETTLE = 10

export class PlacementManager {
  private current: OwnershipTable | null = null
  private lastViewChangeMs: Millis
  private nextGossipAtMs: Millis
  /** Digests go at the fast pace until then (see the header); afterwards IDLE_GOSSIP_SLOWDOWN times slower. */
  private fastGossipUntilMs: Millis
  private lastNowMs: Millis
  /** Explicitly removed nodes and the generation they had: a later life of the node may join again. */
  private readonly removed = new Map<NodeId, number>()
  /** Bumped whenever `removed` changes. */
  private removedVersion = 0
  /**
   * What the leader's last recompute saw when it found the table already right. The same member table, table and
   * removals give the same answer, so the leader's every-tick check (φ of every member, maps and sets) is skipped.
   */
  private settledInputs: { readonly membersVersion: number; readonly table: OwnershipTable | null; readonly removedVersion: number } | null = null
  private readonly warnedMismatch = new Set<NodeId>()
  private minorityLogged = false
  readonly counters = { tablesComputed: 0, tablesAdopted: 0, statesSent: 0, digestsSent: 0 }

  constructor(private readonly ports: PlacementPorts, private readonly options: PlacementOptions, nowMs: Millis) {
    this.lastViewChangeMs = nowMs
    this.lastNowMs = nowMs
    this.nextGossipAtMs = nowMs + ports.random.nextInt(Math.max(1, options.gossipIntervalMs))
    // A node that just started has everything to learn: the first window is fast.
    this.fastGossipUntilMs = nowMs
    this.quickenGossip(nowMs)
  }

  get table(): OwnershipTable | null {
    return this.current
  }

  /** Loads the persisted table at start; returns a problem sentence when the bytes are unusable. */
  restore(bytes: Uint8Array): string | null {
    const table = decodeTable(bytes)
    if (table === null) return 'the stored ownership table is not valid'
    if (table.partitions !== this.options.partitions) return `the stored table has Q=${table.partitions}, this node runs Q=${this.options.partitions}`
    this.current = table
    return null
  }

  /** Membership changed: restart the settle period, and gossip digests at the fast pace for a while. */
  viewChanged(nowMs: Millis): void {
    this.lastViewChangeMs = nowMs
    this.quickenGossip(nowMs)
  }

  tick(nowMs: Millis, out: Out): void {
    this.lastNowMs = Math.max(this.lastNowMs, nowMs)
    if (nowMs >= this.nextGossipAtMs) {
      const fast = nowMs < this.fastGossipUntilMs
      this.nextGossipAtMs = nowMs + this.options.gossipIntervalMs * (fast ? 1 : IDLE_GOSSIP_SLOWDOWN)
      this.gossipDigest(nowMs, out)
    }
    if (this.ports.membership.leader() === this.ports.self.id && this.ports.membership.isJoined) this.maybeRecompute(nowMs, out)
  }

  receive(from: PeerAddress, message: PlacementMessage, nowMs: Millis, out: Out): void {
    switch (message.kind) {
      case 'placement-digest':
        return this.onDigest(from, message.version ?? null, message.propsDigest, out)
      case 'placement-state':
        // Normally a call (pushState); accepted one-way too, since merging is all it asks.
        return this.merge(message, out)
      case 'placement-remove':
      case 'placement-remove-reply':
        // Remove travels only as a call; arriving one-way it has nobody to answer.
        return
    }
  }

  receiveCall(from: PeerAddress, callId: CallId, message: PlacementMessage, nowMs: Millis, out: Out): void {
    const respond = (answer: PlacementMessage): void => void out.push({ kind: 'respond', to: from, callId, message: answer })
    if (message.kind === 'placement-state') {
      // The pull half: merge theirs, then answer with ours if it still differs, or with our small digest.
      this.merge(message, out)
      return respond(this.differsFrom(message) ? this.state() : this.digest())
    }
    const outcome = message.kind === 'placement-remove' ? this.removeAsLeader(message.node, nowMs) : 'not-leader'
    respond({ kind: 'placement-remove-reply', from: this.ports.self.id, outcome })
  }

  /** `chorus remove`: applied here when this node leads, otherwise asked of the leader. */
  requestRemove(node: NodeId, nowMs: Millis, out: Out, done: (outcome: RemoveOutcome, out: Out) => void): void {
    const leader = this.ports.membership.leader()
    if (leader === null) return done('no-leader', out)
    if (leader === this.ports.self.id) return done(this.removeAsLeader(node, nowMs), out)
    const address = this.memberAddress(leader, nowMs)
    if (address === null) return done('no-leader', out)
    const message = { kind: 'placement-remove' as const, from: this.ports.self.id, node }
    this.ports.io.call(address, message, this.options.callTimeoutMs, out, (outcome, next) => {
      const reply = outcome.kind === 'ok' && outcome.message.kind === 'placement-remove-reply' ? outcome.message.outcome : 'unreachable'
      done(reply, next)
    })
  }

  /** Adopts `table` if it is newer than ours (or the same version with a greater content, a deterministic tie-break). */
  adopt(table: OwnershipTable, out: Out): boolean {
    if (tableProblems(table).length > 0 || table.partitions !== this.options.partitions) return false
    if (this.current !== null) {
      const order = compareVersions(table.version, this.current.version)
      if (order === 'older') return false
      if (order === 'same' && tableKey(table) <= tableKey(this.current)) return false
    }
    this.current = table
    this.counters.tablesAdopted++
    this.quickenGossip(this.lastNowMs)
    this.ports.io.write([{ kind: 'put-meta', name: placementTableMetaName, value: encodeTable(table) }], 'durable', out, () => {})
    out.push(logEffect('info', 'placement.table-adopted', { leaderGeneration: table.version.leaderGeneration, version: table.version.version }))
    return true
  }

  /** The full state for a peer (the table and every bucket's props). */
  state(): PlacementState {
    return {
      kind: 'placement-state', from: this.ports.self.id, buckets: this.ports.bucketProps.entries(),
      ...(this.current === null ? {} : { table: this.current }),
    }
  }

  /** Sends our state to every live member: after a table change or a bucket-props change. */
  broadcast(nowMs: Millis, out: Out): void {
    this.quickenGossip(nowMs)
    for (const member of this.liveOthers(nowMs)) this.pushState(member.address, out)
  }

  /**
   * Our state to one peer, as a call: the answer brings theirs back when it differs (push-pull in one round
   * trip), and a peer across a partition costs a timed-out call rather than a stream send that fails.
   */
  private pushState(to: PeerAddress, out: Out): void {
    this.counters.statesSent++
    // One gossip interval: a push that is not answered by then is repaired by the next digest anyway.
    this.ports.io.call(to, this.state(), this.options.gossipIntervalMs, out, (outcome, next) => {
      if (outcome.kind === 'ok' && outcome.message.kind === 'placement-state') this.merge(outcome.message, next)
    })
  }

  // ---- leader ----------------------------------------------------------------------------------------------

  private maybeRecompute(nowMs: Millis, out: Out): void {
    const settled = this.settledInputs
    if (settled !== null && settled.membersVersion === this.ports.membership.tableVersion && settled.table === this.current && settled.removedVersion === this.removedVersion) return
    const inputs = { membersVersion: this.ports.membership.tableVersion, table: this.current, removedVersion: this.removedVersion }
    const members = this.ports.membership.members(nowMs)
    const desired = this.desiredMembers(members, out)
    if (desired.length === 0) return
    if (this.current !== null && sameIds(desired.map((m) => m.id), tableNodes(this.current))) {
      // desiredMembers may have forgotten a removal just now: then the inputs changed and the next tick looks again.
      if (inputs.removedVersion === this.removedVersion) this.settledInputs = inputs
      return
    }
    if (nowMs - this.lastViewChangeMs < this.options.settleMs) return
    if (!this.seesMajority(members)) {
      if (!this.minorityLogged) out.push(logEffect('warn', 'placement.minority', { members: members.length }))
      this.minorityLogged = true
      return
    }
    this.minorityLogged = false
    const previous = this.current
    const owners = claim({ partitions: this.options.partitions, n: this.options.n, members: desired, previous: previous?.owners ?? null })
    const version: TableVersion = {
      leaderGeneration: Math.max(this.ports.self.generation, previous?.version.leaderGeneration ?? 0),
      version: (previous?.version.version ?? 0) + 1,
    }
    const table: OwnershipTable = { partitions: this.options.partitions, n: this.options.n, version, owners }
    assertValidTable(table)
    this.counters.tablesComputed++
    out.push(logEffect('info', 'placement.table-computed', { members: desired.length, version: version.version }))
    if (this.adopt(table, out)) this.broadcast(nowMs, out)
  }

  /** Current owners that have not left or been removed, plus alive members with our Q that own nothing yet. */
  private desiredMembers(members: readonly MemberView[], out: Out): ClaimMember[] {
    const byId = new Map(members.map((m) => [m.id, m]))
    const ids = new Set<NodeId>()
    for (const id of this.current === null ? [] : tableNodes(this.current)) {
      const member = byId.get(id)
      if (member?.state !== 'left' && !this.isRemoved(id, member)) ids.add(id)
    }
    for (const member of members) {
      if (member.state !== 'alive' || this.isRemoved(member.id, member)) continue
      if (member.metadata.partitions !== this.options.partitions) {
        this.warnMismatch(member, out)
        continue
      }
      ids.add(member.id)
    }
    return [...ids].sort().map((id) => {
      const zone = byId.get(id)?.metadata.zone ?? ''
      return zone === '' ? { id } : { id, zone }
    })
  }

  private isRemoved(id: NodeId, member: MemberView | undefined): boolean {
    const generation = this.removed.get(id)
    if (generation === undefined) return false
    if (member !== undefined && member.state === 'alive' && member.generation > generation) {
      this.removed.delete(id)
      this.removedVersion++
      return false
    }
    return true
  }

  private seesMajority(members: readonly MemberView[]): boolean {
    const known = new Set<NodeId>(this.current === null ? [] : tableNodes(this.current))
    for (const member of members) if (member.state !== 'left') known.add(member.id)
    const visible = members.filter((m) => known.has(m.id) && (m.state === 'alive' || m.state === 'suspect')).length
    return visible * 2 > known.size
  }

  private removeAsLeader(node: NodeId, nowMs: Millis): PlacementRemoveReply['outcome'] {
    if (this.ports.membership.leader() !== this.ports.self.id) return 'not-leader'
    const member = this.ports.membership.members(nowMs).find((m) => m.id === node)
    const inTable = this.current !== null && tableNodes(this.current).includes(node)
    if (member === undefined && !inTable) return 'unknown-node'
    this.removed.set(node, member?.generation ?? 0)
    this.removedVersion++
    // An explicit removal is the operator's decision: no settle period needed, only the majority check.
    this.lastViewChangeMs = nowMs - this.options.settleMs
    return 'accepted'
  }

  private warnMismatch(member: MemberView, out: Out): void {
    if (this.warnedMismatch.has(member.id)) return
    this.warnedMismatch.add(member.id)
    out.push(logEffect('warn', 'placement.partitions-mismatch', { node: member.id, theirs: member.metadata.partitions, ours: this.options.partitions }))
  }

  // ---- gossip ----------------------------------------------------------------------------------------------

  private gossipDigest(nowMs: Millis, out: Out): void {
    const others = this.liveOthers(nowMs)
    if (others.length === 0) return
    const target = others[this.ports.random.nextInt(others.length)] as MemberView
    this.counters.digestsSent++
    out.push({ kind: 'send', to: target.address, carrier: 'datagram', message: this.digest() })
  }

  private digest(): PlacementDigest {
    return {
      kind: 'placement-digest', from: this.ports.self.id, propsDigest: this.ports.bucketProps.digest(),
      ...(this.current === null ? {} : { version: this.current.version }),
    }
  }

  /** A peer's digest differs from ours in either direction: exchange full states with it. */
  private onDigest(from: PeerAddress, version: TableVersion | null, propsDigest: string, out: Out): void {
    const sameTable = version === null ? this.current === null : this.current !== null && compareVersions(version, this.current.version) === 'same'
    if (sameTable && propsDigest === this.ports.bucketProps.digest()) return
    this.pushState(from, out)
  }

  private merge(message: PlacementState, out: Out): void {
    if (message.table !== undefined) this.adopt(message.table, out)
    if (this.ports.bucketProps.merge(message.buckets)) {
      this.quickenGossip(this.lastNowMs)
      this.persistBucketProps(out)
    }
  }

  /**
   * Something changed (or may have): digests at the fast pace until the leader has had time to settle and push,
   * plus the rounds that repair a lost push. A digest that is far off in idle pace is brought forward.
   */
  private quickenGossip(nowMs: Millis): void {
    const windowMs = this.options.settleMs + FAST_GOSSIP_ROUNDS_AFTER_SETTLE * this.options.gossipIntervalMs
    this.fastGossipUntilMs = Math.max(this.fastGossipUntilMs, nowMs + windowMs)
    this.nextGossipAtMs = Math.min(this.nextGossipAtMs, nowMs + this.options.gossipIntervalMs)
  }

  /** After merging `message`, whether the sender still lacks something we hold. */
  private differsFrom(message: PlacementState): boolean {
    const sameTable = message.table === undefined ? this.current === null : this.current !== null && compareVersions(this.current.version, message.table.version) === 'same'
    return !sameTable || digestEntries(message.buckets) !== this.ports.bucketProps.digest()
  }

  persistBucketProps(out: Out): void {
    this.ports.io.write([{ kind: 'put-meta', name: bucketPropsMetaName, value: this.ports.bucketProps.encode() }], 'durable', out, () => {})
  }

  private liveOthers(nowMs: Millis): MemberView[] {
    return this.ports.membership.members(nowMs)
      .filter((m) => m.id !== this.ports.self.id && m.state === 'alive')
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  private memberAddress(id: NodeId, nowMs: Millis): PeerAddress | null {
    return this.ports.membership.members(nowMs).find((m) => m.id === id)?.address ?? null
  }
}

/**
 * The nodes a table gives partitions to, sorted. Memoised per table object: the leader asks on every tick, and
 * flattening Q·N owners each time showed up at 3% of a loaded node's CPU. Tables are immutable once built, and a
 * WeakMap lookup is deterministic (unlike WeakRef), so the core stays replayable.
 */
const nodesByTable = new WeakMap<OwnershipTable, readonly NodeId[]>()

export function tableNodes(table: OwnershipTable): readonly NodeId[] {
  let nodes = nodesByTable.get(table)
  if (nodes === undefined) {
    nodes = Object.freeze([...new Set(table.owners.flat())].sort())
    nodesByTable.set(table, nodes)
  }
  return nodes
}

function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i])
}

function tableKey(table: OwnershipTable): string {
  return table.owners.map((list) => list.join(',')).join(';')
}

export function encodeTable(table: OwnershipTable): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(table))
}

export function decodeTable(bytes: Uint8Array): OwnershipTable | null {
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes)) as OwnershipTable
    const shaped = typeof value === 'object' && value !== null && Array.isArray(value.owners) &&
      value.owners.every((list) => Array.isArray(list) && list.every((id) => typeof id === 'string')) &&
      Number.isInteger(value.partitions) && Number.isInteger(value.n) &&
      Number.isSafeInteger(value.version?.leaderGeneration) && Number.isSafeInteger(value.version?.version)
    return shaped && tableProblems(value).length === 0 ? value : null
  } catch {
    return null
  }
}
