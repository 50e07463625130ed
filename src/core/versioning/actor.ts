/**
 * Actors and dots: who minted a version. Actors are servers, never clients (Dotted Version Vectors, Preguiça et
 * al., 2012), so a version vector holds one entry per replica that ever coordinated a write, not one per client.
 *
 * An actor is (node id, generation). The generation is the node's start counter that the storage layer raises on
 * every start to max(stored + 1, unix seconds), so it never repeats even when the disk was wiped. That is the fix
 * for Riak's key amnesia (riak_kv#679): a node that lost its data and restarted under the same id would otherwise
 * mint dot (node, 1) again, and every replica that had already seen the old (node, 1) would silently drop the new
 * write as "already known". With the generation in the actor, the new write's dot is one nobody has seen.
 *
 * Pure data and total orders; the orders are what make every encoding and every merge deterministic.
 */
import { assert } from '../primitives/assert.ts'
import type { NodeId } from '../primitives/ids.ts'
import { isWellFormedText, utf8Length } from './byte-writer.ts'

/** A node id is a map key in every vector and travels in every context, so it is kept short. */
export const MAX_NODE_ID_BYTES = 255

export interface Actor {
  readonly node: NodeId
  /** Raised on every start of the node; ≥ 1, a safe integer (unix seconds fit until the year 285 million). */
  readonly generation: number
}

/** The event that created one sibling: the `counter`-th write minted by actor (node, generation). */
export interface Dot extends Actor {
  /** ≥ 1; the first write an actor mints for a key is counter 1. */
  readonly counter: number
}

export function isValidActor(actor: Actor): boolean {
  return (
    typeof actor.node === 'string' &&
    actor.node.length > 0 &&
    utf8Length(actor.node) <= MAX_NODE_ID_BYTES &&
    isWellFormedText(actor.node) &&
    Number.isSafeInteger(actor.generation) &&
    actor.generation >= 1
  )
}

export function makeActor(node: NodeId, generation: number): Actor {
  const actor: Actor = { node, generation }
  assert(isValidActor(actor), () => `invalid actor ${JSON.stringify(actor)}: node id 1..${MAX_NODE_ID_BYTES} bytes, generation ≥ 1`)
  return actor
}

/**
 * Orders actors by node id (UTF-16 code units, the same on every platform), then generation. Never use
 * localeCompare here: it depends on the host's locale, and two replicas would encode the same vector differently.
 */
export function compareActors(a: Actor, b: Actor): number {
  if (a.node !== b.node) return a.node < b.node ? -1 : 1
  return a.generation - b.generation
}

export function compareDots(a: Dot, b: Dot): number {
  return compareActors(a, b) || a.counter - b.counter
}

export function sameActor(a: Actor, b: Actor): boolean {
  return a.node === b.node && a.generation === b.generation
}

export function sameDot(a: Dot, b: Dot): boolean {
  return sameActor(a, b) && a.counter === b.counter
}

export function formatDot(dot: Dot): string {
  return `${dot.node}/${dot.generation}:${dot.counter}`
}
