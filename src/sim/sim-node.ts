/**
 * The simulator's shell around one Node: the same job src/runtime does with real timers, sockets and LevelDB,
 * done on the scheduler's queue. It feeds the node ticks at a fixed interval (with a seeded phase, so nodes do
 * not tick in lockstep), turns transport callbacks into packet, call and call-result inputs, and performs the
 * node's effects in the order they were returned.
 *
 * Lifecycle:   start ──> up ──crash──> down ──restart──> up (generation + 1, same disk)
 *
 * A crash is a process death: in-flight storage operations never complete, unsynced writes are lost, the
 * transport vanishes without running a single callback, and client requests in progress fail. Every closure
 * this shell schedules carries the life it was scheduled in and does nothing in a later one, so no event of a
 * dead process can reach its successor.
 */
import { assert, unreachable } from '../core/primitives/assert.ts'
import type { Effect } from '../core/node/effect.ts'
import type { CallFailure, Carrier, Input } from '../core/node/input.ts'
import type { Message } from '../core/node/message.ts'
import type { ClientRequest, ClientResponse } from '../core/node/client.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import { Node, restoredMetaNames } from '../core/node/node.ts'
import type { CallId, Millis, NodeId, PeerAddress, RequestId } from '../core/primitives/ids.ts'
import { callId as toCallId, requestId as toRequestId } from '../core/primitives/ids.ts'
import type { CallOutcome } from '../core/node/input.ts'
import type { SeededRandom } from '../core/primitives/random.ts'
import type { NodeClock } from './sim-clock.ts'
import type { SimDisk } from './sim-disk.ts'
import type { SimNetwork } from './sim-network.ts'
import type { SimScheduler } from './sim-scheduler.ts'
import { SimTransport, describeMessage } from './sim-transport.ts'
import type { Trace } from './trace.ts'

export interface DiskLatencyOptions {
  readonly readLatencyMs: Millis
  /** Time to append a batch to the log, before any fsync. */
  readonly writeLatencyMs: Millis
  /** Extra time a durable batch waits for its fsync. An SSD's fsync is a few hundred µs to a few ms. */
  readonly syncLatencyMs: Millis
}

export interface SimNodeOptions {
  /** How often the shell calls tick. Well below the test preset's 100 ms probe timeout, so timers are precise. */
  readonly tickIntervalMs: Millis
  readonly disk: DiskLatencyOptions
}

/** Calls from peers a node may leave unanswered before the oldest is forgotten (a bound, as in the real channel). */
const maxUnansweredIncomingCalls = 4_096

export const defaultSimNodeOptions: SimNodeOptions = {
  tickIntervalMs: 10,
  disk: { readLatencyMs: 0.1, writeLatencyMs: 0.2, syncLatencyMs: 1 },
}

/** How a client request ended, as its HTTP client would see it. */
export type ClientOutcome =
  | { readonly kind: 'response'; readonly response: ClientResponse }
  | { readonly kind: 'failed'; readonly reason: 'node-down' | 'connection-lost' }

/** Hooks for workloads and checkers: they see what the node sees, without being part of it. */
export interface SimNodeObserver {
  onInput?(node: SimNode, input: Input): void
  onClientOutcome?(node: SimNode, requestId: RequestId, outcome: ClientOutcome): void
}

export interface SimNodeDependencies {
  readonly scheduler: SimScheduler
  readonly network: SimNetwork
  readonly trace: Trace
  readonly config: NodeConfig
  /** This node's own stream; each life of the node forks a fresh Random for its Node from it. */
  readonly random: SeededRandom
  readonly clock: NodeClock
  readonly disk: SimDisk
  readonly observer: SimNodeObserver
  /** Addresses this node joins through on every start (membership retries until one answers). */
  readonly seeds: readonly PeerAddress[]
}

/** Client request ids below zero belong to the shell itself (the join at start), never to a workload. */
const isShellRequest = (requestId: RequestId): boolean => requestId < 0

interface Life {
  readonly token: number
  readonly node: Node
  readonly transport: SimTransport
  /** Calls from peers awaiting this node's respond effect, by the call id the shell gave the node. */
  readonly incomingCalls: Map<CallId, (answer: Message) => void>
  readonly clientRequests: Set<RequestId>
  nextIncomingCallId: number
  /** The commit queue is one writer: a batch completes no earlier than the one before it. */
  storageFreeAtMs: Millis
}

export class SimNode {
  private life: Life | null = null
  private lifeToken = 0
  private generationCounter = 0

  constructor(
    readonly id: NodeId,
    readonly address: PeerAddress,
    private readonly deps: SimNodeDependencies,
    private readonly options: SimNodeOptions = defaultSimNodeOptions,
  ) {
    assert(options.tickIntervalMs > 0, 'tickIntervalMs must be positive')
  }

  get isUp(): boolean {
    return this.life !== null
  }

  get generation(): number {
    return this.generationCounter
  }

  get transport(): SimTransport | null {
    return this.life?.transport ?? null
  }

