/**
 * What the shell feeds into a node: the passage of time, a message from a peer, the result of a call the node
 * made over the stream channel, a client request from the API, or the outcome of a storage effect.
 * Time itself is not part of an input: `step(input, nowMs)` carries it.
 */
import type { CallId, Millis, OperationId, PeerAddress, RequestId } from '../primitives/ids.ts'
import type { Message } from './message.ts'
import type { ClientRequest } from './client.ts'
import type { StorageResult } from './storage-operation.ts'

/** How a message travelled: one UDP datagram, or a frame on the single TCP channel to that peer. */
export type Carrier = 'datagram' | 'stream'

export interface TickInput {
  readonly kind: 'tick'
  /** How late the shell's timer fired, if it measured it: event-loop lag counts against local health. */
  readonly lagMs?: Millis
  /**
   * The wall clock (ms since the Unix epoch) when the tick fired. The core's only source of calendar time: the
   * hybrid logical clock stamps writes with it (extrapolated between ticks on nowMs). Shells fill it on every
   * tick; absent, the node keeps the last reading it had.
   */
  readonly wallClockMs?: Millis
}

export interface PacketInput {
  readonly kind: 'packet'
  readonly from: PeerAddress
  readonly carrier: Carrier
  readonly message: Message
}

/** A request that arrived over the stream channel and expects exactly one `respond` effect. */
export interface CallInput {
  readonly kind: 'call'
  readonly from: PeerAddress
  readonly callId: CallId
  readonly message: Message
}

/**
 * Why a call or a send failed. `refused` is strong evidence that the peer's process is gone (its port is
 * closed); `timeout` and `unreachable` are only silence.
 */
export type CallFailure = 'timeout' | 'refused' | 'connection-lost' | 'unreachable' | 'overloaded'

export type CallOutcome =
  | { readonly kind: 'ok'; readonly message: Message }
  | { readonly kind: 'failed'; readonly reason: CallFailure }

export interface CallResultInput {
  readonly kind: 'call-result'
  readonly callId: CallId
  readonly to: PeerAddress
  readonly outcome: CallOutcome
}

/** A one-way send that the transport could not deliver (for example ECONNREFUSED on a connected UDP socket). */
export interface SendFailedInput {
  readonly kind: 'send-failed'
  readonly to: PeerAddress
  readonly reason: CallFailure
}

export interface ClientRequestInput {
  readonly kind: 'client-request'
  readonly requestId: RequestId
  readonly request: ClientRequest
}

export interface StorageResultInput {
  readonly kind: 'storage-result'
  readonly operationId: OperationId
  readonly result: StorageResult
}

export type Input =
  | TickInput
  | PacketInput
  | CallInput
  | CallResultInput
  | SendFailedInput
  | ClientRequestInput
  | StorageResultInput
