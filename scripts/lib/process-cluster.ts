/**
 * A cluster of real `chorus start` processes for tests, benchmarks and chaos runs. Each node gets its own temp
 * data directory and its own address: a distinct 127.x.y.z loopback host by default (all of 127/8 is local on
 * Linux, so every node can use the same ports and a run collides with nobody else's), or an address inside a
 * network namespace from netns.ts. The harness starts the nodes, waits for /health with a deadline, injects
 * faults (SIGKILL, SIGSTOP, SIGCONT, restart with the same data and id), reads /cluster/members from every
 * node, and collects the nodes' structured membership logs (who declared whom dead, and when).
 *
 * Everything it creates is registered with the cleanup registry, so processes and directories go away on
 * close(), on a thrown error, on Ctrl-C and on exit.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { registerCleanup } from './cleanup-registry.ts'
import { ManagedProcess } from './managed-process.ts'
import { ProcessGroup } from './process-group.ts'
import type { Member } from '../../src/api/client.ts'
import { pollUntil } from './poll.ts'

export const chorusBin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/chorus.js')

/** One row of `GET /cluster/members`, as the TypeScript client types it. */
export type MemberRow = Member

/** What one node saw at one moment; null when it did not answer (killed, paused, overloaded). */
export type View = readonly MemberRow[] | null

/** Where a node lives: its host address, and the namespace to run it in (netns.ts), if any. */
export interface NodePlacement {
  readonly host: string
  readonly netns?: string
}

/** A membership decision a node logged (`membership.dead`, `membership.suspect`, …). */
export interface MembershipLogEvent {
  readonly observer: string
  readonly event: string
  readonly target: string | undefined
  readonly atMs: number
}

export interface ChorusClusterOptions {
  readonly size: number
  readonly preset: 'lan' | 'local' | 'test'
  /** Where node i (0-based) lives. Default: 127.A.B.(i+1) with A.B random per cluster. */
  readonly placement?: (index: number) => NodePlacement
  readonly clusterPort?: number
  readonly httpPort?: number
  /** Further `chorus start` flags for every node, e.g. ['--probe-interval-ms', '500']. */
  readonly extraFlags?: readonly string[]
  readonly logLevel?: 'debug' | 'info' | 'warn'
  /** Every node must answer /health within this long of its start. */
  readonly healthDeadlineMs?: number
}

const DEFAULT_CLUSTER_PORT = 7946
const DEFAULT_HTTP_PORT = 8080
/** tsx compiles the sources on start; on two busy cores ten nodes can take this long to come up. */
const DEFAULT_HEALTH_DEADLINE_MS = 60_000
/** A poll of one node gives up after this; a paused node must not stall a poll round for long. */
const MEMBERS_TIMEOUT_MS = 1_000
/** Log events kept: enough for an hour of faults, bounded so a flapping run cannot exhaust memory. */
const MAX_LOG_EVENTS = 50_000

/** What one life of a node may do differently from the others (the chaos `clock` nemesis uses both). */
export interface SpawnOverrides {
  /** Added to the inherited environment, e.g. LD_PRELOAD and FAKETIME for libfaketime. */
  readonly env?: Readonly<Record<string, string>>
  /** Appended to the node's `chorus start` flags, e.g. ['--clock-offset-ms', '-120000']. */
  readonly extraFlags?: readonly string[]
}

export class ClusterNode {
  process: ManagedProcess

  constructor(
    readonly index: number,
    readonly id: string,
    readonly placement: NodePlacement,
    readonly bindAddress: string,
    readonly httpAddress: string,
    readonly dataDir: string,
    private readonly spawnProcess: (overrides?: SpawnOverrides) => ManagedProcess,
  ) {
    this.process = spawnProcess()
  }

  /** Starts the node again with the same data directory, id and addresses (a fresh process). */
  respawn(overrides?: SpawnOverrides): void {
    if (this.process.state !== 'exited') throw new Error(`${this.id} is still running; kill it first`)
    this.process = this.spawnProcess(overrides)
  }
}

