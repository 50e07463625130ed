/**
 * The Transport port: how a shell moves Messages between nodes. Two carriers, as in memberlist: unreliable
 * datagrams (UDP, ≤ maxDatagramBytes, for gossip) and one reliable, ordered stream per peer pair (TCP, for
 * everything else) that supports one-way sends and calls (request/response with a per-call timeout).
 *
 * Implementations: UdpTcpTransport (src/transport, real sockets) and SimTransport (src/sim, the simulated
 * network). Both must pass test/transport/transport-contract.ts. The port is callback-based, not
 * promise-based, so the simulator can complete every callback on its own event queue.
 */
import type { CallOutcome, CallFailure, Carrier } from '../core/node/input.ts'
import type { Message } from '../core/node/message.ts'
import type { Millis, PeerAddress } from '../core/primitives/ids.ts'

export interface TransportHandlers {
  /** A one-way message from a peer, by either carrier. */
  onMessage(from: PeerAddress, carrier: Carrier, message: Message): void
  /** A call from a peer; `respond` must be called at most once (later calls are ignored). */
  onCall(from: PeerAddress, message: Message, respond: (answer: Message) => void): void
  /** A one-way send that the transport learned could not be delivered (for example ECONNREFUSED). */
  onSendFailed?(to: PeerAddress, reason: CallFailure): void
}

export interface TransportStats {
  readonly datagramsSent: number
  readonly datagramsReceived: number
  readonly framesSent: number
  readonly framesReceived: number
  readonly bytesSent: number
  readonly bytesReceived: number
  /** Datagrams and frames that failed to decode, authenticate or validate: dropped and counted, never thrown. */
  readonly malformedDropped: number
  /**
   * Messages sent, by kind and carrier, with the bytes written for them (the datagram or frame envelope
   * included, IP and TCP/UDP headers not). Optional: a transport that cannot attribute its bytes leaves it out.
   */
  readonly sentByKind?: TrafficByKind
}

/** Messages of one kind sent on one carrier since the transport opened. `hello` is the TCP channel's greeting. */
export interface TrafficCount {
  readonly kind: string
  readonly carrier: 'datagram' | 'stream'
  readonly messages: number
  readonly bytes: number
}

export type TrafficByKind = readonly TrafficCount[]

export interface Transport {
  readonly localAddress: PeerAddress
  /** Starts delivering to the handlers. Must be called once before any traffic is expected. */
  listen(handlers: TransportHandlers): void
  /** Fire and forget. Oversized or unencodable messages are a programming error and throw. */
  send(to: PeerAddress, carrier: Carrier, message: Message): void
  /** Exactly one callback per call: the answer, or a failure (timeout, refused, connection lost, overloaded). */
  call(to: PeerAddress, message: Message, timeoutMs: Millis, callback: (outcome: CallOutcome) => void): void
  stats(): TransportStats
  /** Stops listening and fails every pending call with `connection-lost`. */
  close(): Promise<void>
}
