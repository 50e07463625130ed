/**
 * Named simulation scenarios: a world, a workload and its checker, and a fault schedule, all from one seed.
 * `npm run sim` and the tests run the same functions, so a seed that fails in a test replays in the script with
 * the exact same trace. Each scenario faults the cluster during the first part of the run and heals everything
 * after it, then checks that the workload completed (liveness after the weather clears) and that nothing
 * impossible happened along the way (an assertion inside a node fails the scenario, it does not crash the run).
 */
import type { Millis } from '../core/primitives/ids.ts'
import { EchoWorkload, defaultEchoWorkloadOptions } from './echo-workload.ts'
import { kvScenario } from './kv-scenario.ts'
import { runAntiEntropyScenario } from './anti-entropy-scenario.ts'
import { kvJoinScenario } from './kv-join-scenario.ts'
import type { RunResult } from './sim-scheduler.ts'
import type { SimNode } from './sim-node.ts'
import { World } from './world.ts'
import type { WorldOptions } from './world.ts'

export const scenarioNames = ['echo', 'health', 'idle', 'kv', 'kv-join', 'anti-entropy'] as const
export type ScenarioName = (typeof scenarioNames)[number]

export interface ScenarioOptions {
  readonly seed: number
  readonly nodes: number
  readonly durationMs: Millis
  readonly maxKeptTraceLines?: number
}

export interface ScenarioResult {
  readonly scenario: ScenarioName
  readonly seed: number
  readonly world: World
  /** How the run ended; null if it threw before finishing. */
  readonly run: RunResult | null
  /** Empty when the scenario passed. */
  readonly problems: readonly string[]
  /** One-line facts about the run for the summary (workload statistics). */
  readonly notes: readonly string[]
}

export function isScenarioName(name: string): name is ScenarioName {
  return (scenarioNames as readonly string[]).includes(name)
}

export function runScenario(name: ScenarioName, options: ScenarioOptions): ScenarioResult {
  switch (name) {
    case 'echo':
      return runEcho(options)
    case 'health':
      return runHealth(options)
    case 'idle':
      return runIdle(options)
    case 'kv':
      return runKv(options)
    case 'anti-entropy':
      return runAntiEntropyScenario(options)
    case 'kv-join':
      return runKv(options, 'kv-join')
  }
}

/** Faults over the first 60% of the run; the rest is for recovery. */
function faultyWorld(options: ScenarioOptions, network: WorldOptions['network']): World {
  return new World({
    seed: options.seed,
    nodes: options.nodes,
    ...(network === undefined ? {} : { network }),
    faults: { startMs: 500, endMs: Math.floor(options.durationMs * 0.6) },
    ...(options.maxKeptTraceLines === undefined ? {} : { maxKeptTraceLines: options.maxKeptTraceLines }),
  })
}

function runEcho(options: ScenarioOptions): ScenarioResult {
  // Background weather on top of the scheduled faults: a little loss, duplication and corruption all the time.
  const world = faultyWorld(options, { lossProbability: 0.02, duplicateProbability: 0.02, corruptProbability: 0.01 })
  const workload = new EchoWorkload(world, world.workloadRandom, {
    ...defaultEchoWorkloadOptions,
    spreadMs: Math.floor(options.durationMs * 0.5),
  })
  workload.schedule()
  return finish('echo', options, world, () => workload.problems(), () => {
    const stats = workload.stats()
    return [
      `echo: ${stats.completed}/${stats.started} completed, ${stats.resends} resends, ${stats.strayReplies} stray replies`,
      `echo call failures: ${JSON.stringify(stats.callFailures)}`,
    ]
  })
}

function runHealth(options: ScenarioOptions): ScenarioResult {
  const world = faultyWorld(options, undefined)
  const requests: { readonly node: SimNode; readonly requestId: ReturnType<World['clientRequest']> }[] = []
  const everyMs = 100
  const untilMs = Math.floor(options.durationMs * 0.9)
  const ask = (): void => {
    const nodes = world.cluster.nodes
    const node = nodes[world.workloadRandom.nextInt(nodes.length)] as SimNode
    requests.push({ node, requestId: world.clientRequest(node.id, { kind: 'health' }) })
    if (world.nowMs + everyMs <= untilMs) world.schedule(everyMs, ask)
  }
  world.schedule(everyMs, ask)
  return finish('health', options, world, () => {
    const problems: string[] = []
    for (const { node, requestId } of requests) {
      const outcome = world.cluster.outcome(requestId)
      if (outcome === undefined) problems.push(`health #${requestId} to ${node.id} never answered`)
      else if (outcome.kind === 'response' && (outcome.response.kind !== 'health' || outcome.response.id !== node.id)) {
        problems.push(`health #${requestId} to ${node.id} answered ${JSON.stringify(outcome.response)}`)
      }
    }
    return problems
  }, () => [`health: ${requests.length} requests`])
}

function runIdle(options: ScenarioOptions): ScenarioResult {
  const world = faultyWorld(options, undefined)
  return finish('idle', options, world, () => world.cluster.downNodes().map((node) => `${node.id} still down at the end`), () => [])
}

/** `kv-join`: `nodes` counts the joiner, which starts mid-run (kv-join-scenario.ts). */
function runKv(options: ScenarioOptions, name: 'kv' | 'kv-join' = 'kv'): ScenarioResult {
  const scenario = name === 'kv' ? kvScenario(options) : kvJoinScenario({ ...options, initialNodes: Math.max(2, options.nodes - 1) })
  let problems: string[] = []
  try {
    problems = scenario.run()
  } catch (error) {
    problems.push(`exception: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  }
  return { scenario: name, seed: options.seed, world: scenario.world, run: null, problems, notes: scenario.notes() }
}

function finish(
  scenario: ScenarioName,
  options: ScenarioOptions,
  world: World,
  check: () => string[],
  notes: () => string[],
): ScenarioResult {
  let run: RunResult | null = null
  const problems: string[] = []
  try {
    run = world.runUntil(options.durationMs)
    if (run.outcome === 'event-limit') problems.push(`event limit reached after ${run.eventsRun} events (livelock?)`)
    problems.push(...check())
  } catch (error) {
    problems.push(`exception: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  }
  return { scenario, seed: options.seed, world, run, problems, notes: notes() }
}
