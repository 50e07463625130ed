/**
 * `npm run sim -- --seed N` replays one simulated run exactly; `--seeds 1..100` runs many and stops at the first
 * failing seed, printing the command that replays it. The scenarios live in src/sim/scenarios.ts and are the
 * same functions the tests run, so a seed from a failing test reproduces here byte for byte.
 *
 *   npm run sim -- --seed 7 [--scenario echo] [--nodes 5] [--duration-ms 60000] [--trace]
 *   npm run sim -- --seeds 1..100 [--scenario echo]
 */
import { parseArgs } from 'node:util'
import { replayLine } from '../src/sim/replay.ts'
import type { ReplayFlags } from '../src/sim/replay.ts'
import { isScenarioName, runScenario, scenarioNames } from '../src/sim/scenarios.ts'
import type { ScenarioName, ScenarioOptions, ScenarioResult } from '../src/sim/scenarios.ts'
import {
  isMembershipScenarioName,
  membershipScenarioDefaults,
  membershipScenarioNames,
  runMembershipScenario,
} from '../src/sim/membership-scenarios.ts'
import type { MembershipScenarioName, MembershipScenarioResult } from '../src/sim/membership-scenarios.ts'

type AnyScenario = ScenarioName | MembershipScenarioName
type AnyResult = ScenarioResult | MembershipScenarioResult

const defaults = { scenario: 'echo' as AnyScenario, nodes: 5, durationMs: 60_000 }

const usage = `usage: npm run sim -- (--seed N | --seeds A..B) [--scenario ${[...scenarioNames, ...membershipScenarioNames].join('|')}] [--nodes 5] [--duration-ms 60000] [--trace]`

const isAnyScenario = (name: string): name is AnyScenario => isScenarioName(name) || isMembershipScenarioName(name)

function run(name: AnyScenario, options: ScenarioOptions): AnyResult {
  return isMembershipScenarioName(name) ? runMembershipScenario(name, options) : runScenario(name, options)
}

/** Membership scenarios have their own shapes (50 nodes, two hours…); flags left out take those. */
function defaultsFor(name: AnyScenario): { nodes: number; durationMs: number } {
  return isMembershipScenarioName(name) ? membershipScenarioDefaults[name] : defaults
}

function fail(message: string): never {
  console.error(`${message}\n${usage}`)
  process.exit(2)
}

function integerFlag(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback
  if (!/^-?\d+$/.test(text)) fail(`--${name} must be an integer, got ${JSON.stringify(text)}`)
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < min) fail(`--${name} must be a safe integer ≥ ${min}, got ${text}`)
  return value
}

function parseSeedRange(text: string): { first: number; last: number } {
  const match = /^(\d+)\.\.(\d+)$/.exec(text)
  if (match === null) fail(`--seeds must look like 1..100, got ${JSON.stringify(text)}`)
  const first = Number(match[1])
  const last = Number(match[2])
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) fail(`--seeds ${text} is not a range`)
  return { first, last }
}

function replayFlags(scenario: AnyScenario, options: ScenarioOptions): ReplayFlags {
  const shape = defaultsFor(scenario)
  return {
    ...(scenario === defaults.scenario ? {} : { scenario }),
    ...(options.nodes === shape.nodes ? {} : { nodes: options.nodes }),
    ...(options.durationMs === shape.durationMs ? {} : { durationMs: options.durationMs }),
  }
}

function report(result: AnyResult, flags: ReplayFlags): void {
  for (const line of result.world.summary()) console.log(line)
  for (const line of result.notes) console.log(line)
  if (result.problems.length === 0) {
    console.log(`PASS ${result.scenario} seed ${result.seed}`)
    return
  }
  console.log(`FAIL ${result.scenario} seed ${result.seed}: ${result.problems.length} problems`)
  for (const problem of result.problems.slice(0, 20)) console.log(`  ${problem}`)
  if (result.problems.length > 20) console.log(`  … and ${result.problems.length - 20} more`)
  console.log(replayLine(result.seed, flags))
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      seeds: { type: 'string' },
      scenario: { type: 'string' },
      nodes: { type: 'string' },
      'duration-ms': { type: 'string' },
      trace: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  })
  if (values.help) {
    console.log(usage)
    return
  }
  const scenario = values.scenario ?? defaults.scenario
  if (!isAnyScenario(scenario)) fail(`unknown scenario ${JSON.stringify(scenario)}`)
  const shape = defaultsFor(scenario)
  const nodes = integerFlag('nodes', values.nodes, shape.nodes, 2)
  const durationMs = integerFlag('duration-ms', values['duration-ms'], shape.durationMs, 1)
  if ((values.seed === undefined) === (values.seeds === undefined)) fail('give exactly one of --seed and --seeds')

  if (values.seed !== undefined) {
    const seed = integerFlag('seed', values.seed, 0, 0)
    const options: ScenarioOptions = { seed, nodes, durationMs }
    const result = run(scenario, options)
    if (values.trace) {
      process.stdout.write(result.world.trace.text())
      if (result.world.trace.truncated) console.log('… trace text truncated (the hash covers every line)')
    }
    report(result, replayFlags(scenario, options))
    process.exitCode = result.problems.length === 0 ? 0 : 1
    return
  }

  const { first, last } = parseSeedRange(values.seeds as string)
  for (let seed = first; seed <= last; seed++) {
    // Only the failing run's trace text is ever printed, so keep little of each passing run's text.
    const options: ScenarioOptions = { seed, nodes, durationMs, maxKeptTraceLines: 0 }
    const result = run(scenario, options)
    if (result.problems.length > 0) {
      console.log(`first failing seed: ${seed}`)
      report(result, replayFlags(scenario, options))
      process.exitCode = 1
      return
    }
    console.log(`seed ${seed} ok  ${result.world.trace.digest().slice(0, 16)}  ${result.notes[0] ?? ''}`)
  }
  console.log(`all ${last - first + 1} seeds passed (${scenario}, ${nodes} nodes, ${durationMs} ms)`)
}

main()
