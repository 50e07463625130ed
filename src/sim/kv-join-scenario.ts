/**
 * Ownership handoff under load: the kv workload runs while one node joins and another leaves, so the ownership
 * table changes twice and partitions move both ways (ownership-handoff.ts); the checker (kv-checker.ts) must
 * still find every acknowledged write.
 *
 * Timeline (14 s in the tests; the network loses and duplicates 1% of datagrams throughout, no crashes):
 *   0 ─ all but the joiner form and place ─ 1.35 s n1 cut off ─ 1.4 s preloaded keys written ─ 1.9 s healed
 *     ─ 1.5 s workload ─ 3 s the joiner starts (table change 1)
 *     ─ 5.5 s the leaver asks to leave with handoff (table change 2), gossips `left` once its partitions are handed
 *     off, and its process exits ─ 60% workload stops ─ 70% final r=all reads on every remaining node ─ 100%
 *
 * Besides the history, the run checks that the joiner ends up owning partitions, that the leaver owns none and
 * left before the final reads, and that something was actually handed off.
 */
import { presets } from '../core/node/node-config.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import type { Millis } from '../core/primitives/ids.ts'
import { nodeId } from '../core/primitives/ids.ts'
import { checkKvHistory } from './kv-checker.ts'
import { KvWorkload, defaultKvWorkloadOptions } from './kv-workload.ts'
import type { KvScenarioRun } from './kv-scenario.ts'
import { World } from './world.ts'

export interface KvJoinScenarioOptions {
  readonly seed: number
  /** Nodes at the start; one more joins, and n2 leaves. */
  readonly initialNodes: number
  readonly durationMs: Millis
  readonly maxKeptTraceLines?: number
}

/**
 * Small pages and one partition in flight make a handoff take many calls, which is what we want to interleave.
 * Without hints and read repair, the preloaded keys written while n1 is cut off stay on exactly two replicas
 * (nothing else copies them, as anti-entropy is not part of this scenario), so a handoff that dropped them or a
 * new owner that answered before it held them would show up as a lost write.
 */
export const kvJoinScenarioConfig: NodeConfig = {
  ...presets.test, partitions: 16, handoffPageKeys: 2, handoffMaxPartitionsInFlight: 1, hintedHandoff: false, readRepair: false,
}

const preloadAtMs = 1_400
const joinAtMs = 3_000
const leaveAtMs = 5_500
const pollMs = 100

export function kvJoinScenario(options: KvJoinScenarioOptions): KvScenarioRun {
  const joiner = `n${options.initialNodes + 1}`
  const leaver = 'n2'
  const world = new World({
    seed: options.seed,
    nodes: options.initialNodes + 1,
    config: kvJoinScenarioConfig,
    network: { lossProbability: 0.01, duplicateProbability: 0.01 },
    deferredStart: [joiner],
    ...(options.maxKeptTraceLines === undefined ? {} : { maxKeptTraceLines: options.maxKeptTraceLines }),
  })
  const workload = new KvWorkload(world, world.workloadRandom, {
    ...defaultKvWorkloadOptions,
    n: kvJoinScenarioConfig.n,
    endMs: Math.floor(options.durationMs * 0.6),
    finalReadAtMs: Math.floor(options.durationMs * 0.7),
    finalDeadlineMs: Math.floor(options.durationMs * 0.95),
    noFinalReads: [leaver],
    preloadKeys: 24,
    preloadAtMs,
  })
  const problems: string[] = []
  let leftAtMs: Millis | null = null
  // n1 is cut off while the preloaded keys are written, so each lands on two of its three replicas at most.
  const others = Array.from({ length: options.initialNodes - 1 }, (_, i) => `n${i + 2}`)
  world.scheduler.at(preloadAtMs - 50, () => world.partition(['n1'], others))
  world.scheduler.at(preloadAtMs + 500, () => world.heal())
  world.scheduler.at(joinAtMs, () => world.restart(joiner))
  const askToLeave = (): void => {
    const requestId = world.clientRequest(leaver, { kind: 'leave', handoff: true })
    world.cluster.addObserver({
      onClientOutcome: (_node, id, outcome) => {
        if (id !== requestId) return
        // No leader reachable yet, or the leader did not answer: ask again, as an operator would.
        if (outcome.kind !== 'response' || outcome.response.kind !== 'ok') world.schedule(pollMs * 3, askToLeave)
        else world.schedule(pollMs, exitOnceLeft)
      },
    })
  }
  const exitOnceLeft = (): void => {
    const node = world.cluster.node(leaver)
    if (node.currentNode?.membership.isLeaveDisseminated() === true) {
      leftAtMs = world.nowMs
      return world.crash(leaver)
    }
    if (world.nowMs < options.durationMs * 0.65) world.schedule(pollMs, exitOnceLeft)
  }
  world.scheduler.at(leaveAtMs, askToLeave)
  workload.schedule()
  return {
    world,
    workload,
    run: () => {
      const result = world.runUntil(options.durationMs)
      if (result.outcome === 'event-limit') problems.push(`event limit reached after ${result.eventsRun} events (livelock?)`)
      if (!workload.idle) problems.push('some requests were never answered by the end of the run')
      if (leftAtMs === null) problems.push(`${leaver} did not finish its handoff and leave before ${Math.floor(options.durationMs * 0.65)} ms`)
      problems.push(...ownershipProblems(world, joiner, leaver))
      problems.push(...checkKvHistory(workload.history, { n: kvJoinScenarioConfig.n }))
      return problems
    },
    notes: () => {
      const { reads, writes, retries, okWrites, failedWrites } = workload.stats
      return [`kv: ${writes} writes (${okWrites} ok, ${failedWrites} failed, ${retries} retried), ${reads} reads; ${leaver} left at ${leftAtMs ?? 'never'} ms`]
    },
  }
}

/** The joiner owns partitions, the leaver none, on every node still up; somebody handed keys off. */
function ownershipProblems(world: World, joiner: string, leaver: string): string[] {
  const problems: string[] = []
  let keysSent = 0
  for (const node of world.cluster.upNodes()) {
    const table = node.currentNode?.placement.table ?? null
    keysSent += node.currentNode?.replication.handoff.counters.keysSent ?? 0
    if (table === null) {
      problems.push(`placement: ${node.id} holds no table at the end`)
      continue
    }
    const owners = new Set(table.owners.flat())
    if (!owners.has(nodeId(joiner))) problems.push(`placement: ${node.id}'s final table gives ${joiner} nothing`)
    if (owners.has(nodeId(leaver))) problems.push(`placement: ${node.id}'s final table still names ${leaver}`)
  }
  if (keysSent === 0) problems.push('handoff: no node handed off a single key')
  return problems
}
