/**
 * The datagram carrier: one UDP socket bound to the node's host:port (the same port number as the TCP
 * listener), used for gossip. Datagrams are fire and forget; whatever fails to decode or authenticate is
 * dropped and counted, never thrown, so a stray packet cannot take a node down.
 *
 * The sender of a datagram is its source address, which is the peer's own bound host:port because every node
 * sends from the socket it listens on.
 *
 * Refusal as evidence (issue 3): a datagram to a port nobody listens on comes back as an ICMP "port
 * unreachable", which the kernel reports only on a *connected* UDP socket. So besides the listening socket we
 * keep one socket per peer, bound to the same host:port (SO_REUSEADDR) and connected to that peer: datagrams
 * to the peer leave from it (same source address, so peers see no difference), its replies arrive on it (the
 * kernel prefers the connected socket for that source), and its ECONNREFUSED tells the core within a
 * millisecond that the peer's process is gone, where silence would take seconds to become a verdict. A paused
 * or slow process keeps its port open and is never reported as refused. The TCP listener binds the port
 * exclusively first, so SO_REUSEADDR cannot let a second node share it.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { isIPv6 } from 'node:net'
import type { Message } from '../core/node/message.ts'
import { parseHostPort, peerAddress, type PeerAddress } from '../core/primitives/ids.ts'
import { decodeDatagram, encodeDatagram, type DatagramCodecOptions } from './datagram-codec.ts'
import type { TransportCounters } from './transport-counters.ts'

/** Connected per-peer sockets kept at once; the least recently used is closed beyond this (one fd each). */
const MAX_CONNECTED_PEERS = 256

interface ConnectedPeer {
  readonly socket: Socket
  /** False until bind and connect have completed; until then the listening socket carries the traffic. */
  ready: boolean
}

export interface UdpSocketHandlers {
  onMessage(from: PeerAddress, message: Message): void
  /** The peer's port is closed (ECONNREFUSED on its connected socket). */
  onRefused(to: PeerAddress): void
}

export class UdpSocket {
  private handlers: UdpSocketHandlers | null = null
  /** Insertion order is recency of use: the first entry is evicted first. */
  private readonly connected = new Map<PeerAddress, ConnectedPeer>()
  private closed = false

  private constructor(
    private readonly socket: Socket,
    private readonly host: string,
    private readonly port: number,
    private readonly options: DatagramCodecOptions,
    private readonly counters: TransportCounters,
  ) {}

  /** Binds host:port; rejects with the bind error (EADDRINUSE) so the caller can pick another port. */
  static bind(host: string, port: number, options: DatagramCodecOptions, counters: TransportCounters): Promise<UdpSocket> {
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: true })
    return new Promise((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(port, host, () => {
        socket.off('error', reject)
        // After binding, socket errors (e.g. ICMP-driven send errors) are not fatal to a connectionless socket.
        socket.on('error', () => undefined)
        resolve(new UdpSocket(socket, host, socket.address().port, options, counters))
      })
    })
  }

  /** Starts delivering decoded messages. Datagrams that arrive earlier are dropped (UDP is lossy anyway). */
  listen(handlers: UdpSocketHandlers): void {
    this.handlers = handlers
    this.socket.on('message', (bytes: Buffer, remote: RemoteInfo) => this.deliver(bytes, remote))
  }

  /** Sends one datagram. Throws RangeError when the message does not fit (the caller must split gossip). */
  send(to: PeerAddress, message: Message): void {
    const bytes = encodeDatagram(message, this.options)
    const target = parseHostPort(to)
    if (target === null) throw new RangeError(`not a host:port address: ${to}`)
    this.counters.datagramsSent++
    this.counters.bytesSent += bytes.length
    this.counters.countSentKind(message.kind, 'datagram', bytes.length)
    const peer = this.connectedPeer(to, target)
    if (peer?.ready === true) peer.socket.send(bytes)
    else this.socket.send(bytes, target.port, target.host)
  }

  close(): Promise<void> {
    this.closed = true
    const peers = [...this.connected.values()]
    this.connected.clear()
    for (const peer of peers) closeQuietly(peer.socket)
    return new Promise((resolve) => this.socket.close(() => resolve()))
  }

  private deliver(bytes: Buffer, remote: RemoteInfo): void {
    if (this.handlers === null) return
    this.counters.datagramsReceived++
    this.counters.bytesReceived += bytes.length
    const decoded = decodeDatagram(bytes, this.options)
    if (!decoded.ok) return this.counters.countMalformed(decoded.error.reason)
    this.handlers.onMessage(formatAddress(remote), decoded.value)
  }

  /** The connected socket for `to`, created on first use (ready a moment later) and kept most recent. */
  private connectedPeer(to: PeerAddress, target: { host: string; port: number }): ConnectedPeer | undefined {
    if (this.closed) return undefined
    const existing = this.connected.get(to)
    if (existing !== undefined) {
      this.connected.delete(to)
      this.connected.set(to, existing)
      return existing
    }
    this.evictBeyond(MAX_CONNECTED_PEERS - 1)
    const socket = createSocket({ type: isIPv6(this.host) ? 'udp6' : 'udp4', reuseAddr: true })
    const peer: ConnectedPeer = { socket, ready: false }
    this.connected.set(to, peer)
    // ECONNREFUSED is the point of this socket; any other error (a failed bind) leaves it unready, so the
    // listening socket keeps carrying this peer's traffic exactly as before.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED' && this.connected.get(to) === peer) this.handlers?.onRefused(to)
    })
    socket.on('message', (bytes: Buffer, remote: RemoteInfo) => this.deliver(bytes, remote))
    socket.bind(this.port, this.host, () => socket.connect(target.port, target.host, () => (peer.ready = !this.closed)))
    return peer
  }

  private evictBeyond(limit: number): void {
    for (const [address, peer] of this.connected) {
      if (this.connected.size <= limit) return
      this.connected.delete(address)
      closeQuietly(peer.socket)
    }
  }
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close()
  } catch {
    // Already closed (ERR_SOCKET_DGRAM_NOT_RUNNING): nothing to release.
  }
}

function formatAddress(remote: RemoteInfo): PeerAddress {
  return peerAddress(remote.family === 'IPv6' ? `[${remote.address}]:${remote.port}` : `${remote.address}:${remote.port}`)
}
