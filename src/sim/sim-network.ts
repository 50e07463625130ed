/**
 * The simulated network: moves encoded bytes between endpoints on the scheduler's queue, and does to them what
 * a LAN does on a bad day. It sees only bytes (the transports encode and decode with the real wire codec), so a
 * message that would not survive the real wire does not survive this one either.
 *
 * Two carriers, as in the real transport:
 * - datagrams: each one independently delayed (base + seeded jitter + an occasional long tail, so reordering
 *   falls out of the jitter), lost, duplicated or corrupted with configurable probabilities;
 * - streams: one connection per pair of addresses, ordered per direction and lossless while it lasts, like TCP.
 *   A connection breaks when either end crashes (the survivor hears `connection-lost` one latency later, as a
 *   FIN/RST would tell it) or when a partition cuts the pair (nobody hears anything: silence, then timeouts).
 *
 * Reachability follows the real distinction between a dead process and an unreachable host: an address whose
 * host is up but whose process is gone answers quickly (ICMP port unreachable, TCP RST: `refused`); an address
 * behind a partition, or with no host at all, never answers.
 *
 * Partitions are sets of cut directed links, so one-way partitions (a hears b, b does not hear a) are as easy as
 * two-way ones. A stream needs both directions (TCP cannot work with acks lost), so any cut breaks it.
 * Everything is counted, and every fault is a trace line.
 */
import { assert } from '../core/primitives/assert.ts'
import type { CallFailure } from '../core/node/input.ts'
import type { Millis, PeerAddress } from '../core/primitives/ids.ts'
import type { Random } from '../core/primitives/random.ts'
import { Counters } from './counters.ts'
import type { SimScheduler } from './sim-scheduler.ts'
import type { Trace } from './trace.ts'

export interface LatencyOptions {
  /** One-way minimum: propagation plus both kernels. */
  readonly baseMs: Millis
  /** Uniform extra delay in [0, jitterMs): queueing in switches. Larger jitter means more reordering. */
  readonly jitterMs: Millis
  /** Chance that a packet also hits a long delay (a congested port, a paused VM). */
  readonly tailProbability: number
  /** Uniform extra delay in [0, tailMs) for the unlucky packets. */
  readonly tailMs: Millis
}

export interface NetworkOptions {
  readonly latency: LatencyOptions
  /** Chance a datagram vanishes. Streams retransmit, so they are not affected. */
  readonly lossProbability: number
  /** Chance a datagram arrives twice (each copy with its own latency). */
  readonly duplicateProbability: number
  /** Chance one byte of a datagram is flipped; the receiver must drop it through the codec's typed error. */
  readonly corruptProbability: number
  /** Datagrams above this are a programming error (the port says so), not a network fault. */
  readonly maxDatagramBytes: number
  /** A stream send to a silent host is reported `unreachable` after this long (the kernel's connect timeout). */
  readonly connectTimeoutMs: Millis
}

export const defaultNetworkOptions: NetworkOptions = {
  // A switched LAN seen through a busy kernel: about 1-3 ms one way, 1% of packets 10-30 ms late. Coarser than a
  // real LAN on purpose: it spreads events out in virtual time, which makes traces readable and reorders more.
  latency: { baseMs: 1, jitterMs: 2, tailProbability: 0.01, tailMs: 20 },
  lossProbability: 0,
  duplicateProbability: 0,
  corruptProbability: 0,
  maxDatagramBytes: 1_400,
  connectTimeoutMs: 1_000,
}

/** What travels on a stream: the codec's bytes plus the envelope the real channel's frame header carries. */
export type StreamFrame =
  | { readonly kind: 'one-way'; readonly bytes: Uint8Array; readonly description: string }
  | { readonly kind: 'request'; readonly callId: number; readonly bytes: Uint8Array; readonly description: string }
  | { readonly kind: 'response'; readonly callId: number; readonly bytes: Uint8Array; readonly description: string }

/** The network's view of a transport: how it hands over bytes and bad news. */
export interface NetworkEndpoint {
  readonly localAddress: PeerAddress
  receiveDatagram(from: PeerAddress, bytes: Uint8Array): void
  receiveFrame(connectionId: number, from: PeerAddress, frame: StreamFrame): void
  /** A datagram reached a host with no process on the port (ICMP port unreachable). */
  datagramRefused(to: PeerAddress): void
  /** A stream frame could not be sent: no process at `to` (`refused`) or no answer at all (`unreachable`). */
  streamFailed(to: PeerAddress, frame: StreamFrame, reason: CallFailure): void
  /** The peer's end of this connection went away (its process died or closed). */
  connectionLost(connectionId: number, peer: PeerAddress): void
}

export type PartitionDirection = 'two-way' | 'one-way'

