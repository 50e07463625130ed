/**
 * A scenario's client: sends a request to a node and waits for its answer, sending it again every 250 ms until
 * `accept` likes the answer or `untilMs` passes (polling with a deadline on the simulated clock, never sleeping).
 */
import type { ClientResponse } from '../core/node/client.ts'
import type { Millis } from '../core/primitives/ids.ts'
import type { SimNode } from './sim-node.ts'
import type { World } from './world.ts'

const POLL_MS = 50
const RETRY_MS = 250

export function askUntil(
  world: World,
  node: SimNode,
  request: Parameters<World['clientRequest']>[1],
  untilMs: Millis,
  accept: (response: ClientResponse) => boolean,
  done: (response: ClientResponse | null) => void,
): void {
  const id = world.clientRequest(node.id, request)
  const poll = (): void => {
    const outcome = world.cluster.outcome(id)
    if (outcome === undefined) return world.schedule(POLL_MS, poll)
    if (outcome.kind === 'response' && accept(outcome.response)) return done(outcome.response)
    if (world.nowMs + RETRY_MS > untilMs) return done(outcome.kind === 'response' ? outcome.response : null)
    world.schedule(RETRY_MS, () => askUntil(world, node, request, untilMs, accept, done))
  }
  world.schedule(POLL_MS, poll)
}
