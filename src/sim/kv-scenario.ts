/**
 * The replication scenario: a cluster forms and places its partitions, the kv workload runs against it while the
 * fault schedule crashes and restarts a minority, partitions the network and drops datagrams, everything is
 * healed, and every node then reads every key at r=all. The checker (kv-checker.ts) judges the history.
 *
 * Timeline, as fractions of the duration (11 s in the tests):
 *   0 ─ form and place ─ 1.5 s workload starts ─ 2 s faults start ─ 55% faults end (all healed and restarted)
 *     ─ 60% workload stops ─ 70% final r=all reads (retried until 95%) ─ 100% end
 * The workload may start only once every node holds the same table naming every node: this scenario tests faults
 * on a fixed placement (kv-join-scenario.ts tests table changes under load, with ownership handoff). Placement
 * failing to settle by then is itself reported.
 */
import { presets } from '../core/node/node-config.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import type { Millis } from '../core/primitives/ids.ts'
import { checkKvHistory } from './kv-checker.ts'
import { KvWorkload, defaultKvWorkloadOptions } from './kv-workload.ts'
import { World } from './world.ts'

export interface KvScenarioOptions {
  readonly seed: number
  readonly nodes: number
  readonly durationMs: Millis
  readonly maxKeptTraceLines?: number
}

export interface KvScenarioRun {
  readonly world: World
  readonly workload: KvWorkload
  /** Runs the world to the end and returns every problem found (empty when the run passed). */
  run(): string[]
  notes(): string[]
}

/** Small partitions count keeps the simulated tables small; 16 still spreads 3 replicas over 5 nodes. */
export const kvScenarioConfig: NodeConfig = { ...presets.test, partitions: 16 }

export function kvScenario(options: KvScenarioOptions): KvScenarioRun {
  const duration = options.durationMs
  const world = new World({
    seed: options.seed,
    nodes: options.nodes,
    config: kvScenarioConfig,
    network: { lossProbability: 0.01, duplicateProbability: 0.01 },
    faults: { startMs: 2_000, endMs: Math.max(2_000, Math.floor(duration * 0.55)), meanIntervalMs: 500 },
    ...(options.maxKeptTraceLines === undefined ? {} : { maxKeptTraceLines: options.maxKeptTraceLines }),
  })
  const workload = new KvWorkload(world, world.workloadRandom, {
    ...defaultKvWorkloadOptions,
    n: kvScenarioConfig.n,
    endMs: Math.floor(duration * 0.6),
    finalReadAtMs: Math.floor(duration * 0.7),
    finalDeadlineMs: Math.floor(duration * 0.95),
  })
  const problems: string[] = []
  world.scheduler.at(defaultKvWorkloadOptions.startMs - 1, () => problems.push(...placementProblems(world)))
  workload.schedule()
  return {
    world,
    workload,
    run: () => {
      const result = world.runUntil(duration)
      if (result.outcome === 'event-limit') problems.push(`event limit reached after ${result.eventsRun} events (livelock?)`)
      if (!workload.idle) problems.push('some requests were never answered by the end of the run')
      problems.push(...checkKvHistory(workload.history, { n: kvScenarioConfig.n }))
      return problems
    },
    notes: () => {
      const { reads, writes, retries, okWrites, failedWrites } = workload.stats
      return [`kv: ${writes} writes (${okWrites} ok, ${failedWrites} failed, ${retries} retried), ${reads} reads`]
    },
  }
}

/** Every node up holds the same table, and it names every node. */
function placementProblems(world: World): string[] {
  const ids = world.cluster.ids()
  const tables = world.cluster.upNodes().map((node) => ({ id: node.id, table: node.currentNode?.placement.table ?? null }))
  const problems: string[] = []
  for (const { id, table } of tables) {
    if (table === null) {
      problems.push(`placement: ${id} holds no ownership table at ${world.nowMs} ms`)
      continue
    }
    const owners = new Set(table.owners.flat())
    const missing = ids.filter((other) => !owners.has(other))
    if (missing.length > 0) problems.push(`placement: ${id}'s table (version ${table.version.version}) leaves out ${missing.join(', ')}`)
  }
  const versions = new Set(tables.map(({ table }) => (table === null ? 'none' : `${table.version.leaderGeneration}.${table.version.version}`)))
  if (versions.size > 1) problems.push(`placement: nodes disagree on the table version: ${[...versions].join(', ')}`)
  return problems
}