const counterNames = [
  'datagramsSent', 'datagramsDelivered', 'datagramsLost', 'datagramsDuplicated', 'datagramsCorrupted',
  'datagramsCut', 'datagramsNoProcess', 'datagramsNoHost', 'framesSent', 'framesDelivered', 'framesDroppedBroken',
  'framesRefused', 'framesUnreachable', 'connectionsOpened', 'connectionsBroken', 'connectionsLostNotified',
  'refusals', 'malformedDropped', 'bytesSent', 'partitions', 'heals',
] as const
export type NetworkCounter = (typeof counterNames)[number]

interface Connection {
  readonly id: number
  readonly low: PeerAddress
  readonly high: PeerAddress
  open: boolean
  /** Latest scheduled arrival per direction; later frames never arrive before it, which keeps FIFO order. */
  lastArrivalAtLowMs: Millis
  lastArrivalAtHighMs: Millis
}

export class SimNetwork {
  readonly counters = new Counters<NetworkCounter>(counterNames)
  private options: NetworkOptions
  private readonly hosts = new Set<PeerAddress>()
  private readonly endpoints = new Map<PeerAddress, NetworkEndpoint>()
  private readonly cuts = new Set<string>()
  private readonly connections = new Map<string, Connection>()
  private nextConnectionId = 1

  constructor(
    private readonly scheduler: SimScheduler,
    private readonly random: Random,
    private readonly trace: Trace,
    options: NetworkOptions = defaultNetworkOptions,
  ) {
    this.options = options
    checkOptions(options)
  }

  get currentOptions(): NetworkOptions {
    return this.options
  }

  /** Changes fault rates mid-run (loss bursts); latency and limits may change too. */
  setOptions(patch: Partial<NetworkOptions>): void {
    this.options = { ...this.options, ...patch }
    checkOptions(this.options)
  }

  // ---- hosts and processes ---------------------------------------------------------------------------------

  /** A machine at this address exists; it answers `refused` while no process is attached. */
  addHost(address: PeerAddress): void {
    this.hosts.add(address)
  }

  attach(endpoint: NetworkEndpoint): void {
    const address = endpoint.localAddress
    assert(!this.endpoints.has(address), () => `${address} already has a process attached`)
    this.hosts.add(address)
    this.endpoints.set(address, endpoint)
  }

  /** The process at `address` is gone (crashed or closed): its connections break and peers hear of it. */
  detach(address: PeerAddress): void {
    if (!this.endpoints.delete(address)) return
    for (const connection of [...this.connections.values()]) {
      if (connection.low !== address && connection.high !== address) continue
      const peer = connection.low === address ? connection.high : connection.low
      this.breakConnection(connection, 'process gone')
      // The kernel of the dead process's host sends FIN/RST; it arrives unless the path is cut.
      if (this.isCut(address, peer)) continue
      const connectionId = connection.id
      this.scheduler.after(this.sampleLatencyMs(), () => {
        const endpoint = this.endpoints.get(peer)
        if (endpoint === undefined) return
        this.counters.add('connectionsLostNotified')
        endpoint.connectionLost(connectionId, address)
      })
    }
  }

  isAttached(address: PeerAddress): boolean {
    return this.endpoints.has(address)
  }

  // ---- partitions ------------------------------------------------------------------------------------------

  /** Cuts traffic from every address in `sideA` to every address in `sideB` (and back, when two-way). */
  partition(sideA: readonly PeerAddress[], sideB: readonly PeerAddress[], direction: PartitionDirection): void {
    for (const a of sideA) {
      for (const b of sideB) {
        if (a === b) continue
        this.cuts.add(linkKey(a, b))
        if (direction === 'two-way') this.cuts.add(linkKey(b, a))
      }
    }
    this.counters.add('partitions')
    this.trace.record(this.scheduler.nowMs, 'net', `partition ${direction} [${sideA.join(',')}] | [${sideB.join(',')}]`)
    for (const connection of [...this.connections.values()]) {
      if (this.isCut(connection.low, connection.high) || this.isCut(connection.high, connection.low)) {
        this.breakConnection(connection, 'partition')
      }
    }
  }

  /** Removes every cut. Broken connections stay broken; the next send opens a new one. */
  heal(): void {
    this.cuts.clear()
    this.counters.add('heals')
    this.trace.record(this.scheduler.nowMs, 'net', 'heal')
  }

  isCut(from: PeerAddress, to: PeerAddress): boolean {
    return this.cuts.has(linkKey(from, to))
  }

  // ---- datagrams -------------------------------------------------------------------------------------------

