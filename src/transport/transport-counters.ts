/**
 * The counters behind Transport.stats(), shared by the UDP socket and every TCP connection of one transport.
 * Plain mutable fields because they are bumped on the hot path; stats() hands out a frozen snapshot.
 */
import type { TransportStats } from './transport.ts'

export interface UdpTcpTransportStats extends TransportStats {
  /** Of malformedDropped: input refused because its MAC was missing or wrong. */
  readonly unauthenticatedDropped: number
  /** Responses whose call had already timed out or failed: harmless, but a sign of timeouts set too tight. */
  readonly lateResponses: number
  /** Outbound TCP connections established (a reconnect counts again). */
  readonly connectionsOpened: number
  /** Inbound TCP connections accepted. */
  readonly connectionsAccepted: number
  /** Inbound TCP connections closed at once because the inbound limit was reached or we were closing. */
  readonly connectionsRefused: number
  /** Connections closed because the peer sent something that broke the protocol (bad frame, bad message). */
  readonly connectionsClosedForProtocolErrors: number
  /** One-way sends dropped because the channel's buffers were full (back-pressure). */
  readonly sendsDropped: number
}

export class TransportCounters implements UdpTcpTransportStats {
  datagramsSent = 0
  datagramsReceived = 0
  framesSent = 0
  framesReceived = 0
  bytesSent = 0
  bytesReceived = 0
  malformedDropped = 0
  unauthenticatedDropped = 0
  lateResponses = 0
  connectionsOpened = 0
  connectionsAccepted = 0
  connectionsRefused = 0
  connectionsClosedForProtocolErrors = 0
  sendsDropped = 0

  /** Counts input that failed to decode; authentication failures are also counted on their own. */
  countMalformed(reason: string): void {
    this.malformedDropped++
    if (reason === 'bad-mac' || reason === 'unauthenticated') this.unauthenticatedDropped++
  }

  snapshot(): UdpTcpTransportStats {
    return Object.freeze({ ...this })
  }
}
