/**
 * The emergent leader: the oldest live member, ordered by (generation, node id). The generation is the start
 * time in unix seconds (or stored + 1), so "oldest" is the member that has been up longest; the node id breaks
 * ties. No election: every member computes it from its own view, so two members may briefly disagree while
 * views differ; leader tasks are idempotent and their outputs versioned for exactly that reason (DESIGN.md 3).
 * A restarted leader comes back with a younger generation and so does not snatch leadership back.
 */
import type { NodeId } from '../primitives/ids.ts'
import type { MemberState } from './membership-messages.ts'

export interface LeaderCandidate {
  readonly id: NodeId
  readonly generation: number
  readonly state: MemberState
}

/**
 * Alive and suspect members are candidates: a suspicion is not yet a verdict, and dropping a suspected leader
 * would make leadership flap on every false suspicion.
 */
export function emergentLeader(members: Iterable<LeaderCandidate>): NodeId | null {
  let best: LeaderCandidate | null = null
  for (const member of members) {
    if (member.state !== 'alive' && member.state !== 'suspect') continue
    if (best === null || isOlder(member, best)) best = member
  }
  return best === null ? null : best.id
}

function isOlder(a: LeaderCandidate, b: LeaderCandidate): boolean {
  if (a.generation !== b.generation) return a.generation < b.generation
  return a.id < b.id
}
