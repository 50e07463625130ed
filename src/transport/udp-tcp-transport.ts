/**
 * The production Transport: UDP datagrams and TCP single-socket channels sharing one host:port (DESIGN
 * section 8: `--bind` serves both). This class only wires the parts together and owns their life cycle:
 *
 *   udp-socket.ts             datagrams in and out, 1400-byte envelope, optional HMAC
 *   tcp-channel.ts            our outbound channel to one peer: sends, pipelined calls, back-pressure, backoff
 *   tcp-inbound-connection.ts a peer's channel to us: its sends and calls, our responses
 *   frame-codec.ts            length + CRC32C + optional HMAC frames; wire-codec.ts the messages inside
 *
 * Each side calls over the connection it dialled (see tcp-channel.ts for why not one socket per pair).
 * Connections accepted before listen() are held paused, so a call that races our start-up is answered late
 * rather than lost.
 */
import { createServer, type Server, type Socket } from 'node:net'
import type { CallOutcome, Carrier } from '../core/node/input.ts'
import type { Message } from '../core/node/message.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import { assert, unreachable } from '../core/primitives/assert.ts'
import { parseHostPort, peerAddress, type Millis, type PeerAddress } from '../core/primitives/ids.ts'
import { MessageAuthenticator } from './message-authenticator.ts'
import { TcpChannel, type TcpChannelOptions } from './tcp-channel.ts'
import { TcpInboundConnection } from './tcp-inbound-connection.ts'
import { TransportCounters, type UdpTcpTransportStats } from './transport-counters.ts'
import type { Transport, TransportHandlers } from './transport.ts'
import { UdpSocket } from './udp-socket.ts'

export interface UdpTcpTransportOptions {
  /** "host:port" to bind both sockets to; port 0 picks a free port shared by UDP and TCP. */
  readonly bind: string
  /** The address peers should use for us, when it differs from `bind` (e.g. bound to 0.0.0.0). */
  readonly advertise?: PeerAddress | undefined
  /** With a secret, every datagram and frame is signed with HMAC-SHA256 and unsigned input is dropped. */
  readonly clusterSecret?: Uint8Array | undefined
  readonly maxDatagramBytes?: number
  readonly maxFrameBytes?: number
  readonly maxInFlightPerChannel?: number
  /** Calls that may wait for an in-flight slot on one channel before further calls fail with `overloaded`. */
  readonly maxQueuedCallsPerChannel?: number
  /** Unsent bytes on one channel beyond which sends are dropped and calls fail with `overloaded`. */
  readonly maxBufferedBytesPerChannel?: number
  /** A dial that has not connected by then is abandoned as `unreachable`. */
  readonly connectTimeoutMs?: Millis
  /** First and largest wait between failed dials to one peer. */
  readonly reconnectBackoffMinMs?: Millis
  readonly reconnectBackoffMaxMs?: Millis
  /** Accepted connections beyond this are closed at once: each costs a socket and buffers. */
  readonly maxInboundConnections?: number
}

/** Defaults for the limits NodeConfig does not carry, each with the reason for its value. */
export const transportDefaults = {
  /** Four in-flight windows: a burst can queue briefly, a stalled peer fails callers fast. */
  maxQueuedCallsPerChannel: 1_024,
  /** Two max-size frames: a stalled peer cannot make us buffer more than that per channel. */
  maxBufferedBytesPerChannel: 2 * (4 * 1024 * 1024 + 64 * 1024),
  /** A LAN handshake takes well under a millisecond; a second means the host is gone or swamped. */
  connectTimeoutMs: 1_000,
  /** The first redial after a refusal comes quickly (a restart takes about this long)... */
  reconnectBackoffMinMs: 100,
  /** ...and a dead peer costs at most one dial every two seconds. */
  reconnectBackoffMaxMs: 2_000,
  /** Peers each hold one connection to us; 1,024 is far beyond any cluster Chorus targets. */
  maxInboundConnections: 1_024,
  maxDatagramBytes: 1_400,
  maxFrameBytes: 4 * 1024 * 1024 + 64 * 1024,
  maxInFlightPerChannel: 256,
} as const

/** Transport options from a node's configuration. */
export function transportOptionsFromConfig(
  config: NodeConfig,
  bind: string,
  extra: Partial<UdpTcpTransportOptions> = {},
): UdpTcpTransportOptions {
  return {
    ...extra,
    bind,
    maxDatagramBytes: config.maxDatagramBytes,
    maxFrameBytes: config.maxFrameBytes,
    maxInFlightPerChannel: config.maxInFlightPerChannel,
  }
}

/** How many times port 0 is retried when the free TCP port is taken on UDP. */
const EPHEMERAL_BIND_ATTEMPTS = 20

export class UdpTcpTransport implements Transport {
  readonly localAddress: PeerAddress
  private handlers: TransportHandlers | null = null
  private readonly channels = new Map<PeerAddress, TcpChannel>()
  private readonly inbound = new Set<TcpInboundConnection>()
  private readonly heldSockets: Socket[] = []
  private closed = false

  private constructor(
    private readonly server: Server,
    private readonly udp: UdpSocket,
    private readonly channelOptions: TcpChannelOptions,
    private readonly counters: TransportCounters,
    private readonly maxInboundConnections: number,
    localAddress: PeerAddress,
  ) {
    this.localAddress = localAddress
    server.on('connection', (socket: Socket) => this.onConnection(socket))
  }

