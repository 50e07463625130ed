/**
 * One node's endpoint on the simulated network, implementing the same Transport port as the real UDP/TCP
 * transport and passing the same contract suite. It is where messages meet the real wire codec: encoded at
 * send, decoded at delivery, and a message that fails to decode is counted and dropped, exactly as the real
 * transport must do with untrusted bytes.
 *
 * Calls follow the real channel's request waiting list: each call waits for its response on the connection
 * it went out on, and ends in exactly one callback, whichever comes first of the answer, the per-call timeout,
 * `refused` (nobody listening), or `connection-lost` (the peer's process died, or this end closed).
 *
 * Callbacks fire only from the scheduler's queue, never from inside `send` or `call`: a caller that performs
 * effects in order must not be re-entered halfway through them, or effect order would depend on the transport.
 */
import { assert, unreachable } from '../core/primitives/assert.ts'
import type { CallFailure, CallOutcome, Carrier } from '../core/node/input.ts'
import type { Message } from '../core/node/message.ts'
import type { Millis, PeerAddress } from '../core/primitives/ids.ts'
import type { Transport, TransportHandlers, TransportStats } from '../transport/transport.ts'
import { datagramMessageBudget } from '../transport/datagram-codec.ts'
import { decodeMessage, encodeMessage } from '../transport/wire-codec.ts'
import type { NetworkEndpoint, SimNetwork, StreamFrame } from './sim-network.ts'
import type { SimScheduler } from './sim-scheduler.ts'
import type { Trace } from './trace.ts'

interface PendingCall {
  readonly to: PeerAddress
  readonly callback: (outcome: CallOutcome) => void
  /** The connection the request went out on; null while no connection could be made. */
  connectionId: number | null
}

interface MutableStats {
  datagramsSent: number
  datagramsReceived: number
  framesSent: number
  framesReceived: number
  bytesSent: number
  bytesReceived: number
  malformedDropped: number
}

type TransportState = 'created' | 'listening' | 'closed'

export interface SimTransportOptions {
  /**
   * Calls to one peer that may be unanswered at once before further calls fail with `overloaded`: the real
   * channel's in-flight window (256) plus its waiting queue (1,024), so back-pressure shows up in simulation too.
   */
  readonly maxPendingCallsPerPeer: number
}

export const defaultSimTransportOptions: SimTransportOptions = { maxPendingCallsPerPeer: 256 + 1_024 }

export class SimTransport implements Transport, NetworkEndpoint {
  private handlers: TransportHandlers | null = null
  private state: TransportState = 'created'
  private readonly pending = new Map<number, PendingCall>()
  private readonly pendingPerPeer = new Map<PeerAddress, number>()
  private nextCallId = 1
  private readonly counts: MutableStats = {
    datagramsSent: 0, datagramsReceived: 0, framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, malformedDropped: 0,
  }

  constructor(
    private readonly network: SimNetwork,
    private readonly scheduler: SimScheduler,
    private readonly trace: Trace,
    readonly localAddress: PeerAddress,
    private readonly options: SimTransportOptions = defaultSimTransportOptions,
  ) {}

  get pendingCalls(): number {
    return this.pending.size
  }

  listen(handlers: TransportHandlers): void {
    assert(this.state === 'created', () => `${this.localAddress}: listen called twice or after close`)
    this.handlers = handlers
    this.state = 'listening'
    this.network.attach(this)
  }

  send(to: PeerAddress, carrier: Carrier, message: Message): void {
    assert(this.state === 'listening', () => `${this.localAddress}: send before listen or after close`)
    const bytes = encodeMessage(message)
    const description = describeMessage(message)
    // The port's rule: an oversized datagram is the sender's bug, so it throws rather than being dropped quietly.
    // The budget is the real UDP envelope's (flags byte, no MAC), so a message that fits here fits the real wire.
    const budget = datagramMessageBudget({ maxDatagramBytes: this.network.currentOptions.maxDatagramBytes })
    if (carrier === 'datagram' && bytes.length > budget) {
      throw new RangeError(`${message.kind} message of ${bytes.length} bytes exceeds the datagram budget of ${budget}`)
    }
    this.counts.bytesSent += bytes.length
    if (carrier === 'datagram') {
      this.counts.datagramsSent++
      this.network.sendDatagram(this.localAddress, to, bytes, description)
    } else {
      this.counts.framesSent++
      this.network.sendStream(this.localAddress, to, { kind: 'one-way', bytes, description })
    }
  }

  call(to: PeerAddress, message: Message, timeoutMs: Millis, callback: (outcome: CallOutcome) => void): void {
    assert(timeoutMs > 0, () => `call timeout must be positive, got ${timeoutMs}`)
    const callId = this.nextCallId++
    if (this.state !== 'listening') {
      // A closed transport still answers, from the queue, so that every call gets exactly one callback.
      this.scheduler.after(0, () => callback({ kind: 'failed', reason: 'connection-lost' }))
      return
    }
    if ((this.pendingPerPeer.get(to) ?? 0) >= this.options.maxPendingCallsPerPeer) {
      this.scheduler.after(0, () => callback({ kind: 'failed', reason: 'overloaded' }))
      return
    }
    const bytes = this.encode(message)
    const pendingCall: PendingCall = { to, callback, connectionId: null }
    this.pending.set(callId, pendingCall)
    this.pendingPerPeer.set(to, (this.pendingPerPeer.get(to) ?? 0) + 1)
    this.scheduler.after(timeoutMs, () => this.settle(callId, { kind: 'failed', reason: 'timeout' }))
    this.counts.framesSent++
    const frame: StreamFrame = { kind: 'request', callId, bytes, description: describeMessage(message) }
    pendingCall.connectionId = this.network.sendStream(this.localAddress, to, frame)
  }

