/**
 * The counting both quorum accumulators share: how many targets answered usefully (all of them, and primaries
 * alone) and how many are still outstanding, and from that the status. A quorum is satisfied with `need` useful
 * answers of which `needPrimaries` come from primaries; it has failed as soon as the useful answers in plus every
 * answer still outstanding cannot reach either bound. Both outcomes are final: useful answers only grow and
 * outstanding ones only shrink.
 */
import type { NodeId } from '../primitives/ids.ts'

export type QuorumStatus = 'pending' | 'satisfied' | 'failed'

export interface QuorumTally {
  readonly useful: number
  readonly usefulPrimaries: number
  readonly outstanding: number
  readonly outstandingPrimaries: number
}

export function tallyReplies<R>(
  targets: readonly NodeId[],
  primaries: ReadonlySet<NodeId>,
  replies: ReadonlyMap<NodeId, R>,
  isUseful: (reply: R) => boolean,
): QuorumTally {
  let useful = 0
  let usefulPrimaries = 0
  let outstanding = 0
  let outstandingPrimaries = 0
  for (const target of targets) {
    const reply = replies.get(target)
    const primary = primaries.has(target)
    if (reply === undefined) {
      outstanding++
      if (primary) outstandingPrimaries++
    } else if (isUseful(reply)) {
      useful++
      if (primary) usefulPrimaries++
    }
  }
  return { useful, usefulPrimaries, outstanding, outstandingPrimaries }
}

export function quorumStatus(tally: QuorumTally, need: number, needPrimaries: number): QuorumStatus {
  if (tally.useful >= need && tally.usefulPrimaries >= needPrimaries) return 'satisfied'
  if (tally.useful + tally.outstanding < need || tally.usefulPrimaries + tally.outstandingPrimaries < needPrimaries) return 'failed'
  return 'pending'
}