  /** Binds UDP and TCP to the same host:port and returns the transport, not yet delivering (see listen). */
  static async open(options: UdpTcpTransportOptions): Promise<UdpTcpTransport> {
    const bind = parseBind(options.bind)
    assert(bind !== null, () => `bind must be host:port, got ${options.bind}`)
    const counters = new TransportCounters()
    const authenticator = options.clusterSecret === undefined ? undefined : new MessageAuthenticator(options.clusterSecret)
    const channelOptions = resolveChannelOptions(options, authenticator)
    const datagramOptions = { maxDatagramBytes: options.maxDatagramBytes ?? transportDefaults.maxDatagramBytes, authenticator }
    const attempts = bind.port === 0 ? EPHEMERAL_BIND_ATTEMPTS : 1
    for (let attempt = 1; ; attempt++) {
      const server = await listenTcp(bind.host, bind.port)
      const port = (server.address() as { port: number }).port
      try {
        const udp = await UdpSocket.bind(bind.host, port, datagramOptions, counters)
        const local = options.advertise ?? peerAddress(formatHostPort(bind.host, port))
        const maxInbound = options.maxInboundConnections ?? transportDefaults.maxInboundConnections
        return new UdpTcpTransport(server, udp, channelOptions, counters, maxInbound, local)
      } catch (error) {
        await closeServer(server)
        if (attempt >= attempts) throw error
      }
    }
  }

  listen(handlers: TransportHandlers): void {
    assert(this.handlers === null, 'listen is called once')
    this.handlers = handlers
    this.udp.listen({
      onMessage: (from, message) => handlers.onMessage(from, 'datagram', message),
      onRefused: (to) => handlers.onSendFailed?.(to, 'refused'),
    })
    for (const socket of this.heldSockets.splice(0)) this.accept(socket)
  }

  send(to: PeerAddress, carrier: Carrier, message: Message): void {
    if (this.closed) return
    switch (carrier) {
      case 'datagram':
        return this.udp.send(to, message)
      case 'stream':
        return this.channel(to).send(message)
      default:
        return unreachable(carrier)
    }
  }

  call(to: PeerAddress, message: Message, timeoutMs: Millis, callback: (outcome: CallOutcome) => void): void {
    if (this.closed) {
      queueMicrotask(() => callback({ kind: 'failed', reason: 'connection-lost' }))
      return
    }
    this.channel(to).call(message, timeoutMs, callback)
  }

  stats(): UdpTcpTransportStats {
    return this.counters.snapshot()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const channel of this.channels.values()) channel.close()
    this.channels.clear()
    for (const connection of [...this.inbound]) connection.close()
    for (const socket of this.heldSockets.splice(0)) socket.destroy()
    await Promise.all([closeServer(this.server), this.udp.close()])
  }

  private channel(to: PeerAddress): TcpChannel {
    let channel = this.channels.get(to)
    if (channel === undefined) {
      channel = new TcpChannel(to, this.localAddress, this.channelOptions, this.counters, {
        onSendFailed: (peer, reason) => this.handlers?.onSendFailed?.(peer, reason),
      })
      this.channels.set(to, channel)
    }
    return channel
  }

  private onConnection(socket: Socket): void {
    if (this.closed || this.inbound.size + this.heldSockets.length >= this.maxInboundConnections) {
      this.counters.connectionsRefused++
      socket.destroy()
      return
    }
    this.counters.connectionsAccepted++
    if (this.handlers === null) this.heldSockets.push(socket)
    else this.accept(socket)
  }

  private accept(socket: Socket): void {
    const handlers = this.handlers as TransportHandlers
    const options = { ...this.channelOptions, maxUnansweredCalls: this.channelOptions.maxInFlight }
    const connection = new TcpInboundConnection(socket, handlers, options, this.counters, (closed) => {
      this.inbound.delete(closed)
    })
    this.inbound.add(connection)
    socket.resume()
  }
}

function resolveChannelOptions(
  options: UdpTcpTransportOptions,
  authenticator: MessageAuthenticator | undefined,
): TcpChannelOptions {
  return {
    maxFrameBytes: options.maxFrameBytes ?? transportDefaults.maxFrameBytes,
    authenticator,
    maxInFlight: options.maxInFlightPerChannel ?? transportDefaults.maxInFlightPerChannel,
    maxQueuedCalls: options.maxQueuedCallsPerChannel ?? transportDefaults.maxQueuedCallsPerChannel,
    maxBufferedBytes: options.maxBufferedBytesPerChannel ?? transportDefaults.maxBufferedBytesPerChannel,
    connectTimeoutMs: options.connectTimeoutMs ?? transportDefaults.connectTimeoutMs,
    backoffMinMs: options.reconnectBackoffMinMs ?? transportDefaults.reconnectBackoffMinMs,
    backoffMaxMs: options.reconnectBackoffMaxMs ?? transportDefaults.reconnectBackoffMaxMs,
  }
}

function listenTcp(host: string, port: number): Promise<Server> {
  // pauseOnConnect: nothing is read from a peer until its connection is handed to a TcpInboundConnection.
  const server = createServer({ pauseOnConnect: true, noDelay: true })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', reject)
      // Accept errors (EMFILE under fd exhaustion) are transient; they must not crash the node.
      server.on('error', () => undefined)
      resolve(server)
    })
  })
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

/** Like parseHostPort, but also accepts port 0 ("any free port"), which only makes sense for binding. */
function parseBind(text: string): { host: string; port: number } | null {
  if (!text.endsWith(':0')) return parseHostPort(text)
  const parsed = parseHostPort(`${text.slice(0, -2)}:1`)
  return parsed === null ? null : { host: parsed.host, port: 0 }
}

function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