  sendDatagram(from: PeerAddress, to: PeerAddress, bytes: Uint8Array, description: string): void {
    assert(bytes.length <= this.options.maxDatagramBytes, () => `datagram of ${bytes.length} B exceeds ${this.options.maxDatagramBytes} B`)
    this.counters.add('datagramsSent')
    this.counters.add('bytesSent', bytes.length)
    const what = `dgram ${from}>${to} ${description} ${bytes.length}B`
    if (this.isCut(from, to)) return this.dropDatagram('datagramsCut', `${what} cut`)
    if (this.random.nextFloat() < this.options.lossProbability) return this.dropDatagram('datagramsLost', `${what} lost`)
    const copies = this.random.nextFloat() < this.options.duplicateProbability ? 2 : 1
    if (copies === 2) this.counters.add('datagramsDuplicated')
    for (let copy = 0; copy < copies; copy++) {
      let payload = bytes
      let fate = ''
      if (this.random.nextFloat() < this.options.corruptProbability) {
        payload = this.corrupt(bytes)
        fate = ' corrupted'
        this.counters.add('datagramsCorrupted')
      }
      const latencyMs = this.sampleLatencyMs()
      this.trace.record(this.scheduler.nowMs, 'net', `${what} +${latencyMs.toFixed(3)}ms${copy === 1 ? ' dup' : ''}${fate}`)
      this.scheduler.after(latencyMs, () => this.arriveDatagram(from, to, payload, what))
    }
  }

  private arriveDatagram(from: PeerAddress, to: PeerAddress, bytes: Uint8Array, what: string): void {
    // A partition that began while the packet was in flight catches it too.
    if (this.isCut(from, to)) return this.dropDatagram('datagramsCut', `${what} cut in flight`)
    const endpoint = this.endpoints.get(to)
    if (endpoint !== undefined) {
      this.counters.add('datagramsDelivered')
      endpoint.receiveDatagram(from, bytes)
      return
    }
    if (!this.hosts.has(to)) return this.dropDatagram('datagramsNoHost', `${what} no host`)
    this.dropDatagram('datagramsNoProcess', `${what} no process, refused`)
    // ICMP port unreachable travels back and surfaces as ECONNREFUSED at the sender.
    if (this.isCut(to, from)) return
    this.scheduler.after(this.sampleLatencyMs(), () => {
      this.counters.add('refusals')
      this.endpoints.get(from)?.datagramRefused(to)
    })
  }

  private dropDatagram(counter: NetworkCounter, what: string): void {
    this.counters.add(counter)
    this.trace.record(this.scheduler.nowMs, 'net', what)
  }

  private corrupt(bytes: Uint8Array): Uint8Array {
    const copy = bytes.slice()
    if (copy.length === 0) return copy
    const index = this.random.nextInt(copy.length)
    copy[index] = (copy[index] ?? 0) ^ (1 + this.random.nextInt(255))
    return copy
  }

  // ---- streams ---------------------------------------------------------------------------------------------

  /**
   * Sends a frame to `to` over the connection between the two addresses, opening one if there is none.
   * Returns the connection's id, or null when no connection could be made; the sender's endpoint then hears
   * `refused` or `unreachable` later, from the queue, never during this call.
   */
  sendStream(from: PeerAddress, to: PeerAddress, frame: StreamFrame): number | null {
    assert(from !== to, () => `${from} cannot open a stream to itself`)
    this.countFrame(frame)
    const existing = this.connections.get(pairKey(from, to))
    if (existing !== undefined) {
      this.transmit(existing, from, to, frame)
      return existing.id
    }
    const refusal = this.connectFailure(from, to)
    if (refusal !== null) {
      this.failStream(from, to, frame, refusal)
      return null
    }
    const connection = this.open(from, to)
    this.transmit(connection, from, to, frame)
    return connection.id
  }

  /** Sends on one particular connection (a response goes back the way its request came); lost if it broke. */
  sendOnConnection(connectionId: number, from: PeerAddress, to: PeerAddress, frame: StreamFrame): void {
    this.countFrame(frame)
    const connection = this.connections.get(pairKey(from, to))
    if (connection === undefined || connection.id !== connectionId) {
      this.counters.add('framesDroppedBroken')
      this.trace.record(this.scheduler.nowMs, 'net', `frame ${from}>${to} ${frame.description} connection ${connectionId} gone`)
      return
    }
    this.transmit(connection, from, to, frame)
  }

  private countFrame(frame: StreamFrame): void {
    this.counters.add('framesSent')
    this.counters.add('bytesSent', frame.bytes.length)
  }

  private connectFailure(from: PeerAddress, to: PeerAddress): CallFailure | null {
    // SYN or SYN-ACK lost in either direction, or nobody home at all: the connect attempt hears nothing.
    if (this.isCut(from, to) || this.isCut(to, from) || !this.hosts.has(to)) return 'unreachable'
    if (!this.endpoints.has(to)) return 'refused'
    return null
  }

