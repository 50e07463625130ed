/**
 * The nemesis: one fault at a time on a schedule (a quiet gap, then a fault held for a few seconds, then a heal),
 * each recorded as a fault window in the history so the checker can tell operations inside faults from the rest.
 * Faults are sequential on purpose: N = 3 with W = quorum survives one failure, and the invariants speak of
 * "any minority of replicas"; overlapping faults would make the expected availability hard to state.
 *
 *   kill       SIGKILL one node, restart it with the same data a few seconds later
 *   pause      SIGSTOP one node for at most 2 s, then SIGCONT
 *   partition  nftables drops between random halves, or around one isolated node (namespaces only)
 *   loss       20% inbound packet loss on every node (nftables `numgen random`; namespaces only)
 *   delay      the nodes' own fault-injecting transport (this kernel has no netem): delay, reordering and
 *              duplicated datagrams on one node or all, switched by writing `<data>/faults.json` and sending
 *              SIGUSR2; needs the nodes started with --fault-injection (chaos.ts does so when asked for delay)
 *   clock      restart one node with its wall clock 120 s behind (faketime, or --clock-offset-ms when faketime
 *              is unusable) for a while, then restart it with the real clock. 120 s is past the HLC's 60 s
 *              forward-drift bound, so its LWW writes lose to older ones: the checker counts those apart.
 */
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Faketime } from '../lib/faketime.ts'
import type { ChorusCluster, SpawnOverrides } from '../lib/process-cluster.ts'
import type { NamespaceNetwork } from '../lib/netns.ts'
import { delay } from '../lib/poll.ts'
import type { FaultEvent, HistoryRecorder } from './history.ts'

export type NemesisKind = 'kill' | 'pause' | 'partition' | 'loss' | 'delay' | 'clock'

export const nemesisKinds: readonly NemesisKind[] = ['kill', 'pause', 'partition', 'loss', 'delay', 'clock']

/** Which mechanism the `clock` nemesis uses: libfaketime, or the node's own `--clock-offset-ms`. */
export type ClockSkewer = { readonly mode: 'faketime'; readonly faketime: Faketime } | { readonly mode: 'clock-offset-ms' }

export interface NemesisOptions {
  readonly kinds: readonly NemesisKind[]
  readonly cluster: ChorusCluster
  /** Present only when the nodes live in namespaces: partitions and loss need it. */
  readonly network: NamespaceNetwork | null
  readonly history: HistoryRecorder
  /** Required for `clock`. */
  readonly clockSkewer?: ClockSkewer
  readonly onFault?: (fault: FaultEvent) => void
}

/** Gap between faults, so the cluster is healthy part of the time and "outside faults" has operations in it. */
const QUIET_MS = [2_000, 4_000] as const
const KILL_MS = [4_000, 7_000] as const
/** The brief's bound: a pause of 2 s or less must not get a node declared dead. */
const PAUSE_MS = [500, 2_000] as const
const PARTITION_MS = [4_000, 8_000] as const
const LOSS_PERCENT = 20
const DELAY_MS = [4_000, 8_000] as const
/**
 * Every node: 5 ms + Exp(15 ms) per message leg, 5% duplicated datagrams. A ping round trip then averages 40 ms
 * against the test preset's 100 ms probe timeout: slow and reordered, yet mostly within it.
 */
const DELAY_ALL = { delayMs: 5, delayJitterMs: 15, duplicateRate: 0.05 }
/** One node much slower than the rest: 20 ms + Exp(20 ms) on everything it sends, 10% duplicated datagrams. */
const DELAY_ONE = { delayMs: 20, delayJitterMs: 20, duplicateRate: 0.1 }
const CLOCK_MS = [5_000, 8_000] as const
/** Behind by more than the HLC's maxForwardDriftMs (60 s), so the node's LWW stamps lose to older ones. */
export const CLOCK_OFFSET_S = -120

export class Nemesis {
  readonly faults: FaultEvent[] = []
  private stopped = false

  constructor(private readonly options: NemesisOptions) {}

  /** Applies faults until stop(); the fault in progress is always healed before this resolves. */
  async run(): Promise<void> {
    // Shuffled rounds rather than independent draws: every kind asked for comes up once before any comes twice,
    // so a one-minute run with six kinds exercises all six.
    let round: NemesisKind[] = []
    while (!this.stopped) {
      await delay(between(QUIET_MS))
      if (this.stopped) break
      if (round.length === 0) round = shuffle([...this.options.kinds])
      const kind = round.pop()
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
      case 'delay':
        return this.delayMessages()
      case 'clock':
        return this.skewClock()
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

  private async delayMessages(): Promise<void> {
    const { cluster } = this.options
    const one = Math.random() < 0.5
    const victims = one ? [this.randomNode()] : cluster.nodes.map((node) => node.index)
    const settings = one ? DELAY_ONE : DELAY_ALL
    const startMs = Date.now()
    for (const index of victims) setInjectedFaults(cluster, index, settings)
    await delay(between(DELAY_MS))
    clearInjectedFaults(cluster)
    const detail = `${settings.delayMs} ms + Exp(${settings.delayJitterMs} ms), ${settings.duplicateRate * 100}% datagrams duplicated, on ${one ? 'one node' : 'every node'}`
    this.record({ kind: 'delay', nodes: victims.map((index) => cluster.node(index).id), startMs, endMs: Date.now(), detail })
  }

  private async skewClock(): Promise<void> {
    const { cluster, clockSkewer } = this.options
    if (clockSkewer === undefined) throw new Error('the clock nemesis needs a clock skewer')
    const victim = this.randomNode()
    const overrides: SpawnOverrides = clockSkewer.mode === 'faketime'
      ? { env: clockSkewer.faketime.env(CLOCK_OFFSET_S) }
      : { extraFlags: ['--clock-offset-ms', String(CLOCK_OFFSET_S * 1_000)] }
    const startMs = Date.now()
    await cluster.kill(victim)
    await cluster.restart(victim, undefined, overrides)
    await delay(between(CLOCK_MS))
    await cluster.kill(victim)
    await cluster.restart(victim)
    const detail = `${CLOCK_OFFSET_S} s by ${clockSkewer.mode}`
    this.record({ kind: 'clock', nodes: [cluster.node(victim).id], startMs, endMs: Date.now(), detail })
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

/** Writes the node's fault file and signals it to re-read it; a node that is not running is skipped. */
export function setInjectedFaults(cluster: ChorusCluster, index: number, settings: { delayMs: number; delayJitterMs: number; duplicateRate: number }): void {
  const node = cluster.node(index)
  writeFileSync(join(node.dataDir, 'faults.json'), JSON.stringify(settings))
  signalReload(cluster, index)
}

/** Removes every node's fault file and signals it: each falls back to its configured settings (none). */
export function clearInjectedFaults(cluster: ChorusCluster): void {
  for (const node of cluster.nodes) {
    rmSync(join(node.dataDir, 'faults.json'), { force: true })
    signalReload(cluster, node.index)
  }
}

function signalReload(cluster: ChorusCluster, index: number): void {
  const { process: child } = cluster.node(index)
  // Only a running node: SIGUSR2 to a stopped one would wait, and one without the handler would die of it.
  if (child.state !== 'running' || child.pid === undefined) return
  try {
    process.kill(child.pid, 'SIGUSR2')
  } catch {
    // It exited in between; its next life starts without faults.
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
