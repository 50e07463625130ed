/**
 * The nemesis: one fault at a time on a schedule (a quiet gap, then a fault held for a few seconds, then a heal),
 * each recorded as a fault window in the history so the checker can tell operations inside faults from the rest.
 * Faults are sequential on purpose: N = 3 with W = quorum survives one failure, and the invariants speak of
 * "any minority of replicas"; overlapping faults would make the expected availability hard to state.
 */
import type { ChorusCluster } from '../lib/process-cluster.ts'
import type { NamespaceNetwork } from '../lib/netns.ts'
import { delay } from '../lib/poll.ts'
import type { FaultEvent, HistoryRecorder } from './history.ts'

export type NemesisKind = 'kill' | 'pause' | 'partition' | 'loss'

export interface NemesisOptions {
  readonly kinds: readonly NemesisKind[]
  readonly cluster: ChorusCluster
  /** Present only when the nodes live in namespaces: partitions and loss need it. */
  readonly network: NamespaceNetwork | null
  readonly history: HistoryRecorder
  readonly onFault?: (fault: FaultEvent) => void
}

/** Gap between faults, so the cluster is healthy part of the time and "outside faults" has operations in it. */
const QUIET_MS = [2_000, 4_000] as const
const KILL_MS = [4_000, 7_000] as const
/** The brief's bound: a pause of 2 s or less must not get a node declared dead. */
const PAUSE_MS = [500, 2_000] as const
const PARTITION_MS = [4_000, 8_000] as const
const LOSS_PERCENT = 20

export class Nemesis {
  readonly faults: FaultEvent[] = []
  private stopped = false

  constructor(private readonly options: NemesisOptions) {}

  /** Applies faults until stop(); the fault in progress is always healed before this resolves. */
  async run(): Promise<void> {
    while (!this.stopped) {
      await delay(between(QUIET_MS))
      if (this.stopped) break
      const kind = this.options.kinds[Math.floor(Math.random() * this.options.kinds.length)]
      if (kind !== undefined) await this.apply(kind)
    }
  }

  stop(): void {
    this.stopped = true
  }

  private async apply(kind: NemesisKind): Promise<void> {
    switch (kind) {
      case 'kill':
        return this.kill()
      case 'pause':
        return this.pause()
      case 'partition':
        return Math.random() < 0.5 ? this.partitionHalves() : this.isolateOne()
      case 'loss':
        return this.loss()
    }
  }

  private async kill(): Promise<void> {
    const { cluster } = this.options
    const victim = this.randomNode()
    const startMs = Date.now()
    await cluster.kill(victim)
    await delay(between(KILL_MS))
    const detail = `down ${Date.now() - startMs} ms`
    await cluster.restart(victim)
    this.record({ kind: 'kill', nodes: [cluster.node(victim).id], startMs, endMs: Date.now(), detail })
  }

  private async pause(): Promise<void> {
    const { cluster } = this.options
    const victim = this.randomNode()
    const holdMs = between(PAUSE_MS)
    const startMs = Date.now()
    cluster.pause(victim)
    await delay(holdMs)
    cluster.resume(victim)
    this.record({ kind: 'pause', nodes: [cluster.node(victim).id], startMs, endMs: Date.now(), detail: `${holdMs} ms` })
  }

  private async partitionHalves(): Promise<void> {
    const { cluster } = this.options
    const network = this.requireNetwork()
    const order = shuffle(cluster.nodes.map((node) => node.index))
    const cut = 1 + Math.floor(Math.random() * Math.floor(order.length / 2))
    const [left, right] = [order.slice(0, cut), order.slice(cut)]
    const addresses = (side: number[]): string[] => side.map((index) => network.host(index).address)
    const startMs = Date.now()
    for (const index of left) network.setFaults(index, [{ kind: 'drop-peers', addresses: addresses(right) }])
    for (const index of right) network.setFaults(index, [{ kind: 'drop-peers', addresses: addresses(left) }])
    await delay(between(PARTITION_MS))
    network.clearAllFaults()
    const names = (side: number[]): string => side.map((index) => cluster.node(index).id).join(',')
    this.record({ kind: 'partition', nodes: order.map((index) => cluster.node(index).id), startMs, endMs: Date.now(), detail: `${names(left)} | ${names(right)}` })
  }

  private async isolateOne(): Promise<void> {
    const network = this.requireNetwork()
    const victim = this.randomNode()
    const startMs = Date.now()
    network.setFaults(victim, [{ kind: 'isolate' }])
    await delay(between(PARTITION_MS))
    network.setFaults(victim, [])
    this.record({ kind: 'isolate', nodes: [this.options.cluster.node(victim).id], startMs, endMs: Date.now() })
  }

  private async loss(): Promise<void> {
    const network = this.requireNetwork()
    const { cluster } = this.options
    const startMs = Date.now()
    for (const node of cluster.nodes) network.setFaults(node.index, [{ kind: 'loss', percent: LOSS_PERCENT }])
    await delay(between(PARTITION_MS))
    network.clearAllFaults()
    this.record({ kind: 'loss', nodes: cluster.nodes.map((node) => node.id), startMs, endMs: Date.now(), detail: `${LOSS_PERCENT}% inbound` })
  }

  private record(window: Omit<FaultEvent, 'type'>): void {
    const fault: FaultEvent = { type: 'fault', ...window }
    this.faults.push(fault)
    this.options.history.record(fault)
    this.options.onFault?.(fault)
  }

  private requireNetwork(): NamespaceNetwork {
    if (this.options.network === null) throw new Error('partition and loss need network namespaces (root on Linux)')
    return this.options.network
  }

  private randomNode(): number {
    return Math.floor(Math.random() * this.options.cluster.size)
  }
}

function between([low, high]: readonly [number, number]): number {
  return Math.round(low + Math.random() * (high - low))
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[items[i], items[j]] = [items[j] as T, items[i] as T]
  }
  return items
}