export class ChorusCluster extends ProcessGroup<ClusterNode> {
  readonly logEvents: MembershipLogEvent[] = []
  private readonly rootDir: string
  private readonly dropRootDir: () => void
  /** Fixed once per cluster: the default draws a random loopback block. */
  private readonly placement: (index: number) => NodePlacement

  private constructor(private readonly options: ChorusClusterOptions) {
    super('chorus node')
    this.placement = options.placement ?? defaultPlacement()
    this.rootDir = mkdtempSync(join(tmpdir(), 'chorus-cluster-'))
    const root = this.rootDir
    this.dropRootDir = registerCleanup(`directory ${root}`, () => rmSync(root, { recursive: true, force: true }))
  }

  /** Spawns every node at once (all join through the first two) and waits until each answers /health. */
  static async start(options: ChorusClusterOptions): Promise<ChorusCluster> {
    const cluster = new ChorusCluster(options)
    try {
      cluster.spawnAll()
      await cluster.waitHealthy(cluster.nodes, options.healthDeadlineMs ?? DEFAULT_HEALTH_DEADLINE_MS)
      return cluster
    } catch (error) {
      await cluster.close()
      throw error
    }
  }

  /** Spawns without waiting, for callers that time convergence from the first spawn. */
  static launch(options: ChorusClusterOptions): ChorusCluster {
    const cluster = new ChorusCluster(options)
    cluster.spawnAll()
    return cluster
  }

  /** Spawns one more node (it joins through the first two, like the others) and waits for its /health. */
  async addNode(deadlineMs = DEFAULT_HEALTH_DEADLINE_MS): Promise<ClusterNode> {
    const node = this.createNode(this.nodes.length)
    this.nodes.push(node)
    await this.waitHealthy([node], deadlineMs)
    return node
  }

  /** Restarts a killed node with the same data directory and id, and waits for its /health. */
  async restart(index: number, deadlineMs = DEFAULT_HEALTH_DEADLINE_MS, overrides?: SpawnOverrides): Promise<void> {
    const node = this.node(index)
    node.respawn(overrides)
    await this.waitHealthy([node], deadlineMs)
  }

  async waitHealthy(nodes: readonly ClusterNode[], deadlineMs: number): Promise<void> {
    await Promise.all(
      nodes.map((node) =>
        pollUntil(
          async () => ((await health(node)) ? true : failFastIfExited(node)),
          { deadlineMs, intervalMs: 100, what: `${node.id} /health` },
          () => node.process.recentOutput().slice(-5).join('\n'),
        ),
      ),
    )
  }

  /** `GET /cluster/members` of one node, or null if it does not answer in time. */
  async members(index: number): Promise<View> {
    const node = this.node(index)
    if (node.process.state !== 'running') return null
    try {
      const response = await fetch(`http://${node.httpAddress}/cluster/members`, { signal: AbortSignal.timeout(MEMBERS_TIMEOUT_MS) })
      return response.ok ? ((await response.json()) as MemberRow[]) : null
    } catch {
      return null
    }
  }

  /** Every node's view, polled concurrently; index i is node i's view. */
  views(): Promise<View[]> {
    return Promise.all(this.nodes.map((node) => this.members(node.index)))
  }

  /** Polls all views until `accept` holds, and returns the views that satisfied it. */
  waitForViews(accept: (views: readonly View[]) => boolean, deadlineMs: number, what: string): Promise<View[]> {
    let last: View[] = []
    return pollUntil(
      async () => {
        last = await this.views()
        return accept(last) ? last : undefined
      },
      { deadlineMs, intervalMs: 100, what },
      () => describeViews(last),
    )
  }

