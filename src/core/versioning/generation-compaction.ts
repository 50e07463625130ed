/**
 * Keeps version vectors from growing by one entry per node restart. Every start gives a node a new generation,
 * hence a new actor, and each actor that ever wrote a key leaves an entry in that key's history.
 *
 * Why this needs knowledge from outside the object. An entry (node, g) → n is what makes a replica discard a
 * stale sibling with dot (node, g, k ≤ n) that another replica still holds after this one superseded it. Drop
 * the entry and that sibling comes back on the next merge (a resurrected value, or an undone delete). Fold it
 * into anything coarser (say "all of node's generations below g2") and the history claims dots it never saw, and
 * a write that is still on its way from another replica is discarded on arrival: a lost write. Nothing inside one
 * object can tell whether some replica, hint or in-flight message still carries a (node, g) sibling, so
 * compaction is exact only under a cluster-wide fact that the replication layer establishes and passes in:
 *
 *   RetiredGenerations: for node X, every generation below G has ended (X has started generation ≥ G, so it
 *   mints no more dots for them) and, since then, an anti-entropy round over every replica of the partition has
 *   completed with the hints for it drained. The same low-water mark that lets tombstones be reaped.
 *
 * Under that fact every surviving (X, g < G) sibling is on every replica; any other (X, g) dot is superseded
 * everywhere and exists nowhere. Dropping the entry therefore changes coverage only for dots that can never
 * appear again, unless a sibling still carries one, and then the entry is kept (the sibling needs it). Contexts
 * that clients still hold may name a dropped entry; joining one back in is harmless for the same reason.
 * The DottedDB work (Gonçalves et al., "Concise Server-Wide Causality Management", 2017) strips per-key causal
 * metadata on the same kind of replica-wide watermark. Do not "simplify" this into a local rule.
 */
import type { Actor } from './actor.ts'
import { sameActor } from './actor.ts'
import type { NodeId } from '../primitives/ids.ts'
import type { DottedVersionVectorSet } from './sibling.ts'
import type { VersionVectorEntry } from './version-vector.ts'

/** Per node, the lowest generation that is not yet retired and replicated everywhere (see the header). */
export type RetiredGenerations = ReadonlyMap<NodeId, number>

/** Drops history entries of retired generations that no sibling needs. Returns the same object when unchanged. */
export function compactRetiredGenerations(
  object: DottedVersionVectorSet,
  retired: RetiredGenerations,
): DottedVersionVectorSet {
  const history = object.history.filter((entry) => !isDroppable(object, entry, retired))
  return history.length === object.history.length ? object : { history, siblings: object.siblings }
}

/**
 * Entries of a node that also has a later generation in the same history and that no sibling needs: what
 * compaction would drop once the replication layer's low-water mark passes them. A metric, not a licence.
 */
export function supersededGenerations(object: DottedVersionVectorSet): Actor[] {
  const out: Actor[] = []
  for (let i = 0; i < object.history.length; i++) {
    const entry = object.history[i] as VersionVectorEntry
    const next = object.history[i + 1]
    const laterGenerationOfSameNode = next !== undefined && next.node === entry.node
    if (laterGenerationOfSameNode && !neededBySibling(object, entry)) out.push({ node: entry.node, generation: entry.generation })
  }
  return out
}

function isDroppable(object: DottedVersionVectorSet, entry: VersionVectorEntry, retired: RetiredGenerations): boolean {
  const retiredBelow = retired.get(entry.node)
  return retiredBelow !== undefined && entry.generation < retiredBelow && !neededBySibling(object, entry)
}

function neededBySibling(object: DottedVersionVectorSet, actor: Actor): boolean {
  return object.siblings.some((sibling) => sameActor(sibling.dot, actor))
}
