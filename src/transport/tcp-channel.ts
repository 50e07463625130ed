/**
 * The outbound single-socket channel to one peer (Fowler's "Single Socket Channel" + "Request Pipeline"):
 * one TCP connection carries all our one-way sends and calls to that peer, in order, with many calls in
 * flight at once, matched to responses by call id through the CallWaitingList.
 *
 * Connection per direction: the peer's calls to us travel on the connection *it* dialled (see
 * tcp-inbound-connection.ts), so a pair of nodes that both talk uses two sockets. Keeping one socket per pair
 * would need a handshake to pick a winner when both dial at once and a way to move in-flight calls off the
 * loser; per-direction connections have no such race, each side's connection failures are evidence about
 * the other side only, and two sockets per peer is nothing for a LAN cluster of tens of nodes.
 *
 *     idle ──call/send──▶ connecting ──connect──▶ open
 *       ▲                    │ error                │ error / close
 *       └── backoff elapsed ─┴──────── backing-off ◀┘   (in-flight and queued calls fail)
 *
 * Back-pressure: at most maxInFlight calls are written and unanswered; up to maxQueuedCalls more wait for a
 * slot; beyond that, and whenever the socket has maxBufferedBytes unsent, calls fail with `overloaded` and
 * sends are dropped. Reconnection is on demand: while backing off, calls fail at once with the reason the
 * last attempt failed (`refused` when the peer's port is closed), so callers learn fast and nothing piles up;
 * the first call after the backoff dials again. Backoff doubles per failed attempt up to a maximum and
 * resets once a connection succeeds.
 */
import { connect, type Socket } from 'node:net'
import type { CallFailure, CallOutcome } from '../core/node/input.ts'
import type { Message } from '../core/node/message.ts'
import { BoundedQueue } from '../core/primitives/bounded-queue.ts'
import { parseHostPort, type Millis, type PeerAddress } from '../core/primitives/ids.ts'
import { CallWaitingList, failed, settle, type PendingCall } from './call-waiting-list.ts'
import { encodeFrame, FrameDecoder, prepareMessageFrame, sealFrame, type Frame, type FrameCodecOptions } from './frame-codec.ts'
import { FrameWriter } from './frame-writer.ts'
import type { TransportCounters } from './transport-counters.ts'
import { decodeMessage } from './wire-codec.ts'

export interface TcpChannelOptions extends FrameCodecOptions {
  readonly maxInFlight: number
  readonly maxQueuedCalls: number
  readonly maxBufferedBytes: number
  readonly connectTimeoutMs: Millis
  readonly backoffMinMs: Millis
  readonly backoffMaxMs: Millis
}

export interface TcpChannelEvents {
  /** A one-way send could not be delivered (or was dropped under back-pressure). */
  onSendFailed(to: PeerAddress, reason: CallFailure): void
}

type ChannelState = 'idle' | 'connecting' | 'open' | 'backing-off' | 'closed'

/**
 * TCP keepalive starts probing a connection after it has been idle this long. It only has to reap connections to
 * hosts that vanished without a FIN: membership notices a dead peer within seconds and every call has its own
 * timeout, so nothing waits on keepalive. At 10 s, the probes and their acks on the idle connections of an idle
 * cluster cost each node more bytes per second than SWIM's probes.
 */
const KEEPALIVE_IDLE_MS = 60_000

export class TcpChannel {
  private state: ChannelState = 'idle'
  private socket: Socket | null = null
  private writer: FrameWriter | null = null
  private decoder: FrameDecoder | null = null
  private connectTimer: NodeJS.Timeout | undefined
  private readonly inFlight = new CallWaitingList()
  private readonly waiting: BoundedQueue<PendingCall>
  private backoffMs = 0
  private retryAtMs = 0
  private lastFailure: CallFailure = 'unreachable'
  /** One-way sends written while dialling: if the dial fails they were never delivered, and we say so once. */
  private sendsWhileConnecting = 0

  constructor(
    readonly peer: PeerAddress,
    private readonly localAddress: PeerAddress,
    private readonly options: TcpChannelOptions,
    private readonly counters: TransportCounters,
    private readonly events: TcpChannelEvents,
  ) {
    this.waiting = new BoundedQueue(options.maxQueuedCalls)
  }