  /** The Node of the current life, for checkers that read state without stepping it; null while down. */
  get currentNode(): Node | null {
    return this.life?.node ?? null
  }

  get clock(): NodeClock {
    return this.deps.clock
  }

  get disk(): SimDisk {
    return this.deps.disk
  }

  /** Boots a new process: a new Node with the next generation, a new transport, the same disk. */
  start(): void {
    assert(this.life === null, () => `${this.id} is already up`)
    this.generationCounter++
    const token = ++this.lifeToken
    const metadata = { httpAddress: `${this.id}:8000`, zone: '', partitions: this.deps.config.partitions, protocolVersion: 1 }
    const identity = { id: this.id, address: this.address, generation: this.generationCounter, metadata }
    const node = new Node(identity, { random: this.deps.random.fork() }, this.deps.config, this.deps.clock.nowMs(), this.restoredMeta())
    const transport = new SimTransport(this.deps.network, this.deps.scheduler, this.deps.trace, this.address)
    this.life = {
      token, node, transport, incomingCalls: new Map(), clientRequests: new Set(), nextIncomingCallId: 1,
      storageFreeAtMs: this.deps.scheduler.nowMs,
    }
    this.record(`start generation ${this.generationCounter}`)
    transport.listen({
      onMessage: (from, carrier, message) => this.step(token, { kind: 'packet', from, carrier, message }),
      onCall: (from, message, respond) => this.acceptCall(token, from, message, respond),
      onSendFailed: (to, reason) => this.step(token, { kind: 'send-failed', to, reason }),
    })
    if (this.deps.seeds.length > 0) {
      this.step(token, { kind: 'client-request', requestId: toRequestId(-token), request: { kind: 'join', seeds: this.deps.seeds } })
    }
    // A seeded phase, so that nodes started together do not tick at the same instants.
    const phaseMs = this.deps.random.nextInt(Math.max(1, Math.floor(this.options.tickIntervalMs * 1_000))) / 1_000
    this.scheduleTick(token, phaseMs)
  }

  /** Kills the process. Nothing of this life runs again; unsynced writes are lost. */
  crash(): void {
    const life = this.life
    assert(life !== null, () => `${this.id} is not up`)
    this.life = null
    this.record(`crash generation ${this.generationCounter}`)
    life.transport.crash()
    this.deps.disk.crash()
    for (const requestId of life.clientRequests) {
      this.deps.observer.onClientOutcome?.(this, requestId, { kind: 'failed', reason: 'connection-lost' })
    }
  }

  restart(): void {
    this.start()
  }

  /** Hands a client request to the node now; a down node fails it at once, as a refused HTTP connection would. */
  clientRequest(requestId: RequestId, request: ClientRequest): void {
    const life = this.life
    if (life === null) {
      this.record(`client-request #${requestId} ${request.kind} refused, node down`)
      this.deps.observer.onClientOutcome?.(this, requestId, { kind: 'failed', reason: 'node-down' })
      return
    }
    life.clientRequests.add(requestId)
    this.step(life.token, { kind: 'client-request', requestId, request })
  }

  /** Lets a workload send through this node's transport, as a tool on the same host would; false when down. */
  sendFromShell(to: PeerAddress, carrier: Carrier, message: Message): boolean {
    if (this.life === null) return false
    this.life.transport.send(to, carrier, message)
    return true
  }

  /** Lets a workload call through this node's transport; the callback is dropped if this life ends first. */
  callFromShell(to: PeerAddress, message: Message, timeoutMs: Millis, callback: (outcome: CallOutcome) => void): boolean {
    if (this.life === null) return false
    this.life.transport.call(to, message, timeoutMs, callback)
    return true
  }

  // ---- the loop --------------------------------------------------------------------------------------------

  private scheduleTick(token: number, delayMs: Millis): void {
    this.deps.scheduler.after(delayMs, () => {
      if (this.life?.token !== token) return
      this.step(token, { kind: 'tick', wallClockMs: Math.floor(this.deps.clock.wallClockMs()) })
      this.scheduleTick(token, this.options.tickIntervalMs)
    }, 'background')
  }

  /** What a real process reads at start before building its Node: the metadata that survived on its disk. */
  private restoredMeta(): Map<string, Uint8Array> {
    const meta = new Map<string, Uint8Array>()
    for (const name of restoredMetaNames) {
      const result = this.deps.disk.read({ kind: 'get-meta', name }, this.deps.scheduler.nowMs)
      if (result.kind === 'meta' && result.value !== null) meta.set(name, result.value)
    }
    return meta
  }

  private acceptCall(token: number, from: PeerAddress, message: Message, respond: (answer: Message) => void): void {
    const life = this.life
    if (life?.token !== token) return
    const callId = toCallId(life.nextIncomingCallId++)
    life.incomingCalls.set(callId, respond)
    // A core that never responds must not grow this map without bound; the caller has long timed out anyway.
    if (life.incomingCalls.size > maxUnansweredIncomingCalls) {
      const [oldest] = life.incomingCalls.keys()
      if (oldest !== undefined) life.incomingCalls.delete(oldest)
      this.record(`incoming call #${oldest} abandoned: over ${maxUnansweredIncomingCalls} unanswered`)
    }
    this.step(token, { kind: 'call', from, callId, message })
  }