  stats(): TransportStats {
    return { ...this.counts }
  }

  /** Stops listening; every pending call fails with `connection-lost` (from the queue). */
  close(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve()
    const wasListening = this.state === 'listening'
    this.state = 'closed'
    if (wasListening) this.network.detach(this.localAddress)
    const callIds = [...this.pending.keys()]
    this.scheduler.after(0, () => {
      for (const callId of callIds) this.settle(callId, { kind: 'failed', reason: 'connection-lost' })
    })
    return Promise.resolve()
  }

  /** The process died: the network forgets it and nothing of it ever runs again, not even pending callbacks. */
  crash(): void {
    const wasListening = this.state === 'listening'
    this.state = 'closed'
    this.pending.clear()
    this.pendingPerPeer.clear()
    this.handlers = null
    if (wasListening) this.network.detach(this.localAddress)
  }

  // ---- NetworkEndpoint: called by the network, always from an event on the queue ---------------------------

  receiveDatagram(from: PeerAddress, bytes: Uint8Array): void {
    this.counts.datagramsReceived++
    this.counts.bytesReceived += bytes.length
    const message = this.decode(from, bytes)
    if (message !== null) this.handlers?.onMessage(from, 'datagram', message)
  }

  receiveFrame(connectionId: number, from: PeerAddress, frame: StreamFrame): void {
    this.counts.framesReceived++
    this.counts.bytesReceived += frame.bytes.length
    const message = this.decode(from, frame.bytes)
    if (message === null || this.handlers === null) return
    switch (frame.kind) {
      case 'one-way':
        return this.handlers.onMessage(from, 'stream', message)
      case 'request':
        return this.handlers.onCall(from, message, this.responder(connectionId, from, frame.callId))
      case 'response': {
        // Only the connection the request went out on may answer it; a stale one from before a break may not.
        if (this.pending.get(frame.callId)?.connectionId !== connectionId) return
        return this.settle(frame.callId, { kind: 'ok', message })
      }
      default:
        return unreachable(frame)
    }
  }

  datagramRefused(to: PeerAddress): void {
    this.handlers?.onSendFailed?.(to, 'refused')
  }

  streamFailed(to: PeerAddress, frame: StreamFrame, reason: CallFailure): void {
    if (frame.kind === 'request') {
      // `refused` is an answer; silence is not, so an unreachable call simply waits for its own timeout.
      if (reason === 'refused') this.settle(frame.callId, { kind: 'failed', reason })
      return
    }
    if (frame.kind === 'one-way') this.handlers?.onSendFailed?.(to, reason)
  }

  connectionLost(connectionId: number): void {
    for (const [callId, pendingCall] of [...this.pending]) {
      if (pendingCall.connectionId === connectionId) this.settle(callId, { kind: 'failed', reason: 'connection-lost' })
    }
  }

  // ---- internals -------------------------------------------------------------------------------------------

  private responder(connectionId: number, to: PeerAddress, callId: number): (answer: Message) => void {
    let answered = false
    return (answer) => {
      // At most once, and never from a transport that has since closed or crashed.
      if (answered || this.state !== 'listening') return
      answered = true
      const bytes = this.encode(answer)
      this.counts.framesSent++
      const frame: StreamFrame = { kind: 'response', callId, bytes, description: describeMessage(answer) }
      this.network.sendOnConnection(connectionId, this.localAddress, to, frame)
    }
  }

  private settle(callId: number, outcome: CallOutcome): void {
    const pendingCall = this.pending.get(callId)
    if (pendingCall === undefined) return
    this.pending.delete(callId)
    const left = (this.pendingPerPeer.get(pendingCall.to) ?? 1) - 1
    if (left === 0) this.pendingPerPeer.delete(pendingCall.to)
    else this.pendingPerPeer.set(pendingCall.to, left)
    pendingCall.callback(outcome)
  }

  private encode(message: Message): Uint8Array {
    const bytes = encodeMessage(message)
    this.counts.bytesSent += bytes.length
    return bytes
  }

  private decode(from: PeerAddress, bytes: Uint8Array): Message | null {
    const decoded = decodeMessage(bytes)
    if (decoded.ok) return decoded.value
    this.counts.malformedDropped++
    this.network.counters.add('malformedDropped')
    this.trace.record(this.scheduler.nowMs, 'net', `malformed from ${from} at ${this.localAddress}: ${decoded.error.reason}`)
    return null
  }
}

/** A short label for traces: the kind, and the sequence number when the message has one. */
export function describeMessage(message: Message): string {
  const seq = (message as { readonly seq?: unknown }).seq
  return typeof seq === 'number' ? `${message.kind}#${seq}` : message.kind
}
