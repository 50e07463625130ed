/**
 * The production shell around one deterministic Node. It owns everything the core may not touch: the tick
 * timer, the clock, the transport and the storage engine. Its loop is always the same: turn an event into an
 * Input, call `node.step(input, clock.nowMs())`, perform the returned effects in order, and feed their outcomes
 * back as Inputs.
 *
 *   timer / socket / disk / HTTP ──► Input ──► node.step ──► Effect[] ──► perform ──► (outcomes become Inputs)
 *
 * Inputs that arrive while effects are being performed (a transport callback that fires synchronously, say) are
 * queued and stepped afterwards, so the core never sees re-entrant calls.
 */
import type { Effect } from '../core/node/effect.ts'
import type { Input } from '../core/node/input.ts'
import type { ClientRequest, ClientResponse } from '../core/node/client.ts'
import type { Node } from '../core/node/node.ts'
import type { Durability, Mutation, ReadQuery, StorageResult } from '../core/node/storage-operation.ts'
import type { Clock } from '../core/primitives/clock.ts'
import { IdTable } from '../core/primitives/id-table.ts'
import { callId, requestId } from '../core/primitives/ids.ts'
import type { CallId, Millis, OperationId, PeerAddress, RequestId } from '../core/primitives/ids.ts'
import { unreachable } from '../core/primitives/assert.ts'
import type { Message } from '../core/node/message.ts'
import type { Transport } from '../transport/transport.ts'
import type { Logger } from './logger.ts'

/** What the runtime needs from storage: execute the core's semantic operations, durably when asked. */
export interface StorageExecutor {
  apply(mutations: readonly Mutation[], durability: Durability): Promise<StorageResult>
  /** apply with callbacks, never called back synchronously: no promise per write (StorageEngine.applyWith). */
  applyWith?(mutations: readonly Mutation[], durability: Durability, done: (result: StorageResult) => void, fail: (error: unknown) => void): void
  read(query: ReadQuery): Promise<StorageResult>
  /** The result now when it is available without waiting (an inline object read); undefined: use `read`. */
  readNow?(query: ReadQuery): StorageResult | undefined
}

export interface NodeRuntimeOptions {
  /** How often the core gets a tick. 10 ms gives probe timeouts a resolution well below their 100 ms minimum. */
  readonly tickIntervalMs: Millis
}

export interface NodeRuntimePorts {
  readonly node: Node
  readonly clock: Clock
  readonly transport: Transport
  readonly storage: StorageExecutor
  readonly logger: Logger
}

export class NodeRuntime {
  private readonly pendingInputs: Input[] = []
  private stepping = false
  private tickTimer: NodeJS.Timeout | undefined
  private nextRequestId = 1
  private nextInboundCallId = 1
  // Not Maps: see id-table.ts for how a churned long-lived Map kept every finished request alive.
  private readonly clientWaiters = new IdTable<(response: ClientResponse) => void>()
  private readonly inboundCalls = new IdTable<(answer: Message) => void>()
  /** The largest delay of a tick behind its schedule since the last read: the event-loop lag. */
  private maxTickLagMs: Millis = 0
  private lastTickAtMs: Millis

  constructor(
    private readonly ports: NodeRuntimePorts,
    private readonly options: NodeRuntimeOptions,
  ) {
    this.lastTickAtMs = ports.clock.nowMs()
  }

  start(): void {
    this.ports.transport.listen({
      onMessage: (from, carrier, message) => this.enqueue({ kind: 'packet', from, carrier, message }),
      onCall: (from, message, respond) => this.acceptCall(from, message, respond),
      onSendFailed: (to, reason) => this.enqueue({ kind: 'send-failed', to, reason }),
    })
    this.tickTimer = setInterval(() => this.onTimer(), this.options.tickIntervalMs)
  }

  async stop(): Promise<void> {
    if (this.tickTimer !== undefined) clearInterval(this.tickTimer)
    this.tickTimer = undefined
    for (const resolve of this.clientWaiters.drain()) {
      resolve({ kind: 'error', code: 'SHUTTING_DOWN', message: 'the node is shutting down' })
    }
    await this.ports.transport.close()
  }

