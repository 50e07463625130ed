/**
 * The counters behind Transport.stats(), shared by the UDP socket and every TCP connection of one transport.
 * Plain mutable fields because they are bumped on the hot path; stats() hands out a frozen snapshot.
 *
 * Besides the totals, every message sent is counted by its kind and carrier (bytes as written: datagram or frame
 * envelope included, IP/UDP/TCP headers not), so an operator can see where a node's cluster traffic goes —
 * gossip, push-pull, placement digests, anti-entropy, replication — without a packet capture.
 */
import type { TrafficByKind, TrafficCount, TransportStats } from './transport.ts'

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

/**
 * Distinct (kind, carrier) rows kept. Message kinds are a closed set of a few dozen; the bound only guarantees
 * that a bug naming kinds dynamically cannot grow the map without limit (further kinds count under `other`).
 */
const MAX_TRAFFIC_ROWS = 256

export class TransportCounters {
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
  /** Keyed by `${carrier} ${kind}`. */
  private readonly sent = new Map<string, { kind: string; carrier: 'datagram' | 'stream'; messages: number; bytes: number }>()

  /** Counts input that failed to decode; authentication failures are also counted on their own. */
  countMalformed(reason: string): void {
    this.malformedDropped++
    if (reason === 'bad-mac' || reason === 'unauthenticated') this.unauthenticatedDropped++
  }

  /**
   * Counts one message handed to the carrier, by kind. The totals (datagramsSent, framesSent, bytesSent) are
   * counted where the bytes are written; this only attributes them.
   */
  countSentKind(kind: string, carrier: 'datagram' | 'stream', bytes: number): void {
    let key = `${carrier} ${kind}`
    let row = this.sent.get(key)
    if (row === undefined) {
      if (this.sent.size >= MAX_TRAFFIC_ROWS) {
        key = `${carrier} other`
        kind = 'other'
        row = this.sent.get(key)
      }
      if (row === undefined) {
        row = { kind, carrier, messages: 0, bytes: 0 }
        this.sent.set(key, row)
      }
    }
    row.messages++
    row.bytes += bytes
  }

  snapshot(): UdpTcpTransportStats {
    const sentByKind: TrafficCount[] = [...this.sent.values()]
      .map((row) => Object.freeze({ ...row }))
      .sort((a, b) => (a.carrier === b.carrier ? a.kind.localeCompare(b.kind) : a.carrier.localeCompare(b.carrier)))
    return Object.freeze({
      datagramsSent: this.datagramsSent,
      datagramsReceived: this.datagramsReceived,
      framesSent: this.framesSent,
      framesReceived: this.framesReceived,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      malformedDropped: this.malformedDropped,
      unauthenticatedDropped: this.unauthenticatedDropped,
      lateResponses: this.lateResponses,
      connectionsOpened: this.connectionsOpened,
      connectionsAccepted: this.connectionsAccepted,
      connectionsRefused: this.connectionsRefused,
      connectionsClosedForProtocolErrors: this.connectionsClosedForProtocolErrors,
      sendsDropped: this.sendsDropped,
      sentByKind: Object.freeze(sentByKind) as TrafficByKind,
    })
  }
}
