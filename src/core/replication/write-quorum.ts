/**
 * The write quorum as a pure accumulator (Riak's riak_kv_put_core, etcd's VoteResult): add each replica's answer,
 * ask whether the quorum is met, can no longer be met, or is still open. The coordinator owns the messages and
 * the deadline; this owns only the counting, so it can be checked against a naive count by a property test.
 *
 * A write is satisfied with `w` acknowledgements of which at least `pw` come from primaries (sloppy quorum lets
 * fallbacks count toward `w`, never toward `pw`). It has failed as soon as the acknowledgements already in plus
 * every answer still outstanding could not reach either bound: the coordinator then answers `unavailable` at once
 * instead of waiting for the deadline. Both outcomes are final, because acknowledgements only grow and
 * outstanding answers only shrink.
 */
import type { NodeId } from '../primitives/ids.ts'
import { assert } from '../primitives/assert.ts'
import type { QuorumStatus } from './quorum-tally.ts'
import { quorumStatus, tallyReplies } from './quorum-tally.ts'

export type { QuorumStatus } from './quorum-tally.ts'

export type WriteReply = 'ack' | 'nack'

export interface WriteQuorumSpec {
  /** Every replica asked, each once. */
  readonly targets: readonly NodeId[]
  /** The targets that are primaries of the partition (the rest are fallbacks). */
  readonly primaries: ReadonlySet<NodeId>
  readonly w: number
  readonly pw: number
}

export interface WriteQuorumOutcome {
  readonly status: QuorumStatus
  readonly required: number
  readonly acknowledged: number
  readonly requiredPrimaries: number
  readonly acknowledgedPrimaries: number
}

export class WriteQuorum {
  private readonly replies = new Map<NodeId, WriteReply>()

  constructor(private readonly spec: WriteQuorumSpec) {
    assert(new Set(spec.targets).size === spec.targets.length, 'write quorum targets must be distinct')
    assert(Number.isInteger(spec.w) && spec.w >= 1 && Number.isInteger(spec.pw) && spec.pw >= 0, () => `bad quorum w=${spec.w} pw=${spec.pw}`)
  }

  /** Records one answer. Answers from non-targets and repeated answers are ignored (duplicated messages). */
  add(from: NodeId, reply: WriteReply): void {
    if (!this.spec.targets.includes(from) || this.replies.has(from)) return
    this.replies.set(from, reply)
  }

  status(): QuorumStatus {
    return this.outcome().status
  }

  outcome(): WriteQuorumOutcome {
    const { targets, primaries, w, pw } = this.spec
    const tally = tallyReplies(targets, primaries, this.replies, (reply) => reply === 'ack')
    return {
      status: quorumStatus(tally, w, pw),
      required: w,
      acknowledged: tally.useful,
      requiredPrimaries: pw,
      acknowledgedPrimaries: tally.usefulPrimaries,
    }
  }

  /** True once every target has answered. */
  get complete(): boolean {
    return this.replies.size === this.spec.targets.length
  }
}
