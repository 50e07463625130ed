/**
 * A cluster of HashiCorp Serf agents (Debian package `serf`, which embeds memberlist), the peer Chorus's
 * membership is measured against. Each agent gets its own address (loopback host or namespace, exactly as
 * ChorusCluster places its nodes) and joins through the first agent with retry, as Chorus nodes join
 * through their seeds.
 *
 * Serf's decisions are read from its own log: at INFO every agent logs `serf: EventMemberJoin: NAME ADDR`,
 * `EventMemberFailed`, `EventMemberLeave` when it applies the event, and the harness stamps each line when it
 * arrives on the pipe (millisecond resolution; Serf's own log timestamps have only seconds). That is the
 * moment Serf itself decided, before the agent's event-handler coalescing.
 */
import { ensureCommands } from './debian-packages.ts'
import { ProcessGroup } from './process-group.ts'
import { ManagedProcess } from './managed-process.ts'
import type { NodePlacement } from './process-cluster.ts'

export interface SerfClusterOptions {
  readonly size: number
  /** memberlist's timing profile; `lan` is Serf's default. */
  readonly profile: 'lan' | 'local' | 'wan'
  readonly placement: (index: number) => NodePlacement
  readonly bindPort?: number
  readonly rpcPort?: number
}

export type SerfEventKind = 'join' | 'failed' | 'leave' | 'update' | 'reap'

export interface SerfEvent {
  readonly observer: string
  readonly kind: SerfEventKind
  readonly member: string
  readonly atMs: number
}

export interface SerfNode {
  readonly index: number
  readonly name: string
  readonly placement: NodePlacement
  readonly process: ManagedProcess
}

const EVENT_LINE = /serf: EventMember(Join|Failed|Leave|Update|Reap): (\S+)/
/** Events kept; bounded so a flapping run cannot grow without limit. */
const MAX_EVENTS = 100_000

export class SerfCluster extends ProcessGroup<SerfNode> {
  readonly events: SerfEvent[] = []

  private constructor(private readonly options: SerfClusterOptions) {
    super('serf node')
  }

  /** Spawns every agent at once; the caller times convergence from here. */
  static launch(options: SerfClusterOptions): SerfCluster {
    ensureCommands({ serf: 'serf' })
    const cluster = new SerfCluster(options)
    for (let index = 0; index < options.size; index++) cluster.nodes.push(cluster.spawn(index))
    return cluster
  }

  /** Members `observer` currently believes alive, replayed from its events (join/update add, failed/leave remove). */
  aliveSeenBy(observer: string): Set<string> {
    const alive = new Set<string>()
    for (const event of this.events) {
      if (event.observer !== observer) continue
      if (event.kind === 'join') alive.add(event.member)
      if (event.kind === 'failed' || event.kind === 'leave' || event.kind === 'reap') alive.delete(event.member)
    }
    return alive
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.kill()))
  }

  private spawn(index: number): SerfNode {
    const name = `serf-${index + 1}`
    const placement = this.options.placement(index)
    const bindPort = this.options.bindPort ?? 7946
    const first = this.options.placement(0).host
    const args = [
      'agent', `-node=${name}`, `-bind=${placement.host}:${bindPort}`, `-rpc-addr=${placement.host}:${this.options.rpcPort ?? 7373}`,
      `-profile=${this.options.profile}`, '-log-level=info',
      ...(index === 0 ? [] : [`-retry-join=${first}:${bindPort}`, '-retry-interval=200ms']),
    ]
    const [command, commandArgs] = placement.netns === undefined ? ['serf', args] : ['ip', ['netns', 'exec', placement.netns, 'serf', ...args]]
    const process = new ManagedProcess({ label: name, command, args: commandArgs, onLine: (line, atMs) => this.onLine(name, line, atMs) })
    return { index, name, placement, process }
  }

  private onLine(observer: string, line: string, atMs: number): void {
    const match = EVENT_LINE.exec(line)
    if (match === null) return
    if (this.events.length >= MAX_EVENTS) this.events.shift()
    this.events.push({ observer, kind: match[1]?.toLowerCase() as SerfEventKind, member: match[2] ?? '', atMs })
  }
}
