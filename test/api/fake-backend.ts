/**
 * A fake node behind the API for route tests: it records every client request it receives and answers from a
 * script (a function of the request), so a test can say both "the node answered X" and "the node was never asked".
 * The server runs on 127.0.0.1 port 0; nothing else is started.
 */
import type { ClientRequest, ClientResponse } from '../../src/core/node/client.ts'
import type { ApiBackend } from '../../src/api/api-backend.ts'
import { ApiServer } from '../../src/api/http-server.ts'
import type { ApiOptions } from '../../src/api/api-options.ts'
import { NodeMetrics } from '../../src/api/metrics.ts'
import type { TransportStats } from '../../src/transport/transport.ts'

export type Script = (request: ClientRequest) => ClientResponse | Promise<ClientResponse>

const zeroStats: TransportStats = {
  datagramsSent: 0,
  datagramsReceived: 0,
  framesSent: 0,
  framesReceived: 0,
  bytesSent: 0,
  bytesReceived: 0,
  malformedDropped: 0,
}

export class FakeBackend implements ApiBackend {
  readonly received: ClientRequest[] = []
  lagMs = 0

  constructor(public script: Script = notImplemented) {}

  async request(request: ClientRequest): Promise<ClientResponse> {
    this.received.push(request)
    return this.script(request)
  }

  transportStats(): TransportStats {
    return zeroStats
  }

  eventLoopLagMs(): number {
    return this.lagMs
  }

  /** The requests that could have read or changed data (everything but health checks). */
  kinds(): string[] {
    return this.received.map((request) => request.kind)
  }
}

export function notImplemented(request: ClientRequest): ClientResponse {
  if (request.kind === 'health') return { kind: 'health', id: 'fake-1' as never, status: 'ok' }
  return { kind: 'error', code: 'UNAVAILABLE', message: `${request.kind} is not implemented by this node yet` }
}

export interface FakeServer {
  readonly url: string
  readonly backend: FakeBackend
  readonly metrics: NodeMetrics
  close(): Promise<void>
}

export async function startFakeServer(script: Script = notImplemented, options: Partial<ApiOptions> = {}): Promise<FakeServer> {
  const backend = new FakeBackend(script)
  const metrics = new NodeMetrics('fake-1')
  const server = new ApiServer(backend, metrics, options)
  const address = await server.listen('127.0.0.1', 0)
  return { url: `http://127.0.0.1:${address.port}`, backend, metrics, close: () => server.close() }
}
