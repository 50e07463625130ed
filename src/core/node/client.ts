/**
 * Client requests as the core sees them, after src/api has parsed and validated HTTP. The core answers each
 * with exactly one reply effect carrying a ClientResponse; only src/api maps responses to HTTP statuses.
 */
import type { NodeId } from '../primitives/ids.ts'

export interface HealthRequest {
  readonly kind: 'health'
}

export type ClientRequest = HealthRequest

export type ClientResponse =
  | { readonly kind: 'health'; readonly id: NodeId; readonly status: 'ok' }
  | { readonly kind: 'error'; readonly code: string; readonly message: string }
