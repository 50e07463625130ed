/**
 * What the HTTP API needs from a node: hand it a client request and await the one reply, plus two readings for
 * /metrics and load shedding. The production implementation is the NodeRuntime (start-node.ts); route tests use
 * a fake that records what it was asked.
 */
import type { ClientRequest, ClientResponse } from '../core/node/client.ts'
import type { TransportStats } from '../transport/transport.ts'

export interface ApiBackend {
  request(request: ClientRequest): Promise<ClientResponse>
  transportStats(): TransportStats
  /** The recent maximum event-loop lag; above ApiOptions.maxEventLoopLagMs new requests are shed. */
  eventLoopLagMs(): number
}
