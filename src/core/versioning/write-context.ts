/**
 * The causal context a PUT hands back (X-Context on 204): what the writer has seen, which is its own context
 * plus the dot its write just created, and nothing more.
 *
 * Handing back the whole object's history would be wrong: it also covers siblings that other clients wrote
 * concurrently and that this writer never saw, so its next write with that context would silently supersede them
 * (a lost write that every checker would call "covered"). A version vector cannot say "only this dot": an entry
 * (actor, c) covers every (actor, c' ≤ c). So if the object still holds a live sibling of the same actor with a
 * lower counter that the writer's context did not cover, adding the new dot would cover it too; then the safe
 * answer is the writer's own context alone. The cost is a false sibling of the writer's own value on its next
 * blind reuse of that context, never a lost write. A client that wants the full context asks for it with
 * returnbody=true, where it also sees every sibling it covers.
 */
import type { Dot } from './actor.ts'
import type { DottedVersionVectorSet } from './sibling.ts'
import type { VersionVector } from './version-vector.ts'
import { coversDot, emptyVersionVector, joinVersionVectors } from './version-vector.ts'

export function contextAfterWrite(object: DottedVersionVectorSet, clientContext: VersionVector | null, newDot: Dot): VersionVector {
  const seen = clientContext ?? emptyVersionVector
  const candidate = joinVersionVectors(seen, [{ node: newDot.node, generation: newDot.generation, counter: newDot.counter }])
  const coversUnseenValue = object.siblings.some(
    (sibling) =>
      sibling.content.kind === 'value' &&
      !sameDot(sibling.dot, newDot) &&
      coversDot(candidate, sibling.dot) &&
      !coversDot(seen, sibling.dot),
  )
  return coversUnseenValue ? seen : candidate
}

function sameDot(a: Dot, b: Dot): boolean {
  return a.node === b.node && a.generation === b.generation && a.counter === b.counter
}
