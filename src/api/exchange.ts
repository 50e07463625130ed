/**
 * One HTTP request in flight, as every handler sees it: the raw request and response, the path parameters the
 * route captured (still percent-encoded: each handler decodes and validates its own), the query, and the
 * node-wide ports and options. Handlers throw ChorusError for anything that is not a success; the server turns
 * it into a JSON error with the right status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ApiBackend } from './api-backend.ts'
import type { ApiOptions } from './api-options.ts'
import type { NodeMetrics } from './metrics.ts'

export interface Exchange {
  readonly request: IncomingMessage
  readonly response: ServerResponse
  readonly params: readonly string[]
  readonly query: URLSearchParams
  readonly backend: ApiBackend
  readonly metrics: NodeMetrics
  readonly options: ApiOptions
}

export type Handler = (exchange: Exchange) => Promise<void>
