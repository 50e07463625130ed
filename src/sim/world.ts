/**
 * A whole simulated world from one seed: scheduler, network, cluster, fault schedule and trace, wired together.
 * This is the FoundationDB/VOPR model: N real Nodes in one process, one seeded scheduler deciding everything
 * that happens, faults injected on a seeded schedule, and a trace whose hash proves the run replays exactly.
 *
 * The seed is split into independent streams in a fixed order (network, faults, workload, cluster → one per
 * node), so each part of the world draws from its own sequence: a change in how often the network rolls dice
 * does not reshuffle the fault schedule, and a new workload does not perturb the nodes.
 *
 *   new World({ seed, nodes }) ──runUntil(t) / runUntilQuiet()──> RunResult
 *        │                                   (ends at t, when nothing is in flight, or at the event cap)
 *        └─ the first run starts every node and schedules the faults
 */
import { assert, unreachable } from '../core/primitives/assert.ts'
import type { ClientRequest } from '../core/node/client.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import { presets } from '../core/node/node-config.ts'
import type { Millis, NodeId, RequestId } from '../core/primitives/ids.ts'
import { SeededRandom } from '../core/primitives/random.ts'
import { FaultSchedule, defaultFaultScheduleOptions, describeFault } from './fault-schedule.ts'
import type { Fault, FaultScheduleOptions } from './fault-schedule.ts'
import { SimCluster, simAddress } from './sim-cluster.ts'
import type { SimClusterOptions } from './sim-cluster.ts'
import type { SimDisk } from './sim-disk.ts'
import { SimNetwork, defaultNetworkOptions } from './sim-network.ts'
import type { LatencyOptions, NetworkOptions, PartitionDirection } from './sim-network.ts'
import { defaultSimNodeOptions } from './sim-node.ts'
import type { SimNodeOptions } from './sim-node.ts'
import { SimScheduler, defaultSchedulerOptions } from './sim-scheduler.ts'
import type { RunResult } from './sim-scheduler.ts'
import { Trace, defaultTraceOptions } from './trace.ts'

export interface WorldOptions {
  readonly seed: number
  /** Number of nodes, named n1..nN. */
  readonly nodes: number
  /** Node configuration; the `test` preset by default, which detects failures within seconds. */
  readonly config?: NodeConfig
  readonly network?: Partial<Omit<NetworkOptions, 'latency'>> & { readonly latency?: Partial<LatencyOptions> }
  readonly node?: Partial<SimNodeOptions>
  readonly maxClockSkewMs?: Millis
  /** Cap on events over the world's life; a run that hits it stops with `event-limit`. */
  readonly maxEvents?: number
  /** A ready schedule, or options to generate one from the seed; no faults when absent. */
  readonly faults?: FaultSchedule | Partial<FaultScheduleOptions>
  readonly maxKeptTraceLines?: number
  readonly makeDisk?: (id: NodeId) => SimDisk
  /** The addresses each node joins through; every other node by default (see SimClusterOptions). */
  readonly seedsFor?: SimClusterOptions['seedsFor']
  /** Nodes not started with the others; a scenario starts them later with restart() (a node joining). */
  readonly deferredStart?: readonly string[]
}

/** How long runUntilQuiet waits by default before giving up on quiet: ten minutes of virtual time. */
export const defaultQuietDeadlineMs: Millis = 600_000

export class World {
  readonly seed: number
  readonly scheduler: SimScheduler
  readonly trace: Trace
  readonly network: SimNetwork
  readonly cluster: SimCluster
  readonly faults: FaultSchedule
  /** The stream reserved for workloads, so they never disturb the network's or the nodes' streams. */
  readonly workloadRandom: SeededRandom
  private readonly baseLossProbability: number
  private started = false

  constructor(readonly options: WorldOptions) {
    assert(Number.isSafeInteger(options.seed), () => `seed must be a safe integer, got ${options.seed}`)
    this.seed = options.seed
    const root = new SeededRandom(options.seed)
    const networkRandom = root.fork()
    const faultRandom = root.fork()
    this.workloadRandom = root.fork()
    const clusterRandom = root.fork()
    this.scheduler = new SimScheduler({ maxEvents: options.maxEvents ?? defaultSchedulerOptions.maxEvents })
    this.trace = new Trace({ maxKeptLines: options.maxKeptTraceLines ?? defaultTraceOptions.maxKeptLines })
    const networkOptions = mergeNetworkOptions(options.network)
    this.baseLossProbability = networkOptions.lossProbability
    this.network = new SimNetwork(this.scheduler, networkRandom, this.trace, networkOptions)
    this.cluster = new SimCluster({ scheduler: this.scheduler, network: this.network, trace: this.trace, random: clusterRandom }, {
      nodeCount: options.nodes,
      config: options.config ?? presets.test,
      node: { ...defaultSimNodeOptions, ...options.node },
      maxClockSkewMs: options.maxClockSkewMs ?? 0,
      ...(options.makeDisk === undefined ? {} : { makeDisk: options.makeDisk }),
      ...(options.seedsFor === undefined ? {} : { seedsFor: options.seedsFor }),
    })
    this.faults = buildFaults(options.faults, faultRandom, this.cluster.ids())
  }

