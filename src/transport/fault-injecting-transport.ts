/**
 * A Transport that wraps another and does to this node's traffic what a bad network would: it delays, and
 * therefore reorders, and it duplicates datagrams. It exists because this machine's kernel has no `netem` qdisc
 * (issue 9): chaos runs get latency, reordering and duplication from the node itself, switched on only by
 * explicit configuration (NodeConfig `faultDelayMs`, `faultDelayJitterMs`, `faultDuplicateRate`,
 * `faultInjection`; all off by default, see start-node.ts).
 *
 * What is delayed: every message this node sends (datagrams, stream sends, call requests) and every answer to
 * a call this node made (the return leg). Answers this node gives to others' calls are not delayed here: with
 * every node wrapped, each leg is delayed exactly once, by the node that originated the exchange.
 *
 *   delay of one message = faultDelayMs + Exp(mean faultDelayJitterMs)
 *
 * Ordering. Datagrams are independent, so an exponential delay reorders them, as UDP may. The stream carrier
 * and calls promise per-peer order (the Transport port says so, and TCP gives it), so their delivery time is
 * at least the previous one to the same peer: they are late, never out of order. Duplication applies to
 * datagrams only; a duplicated stream frame is something TCP never does.
 *
 * A call keeps its caller's deadline: its own timer answers `timeout` at timeoutMs however the delays fall,
 * and exactly one callback runs. Settings change at run time with configure(); all pending timers are cleared
 * on close(). This is shell code (timers, a random source); the core never sees it.
 */
import type { CallOutcome, Carrier } from '../core/node/input.ts'
import type { Message } from '../core/node/message.ts'
import type { Millis, PeerAddress } from '../core/primitives/ids.ts'
import { encodeDatagram } from './datagram-codec.ts'
import { MAC_BYTES } from './message-authenticator.ts'
import type { Transport, TransportHandlers, TransportStats } from './transport.ts'

export interface FaultSettings {
  /** Fixed delay added to each message leg. */
  readonly delayMs: Millis
  /** Mean of the exponential extra delay per leg; 0 makes the delay fixed. */
  readonly delayJitterMs: Millis
  /** Probability that a datagram is sent twice. */
  readonly duplicateRate: number
}

export const noFaults: FaultSettings = { delayMs: 0, delayJitterMs: 0, duplicateRate: 0 }

/** Counts of what was done, for tests and the node's log. */
export interface FaultCounters {
  delayed: number
  duplicated: number
  /** Datagrams that overtook an earlier one to the same peer (reordering actually observed). */
  reordered: number
}

export interface FaultInjectingTransportPorts {
  /** A float in [0, 1); Math.random in production, a seeded source in tests. */
  readonly random: () => number
}

export interface FaultInjectingTransportOptions {
  /**
   * The inner transport's datagram limit and whether it appends a MAC: an oversized datagram must throw at the
   * caller (the port says so), not later inside a timer, so the wrapper checks the size before delaying it.
   */
  readonly maxDatagramBytes: number
  readonly authenticated: boolean
}

/**
 * No single injected delay exceeds this: an exponential has an unbounded tail, and a message held for minutes
 * would keep a timer alive long after the chaos window closed.
 */
export const MAX_INJECTED_DELAY_MS = 10_000

export function validateFaultSettings(settings: FaultSettings): string[] {
  const problems: string[] = []
  if (!(Number.isFinite(settings.delayMs) && settings.delayMs >= 0)) problems.push('delayMs must be a finite number ≥ 0')
  if (!(Number.isFinite(settings.delayJitterMs) && settings.delayJitterMs >= 0)) problems.push('delayJitterMs must be a finite number ≥ 0')
  if (!(settings.duplicateRate >= 0 && settings.duplicateRate <= 1)) problems.push('duplicateRate must be in [0, 1]')
  return problems
}

export function faultsActive(settings: FaultSettings): boolean {
  return settings.delayMs > 0 || settings.delayJitterMs > 0 || settings.duplicateRate > 0
}

export class FaultInjectingTransport implements Transport {
  readonly counters: FaultCounters = { delayed: 0, duplicated: 0, reordered: 0 }
  private settings: FaultSettings
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  /**
   * Per peer: stream sends and call requests waiting, in send order, each with its due time (never before the
   * previous one's), and one timer for the head. One queue per peer rather than one timer per message: two
   * timers due within a millisecond of each other may fire in either order.
   */
  private readonly orderedQueues = new Map<PeerAddress, { readonly entries: { dueMs: number; action: () => void }[]; timer: ReturnType<typeof setTimeout> | null }>()
  /** Per peer: the latest due time of any datagram, to count reorderings. */
  private readonly datagramDueMs = new Map<PeerAddress, number>()
  /** Calls not yet answered, so close() can fail them with connection-lost as the port requires. */
  private readonly pendingCalls = new Set<(outcome: CallOutcome) => void>()
  private closed = false

  constructor(
    private readonly inner: Transport,
    private readonly ports: FaultInjectingTransportPorts,
    private readonly options: FaultInjectingTransportOptions,
    settings: FaultSettings = noFaults,
  ) {
    this.settings = checked(settings)
  }

  get localAddress(): PeerAddress {
    return this.inner.localAddress
  }

  get currentSettings(): FaultSettings {
    return this.settings
  }

  /** Replaces the settings; messages already delayed keep their due time. */
  configure(settings: FaultSettings): void {
    this.settings = checked(settings)
  }

