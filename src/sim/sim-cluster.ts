/**
 * N whole nodes in one process: the simulated cluster. It names the nodes (n1..nN at "nI:7000"), gives each its
 * own clock skew, disk and seeded random stream (forked from the world's seed in node order, so adding a
 * workload does not change what node 3's random numbers are), and routes client requests and their outcomes.
 *
 * Client requests are injected through the queue, never straight into a node from outside an event, so a test
 * that calls `clientRequest` between runs gets the same interleaving as a workload that calls it mid-run.
 */
import { assert } from '../core/primitives/assert.ts'
import type { Input } from '../core/node/input.ts'
import type { ClientRequest } from '../core/node/client.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import type { Millis, NodeId, PeerAddress, RequestId } from '../core/primitives/ids.ts'
import { nodeId, peerAddress, requestId } from '../core/primitives/ids.ts'
import type { SeededRandom } from '../core/primitives/random.ts'
import { NodeClock } from './sim-clock.ts'
import { MemorySimDisk, defaultMemorySimDiskOptions } from './sim-disk.ts'
import type { SimDisk } from './sim-disk.ts'
import type { SimNetwork } from './sim-network.ts'
import { SimNode } from './sim-node.ts'
import type { ClientOutcome, SimNodeObserver, SimNodeOptions } from './sim-node.ts'
import type { SimScheduler } from './sim-scheduler.ts'
import type { Trace } from './trace.ts'

export interface SimClusterOptions {
  readonly nodeCount: number
  readonly config: NodeConfig
  readonly node: SimNodeOptions
  /** Each node's wall clock is off by a seeded amount in [-max, +max]. 0 means perfectly synchronised clocks. */
  readonly maxClockSkewMs: Millis
  /** Builds each node's disk; the default is the in-memory synced/unsynced split. */
  readonly makeDisk?: (id: NodeId) => SimDisk
  /** The addresses each node joins through on every start; every other node by default. */
  readonly seedsFor?: (id: NodeId, others: readonly PeerAddress[]) => readonly PeerAddress[]
}

export interface SimClusterDependencies {
  readonly scheduler: SimScheduler
  readonly network: SimNetwork
  readonly trace: Trace
  readonly random: SeededRandom
}

/** The port every simulated node listens on; the host part is the node id, which keeps traces readable. */
export const simPort = 7000

export function simAddress(id: NodeId): PeerAddress {
  return peerAddress(`${id}:${simPort}`)
}

export class SimCluster {
  readonly nodes: readonly SimNode[]
  private readonly byId = new Map<NodeId, SimNode>()
  private readonly byAddress = new Map<PeerAddress, SimNode>()
  private readonly observers: SimNodeObserver[] = []
  private readonly outcomes = new Map<RequestId, ClientOutcome>()
  private nextRequestId = 1

  constructor(private readonly deps: SimClusterDependencies, options: SimClusterOptions) {
    assert(Number.isInteger(options.nodeCount) && options.nodeCount > 0, 'nodeCount must be a positive integer')
    const fanOut: SimNodeObserver = {
      onInput: (node, input) => this.notifyInput(node, input),
      onClientOutcome: (node, id, outcome) => {
        this.outcomes.set(id, outcome)
        for (const observer of this.observers) observer.onClientOutcome?.(node, id, outcome)
      },
    }
    const nodes: SimNode[] = []
    for (let i = 1; i <= options.nodeCount; i++) {
      const id = nodeId(`n${i}`)
      const random = deps.random.fork()
      const skewMs = options.maxClockSkewMs === 0 ? 0 : (random.nextFloat() * 2 - 1) * options.maxClockSkewMs
      const clock = new NodeClock(deps.scheduler.clock, Math.round(skewMs))
      const disk = options.makeDisk?.(id) ?? new MemorySimDisk({ ...defaultMemorySimDiskOptions, requestIdTtlMs: options.config.requestIdTtlMs })
      const node = new SimNode(id, simAddress(id), {
        scheduler: deps.scheduler, network: deps.network, trace: deps.trace, config: options.config,
        random, clock, disk, observer: fanOut,
        seeds: seedsOf(id, options),
      }, options.node)
      deps.network.addHost(node.address)
      nodes.push(node)
      this.byId.set(id, node)
      this.byAddress.set(node.address, node)
    }
    this.nodes = nodes
  }

  /** Starts every node but `deferred` (nodes a scenario starts later, such as a joining one), in id order. */
  startAll(deferred: readonly string[] = []): void {
    for (const node of this.nodes) if (!deferred.includes(node.id)) node.start()
  }

  addObserver(observer: SimNodeObserver): void {
    this.observers.push(observer)
  }

  node(id: NodeId | string): SimNode {
    const node = this.byId.get(id as NodeId)
    assert(node !== undefined, () => `no node ${id}`)
    return node
  }

  nodeAt(address: PeerAddress): SimNode | undefined {
    return this.byAddress.get(address)
  }

  ids(): NodeId[] {
    return this.nodes.map((node) => node.id)
  }

  upNodes(): SimNode[] {
    return this.nodes.filter((node) => node.isUp)
  }

  downNodes(): SimNode[] {
    return this.nodes.filter((node) => !node.isUp)
  }

  /** Queues a client request to `id` at the current instant; its outcome appears in `outcome(requestId)`. */
  clientRequest(id: NodeId | string, request: ClientRequest): RequestId {
    const node = this.node(id)
    const assigned = requestId(this.nextRequestId++)
    this.deps.scheduler.after(0, () => node.clientRequest(assigned, request))
    return assigned
  }

  outcome(id: RequestId): ClientOutcome | undefined {
    return this.outcomes.get(id)
  }

  private notifyInput(node: SimNode, input: Input): void {
    for (const observer of this.observers) observer.onInput?.(node, input)
  }
}

function seedsOf(id: NodeId, options: SimClusterOptions): readonly PeerAddress[] {
  const others = Array.from({ length: options.nodeCount }, (_, j) => simAddress(nodeId(`n${j + 1}`))).filter((a) => a !== simAddress(id))
  return options.seedsFor === undefined ? others : options.seedsFor(id, others)
}
