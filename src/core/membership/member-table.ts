/**
 * The member table: what this node believes about every member, as one record per node id. A record is the
 * greatest update seen for that node under the order
 *
 *     (generation, left-within-generation, incarnation, state precedence alive < suspect < dead < left)
 *
 * which makes merging a join on a total order: updates applied in any order, any number of times, give the same
 * table (commutative, associative, idempotent), so gossip, push-pull and retransmits need no coordination.
 *
 * - A higher generation is a new life of the process (the generation clock): it replaces all older state of that
 *   node at once, so a restarted node is alive again without waiting for its old self to be declared dead.
 * - Within a generation, SWIM's rule: suspect or dead at the same incarnation overrides alive, and only the member
 *   itself can override them, by gossiping alive with a higher incarnation (refutation).
 * - `left` ends a generation: nothing later in the same generation revives it, and a late `left` from an older
 *   generation is stale like any other old update.
 *
 * Dead and left records are reaped after `deadMemberReapMs`, so the table does not grow without bound. The table
 * is pure bookkeeping: it never decides that anyone is suspect or dead.
 */
import { assert, unreachable } from '../primitives/assert.ts'
import type { Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { MemberMetadata, MemberState, MemberUpdate } from './membership-messages.ts'

export interface MemberRecord {
  readonly id: NodeId
  readonly address: PeerAddress
  readonly state: MemberState
  readonly generation: number
  readonly incarnation: number
  readonly metadata: MemberMetadata
  /** When this node last saw the record's state change; drives reaping. Local, never gossiped. */
  readonly stateChangedAtMs: Millis
}

/** Outcome of offering an update to the table. */
export type ApplyOutcome =
  | 'inserted' // first record for this node
  | 'replaced' // greater than the record we had
  | 'duplicate' // exactly the record we had (same generation, incarnation and state)
  | 'stale' // older than the record we had: ignored

export function statePrecedence(state: MemberState): number {
  switch (state) {
    case 'alive':
      return 0
    case 'suspect':
      return 1
    case 'dead':
      return 2
    case 'left':
      return 3
    default:
      return unreachable(state)
  }
}

interface OrderedKey {
  readonly generation: number
  readonly incarnation: number
  readonly state: MemberState
}

/**
 * The total order on member state. Warning: every merge in the cluster relies on this being a total order on
 * exactly these fields; adding a tie-break on anything local (arrival time, who told us) breaks convergence.
 */
export function compareMemberState(a: OrderedKey, b: OrderedKey): number {
  if (a.generation !== b.generation) return a.generation < b.generation ? -1 : 1
  const aLeft = a.state === 'left' ? 1 : 0
  const bLeft = b.state === 'left' ? 1 : 0
  if (aLeft !== bLeft) return aLeft - bLeft
  if (a.incarnation !== b.incarnation) return a.incarnation < b.incarnation ? -1 : 1
  return statePrecedence(a.state) - statePrecedence(b.state)
}

export function isLive(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect'
}

export class MemberTable {
  private readonly records = new Map<NodeId, MemberRecord>()
  private changes = 0
  /** all()'s answer for the table version it was built at: φ checks and leader lookups ask on every tick. */
  private sorted: { readonly version: number; readonly records: readonly MemberRecord[] } | null = null

  get size(): number {
    return this.records.size
  }

  /** Grows on every insert, replacement and removal: a reader that saw this value has seen the table as it is. */
  get version(): number {
    return this.changes
  }

  get(id: NodeId): MemberRecord | undefined {
    return this.records.get(id)
  }

  /** All records sorted by node id, so that callers iterating it (and random picks from it) are deterministic. */
  all(): readonly MemberRecord[] {
    // Records are replaced, never changed in place, and every replacement bumps `changes`: a cached array is exact.
    if (this.sorted?.version !== this.changes) {
      const records = [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      this.sorted = { version: this.changes, records }
    }
    return this.sorted.records
  }

  /** Members alive or suspect (ourselves included), without sorting: called on every tick. */
  liveCount(): number {
    let count = 0
    for (const record of this.records.values()) if (isLive(record.state)) count++
    return count
  }

  /** The record that owns `address` now, preferring a live one (a restarted node may reuse a dead one's address). */
  byAddress(address: PeerAddress): MemberRecord | undefined {
    let found: MemberRecord | undefined
    for (const record of this.records.values()) {
      if (record.address !== address) continue
      if (isLive(record.state)) return record
      found ??= record
    }
    return found
  }

  /** Merges one update; the record afterwards is the greater of the two. */
  apply(update: MemberUpdate, nowMs: Millis): ApplyOutcome {
    assertWellFormed(update)
    const current = this.records.get(update.node)
    if (current === undefined) {
      this.records.set(update.node, toRecord(update, nowMs))
      this.changes++
      return 'inserted'
    }
    const order = compareMemberState({ ...update, state: update.kind }, current)
    if (order < 0) return 'stale'
    if (order === 0) return 'duplicate'
    this.records.set(update.node, toRecord(update, nowMs))
    this.changes++
    const stored = this.records.get(update.node) as MemberRecord
    assert(compareMemberState(stored, current) > 0, () => `member ${update.node} state went backwards`)
    return 'replaced'
  }

  /** Removes dead and left records whose state is older than `reapAfterMs`; returns the ids removed, sorted. */
  reap(nowMs: Millis, reapAfterMs: Millis): NodeId[] {
    const removed: NodeId[] = []
    for (const record of this.all()) {
      if (isLive(record.state)) continue
      if (nowMs - record.stateChangedAtMs < reapAfterMs) continue
      this.records.delete(record.id)
      this.changes++
      removed.push(record.id)
    }
    return removed
  }

  /** Removes a record outright (the caller's own bookkeeping, never gossip). */
  delete(id: NodeId): void {
    if (this.records.delete(id)) this.changes++
  }
}

function toRecord(update: MemberUpdate, nowMs: Millis): MemberRecord {
  return {
    id: update.node,
    address: update.address,
    state: update.kind,
    generation: update.generation,
    incarnation: update.incarnation,
    metadata: update.metadata,
    stateChangedAtMs: nowMs,
  }
}

/** Swim drops malformed gossip before it gets here (`isWellFormedUpdate`); reaching this is a bug. */
function assertWellFormed(update: MemberUpdate): void {
  assert(Number.isSafeInteger(update.generation) && update.generation >= 0, () => `bad generation ${update.generation}`)
  assert(Number.isSafeInteger(update.incarnation) && update.incarnation >= 0, () => `bad incarnation ${update.incarnation}`)
}

/** The update that restates a record (for push-pull and for re-gossiping what we hold). */
export function recordToUpdate(record: MemberRecord, accuser: NodeId): MemberUpdate {
  const fields = {
    node: record.id,
    address: record.address,
    generation: record.generation,
    incarnation: record.incarnation,
    metadata: record.metadata,
  }
  switch (record.state) {
    case 'alive':
      return { kind: 'alive', ...fields }
    case 'suspect':
      return { kind: 'suspect', ...fields, accuser }
    case 'dead':
      return { kind: 'dead', ...fields, accuser }
    case 'left':
      return { kind: 'left', ...fields }
    default:
      return unreachable(record.state)
  }
}
