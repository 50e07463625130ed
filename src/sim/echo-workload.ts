/**
 * The echo workload: the smallest end-to-end protocol there is, used to prove the simulator itself. Nodes send
 * `echo` to each other over every path the transport has (a datagram, a one-way stream frame, a stream call)
 * and expect an `echo-reply` with the same sequence number and payload; the core answers echoes already.
 * Unanswered echoes are resent until they are answered, so under loss, partitions and crashes the workload
 * shows the faults (resends, refusals, timeouts) and, once the fault schedule has healed everything, completes.
 *
 * It acts as a tool on each node's host would: it sends through the node's transport and watches the inputs
 * the node receives, without being part of the node. A reply counts only if it reaches the node that sent the
 * echo, from the node it was sent to, with the exact payload; anything else (a corrupted datagram that still
 * decoded, a duplicate) is counted as stray, never as success.
 */
import { assert } from '../core/primitives/assert.ts'
import type { CallOutcome, Input } from '../core/node/input.ts'
import type { EchoRequest } from '../core/node/message.ts'
import type { Millis, NodeId } from '../core/primitives/ids.ts'
import type { Random } from '../core/primitives/random.ts'
import type { SimNode } from './sim-node.ts'
import type { World } from './world.ts'

/** The three paths an echo can take. A one-way stream echo is answered by datagram (the core's choice). */
export type EchoPath = 'datagram' | 'stream' | 'call'

export interface EchoWorkloadOptions {
  /** Echo exchanges to start; the workload is done when all are answered. */
  readonly exchanges: number
  /** First exchange starts at this virtual time. */
  readonly startMs: Millis
  /** Exchanges start spread evenly over [startMs, startMs + spreadMs]. */
  readonly spreadMs: Millis
  /** An unanswered echo is sent again after this long. Above a round trip, below the test preset's timeouts. */
  readonly retryIntervalMs: Millis
  readonly callTimeoutMs: Millis
  readonly payloadBytes: number
  readonly paths: readonly EchoPath[]
}

export const defaultEchoWorkloadOptions: EchoWorkloadOptions = {
  exchanges: 200,
  startMs: 200,
  spreadMs: 10_000,
  retryIntervalMs: 300,
  callTimeoutMs: 250,
  payloadBytes: 32,
  paths: ['datagram', 'stream', 'call'],
}

interface Exchange {
  readonly seq: number
  readonly from: SimNode
  readonly to: SimNode
  readonly path: EchoPath
  readonly payload: Uint8Array
  attempts: number
  startedAtMs: Millis
  doneAtMs: Millis | null
}

export interface EchoWorkloadStats {
  readonly started: number
  readonly completed: number
  readonly attempts: number
  readonly resends: number
  readonly strayReplies: number
  readonly callFailures: Readonly<Record<string, number>>
}

export class EchoWorkload {
  private readonly exchanges = new Map<number, Exchange>()
  private strayReplies = 0
  private readonly callFailures: Record<string, number> = {}

  constructor(
    private readonly world: World,
    private readonly random: Random,
    private readonly options: EchoWorkloadOptions = defaultEchoWorkloadOptions,
  ) {
    assert(world.cluster.nodes.length >= 2, 'the echo workload needs at least two nodes')
    assert(options.paths.length > 0, 'the echo workload needs at least one path')
    world.cluster.addObserver({ onInput: (node, input) => this.observe(node, input) })
  }

  /** Schedules every exchange; call before running the world. */
  schedule(): void {
    const { exchanges, startMs, spreadMs } = this.options
    for (let seq = 1; seq <= exchanges; seq++) {
      const atMs = startMs + Math.floor(((seq - 1) * spreadMs) / Math.max(1, exchanges))
      this.world.scheduler.at(Math.max(atMs, this.world.nowMs), () => this.begin(seq))
    }
  }

  get isDone(): boolean {
    return this.exchanges.size === this.options.exchanges && [...this.exchanges.values()].every((e) => e.doneAtMs !== null)
  }

