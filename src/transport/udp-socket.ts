/**
 * The datagram carrier: one UDP socket bound to the node's host:port (the same port number as the TCP
 * listener), used for gossip. Datagrams are fire and forget; whatever fails to decode or authenticate is
 * dropped and counted, never thrown, so a stray packet cannot take a node down.
 *
 * The sender of a datagram is its source address, which is the peer's own bound host:port because every node
 * sends from the socket it listens on.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import type { Message } from '../core/node/message.ts'
import { parseHostPort, peerAddress, type PeerAddress } from '../core/primitives/ids.ts'
import { decodeDatagram, encodeDatagram, type DatagramCodecOptions } from './datagram-codec.ts'
import type { TransportCounters } from './transport-counters.ts'

export class UdpSocket {
  private constructor(
    private readonly socket: Socket,
    private readonly options: DatagramCodecOptions,
    private readonly counters: TransportCounters,
  ) {}

  /** Binds host:port; rejects with the bind error (EADDRINUSE) so the caller can pick another port. */
  static bind(host: string, port: number, options: DatagramCodecOptions, counters: TransportCounters): Promise<UdpSocket> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' })
    return new Promise((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, host, () => {
        socket.off('error', reject)
        // After binding, socket errors (e.g. ICMP-driven send errors) are not fatal to a connectionless socket.
        socket.on('error', () => undefined)
        resolve(new UdpSocket(socket, options, counters))
      })
    })
  }

  /** Starts delivering decoded messages. Datagrams that arrive earlier are dropped (UDP is lossy anyway). */
  listen(onMessage: (from: PeerAddress, message: Message) => void): void {
    this.socket.on('message', (bytes: Buffer, remote: RemoteInfo) => {
      this.counters.datagramsReceived++
      this.counters.bytesReceived += bytes.length
      const decoded = decodeDatagram(bytes, this.options)
      if (!decoded.ok) return this.counters.countMalformed(decoded.error.reason)
      onMessage(formatAddress(remote), decoded.value)
    })
  }

  /** Sends one datagram. Throws RangeError when the message does not fit (the caller must split gossip). */
  send(to: PeerAddress, message: Message): void {
    const bytes = encodeDatagram(message, this.options)
    const target = parseHostPort(to)
    if (target === null) throw new RangeError(`not a host:port address: ${to}`)
    this.counters.datagramsSent++
    this.counters.bytesSent += bytes.length
    this.socket.send(bytes, target.port, target.host)
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }
}

function formatAddress(remote: RemoteInfo): PeerAddress {
  return peerAddress(remote.family === 'IPv6' ? `[${remote.address}]:${remote.port}` : `${remote.address}:${remote.port}`)
}