  private step(token: number, input: Input): void {
    const life = this.life
    if (life?.token !== token) return
    this.deps.observer.onInput?.(this, input)
    const effects = life.node.step(input, this.deps.clock.nowMs())
    this.record(`${describeInput(input)} -> ${effects.length === 0 ? '-' : effects.map(describeEffect).join(', ')}`)
    for (const effect of effects) {
      // An effect may crash nothing, but a workload hook might; stop if this life ended mid-batch.
      if (this.life?.token !== token) return
      this.perform(life, effect)
    }
  }

  private perform(life: Life, effect: Effect): void {
    switch (effect.kind) {
      case 'send':
        return life.transport.send(effect.to, effect.carrier, effect.message)
      case 'call': {
        const { callId, to } = effect
        return life.transport.call(to, effect.message, effect.timeoutMs, (outcome) =>
          this.step(life.token, { kind: 'call-result', callId, to, outcome }))
      }
      case 'respond':
        return this.respond(life, effect.callId, effect.message)
      case 'read':
      case 'write':
        return this.performStorage(life, effect)
      case 'reply':
        if (isShellRequest(effect.requestId)) return
        life.clientRequests.delete(effect.requestId)
        return this.deps.observer.onClientOutcome?.(this, effect.requestId, { kind: 'response', response: effect.response })
      case 'log':
        return this.record(`log ${effect.level} ${effect.event}${formatFields(effect.fields)}`)
      default:
        return unreachable(effect)
    }
  }

  private respond(life: Life, callId: CallId, message: Message): void {
    const respond = life.incomingCalls.get(callId)
    if (respond === undefined) {
      this.record(`respond #${callId} to no pending call, ignored`)
      return
    }
    life.incomingCalls.delete(callId)
    respond(message)
  }

  private performStorage(life: Life, effect: Extract<Effect, { kind: 'read' | 'write' }>): void {
    const { disk } = this.options
    const scheduler = this.deps.scheduler
    const { operationId } = effect
    if (effect.kind === 'read') {
      scheduler.after(disk.readLatencyMs, () => {
        if (this.life?.token !== life.token) return
        this.step(life.token, { kind: 'storage-result', operationId, result: this.deps.disk.read(effect.query, scheduler.nowMs) })
      })
      return
    }
    const costMs = disk.writeLatencyMs + (effect.durability === 'durable' ? disk.syncLatencyMs : 0)
    const completeAtMs = Math.max(scheduler.nowMs + costMs, life.storageFreeAtMs)
    life.storageFreeAtMs = completeAtMs
    scheduler.at(completeAtMs, () => {
      // A batch whose process died before it completed never reached the disk.
      if (this.life?.token !== life.token) return
      const result = this.deps.disk.write(effect.mutations, effect.durability, scheduler.nowMs)
      this.step(life.token, { kind: 'storage-result', operationId, result })
    })
  }

  private record(what: string): void {
    this.deps.trace.record(this.deps.scheduler.nowMs, this.id, what)
  }
}

export function describeInput(input: Input): string {
  switch (input.kind) {
    case 'tick':
      return 'tick'
    case 'packet':
      return `packet ${input.carrier} ${describeMessage(input.message)} from ${input.from}`
    case 'call':
      return `call #${input.callId} ${describeMessage(input.message)} from ${input.from}`
    case 'call-result':
      return `call-result #${input.callId} ${describeOutcome(input.outcome)} from ${input.to}`
    case 'send-failed':
      return `send-failed ${input.to} ${input.reason}`
    case 'client-request':
      return `client-request #${input.requestId} ${input.request.kind}`
    case 'storage-result':
      return `storage-result #${input.operationId} ${input.result.kind}`
    default:
      return unreachable(input)
  }
}

export function describeEffect(effect: Effect): string {
  switch (effect.kind) {
    case 'send':
      return `send ${effect.carrier} ${describeMessage(effect.message)} to ${effect.to}`
    case 'call':
      return `call #${effect.callId} ${describeMessage(effect.message)} to ${effect.to} within ${effect.timeoutMs}ms`
    case 'respond':
      return `respond #${effect.callId} ${describeMessage(effect.message)}`
    case 'read':
      return `read #${effect.operationId} ${effect.query.kind}`
    case 'write':
      return `write #${effect.operationId} ${effect.mutations.length} mutations ${effect.durability}`
    case 'reply':
      return `reply #${effect.requestId} ${effect.response.kind}`
    case 'log':
      return `log ${effect.level} ${effect.event}`
    default:
      return unreachable(effect)
  }
}

function describeOutcome(outcome: CallOutcome): string {
  return outcome.kind === 'ok' ? describeMessage(outcome.message) : `failed ${outcome.reason satisfies CallFailure}`
}

function formatFields(fields: Readonly<Record<string, string | number | boolean | null>>): string {
  return Object.entries(fields).map(([key, value]) => ` ${key}=${String(value)}`).join('')
}
