/**
 * The serving end of a peer's channel: a connection the peer dialled to us. It carries the peer's hello, its
 * one-way sends and its calls; our responses go back on the same socket, batched by the FrameWriter.
 *
 *     awaiting-hello ──hello──▶ serving ──protocol error / close──▶ closed
 *
 * The first frame must be a hello naming the peer's listening address, because the socket's remote port is
 * an ephemeral one and the core addresses peers by where they listen. Anything that breaks the protocol — a
 * frame that fails to decode or authenticate, a frame before the hello, a response frame, more unanswered
 * calls than the in-flight limit allows — closes this connection only, is counted, and never reaches the
 * handlers: the rest of the node keeps serving.
 */
import type { Socket } from 'node:net'
import type { Message } from '../core/node/message.ts'
import { parseHostPort, peerAddress, type PeerAddress } from '../core/primitives/ids.ts'
import { FrameDecoder, prepareMessageFrame, sealFrame, type Frame, type FrameCodecOptions } from './frame-codec.ts'
import { FrameWriter } from './frame-writer.ts'
import type { TransportCounters } from './transport-counters.ts'
import type { TransportHandlers } from './transport.ts'
import { decodeMessage } from './wire-codec.ts'
import { MAX_PEER_ADDRESS_BYTES } from './schemas/common-schemas.ts'

export interface InboundOptions extends FrameCodecOptions {
  /** A peer honouring our limits never has more calls unanswered than its own in-flight limit. */
  readonly maxUnansweredCalls: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

export class TcpInboundConnection {
  private peer: PeerAddress | null = null
  private readonly decoder: FrameDecoder
  private readonly writer: FrameWriter
  private unanswered = 0
  private closed = false

  constructor(
    private readonly socket: Socket,
    private readonly handlers: TransportHandlers,
    private readonly options: InboundOptions,
    private readonly counters: TransportCounters,
    private readonly onClosed: (connection: TcpInboundConnection) => void,
  ) {
    this.decoder = new FrameDecoder(options)
    this.writer = new FrameWriter(socket, counters)
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    // Errors (ECONNRESET from a crashed peer) are followed by 'close'; handling it there is enough.
    socket.on('error', () => undefined)
    socket.on('close', () => this.close())
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.writer.close()
    this.socket.destroy()
    this.onClosed(this)
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return
    this.counters.bytesReceived += chunk.length
    const error = this.decoder.push(chunk, this.onFrame)
    if (error !== null) this.protocolError(error.reason)
  }

  private readonly onFrame = (frame: Frame): void => {
    if (this.closed) return
    this.counters.framesReceived++
    if (this.peer === null) return this.onHello(frame)
    switch (frame.type) {
      case 'one-way':
        return this.onOneWay(this.peer, frame)
      case 'call':
        return this.onCall(this.peer, frame)
      case 'hello':
      case 'response':
        return this.protocolError('bad-envelope')
    }
  }

  private onHello(frame: Frame): void {
    const address = frame.type === 'hello' ? decodeAddress(frame.body) : null
    if (address === null) return this.protocolError('bad-envelope')
    this.peer = address
  }

  private onOneWay(from: PeerAddress, frame: Frame): void {
    const message = this.decode(frame)
    if (message !== null) this.handlers.onMessage(from, 'stream', message)
  }

  private onCall(from: PeerAddress, frame: Frame): void {
    if (this.unanswered >= this.options.maxUnansweredCalls) return this.protocolError('too-large')
    const message = this.decode(frame)
    if (message === null) return
    this.unanswered++
    const callId = frame.callId
    let answered = false
    this.handlers.onCall(from, message, (answer: Message) => {
      if (answered) return
      answered = true
      this.unanswered--
      this.respond(callId, answer)
    })
  }

  private respond(callId: number, answer: Message): void {
    if (this.closed) return
    // Encoding our own answer can only fail through a bug in the core; let it throw to the caller of respond.
    const frame = prepareMessageFrame('response', answer, this.options)
    this.counters.countSentKind(answer.kind, 'stream', frame.length)
    this.writer.write(sealFrame(frame, callId, this.options))
  }

  private decode(frame: Frame): Message | null {
    const decoded = decodeMessage(frame.body, this.options.maxFrameBytes)
    if (decoded.ok) return decoded.value
    this.protocolError(decoded.error.reason)
    return null
  }

  private protocolError(reason: string): void {
    this.counters.countMalformed(reason)
    this.counters.connectionsClosedForProtocolErrors++
    this.close()
  }
}

function decodeAddress(body: Uint8Array): PeerAddress | null {
  if (body.length === 0 || body.length > MAX_PEER_ADDRESS_BYTES) return null
  let text: string
  try {
    text = utf8.decode(body)
  } catch {
    return null
  }
  return parseHostPort(text) === null ? null : peerAddress(text)
}
