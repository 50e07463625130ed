/**
 * The anti-entropy scenario (DESIGN.md invariant 3): with hinted handoff and read repair switched off, the kv
 * workload writes many keys while the fault schedule crashes and restarts nodes, partitions the network and drops
 * datagrams, so replicas miss writes and nothing but anti-entropy can bring them back together. After the faults
 * stop and the last request has settled, every owner of every partition must hold byte-identical objects within
 * two anti-entropy intervals. The checker reads each node's simulated disk directly (scan-partition), not through
 * the cluster, so no repair on the read path can hide a divergence.
 *
 * Timeline: 0 ─ form and place ─ 1.5 s workload ─ 2 s faults ─ faultsEndMs heal + restart all, workload stops
 *   ─ quietMs (faults end + request timeout: every write has landed or failed) ─ quiet + 2 intervals: compare.
 */
import { presets } from '../core/node/node-config.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import type { Millis } from '../core/primitives/ids.ts'
import type { StoredObject } from '../core/node/storage-operation.ts'
import { KvWorkload, defaultKvWorkloadOptions } from './kv-workload.ts'
import type { SimNode } from './sim-node.ts'
import { World } from './world.ts'

export interface AntiEntropyScenarioOptions {
  readonly seed: number
  readonly nodes: number
  readonly maxKeptTraceLines?: number
  /** Defaults to antiEntropyScenarioConfig; the negative control turns anti-entropy off through it. */
  readonly config?: NodeConfig
  /** Defaults to two intervals after the quiet point; the negative control keeps the default config's. */
  readonly checkAtMs?: Millis
}

/** Faults and writes end here; every request has settled one request timeout later (the quiet point). */
export const antiEntropyFaultsEndMs: Millis = 5_000

/** When the replicas must agree: the quiet point plus two anti-entropy intervals. */
export function antiEntropyCheckAtMs(config: NodeConfig): Millis {
  return antiEntropyFaultsEndMs + config.requestTimeoutMs + 2 * config.antiEntropyIntervalMs
}

/** Q = 16 keeps tables and scans small; a 1.5 s interval keeps the runs short in virtual time. */
export const antiEntropyScenarioConfig: NodeConfig = {
  ...presets.test,
  partitions: 16,
  antiEntropyIntervalMs: 1_500,
  hintedHandoff: false,
  readRepair: false,
}

export interface AntiEntropyScenarioRun {
  readonly world: World
  readonly workload: KvWorkload
  /** When the replicas must agree: after the faults and the last request, plus two anti-entropy intervals. */
  readonly checkAtMs: Millis
  run(): string[]
  notes(): string[]
}

export function antiEntropyScenario(options: AntiEntropyScenarioOptions): AntiEntropyScenarioRun {
  const config = options.config ?? antiEntropyScenarioConfig
  const world = new World({
    seed: options.seed,
    nodes: options.nodes,
    config,
    network: { lossProbability: 0.01, duplicateProbability: 0.01 },
    faults: { startMs: 2_000, endMs: antiEntropyFaultsEndMs, meanIntervalMs: 400 },
    ...(options.maxKeptTraceLines === undefined ? {} : { maxKeptTraceLines: options.maxKeptTraceLines }),
  })
  const checkAtMs = options.checkAtMs ?? antiEntropyCheckAtMs(config)
  const workload = new KvWorkload(world, world.workloadRandom, {
    ...defaultKvWorkloadOptions,
    keys: 24,
    n: config.n,
    endMs: antiEntropyFaultsEndMs,
    // No final reads: they would go through the read path, and this scenario compares disks instead.
    finalReadAtMs: checkAtMs + 1_000,
    finalDeadlineMs: checkAtMs + 1_000,
  })
  workload.schedule()
  const problems: string[] = []
  world.scheduler.at(checkAtMs, () => problems.push(...replicaDivergence(world)))
  return {
    world,
    workload,
    checkAtMs,
    run: () => {
      const result = world.runUntil(checkAtMs + 1)
      if (result.outcome === 'event-limit') problems.push(`event limit reached after ${result.eventsRun} events (livelock?)`)
      return problems
    },
    notes: () => {
      const { writes, okWrites } = workload.stats
      const counters = world.cluster.upNodes().map((node) => node.currentNode?.antiEntropy.counters)
      const repaired = counters.reduce((sum, c) => sum + (c?.keysRepaired ?? 0), 0)
      const rounds = counters.reduce((sum, c) => sum + (c?.roundsCompleted ?? 0), 0)
      return [`anti-entropy: ${writes} writes (${okWrites} ok), ${rounds} rounds completed, ${repaired} keys repaired`]
    },
  }
}

/** Every owner of every partition holds the same objects, byte for byte, as its disk says. */
export function replicaDivergence(world: World): string[] {
  const problems: string[] = []
  const down = world.cluster.downNodes()
  if (down.length > 0) problems.push(`${down.map((n) => n.id).join(', ')} still down at ${world.nowMs} ms`)
  const table = world.cluster.upNodes()[0]?.currentNode?.placement.table ?? null
  if (table === null) return [...problems, 'no ownership table to compare replicas by']
  for (let partition = 0; partition < table.partitions; partition++) {
    const owners = (table.owners[partition] ?? []).map((id) => world.cluster.node(id))
    const [first, ...others] = owners.map((node) => ({ node, objects: diskObjects(node, partition, world.nowMs) }))
    if (first === undefined) continue
    for (const other of others) {
      for (const key of new Set([...first.objects.keys(), ...other.objects.keys()])) {
        const a = first.objects.get(key)
        const b = other.objects.get(key)
        if (a !== undefined && b !== undefined && sameBytes(a, b)) continue
        problems.push(`partition ${partition}, ${key}: ${first.node.id} holds ${describe(a)}, ${other.node.id} holds ${describe(b)} at ${world.nowMs} ms`)
      }
    }
  }
  return problems
}

function diskObjects(node: SimNode, partition: number, nowMs: Millis): Map<string, Uint8Array> {
  const objects = new Map<string, Uint8Array>()
  let after: { bucket: string; key: string } | null = null
  for (let page = 0; page < 1_000; page++) {
    const result = node.disk.read({ kind: 'scan-partition', partition, after, limit: 1_000 }, nowMs)
    if (result.kind !== 'objects') throw new Error(`${node.id}: scan of partition ${partition} answered ${result.kind}`)
    for (const object of result.objects) objects.set(`${object.bucket}/${object.key}`, object.value)
    const last: StoredObject | undefined = result.objects[result.objects.length - 1]
    if (result.complete || last === undefined) break
    after = { bucket: last.bucket, key: last.key }
  }
  return objects
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i])
}

function describe(value: Uint8Array | undefined): string {
  return value === undefined ? 'nothing' : `${value.length} bytes`
}

/** The scenario as `npm run sim -- --scenario anti-entropy` runs it (scenarios.ts dispatches here). */
export function runAntiEntropyScenario(options: { readonly seed: number; readonly nodes: number; readonly maxKeptTraceLines?: number }): {
  scenario: 'anti-entropy'; seed: number; world: World; run: null; problems: string[]; notes: string[]
} {
  const scenario = antiEntropyScenario(options)
  let problems: string[] = []
  try {
    problems = scenario.run()
  } catch (error) {
    problems.push(`exception: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  }
  return { scenario: 'anti-entropy', seed: options.seed, world: scenario.world, run: null, problems, notes: scenario.notes() }
}
