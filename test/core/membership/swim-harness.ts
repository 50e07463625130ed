/**
 * A tiny deterministic network for Swim protocol tests, until the real simulator (src/sim) takes over: one
 * seeded event queue ordered by (time, sequence), datagram loss and latency from one SeededRandom, calls with
 * timeouts, and crashed nodes that either refuse (closed port on a live host) or stay silent (host gone).
 * Every run replays from its seed; tests print it on failure.
 */
import { estimateEncodedBytes, DATAGRAM_ENVELOPE_RESERVE_BYTES } from '../../../src/core/membership/membership-messages.ts'
import type { MemberMetadata, MembershipMessage } from '../../../src/core/membership/membership-messages.ts'
import type { MembershipEffect, MembershipEvent } from '../../../src/core/membership/membership-effect.ts'
import { Swim } from '../../../src/core/membership/swim.ts'
import type { SwimConfig } from '../../../src/core/membership/swim.ts'
import { callId, nodeId, peerAddress } from '../../../src/core/primitives/ids.ts'
import type { CallId, Millis, NodeId, PeerAddress } from '../../../src/core/primitives/ids.ts'
import { SeededRandom } from '../../../src/core/primitives/random.ts'
import { test as testPreset } from '../../../src/core/node/node-config.ts'

export const config: SwimConfig = testPreset

export type CrashMode = 'refuse' | 'silent'

interface HarnessNode {
  readonly address: PeerAddress
  swim: Swim
  up: boolean
  readonly events: MembershipEvent[]
}

interface ScheduledEvent {
  readonly atMs: Millis
  readonly sequence: number
  readonly run: () => void
}

interface PendingCall {
  readonly caller: PeerAddress
  resolved: boolean
}

export interface HarnessOptions {
  readonly seed: number
  readonly lossRate?: number
  readonly crashMode?: CrashMode
  readonly tickEveryMs?: Millis
}

export const metadata = (i: number): MemberMetadata => ({
  httpAddress: `127.0.0.1:${8000 + i}`,
  zone: `zone-${i % 3}`,
  partitions: 64,
  protocolVersion: 1,
})

export class Harness {
  nowMs: Millis = 0
  readonly nodes = new Map<PeerAddress, HarnessNode>()
  readonly random: SeededRandom
  private readonly queue: ScheduledEvent[] = []
  private sequence = 0
  private nextCallId = 1
  private readonly calls = new Map<CallId, PendingCall>()
  readonly oversizedDatagrams: string[] = []
  datagramsSent = 0
  lossRate: number
  crashMode: CrashMode
  readonly tickEveryMs: Millis
  /** Drops datagrams whose (from, to) this returns true for, e.g. to cut a node off. */
  blocked: (from: PeerAddress, to: PeerAddress) => boolean = () => false

  constructor(options: HarnessOptions) {
    this.random = new SeededRandom(options.seed)
    this.lossRate = options.lossRate ?? 0
    this.crashMode = options.crashMode ?? 'refuse'
    this.tickEveryMs = options.tickEveryMs ?? 10
  }

  static address(i: number): PeerAddress {
    return peerAddress(`10.0.0.${i}:7000`)
  }

  static id(i: number): NodeId {
    return nodeId(`node-${i}`)
  }

  /** Starts node i with the given generation and joins through `seeds` (node indexes). */
  start(i: number, generation: number, seeds: number[]): Swim {
    const address = Harness.address(i)
    const swim = new Swim(
      { id: Harness.id(i), address, generation, metadata: metadata(i) },
      { random: this.random.fork(), nextCallId: () => callId(this.nextCallId++) },
      config,
      this.nowMs,
    )
    const node: HarnessNode = { address, swim, up: true, events: [] }
    this.nodes.set(address, node)
    this.perform(node, swim.join(seeds.map((seed) => Harness.address(seed)), this.nowMs))
    return swim
  }

  crash(i: number): void {
    const node = this.node(i)
    node.up = false
  }

  node(i: number): HarnessNode {
    const node = this.nodes.get(Harness.address(i))
    if (node === undefined) throw new Error(`no node ${i}`)
    return node
  }

  swim(i: number): Swim {
    return this.node(i).swim
  }

  upNodes(): HarnessNode[] {
    return [...this.nodes.values()].filter((node) => node.up).sort((a, b) => (a.address < b.address ? -1 : 1))
  }

  /** Advances virtual time by `durationMs`, ticking every node every tickEveryMs. */
  run(durationMs: Millis, until?: () => boolean): void {
    const endMs = this.nowMs + durationMs
    while (this.nowMs < endMs) {
      this.nowMs++
      this.deliverDue()
      if (this.nowMs % this.tickEveryMs === 0) {
        for (const node of this.upNodes()) this.perform(node, node.swim.tick(this.nowMs))
      }
      if (until !== undefined && until()) return
    }
  }

  /** Runs until `condition` holds or `limitMs` passes; returns the virtual time it took, or null. */
  runUntil(condition: () => boolean, limitMs: Millis): Millis | null {
    const startMs = this.nowMs
    if (condition()) return 0
    this.run(limitMs, condition)
    return condition() ? this.nowMs - startMs : null
  }