  /** Hands a client request to the core; resolves with the core's reply. */
  request(request: ClientRequest): Promise<ClientResponse> {
    const id = requestId(this.nextRequestId++)
    return new Promise((resolve) => {
      this.clientWaiters.set(id, resolve)
      this.enqueue({ kind: 'client-request', requestId: id, request })
    })
  }

  /** The largest event-loop lag the tick timer saw recently (for /metrics). */
  peekEventLoopLagMs(): Millis {
    return this.maxTickLagMs
  }

  private onTimer(): void {
    const now = this.ports.clock.nowMs()
    const lagMs = Math.max(0, now - this.lastTickAtMs - this.options.tickIntervalMs)
    // A decaying maximum: one long stall stays visible on /metrics for a while, then fades.
    this.maxTickLagMs = Math.max(lagMs, this.maxTickLagMs * 0.99)
    this.lastTickAtMs = now
    this.enqueue({ kind: 'tick', lagMs, wallClockMs: Math.floor(this.ports.clock.wallClockMs()) })
  }

  private acceptCall(from: PeerAddress, message: Message, respond: (answer: Message) => void): void {
    const id = callId(this.nextInboundCallId++)
    this.inboundCalls.set(id, respond)
    this.enqueue({ kind: 'call', from, callId: id, message })
  }

  private enqueue(input: Input): void {
    this.pendingInputs.push(input)
    if (this.stepping) return
    this.stepping = true
    try {
      for (let next = this.pendingInputs.shift(); next !== undefined; next = this.pendingInputs.shift()) {
        this.perform(this.ports.node.step(next, this.ports.clock.nowMs()))
      }
    } finally {
      this.stepping = false
    }
  }

  private perform(effects: readonly Effect[]): void {
    for (const effect of effects) this.performOne(effect)
  }

  private performOne(effect: Effect): void {
    switch (effect.kind) {
      case 'send':
        return this.ports.transport.send(effect.to, effect.carrier, effect.message)
      case 'call':
        return this.ports.transport.call(effect.to, effect.message, effect.timeoutMs, (outcome) =>
          this.enqueue({ kind: 'call-result', callId: effect.callId, to: effect.to, outcome }),
        )
      case 'respond':
        return this.respond(effect.callId, effect.message)
      case 'read': {
        // An inline object read answers now: its result is queued as the next input of this same loop, without
        // a promise and a microtask per read (perform only runs inside enqueue's loop, so this cannot recurse).
        const now = this.ports.storage.readNow?.(effect.query)
        if (now !== undefined) return this.enqueue({ kind: 'storage-result', operationId: effect.operationId, result: now })
        return void this.ports.storage.read(effect.query).then(
          (result) => this.enqueue({ kind: 'storage-result', operationId: effect.operationId, result }),
          (error: unknown) => this.storageFailed(effect.operationId, error),
        )
      }
      case 'write': {
        const done = (result: StorageResult): void => this.enqueue({ kind: 'storage-result', operationId: effect.operationId, result })
        const fail = (error: unknown): void => this.storageFailed(effect.operationId, error)
        if (this.ports.storage.applyWith !== undefined) return this.ports.storage.applyWith(effect.mutations, effect.durability, done, fail)
        return void this.ports.storage.apply(effect.mutations, effect.durability).then(done, fail)
      }
      case 'reply':
        return this.reply(effect.requestId, effect.response)
      case 'log':
        return this.ports.logger.log(effect.level, effect.event, effect.fields)
      default:
        return unreachable(effect)
    }
  }

  private respond(id: CallId, message: Message): void {
    this.inboundCalls.take(id)?.(message)
  }

  private reply(id: RequestId, response: ClientResponse): void {
    this.clientWaiters.take(id)?.(response)
  }

  private storageFailed(id: OperationId, error: unknown): void {
    // A storage engine that rejects instead of answering `failed` has a bug; the core still gets an answer so
    // no request waits forever, and the log says what happened.
    const message = error instanceof Error ? error.message : String(error)
    this.ports.logger.log('error', 'storage-rejected', { message })
    this.enqueue({ kind: 'storage-result', operationId: id, result: { kind: 'failed', code: 'STORAGE_FAILED', message } })
  }
}