  private failStream(from: PeerAddress, to: PeerAddress, frame: StreamFrame, reason: CallFailure): void {
    const refused = reason === 'refused'
    this.counters.add(refused ? 'framesRefused' : 'framesUnreachable')
    this.trace.record(this.scheduler.nowMs, 'net', `frame ${from}>${to} ${frame.description} ${reason}`)
    // An RST comes back within a round trip; a silent host is given up on after the connect timeout.
    const delayMs = refused ? this.sampleLatencyMs() + this.sampleLatencyMs() : this.options.connectTimeoutMs
    this.scheduler.after(delayMs, () => {
      if (refused) this.counters.add('refusals')
      this.endpoints.get(from)?.streamFailed(to, frame, reason)
    })
  }

  private open(from: PeerAddress, to: PeerAddress): Connection {
    // SYN, SYN-ACK, then the first data: no frame can arrive before three one-way trips have passed.
    const readyAtMs = this.scheduler.nowMs + this.sampleLatencyMs() + this.sampleLatencyMs() + this.sampleLatencyMs()
    const [low, high] = from < to ? [from, to] : [to, from]
    const connection: Connection = {
      id: this.nextConnectionId++, low, high, open: true, lastArrivalAtLowMs: readyAtMs, lastArrivalAtHighMs: readyAtMs,
    }
    this.connections.set(pairKey(from, to), connection)
    this.counters.add('connectionsOpened')
    this.trace.record(this.scheduler.nowMs, 'net', `connect ${from}>${to} #${connection.id}`)
    return connection
  }

  private transmit(connection: Connection, from: PeerAddress, to: PeerAddress, frame: StreamFrame): void {
    const towardLow = to === connection.low
    const earliestMs = towardLow ? connection.lastArrivalAtLowMs : connection.lastArrivalAtHighMs
    // Never before the previous frame in this direction: TCP delivers in order even when packets are jittered.
    const arrivalMs = Math.max(this.scheduler.nowMs + this.sampleLatencyMs(), earliestMs)
    if (towardLow) connection.lastArrivalAtLowMs = arrivalMs
    else connection.lastArrivalAtHighMs = arrivalMs
    const what = `frame ${from}>${to} ${frame.description} ${frame.bytes.length}B #${connection.id}`
    this.trace.record(this.scheduler.nowMs, 'net', `${what} +${(arrivalMs - this.scheduler.nowMs).toFixed(3)}ms`)
    this.scheduler.at(arrivalMs, () => {
      const endpoint = this.endpoints.get(to)
      if (!connection.open || endpoint === undefined) {
        this.counters.add('framesDroppedBroken')
        this.trace.record(this.scheduler.nowMs, 'net', `${what} dropped, connection broken`)
        return
      }
      this.counters.add('framesDelivered')
      endpoint.receiveFrame(connection.id, from, frame)
    })
  }

  private breakConnection(connection: Connection, why: string): void {
    if (!connection.open) return
    connection.open = false
    this.connections.delete(pairKey(connection.low, connection.high))
    this.counters.add('connectionsBroken')
    this.trace.record(this.scheduler.nowMs, 'net', `break ${connection.low}~${connection.high} #${connection.id} ${why}`)
  }

  // ---- latency ---------------------------------------------------------------------------------------------

  /** One-way delay, rounded to whole microseconds so traces print exactly what was scheduled. */
  sampleLatencyMs(): Millis {
    const { baseMs, jitterMs, tailProbability, tailMs } = this.options.latency
    let delayMs = baseMs + this.random.nextFloat() * jitterMs
    if (this.random.nextFloat() < tailProbability) delayMs += this.random.nextFloat() * tailMs
    return Math.round(delayMs * 1_000) / 1_000
  }
}

function linkKey(from: PeerAddress, to: PeerAddress): string {
  return `${from}>${to}`
}

function pairKey(a: PeerAddress, b: PeerAddress): string {
  return a < b ? `${a}~${b}` : `${b}~${a}`
}

function checkOptions(options: NetworkOptions): void {
  const probabilities = [options.lossProbability, options.duplicateProbability, options.corruptProbability, options.latency.tailProbability]
  for (const p of probabilities) assert(p >= 0 && p <= 1, () => `probability ${p} must be in [0, 1]`)
  const { baseMs, jitterMs, tailMs } = options.latency
  assert(baseMs >= 0 && jitterMs >= 0 && tailMs >= 0, 'latencies must not be negative')
  assert(options.connectTimeoutMs > 0, 'connectTimeoutMs must be positive')
  assert(options.maxDatagramBytes > 0, 'maxDatagramBytes must be positive')
}