  /** Calls written and not yet answered, plus calls waiting for a slot. */
  get pendingCalls(): number {
    return this.inFlight.size + this.waiting.length
  }

  send(message: Message): void {
    const frame = prepareMessageFrame('one-way', message, this.options)
    const refusal = this.admit()
    if (refusal !== null) return this.sendFailed(refusal)
    if (this.state === 'connecting') this.sendsWhileConnecting++
    this.counters.countSentKind(message.kind, 'stream', frame.length)
    ;(this.writer as FrameWriter).write(sealFrame(frame, 0, this.options))
  }

  call(message: Message, timeoutMs: Millis, callback: (outcome: CallOutcome) => void): void {
    // Encode first: an unencodable or oversized message is the caller's bug and throws here, synchronously.
    const frame = prepareMessageFrame('call', message, this.options)
    const refusal = this.admit()
    if (refusal !== null) return defer(callback, failed(refusal))
    this.counters.countSentKind(message.kind, 'stream', frame.length)
    const call: PendingCall = { callId: 0, frame, callback, timer: undefined, settled: false }
    if (this.inFlight.size < this.options.maxInFlight) this.dispatch(call)
    else if (!this.waiting.push(call)) return defer(callback, failed('overloaded'))
    // The timeout covers time spent queued too, so a call stuck behind a slow peer still ends.
    call.timer = setTimeout(() => this.expire(call), timeoutMs).unref()
  }