  /** Kills every node and removes every data directory. Safe to call twice. */
  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.kill()))
    this.dropRootDir()
  }

  private spawnAll(): void {
    for (let index = 0; index < this.options.size; index++) this.nodes.push(this.createNode(index))
  }

  private createNode(index: number): ClusterNode {
    const placement = this.placement(index)
    const id = `node-${index + 1}`
    const bind = `${placement.host}:${this.options.clusterPort ?? DEFAULT_CLUSTER_PORT}`
    const http = `${placement.host}:${this.options.httpPort ?? DEFAULT_HTTP_PORT}`
    const dataDir = join(this.rootDir, id)
    const args = [
      chorusBin, 'start', '--id', id, '--data', dataDir, '--bind', bind, '--http', http,
      '--preset', this.options.preset, '--log-level', this.options.logLevel ?? 'info',
      ...this.seedFlags(index), ...(this.options.extraFlags ?? []),
    ]
    const [command, commandArgs] = placement.netns === undefined
      ? [process.execPath, args]
      : ['ip', ['netns', 'exec', placement.netns, process.execPath, ...args]]
    const spawnProcess = (overrides?: SpawnOverrides): ManagedProcess =>
      new ManagedProcess({
        label: id,
        command,
        args: [...commandArgs, ...(overrides?.extraFlags ?? [])],
        ...(overrides?.env === undefined ? {} : { env: { ...process.env, ...overrides.env } }),
        onLine: (line, atMs) => this.onLogLine(id, line, atMs),
      })
    return new ClusterNode(index, id, placement, bind, http, dataDir, spawnProcess)
  }

  /** Everyone joins through the first two nodes, so a restarted first node still finds the cluster. */
  private seedFlags(index: number): string[] {
    const placement = this.placement
    const port = this.options.clusterPort ?? DEFAULT_CLUSTER_PORT
    const seeds = [0, 1].filter((seed) => seed !== index && seed < this.options.size).map((seed) => `${placement(seed).host}:${port}`)
    return seeds.length === 0 ? [] : ['--seeds', seeds.join(',')]
  }

  private onLogLine(observer: string, line: string, atMs: number): void {
    if (!line.includes('"membership.')) return
    try {
      const record = JSON.parse(line) as { event?: string; node?: string; time?: string }
      const target = (record as Record<string, unknown>)['node']
      if (this.logEvents.length >= MAX_LOG_EVENTS) this.logEvents.shift()
      this.logEvents.push({
        observer,
        event: record.event ?? 'unknown',
        // The logger puts the observer's own id in `node` first; the event's subject overrides it when present.
        target: typeof target === 'string' && target !== observer ? target : undefined,
        atMs: record.time === undefined ? atMs : Date.parse(record.time),
      })
    } catch {
      // Not JSON: ignore, the ring in ManagedProcess still has it for diagnostics.
    }
  }
}

/** 127.A.B.(i+1) with A.B random, so concurrent clusters (other tests, a bench) do not share addresses. */
function defaultPlacement(): (index: number) => NodePlacement {
  const a = 100 + Math.floor(Math.random() * 100)
  const b = 1 + Math.floor(Math.random() * 250)
  return (index) => ({ host: `127.${a}.${b}.${index + 1}` })
}

async function health(node: ClusterNode): Promise<boolean> {
  try {
    const response = await fetch(`http://${node.httpAddress}/health`, { signal: AbortSignal.timeout(1_000) })
    return response.ok
  } catch {
    return false
  }
}

/** A node that exited while we wait for its health will never answer: say why at once. */
function failFastIfExited(node: ClusterNode): undefined {
  if (node.process.state === 'exited') {
    throw new Error(`${node.id} exited before it was healthy:\n${node.process.recentOutput().slice(-10).join('\n')}`)
  }
  return undefined
}

/** A compact rendering for timeout messages: per node, the states it sees. */
export function describeViews(views: readonly View[]): string {
  return views
    .map((view, index) => `node-${index + 1}: ${view === null ? 'no answer' : view.map((m) => `${m.id}=${m.state}/g${m.generation}`).join(' ')}`)
    .join('\n')
}

/** The state `observer`'s view gives `target`, or undefined if absent or unanswered. */
export function stateIn(view: View, target: string): MemberRow | undefined {
  return view?.find((member) => member.id === target)
}
