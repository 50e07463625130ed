/**
 * The read quorum as a pure accumulator (Riak's riak_kv_get_core): add each replica's answer, ask whether `r`
 * answers (of which `pr` from primaries) are in, and take the outcome: the merge of every object received and
 * the replicas whose copy differs from that merge, which read repair then brings up to date.
 *
 * A replica that answered `missing` holds nothing; it counts toward the quorum (it answered) and is repaired
 * if the merge holds anything. A `failed` answer (storage error, unreachable) counts as no answer. Differences are
 * judged on the canonical encoding (object-codec.ts gives one object exactly one encoding), so "differs" means
 * exactly "the merge would change it". A `found` reply carries the bytes it arrived as (the replica-read-reply
 * frame, or the stored value of a local read), so only the merge is encoded, once, never each reply again.
 *
 * Partial asking (issue 6): each replica read costs a storage read, two frames and a decode, so the coordinator
 * asks only as many targets as can meet r and pr, and more when one fails or a speculative delay passes. The
 * accumulator records which targets were asked: `askNext` picks the fewest unasked targets (in the caller's
 * order) that make the quorum reachable again from the asked ones, `askRest` all the others. A target not yet
 * asked still counts as outstanding in `status()`, because it can still be asked; `complete` means every asked
 * target answered and none will be asked any more, which is when read repair may run.
 *
 * Pure; the merge function is the bucket's (dotted version vectors or last-write-wins).
 */
import type { NodeId } from '../primitives/ids.ts'
import { assert } from '../primitives/assert.ts'
import type { DottedVersionVectorSet } from '../versioning/sibling.ts'
import { emptyObject } from '../versioning/sibling.ts'
import { encodeObject } from '../versioning/object-codec.ts'
import type { QuorumStatus } from './quorum-tally.ts'
import { quorumStatus, tallyReplies } from './quorum-tally.ts'

export type ReadReply =
  /** `encoded` is the canonical encoding of `object`, as received: compared for repairs without re-encoding. */
  | { readonly kind: 'found'; readonly object: DottedVersionVectorSet; readonly encoded: Uint8Array }
  | { readonly kind: 'missing' }
  | { readonly kind: 'failed' }

export interface ReadQuorumSpec {
  readonly targets: readonly NodeId[]
  readonly primaries: ReadonlySet<NodeId>
  readonly r: number
  readonly pr: number
  readonly merge: (a: DottedVersionVectorSet, b: DottedVersionVectorSet) => DottedVersionVectorSet
}

export interface ReadQuorumOutcome {
  readonly status: QuorumStatus
  /** Merge of every object received so far (the empty object when none). */
  readonly merged: DottedVersionVectorSet
  /** encodeObject(merged), or null when the merge is empty: read repair sends these bytes as they are. */
  readonly mergedEncoded: Uint8Array | null
  /** Replicas that answered with a copy other than `merged` (older, divergent or missing). */
  readonly repairs: readonly NodeId[]
  readonly required: number
  readonly answered: number
}

export class ReadQuorum {
  private readonly replies = new Map<NodeId, ReadReply>()
  private readonly asked = new Set<NodeId>()
  private mergedObject: DottedVersionVectorSet = emptyObject
  /**
   * The bytes every object merged so far arrived as, while they were all the same (null once two differed, or
   * before any). Replicas in sync answer byte for byte alike: a reply with these bytes holds the merge already,
   * so it needs no merge, and the outcome needs no encoding to find the copies to repair.
   */
  private agreedBytes: Uint8Array | null = null
  private found = 0

  constructor(private readonly spec: ReadQuorumSpec) {
    assert(new Set(spec.targets).size === spec.targets.length, 'read quorum targets must be distinct')
    assert(Number.isInteger(spec.r) && spec.r >= 1 && Number.isInteger(spec.pr) && spec.pr >= 0, () => `bad quorum r=${spec.r} pr=${spec.pr}`)
  }