  /** Fails everything pending with connection-lost and refuses further traffic. */
  close(): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.teardown('connection-lost')
  }

  // ---- admission and dispatch ---------------------------------------------------------------------------

  /** Gets the channel ready to write (dialling if needed); returns why traffic must be refused, or null. */
  private admit(): CallFailure | null {
    if (this.state === 'closed') return 'connection-lost'
    if (this.state === 'backing-off') {
      if (performance.now() < this.retryAtMs) return this.lastFailure
      this.state = 'idle'
    }
    if (this.state === 'idle') this.dial()
    if (this.writer === null) return this.lastFailure
    if (this.writer.bufferedBytes > this.options.maxBufferedBytes) return 'overloaded'
    return null
  }

  private dispatch(call: PendingCall): void {
    const callId = this.inFlight.add(call)
    ;(this.writer as FrameWriter).write(sealFrame(call.frame, callId, this.options))
  }

  /** Moves queued calls into free in-flight slots, skipping ones that already timed out. */
  private admitWaiting(): void {
    while (this.inFlight.size < this.options.maxInFlight && this.writer !== null) {
      const next = this.waiting.shift()
      if (next === undefined) return
      if (!next.settled) this.dispatch(next)
    }
  }

  private expire(call: PendingCall): void {
    if (call.settled) return
    this.inFlight.remove(call)
    settle(call, failed('timeout'))
    this.admitWaiting()
  }

  private sendFailed(reason: CallFailure): void {
    if (reason === 'overloaded') this.counters.sendsDropped++
    queueMicrotask(() => this.events.onSendFailed(this.peer, reason))
  }

  // ---- connection life cycle ----------------------------------------------------------------------------

  private dial(): void {
    const target = parseHostPort(this.peer)
    if (target === null) {
      this.fail('unreachable')
      return
    }
    this.state = 'connecting'
    const socket = connect({ host: target.host, port: target.port, noDelay: true })
    this.socket = socket
    this.writer = new FrameWriter(socket, this.counters)
    this.decoder = new FrameDecoder(this.options)
    // The hello goes first: it tells the peer which address our calls come from (our source port is random).
    const hello = encodeFrame({ type: 'hello', callId: 0, body: new TextEncoder().encode(this.localAddress) }, this.options)
    this.counters.countSentKind('hello', 'stream', hello.length)
    this.writer.write(hello)
    this.connectTimer = setTimeout(() => this.onConnectTimeout(socket), this.options.connectTimeoutMs).unref()
    socket.on('connect', () => this.onConnect(socket))
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk))
    socket.on('error', (error: NodeJS.ErrnoException) => this.onSocketError(socket, error))
    socket.on('close', () => this.onSocketClose(socket))
  }

  private onConnect(socket: Socket): void {
    if (socket !== this.socket) return
    clearTimeout(this.connectTimer)
    socket.setKeepAlive(true, KEEPALIVE_IDLE_MS)
    this.state = 'open'
    this.backoffMs = 0
    this.sendsWhileConnecting = 0
    this.counters.connectionsOpened++
  }

  private onConnectTimeout(socket: Socket): void {
    if (socket !== this.socket || this.state !== 'connecting') return
    this.fail('unreachable')
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (socket !== this.socket || this.decoder === null) return
    this.counters.bytesReceived += chunk.length
    const error = this.decoder.push(chunk, this.onFrame)
    if (error !== null) this.protocolError(error.reason)
  }

  private readonly onFrame = (frame: Frame): void => {
    this.counters.framesReceived++
    if (frame.type !== 'response') return this.protocolError('bad-envelope')
    const call = this.inFlight.take(frame.callId)
    if (call === undefined) {
      this.counters.lateResponses++
      return
    }
    const decoded = decodeMessage(frame.body, this.options.maxFrameBytes)
    if (!decoded.ok) {
      // The frame was intact (CRC passed) but the message is not one we understand: a peer on another wire
      // version or a bug. Fail this call and drop the connection; everything else on it would fail too.
      settle(call, failed('connection-lost'))
      return this.protocolError(decoded.error.reason)
    }
    settle(call, { kind: 'ok', message: decoded.value })
    this.admitWaiting()
  }

  private protocolError(reason: string): void {
    this.counters.countMalformed(reason)
    this.counters.connectionsClosedForProtocolErrors++
    this.fail('connection-lost')
  }

  private onSocketError(socket: Socket, error: NodeJS.ErrnoException): void {
    if (socket !== this.socket) return
    this.fail(classify(error, this.state))
  }

  private onSocketClose(socket: Socket): void {
    if (socket !== this.socket) return
    this.fail(this.state === 'connecting' ? 'unreachable' : 'connection-lost')
  }

  /** The connection is unusable: fail what depended on it and back off before dialling again. */
  private fail(reason: CallFailure): void {
    if (this.state === 'closed') return
    const hadConnected = this.state === 'open'
    // A connection that had worked may come straight back (the peer restarted); one that never connected
    // waits longer each time, so a dead peer costs one dial per backoff period, not one per call.
    this.backoffMs = hadConnected
      ? 0
      : Math.min(this.options.backoffMaxMs, Math.max(this.options.backoffMinMs, this.backoffMs * 2))
    this.retryAtMs = performance.now() + this.backoffMs
    this.lastFailure = reason
    // Sends on an open connection are as good as delivered as far as we can know (TCP has them); sends
    // queued behind a dial that failed are reported once, which is the evidence membership needs.
    const undeliveredSends = this.sendsWhileConnecting
    this.sendsWhileConnecting = 0
    if (undeliveredSends > 0) this.sendFailed(reason)
    // State first, callbacks last: a callback that calls again must see the channel as it now is.
    this.state = this.backoffMs === 0 ? 'idle' : 'backing-off'
    this.teardown(reason)
  }

  /** Detaches the socket and the pending calls, then fails those calls. */
  private teardown(reason: CallFailure): void {
    clearTimeout(this.connectTimer)
    const socket = this.socket
    this.socket = null
    this.writer?.close()
    this.writer = null
    this.decoder = null
    socket?.destroy()
    const queued = this.waiting.drain()
    this.inFlight.failAll(reason)
    for (const call of queued) settle(call, failed(reason))
  }
}

function classify(error: NodeJS.ErrnoException, state: ChannelState): CallFailure {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'refused'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
      return 'unreachable'
    default:
      return state === 'connecting' ? 'unreachable' : 'connection-lost'
  }
}

/** Runs a callback on a later microtask, so call() never invokes its callback before returning. */
function defer(callback: (outcome: CallOutcome) => void, outcome: CallOutcome): void {
  queueMicrotask(() => callback(outcome))
}