  listen(handlers: TransportHandlers): void {
    this.inner.listen(handlers)
  }

  send(to: PeerAddress, carrier: Carrier, message: Message): void {
    if (carrier === 'stream') {
      // Straight through only when nothing is held for this peer: just after faults are switched off, a frame
      // must still wait behind the ones delayed before it.
      if (!faultsActive(this.settings) && !this.orderedQueues.has(to)) return this.inner.send(to, carrier, message)
      return this.enqueueOrdered(to, () => this.inner.send(to, carrier, message))
    }
    if (!faultsActive(this.settings)) return this.inner.send(to, carrier, message)
    // Throws here, at the caller, for a datagram the inner transport would refuse.
    encodeDatagram(message, { maxDatagramBytes: this.options.maxDatagramBytes - (this.options.authenticated ? MAC_BYTES : 0) })
    const copies = this.ports.random() < this.settings.duplicateRate ? 2 : 1
    if (copies === 2) this.counters.duplicated++
    for (let copy = 0; copy < copies; copy++) this.later(this.datagramDelayMs(to), () => this.inner.send(to, carrier, message))
  }

  call(to: PeerAddress, message: Message, timeoutMs: Millis, callback: (outcome: CallOutcome) => void): void {
    if (!faultsActive(this.settings) && !this.orderedQueues.has(to)) return this.inner.call(to, message, timeoutMs, callback)
    let answered = false
    const answer = (outcome: CallOutcome): void => {
      if (answered) return
      answered = true
      this.pendingCalls.delete(answer)
      this.cancel(deadline)
      callback(outcome)
    }
    this.pendingCalls.add(answer)
    // The caller's deadline holds however the injected delays fall: exactly one callback, at the latest here.
    const deadline = this.later(timeoutMs, () => answer({ kind: 'failed', reason: 'timeout' }), false)
    this.enqueueOrdered(to, () => {
      if (answered) return
      this.inner.call(to, message, timeoutMs, (outcome) => {
        if (answered) return
        if (outcome.kind === 'failed' || !faultsActive(this.settings)) return answer(outcome)
        this.later(this.sampleDelayMs(), () => answer(outcome))
      })
    })
  }

  stats(): TransportStats {
    return this.inner.stats()
  }

  /** Drops every message still held back (as a crash would) and closes the inner transport. */
  async close(): Promise<void> {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    for (const queue of this.orderedQueues.values()) if (queue.timer !== null) clearTimeout(queue.timer)
    this.orderedQueues.clear()
    await this.inner.close()
    for (const answer of [...this.pendingCalls]) answer({ kind: 'failed', reason: 'connection-lost' })
  }

  private enqueueOrdered(to: PeerAddress, action: () => void): void {
    this.counters.delayed++
    let queue = this.orderedQueues.get(to)
    if (queue === undefined) {
      queue = { entries: [], timer: null }
      this.orderedQueues.set(to, queue)
    }
    const lastDueMs = queue.entries[queue.entries.length - 1]?.dueMs ?? 0
    queue.entries.push({ dueMs: Math.max(performance.now() + this.sampleDelayMs(), lastDueMs), action })
    if (queue.timer === null) this.armOrdered(to)
  }

  /** Runs the head of `to`'s queue when due, then everything else already due, then waits for the next. */
  private armOrdered(to: PeerAddress): void {
    const queue = this.orderedQueues.get(to)
    const head = queue?.entries[0]
    if (queue === undefined || head === undefined) return
    queue.timer = setTimeout(() => {
      queue.timer = null
      if (this.closed) return
      const nowMs = performance.now()
      // The head runs even if the timer fired a fraction early; the rest only once due.
      let entry = queue.entries.shift()
      while (entry !== undefined) {
        entry.action()
        const next = queue.entries[0]
        entry = next !== undefined && next.dueMs <= nowMs ? queue.entries.shift() : undefined
      }
      if (queue.entries.length === 0) this.orderedQueues.delete(to)
      else this.armOrdered(to)
    }, Math.max(0, head.dueMs - performance.now()))
  }

  private datagramDelayMs(to: PeerAddress): number {
    const delayMs = this.sampleDelayMs()
    const dueMs = performance.now() + delayMs
    const latestMs = this.datagramDueMs.get(to) ?? 0
    if (dueMs < latestMs) this.counters.reordered++
    else this.datagramDueMs.set(to, dueMs)
    return delayMs
  }

  private sampleDelayMs(): number {
    const { delayMs, delayJitterMs } = this.settings
    // Inverse transform: -mean·ln(1 - u) is exponential with that mean; 1 - u lies in (0, 1], so ln is finite.
    const extraMs = delayJitterMs === 0 ? 0 : -delayJitterMs * Math.log(1 - this.ports.random())
    return Math.min(MAX_INJECTED_DELAY_MS, delayMs + extraMs)
  }

  private later(delayMs: number, action: () => void, counted = true): ReturnType<typeof setTimeout> {
    if (counted) this.counters.delayed++
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      if (!this.closed) action()
    }, delayMs)
    this.timers.add(timer)
    return timer
  }

  private cancel(timer: ReturnType<typeof setTimeout>): void {
    clearTimeout(timer)
    this.timers.delete(timer)
  }
}

function checked(settings: FaultSettings): FaultSettings {
  const problems = validateFaultSettings(settings)
  if (problems.length > 0) throw new RangeError(`invalid fault settings: ${problems.join('; ')}`)
  return { ...settings }
}
