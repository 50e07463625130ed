/**
 * Identifiers and units shared by every core module. Plain strings and numbers at run time; the brands stop a
 * NodeId from being passed where a PeerAddress is expected, which is the mix-up that address-keyed protocols
 * make most often.
 */

/** A node's stable name, chosen by the operator (`--id`) or derived from its bind address. */
export type NodeId = string & { readonly __brand: 'NodeId' }

/** Where a node's cluster traffic goes: "host:port", shared by the UDP gossip and the TCP channel. */
export type PeerAddress = string & { readonly __brand: 'PeerAddress' }

/** Milliseconds, either a duration or a point on the clock the shell passes in as nowMs. */
export type Millis = number

/** Correlates a client request with its reply effect; unique within one node's lifetime. */
export type RequestId = number & { readonly __brand: 'RequestId' }

/** Correlates a storage effect with its storage-result input. */
export type OperationId = number & { readonly __brand: 'OperationId' }

/** Correlates a call effect (a request over the stream channel) with its call-result input. */
export type CallId = number & { readonly __brand: 'CallId' }

export const nodeId = (value: string): NodeId => value as NodeId
export const peerAddress = (value: string): PeerAddress => value as PeerAddress
export const requestId = (value: number): RequestId => value as RequestId
export const operationId = (value: number): OperationId => value as OperationId
export const callId = (value: number): CallId => value as CallId

/** Splits "host:port" into its parts; returns null when it is not of that shape. */
export function parseHostPort(value: string): { host: string; port: number } | null {
  const colon = value.lastIndexOf(':')
  if (colon <= 0) return null
  const host = value.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
  const portText = value.slice(colon + 1)
  if (!/^\d{1,5}$/.test(portText)) return null
  const port = Number(portText)
  if (port < 1 || port > 65_535) return null
  return { host, port }
}