  get nowMs(): Millis {
    return this.scheduler.nowMs
  }

  /** Starts the nodes and schedules the faults; the first run does it if the caller has not. */
  start(): void {
    if (this.started) return
    this.started = true
    this.trace.record(this.nowMs, 'world', `seed ${this.seed} nodes ${this.options.nodes} faults ${this.faults.faults.length}`)
    this.cluster.startAll(this.options.deferredStart ?? [])
    for (const { atMs, fault } of this.faults.faults) this.scheduler.at(atMs, () => this.applyFault(fault))
  }

  /** Runs every event up to and including `timeMs`. */
  runUntil(timeMs: Millis): RunResult {
    this.start()
    return this.guard(() => this.scheduler.runUntil(timeMs))
  }

  runFor(durationMs: Millis): RunResult {
    return this.runUntil(this.nowMs + durationMs)
  }

  /** Runs until nothing is in flight (only ticks remain), or the deadline passes, or the event cap is hit. */
  runUntilQuiet(deadlineMs: Millis = this.nowMs + defaultQuietDeadlineMs): RunResult {
    this.start()
    return this.guard(() => this.scheduler.runUntilQuiet(deadlineMs))
  }

  /** Schedules a workload action; it runs as a foreground event, so the world is not quiet until it has. */
  schedule(delayMs: Millis, run: () => void): void {
    this.scheduler.after(delayMs, run)
  }

  clientRequest(id: NodeId | string, request: ClientRequest): RequestId {
    return this.cluster.clientRequest(id, request)
  }

  // ---- faults, by hand or from the schedule ----------------------------------------------------------------

  applyFault(fault: Fault): void {
    this.trace.record(this.nowMs, 'fault', describeFault(fault))
    switch (fault.kind) {
      case 'crash':
        return this.crash(fault.node)
      case 'restart':
        return this.restart(fault.node)
      case 'partition':
        return this.partition(fault.sideA, fault.sideB, fault.direction)
      case 'heal':
        return this.network.heal()
      case 'loss-burst':
        return this.network.setOptions({ lossProbability: fault.lossProbability })
      case 'loss-end':
        return this.network.setOptions({ lossProbability: this.baseLossProbability })
      default:
        return unreachable(fault)
    }
  }

  crash(id: NodeId | string): void {
    const node = this.cluster.node(id)
    if (node.isUp) node.crash()
    else this.trace.record(this.nowMs, 'fault', `crash ${id} ignored, already down`)
  }

  restart(id: NodeId | string): void {
    const node = this.cluster.node(id)
    if (!node.isUp) node.restart()
    else this.trace.record(this.nowMs, 'fault', `restart ${id} ignored, already up`)
  }

  partition(sideA: readonly (NodeId | string)[], sideB: readonly (NodeId | string)[], direction: PartitionDirection = 'two-way'): void {
    const addresses = (ids: readonly (NodeId | string)[]) => ids.map((id) => simAddress(id as NodeId))
    this.network.partition(addresses(sideA), addresses(sideB), direction)
  }

  heal(): void {
    this.network.heal()
  }

  // ---- reporting -------------------------------------------------------------------------------------------

  summary(): string[] {
    const nodes = this.cluster.nodes.map((node) => `${node.id} ${node.isUp ? 'up' : 'down'} gen ${node.generation}`)
    return [
      `seed ${this.seed}: ${this.options.nodes} nodes, ${this.nowMs.toFixed(3)} ms virtual, ${this.scheduler.eventsRun} events`,
      `trace: ${this.trace.lineCount} lines${this.trace.truncated ? ' (text truncated)' : ''}, sha256 ${this.trace.digest()}`,
      `network: ${this.network.counters.format() || 'no traffic'}`,
      `faults: ${this.faults.faults.length} scheduled`,
      `nodes: ${nodes.join(', ')}`,
    ]
  }

  private guard(run: () => RunResult): RunResult {
    try {
      const result = run()
      if (result.outcome === 'event-limit') this.trace.record(this.nowMs, 'world', `event limit reached after ${result.eventsRun} events`)
      return result
    } catch (error) {
      // Leave the failure in the trace, so the replayed trace ends where the failing run did.
      this.trace.record(this.nowMs, 'world', `failure: ${error instanceof Error ? error.message : String(error)}`)
      throw error
    }
  }
}

function mergeNetworkOptions(patch: WorldOptions['network']): NetworkOptions {
  if (patch === undefined) return defaultNetworkOptions
  return { ...defaultNetworkOptions, ...patch, latency: { ...defaultNetworkOptions.latency, ...patch.latency } }
}

function buildFaults(faults: WorldOptions['faults'], random: SeededRandom, ids: readonly NodeId[]): FaultSchedule {
  if (faults === undefined) return FaultSchedule.none()
  if (faults instanceof FaultSchedule) return faults
  return FaultSchedule.generate(random, ids, { ...defaultFaultScheduleOptions, ...faults })
}
