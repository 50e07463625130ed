/**
 * Shared by the membership simulation tests: run one scenario for each seed, fail with every problem and the
 * replay command, and print what was measured so that a passing run still reports its figures.
 */
import { expect } from 'vitest'
import { distribution } from '../../src/sim/membership-checker.ts'
import {
  membershipReplayLine,
  membershipScenarioDefaults,
  runMembershipScenario,
} from '../../src/sim/membership-scenarios.ts'
import type {
  MembershipScenarioName,
  MembershipScenarioOptions,
  MembershipScenarioResult,
} from '../../src/sim/membership-scenarios.ts'

export function runChecked(
  name: MembershipScenarioName,
  seed: number,
  testFile: string,
  shape: Partial<Pick<MembershipScenarioOptions, 'nodes' | 'durationMs'>> = {},
): MembershipScenarioResult {
  // Only a failing run's trace is ever read, and the replay regenerates it: keep no text.
  const options: MembershipScenarioOptions = { seed, ...membershipScenarioDefaults[name], ...shape, maxKeptTraceLines: 0 }
  const result = runMembershipScenario(name, options)
  if (result.problems.length > 0) {
    const line = membershipReplayLine(name, options, testFile)
    console.error(`${name} seed ${seed} failed:\n  ${result.problems.join('\n  ')}\n${line}`)
    expect.fail(`${name} seed ${seed}: ${result.problems.join('; ')}\n${line}`)
  }
  return result
}

/** Collects one measurement across the seeds of a test. */
export class Figures {
  private readonly values = new Map<string, number[]>()

  add(result: MembershipScenarioResult): void {
    for (const [key, values] of Object.entries(result.measurements)) this.values.set(key, [...(this.values.get(key) ?? []), ...values])
  }

  get(key: string): number[] {
    return this.values.get(key) ?? []
  }

  /** Prints each measurement's distribution; the report quotes these lines. */
  print(title: string): void {
    const lines = [...this.values].map(([key, values]) => {
      const d = distribution(values)
      return `  ${key}: n=${d.n} min ${d.min.toFixed(0)} p50 ${d.p50.toFixed(0)} p90 ${d.p90.toFixed(0)} max ${d.max.toFixed(0)}`
    })
    console.info(`${title}\n${lines.join('\n')}`)
  }
}