  perform(node: HarnessNode, effects: MembershipEffect[]): void {
    node.events.push(...node.swim.drainEvents())
    for (const effect of effects) this.performOne(node, effect)
  }

  private performOne(node: HarnessNode, effect: MembershipEffect): void {
    switch (effect.kind) {
      case 'send':
        this.send(node.address, effect.to, effect.message)
        break
      case 'call':
        this.call(node.address, effect.to, effect.callId, effect.message, effect.timeoutMs)
        break
      case 'respond':
        this.respond(effect.callId, effect.message)
        break
      case 'log':
        break
    }
  }

  private send(from: PeerAddress, to: PeerAddress, message: MembershipMessage): void {
    this.datagramsSent++
    const sizeBytes = estimateEncodedBytes(message)
    if (sizeBytes > config.maxDatagramBytes - DATAGRAM_ENVELOPE_RESERVE_BYTES) {
      this.oversizedDatagrams.push(`${message.kind} ${sizeBytes}`)
    }
    if (this.blocked(from, to) || this.random.nextFloat() < this.lossRate) return
    this.schedule(this.latencyMs(), () => {
      const target = this.nodes.get(to)
      const sender = this.nodes.get(from)
      if (target !== undefined && target.up) {
        this.perform(target, target.swim.receive(from, message, this.nowMs))
      } else if (this.crashMode === 'refuse' && sender !== undefined && sender.up) {
        this.schedule(this.latencyMs(), () => {
          if (sender.up) this.perform(sender, sender.swim.sendFailed(to, 'refused', this.nowMs))
        })
      }
    })
  }

  private call(from: PeerAddress, to: PeerAddress, id: CallId, message: MembershipMessage, timeoutMs: Millis): void {
    const pending: PendingCall = { caller: from, resolved: false }
    this.calls.set(id, pending)
    this.schedule(timeoutMs, () => this.resolve(id, to, { kind: 'failed', reason: 'timeout' }))
    if (this.blocked(from, to)) return
    this.schedule(this.latencyMs(), () => {
      const target = this.nodes.get(to)
      if (target !== undefined && target.up) {
        this.perform(target, target.swim.receiveCall(from, id, message, this.nowMs))
      } else if (this.crashMode === 'refuse') {
        this.schedule(this.latencyMs(), () => this.resolve(id, to, { kind: 'failed', reason: 'refused' }))
      }
    })
    this.callTargets.set(id, to)
  }

  private readonly callTargets = new Map<CallId, PeerAddress>()

  private respond(id: CallId, message: MembershipMessage): void {
    const to = this.callTargets.get(id)
    if (to === undefined) return
    this.schedule(this.latencyMs(), () => this.resolve(id, to, { kind: 'ok', message }))
  }

  private resolve(
    id: CallId,
    to: PeerAddress,
    outcome: { kind: 'ok'; message: MembershipMessage } | { kind: 'failed'; reason: 'timeout' | 'refused' },
  ): void {
    const pending = this.calls.get(id)
    if (pending === undefined || pending.resolved) return
    pending.resolved = true
    this.calls.delete(id)
    this.callTargets.delete(id)
    const caller = this.nodes.get(pending.caller)
    if (caller === undefined || !caller.up) return
    this.perform(caller, caller.swim.callResult(id, to, outcome, this.nowMs))
  }

  private latencyMs(): Millis {
    return 1 + this.random.nextInt(3)
  }

  private schedule(delayMs: Millis, run: () => void): void {
    const event: ScheduledEvent = { atMs: this.nowMs + delayMs, sequence: this.sequence++, run }
    // Insertion keeps the queue sorted by (time, sequence); it stays short, so linear search is fine.
    let index = this.queue.length
    while (index > 0) {
      const previous = this.queue[index - 1] as ScheduledEvent
      if (previous.atMs < event.atMs || (previous.atMs === event.atMs && previous.sequence < event.sequence)) break
      index--
    }
    this.queue.splice(index, 0, event)
  }

  private deliverDue(): void {
    while (this.queue.length > 0 && (this.queue[0] as ScheduledEvent).atMs <= this.nowMs) {
      const event = this.queue.shift() as ScheduledEvent
      event.run()
    }
  }

  /** The state node i is in according to every live node (other than i itself). */
  statesOf(i: number): (string | undefined)[] {
    return this.upNodes()
      .filter((node) => node.address !== Harness.address(i))
      .map((node) => node.swim.member(Harness.id(i))?.state)
  }

  /** True when every up node sees exactly the up nodes as alive, at the same generations. */
  viewsAgree(): boolean {
    const up = this.upNodes()
    const expected = up.map((node) => `${node.swim.id}@${node.swim.member(node.swim.id)?.generation}`).sort().join(',')
    return up.every((node) => {
      const alive = node.swim
        .members(this.nowMs)
        .filter((member) => member.state === 'alive')
        .map((member) => `${member.id}@${member.generation}`)
      return alive.sort().join(',') === expected
    })
  }
}
