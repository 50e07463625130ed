/**
 * One interface over the two membership systems the benchmark compares, so every scenario is written once:
 * Chorus (real `chorus start` processes) and Serf (real agents). Both answer the same questions from their
 * own evidence: who sees whom alive, and every (observer, target, time) at which an observer first held a
 * target dead or failed.
 *
 * - Serf: its `EventMemberJoin/Failed` log lines, stamped on arrival (see serf-cluster.ts).
 * - Chorus: a watcher polls every node's /cluster/members every `pollIntervalMs` and records the first poll
 *   in which an observer shows a target `dead` (stamped at the middle of the request), plus the node's own
 *   `membership.dead` log line when it was the one that declared it (stamped by the node itself). The poll
 *   interval is the resolution of Chorus's figures; Serf's are stamped to the millisecond.
 */
import { ChorusCluster } from './process-cluster.ts'
import type { ChorusClusterOptions, NodePlacement, View } from './process-cluster.ts'
import { SerfCluster } from './serf-cluster.ts'
import type { SerfClusterOptions } from './serf-cluster.ts'
import { delay } from './poll.ts'

export interface DeadSighting {
  readonly observer: string
  readonly target: string
  readonly atMs: number
}

export interface MembershipSystem {
  readonly label: string
  readonly size: number
  nodeName(index: number): string
  /** Every node that is running sees every running node alive. */
  allSeeAll(): Promise<boolean>
  /** Each time an observer began to hold a target dead, since the system started. */
  deadSightings(): readonly DeadSighting[]
  kill(index: number): Promise<void>
  pause(index: number): void
  resume(index: number): void
  close(): Promise<void>
}

// ---- Serf ------------------------------------------------------------------------------------------------

export function launchSerf(options: SerfClusterOptions): MembershipSystem {
  const cluster = SerfCluster.launch(options)
  const running = (): string[] => cluster.nodes.filter((node) => node.process.state !== 'exited').map((node) => node.name)
  return {
    label: `serf (${options.profile})`,
    size: options.size,
    nodeName: (index) => cluster.node(index).name,
    allSeeAll: () => {
      const names = running()
      return Promise.resolve(names.every((observer) => names.every((member) => cluster.aliveSeenBy(observer).has(member))))
    },
    deadSightings: () =>
      cluster.events.filter((event) => event.kind === 'failed').map((event) => ({ observer: event.observer, target: event.member, atMs: event.atMs })),
    kill: (index) => cluster.kill(index),
    pause: (index) => cluster.pause(index),
    resume: (index) => cluster.resume(index),
    close: () => cluster.close(),
  }
}

// ---- Chorus ----------------------------------------------------------------------------------------------

export interface ChorusSystemOptions {
  readonly size: number
  readonly preset: ChorusClusterOptions['preset']
  readonly placement: (index: number) => NodePlacement
  readonly extraFlags?: readonly string[]
  /** Resolution of Chorus's sightings. 100 ms costs ten small HTTP requests per node per second. */
  readonly pollIntervalMs: number
}

/** Chorus as a MembershipSystem, with its process cluster for what only Chorus has (HTTP addresses, logs). */
export interface ChorusMembershipSystem extends MembershipSystem {
  readonly cluster: ChorusCluster
}

/** Upper bound on recorded sightings: a run that flaps this much has already failed. */
const MAX_SIGHTINGS = 100_000

export function launchChorus(options: ChorusSystemOptions): ChorusMembershipSystem {
  const cluster = ChorusCluster.launch({
    size: options.size,
    preset: options.preset,
    placement: options.placement,
    logLevel: 'info',
    ...(options.extraFlags === undefined ? {} : { extraFlags: options.extraFlags }),
  })
  const watcher = new ViewWatcher(cluster, options.pollIntervalMs)
  const running = (): number[] => cluster.nodes.filter((node) => node.process.state !== 'exited').map((node) => node.index)
  return {
    cluster,
    label: `chorus (${options.preset})`,
    size: options.size,
    nodeName: (index) => cluster.node(index).id,
    allSeeAll: () => watcher.allSeeAll(running()),
    deadSightings: () => [...watcher.sightings, ...declarations(cluster)],
    kill: (index) => cluster.kill(index),
    pause: (index) => cluster.pause(index),
    resume: (index) => cluster.resume(index),
    close: async () => {
      await watcher.stop()
      await cluster.close()
    },
  }
}

function declarations(cluster: ChorusCluster): DeadSighting[] {
  return cluster.logEvents
    .filter((event) => event.event === 'membership.dead' && event.target !== undefined)
    .map((event) => ({ observer: event.observer, target: event.target as string, atMs: event.atMs }))
}

/**
 * Polls every node's view, one loop per node so a paused or slow node does not delay the others' sightings,
 * and turns the views into sightings: one each time an observer's view of a target becomes `dead`.
 */
class ViewWatcher {
  readonly sightings: DeadSighting[] = []
  private readonly lastDead = new Set<string>()
  private running = true
  private readonly loops: Promise<void>[]

  constructor(
    private readonly cluster: ChorusCluster,
    private readonly intervalMs: number,
  ) {
    this.loops = cluster.nodes.map((node) => this.watch(node.index))
  }

  async allSeeAll(indexes: readonly number[]): Promise<boolean> {
    const views = await Promise.all(indexes.map((index) => this.cluster.members(index)))
    const ids = indexes.map((index) => this.cluster.node(index).id)
    return views.every((view) => ids.every((id) => view?.some((row) => row.id === id && row.state === 'alive') === true))
  }

  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
  }

  private async watch(index: number): Promise<void> {
    while (this.running) {
      const startedMs = Date.now()
      const view = await this.cluster.members(index)
      this.record(index, view, startedMs + (Date.now() - startedMs) / 2)
      await delay(Math.max(0, this.intervalMs - (Date.now() - startedMs)))
    }
  }

  private record(index: number, view: View, atMs: number): void {
    if (view === null) return
    const observer = this.cluster.node(index).id
    for (const row of view) {
      const key = `${observer}→${row.id}`
      if (row.state !== 'dead') {
        this.lastDead.delete(key)
        continue
      }
      if (this.lastDead.has(key)) continue
      this.lastDead.add(key)
      if (this.sightings.length < MAX_SIGHTINGS) this.sightings.push({ observer, target: row.id, atMs })
    }
  }
}