  add(from: NodeId, reply: ReadReply): void {
    if (!this.spec.targets.includes(from) || this.replies.has(from)) return
    this.replies.set(from, reply)
    if (reply.kind !== 'found') return
    if (this.found++ === 0) {
      this.mergedObject = reply.object
      this.agreedBytes = reply.encoded
    } else if (this.agreedBytes === null || !sameBytes(this.agreedBytes, reply.encoded)) {
      this.mergedObject = this.spec.merge(this.mergedObject, reply.object)
      this.agreedBytes = null
    }
  }

  /** The canonical bytes of `merged` when every object received so far had exactly these bytes; else null. */
  get agreedEncoding(): Uint8Array | null {
    return this.agreedBytes
  }

  /** The merge of every object received so far; cheaper than outcome() when only the answer is needed. */
  get merged(): DottedVersionVectorSet {
    return this.mergedObject
  }

  /**
   * The targets to ask now, in `order` (a permutation of the targets, most preferred first): the fewest unasked
   * ones that, with the asked ones still useful or outstanding, can meet both r and pr. Nothing while the
   * quorum is decided. Each target is returned once over the accumulator's life; it counts as asked from then on.
   */
  askNext(order: readonly NodeId[]): NodeId[] {
    if (this.status() !== 'pending') return []
    const { primaries, r, pr } = this.spec
    const tally = tallyReplies([...this.asked], primaries, this.replies, (reply) => reply.kind !== 'failed')
    let needPrimaries = Math.max(0, pr - tally.usefulPrimaries - tally.outstandingPrimaries)
    let slots = Math.max(needPrimaries, r - tally.useful - tally.outstanding)
    const chosen: NodeId[] = []
    for (const target of this.unasked(order)) {
      if (slots === 0) break
      const primary = primaries.has(target)
      // A fallback may take a slot only while the slots left exceed the primaries still needed.
      if (!primary && slots <= needPrimaries) continue
      chosen.push(target)
      slots--
      if (primary && needPrimaries > 0) needPrimaries--
    }
    for (const target of chosen) this.asked.add(target)
    return chosen
  }

  /** Every target not asked yet, in `order`, while the quorum is undecided (the speculative delay passed). */
  askRest(order: readonly NodeId[]): NodeId[] {
    if (this.status() !== 'pending') return []
    const chosen = this.unasked(order)
    for (const target of chosen) this.asked.add(target)
    return chosen
  }

  /**
   * No more answers will matter: every target answered, or the quorum is decided and every target asked has
   * answered. While it is pending with every asked target answered, askNext has targets left to offer (else the
   * status would be `failed`), so a caller that tops up after each answer never stalls short of complete.
   */
  get complete(): boolean {
    if (this.replies.size === this.spec.targets.length) return true
    if (this.status() === 'pending') return false
    for (const target of this.asked) if (!this.replies.has(target)) return false
    return true
  }

  /** Targets asked so far (tests and counters). */
  get askedCount(): number {
    return this.asked.size
  }

  private unasked(order: readonly NodeId[]): NodeId[] {
    assert(order.length === this.spec.targets.length && order.every((t) => this.spec.targets.includes(t)), 'the asking order must be a permutation of the targets')
    return order.filter((target) => !this.asked.has(target) && !this.replies.has(target))
  }

  status(): QuorumStatus {
    const { targets, primaries, r, pr } = this.spec
    return quorumStatus(tallyReplies(targets, primaries, this.replies, (reply) => reply.kind !== 'failed'), r, pr)
  }

  outcome(): ReadQuorumOutcome {
    const merged = this.mergedObject
    const isEmpty = merged.history.length === 0 && merged.siblings.length === 0
    const encoded = isEmpty ? null : (this.agreedBytes ?? encodeObject(merged))
    const repairs: NodeId[] = []
    let answered = 0
    for (const [from, reply] of this.replies) {
      if (reply.kind === 'failed') continue
      answered++
      if (reply.kind === 'missing') {
        if (encoded !== null) repairs.push(from)
      } else if (encoded !== null && !sameBytes(reply.encoded, encoded)) {
        repairs.push(from)
      }
    }
    return { status: this.status(), merged, mergedEncoded: encoded, repairs, required: this.spec.r, answered }
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
