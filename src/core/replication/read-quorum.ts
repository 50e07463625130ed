/**
 * The read quorum as a pure accumulator (Riak's riak_kv_get_core): add each replica's answer, ask whether `r`
 * answers (of which `pr` from primaries) are in, and take the outcome: the merge of every object received and
 * the replicas whose copy differs from that merge, which read repair then brings up to date.
 *
 * A replica that answered `missing` holds nothing; it counts toward the quorum (it answered) and is repaired
 * if the merge holds anything. A `failed` answer (storage error, unreachable) counts as no answer. Differences are
 * judged on the canonical encoding (object-codec.ts gives one object exactly one encoding), so "differs" means
 * exactly "the merge would change it".
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
  | { readonly kind: 'found'; readonly object: DottedVersionVectorSet }
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
  /** Replicas that answered with a copy other than `merged` (older, divergent or missing). */
  readonly repairs: readonly NodeId[]
  readonly required: number
  readonly answered: number
}

export class ReadQuorum {
  private readonly replies = new Map<NodeId, ReadReply>()
  private merged: DottedVersionVectorSet = emptyObject

  constructor(private readonly spec: ReadQuorumSpec) {
    assert(new Set(spec.targets).size === spec.targets.length, 'read quorum targets must be distinct')
    assert(Number.isInteger(spec.r) && spec.r >= 1 && Number.isInteger(spec.pr) && spec.pr >= 0, `bad quorum r=${spec.r} pr=${spec.pr}`)
  }

  add(from: NodeId, reply: ReadReply): void {
    if (!this.spec.targets.includes(from) || this.replies.has(from)) return
    this.replies.set(from, reply)
    if (reply.kind === 'found') this.merged = this.spec.merge(this.merged, reply.object)
  }

  get complete(): boolean {
    return this.replies.size === this.spec.targets.length
  }

  status(): QuorumStatus {
    const { targets, primaries, r, pr } = this.spec
    return quorumStatus(tallyReplies(targets, primaries, this.replies, (reply) => reply.kind !== 'failed'), r, pr)
  }

  outcome(): ReadQuorumOutcome {
    const merged = this.merged
    const isEmpty = merged.history.length === 0 && merged.siblings.length === 0
    const encoded = isEmpty ? null : encodeObject(merged)
    const repairs: NodeId[] = []
    let answered = 0
    for (const [from, reply] of this.replies) {
      if (reply.kind === 'failed') continue
      answered++
      if (reply.kind === 'missing') {
        if (encoded !== null) repairs.push(from)
      } else if (encoded !== null && !sameBytes(encodeObject(reply.object), encoded)) {
        repairs.push(from)
      }
    }
    return { status: this.status(), merged, repairs, required: this.spec.r, answered }
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