  stats(): EchoWorkloadStats {
    const all = [...this.exchanges.values()]
    const attempts = all.reduce((sum, e) => sum + e.attempts, 0)
    return {
      started: all.length,
      completed: all.filter((e) => e.doneAtMs !== null).length,
      attempts,
      resends: attempts - all.length,
      strayReplies: this.strayReplies,
      callFailures: { ...this.callFailures },
    }
  }

  /** What went wrong, empty when every exchange completed. */
  problems(): string[] {
    const problems: string[] = []
    if (this.exchanges.size < this.options.exchanges) {
      problems.push(`only ${this.exchanges.size} of ${this.options.exchanges} echo exchanges started`)
    }
    for (const e of this.exchanges.values()) {
      if (e.doneAtMs === null) problems.push(`echo #${e.seq} ${e.from.id}>${e.to.id} by ${e.path} unanswered after ${e.attempts} attempts`)
    }
    return problems
  }

  private begin(seq: number): void {
    const nodes = this.world.cluster.nodes
    const from = nodes[this.random.nextInt(nodes.length)] as SimNode
    const others = nodes.filter((node) => node !== from)
    const to = others[this.random.nextInt(others.length)] as SimNode
    const path = this.options.paths[this.random.nextInt(this.options.paths.length)] as EchoPath
    const payload = new Uint8Array(this.options.payloadBytes)
    for (let i = 0; i < payload.length; i++) payload[i] = this.random.nextInt(256)
    const exchange: Exchange = { seq, from, to, path, payload, attempts: 0, startedAtMs: this.world.nowMs, doneAtMs: null }
    this.exchanges.set(seq, exchange)
    this.record(`start #${seq} ${from.id}>${to.id} by ${path}`)
    this.attempt(exchange)
  }

  private attempt(exchange: Exchange): void {
    if (exchange.doneAtMs !== null) return
    // A down sender cannot send; try again later, as a client tool on that host would once it is back.
    if (exchange.from.isUp) {
      exchange.attempts++
      if (exchange.attempts > 1) this.record(`resend #${exchange.seq} attempt ${exchange.attempts}`)
      this.send(exchange)
    }
    this.world.schedule(this.options.retryIntervalMs, () => this.attempt(exchange))
  }

  private send(exchange: Exchange): void {
    const message: EchoRequest = { kind: 'echo', from: exchange.from.id, seq: exchange.seq, payload: exchange.payload }
    const to = exchange.to.address
    switch (exchange.path) {
      case 'datagram':
      case 'stream':
        exchange.from.sendFromShell(to, exchange.path, message)
        return
      case 'call':
        exchange.from.callFromShell(to, message, this.options.callTimeoutMs, (outcome) => this.onCallOutcome(exchange, outcome))
        return
    }
  }

  private onCallOutcome(exchange: Exchange, outcome: CallOutcome): void {
    if (outcome.kind === 'failed') {
      this.callFailures[outcome.reason] = (this.callFailures[outcome.reason] ?? 0) + 1
      this.record(`call #${exchange.seq} ${exchange.from.id}>${exchange.to.id} failed ${outcome.reason}`)
      return
    }
    this.accept(exchange.from.id, outcome.message.kind === 'echo-reply' ? outcome.message : null, exchange.to.id)
  }

  private observe(node: SimNode, input: Input): void {
    if (input.kind !== 'packet' || input.message.kind !== 'echo-reply') return
    const responder = this.world.cluster.nodeAt(input.from)
    this.accept(node.id, input.message, responder?.id ?? null)
  }

  private accept(receiver: NodeId, reply: { seq: number; from: NodeId; payload: Uint8Array } | null, responder: NodeId | null): void {
    const exchange = reply === null ? undefined : this.exchanges.get(reply.seq)
    const matches = reply !== null && exchange !== undefined && exchange.from.id === receiver && exchange.to.id === responder &&
      reply.from === responder && sameBytes(reply.payload, exchange.payload)
    if (!matches || exchange.doneAtMs !== null) {
      this.strayReplies++
      return
    }
    exchange.doneAtMs = this.world.nowMs
    this.record(`done #${exchange.seq} after ${exchange.attempts} attempts, ${(exchange.doneAtMs - exchange.startedAtMs).toFixed(3)}ms`)
  }

  private record(what: string): void {
    this.world.trace.record(this.world.nowMs, 'echo', what)
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
