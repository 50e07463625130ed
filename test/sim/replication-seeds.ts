/**
 * Shared body of the replication seed tests: one kv scenario per seed (kv-scenario.ts), with random crashes and
 * restarts, loss, duplication and partitions, checked against invariants 1 and 2. The node count cycles through
 * 3, 4 and 5 with the seed. Every failure carries its replay command.
 */
import { expect, it } from 'vitest'
import { withReplay } from '../../src/sim/replay.ts'
import { kvScenario } from '../../src/sim/kv-scenario.ts'
import { testSeeds } from './seeds.ts'

export const kvDurationMs = 11_000

export function nodesFor(seed: number): number {
  return 3 + (seed % 3)
}

export function replicationSeedTests(first: number, last: number): void {
  const defaults = Array.from({ length: last - first + 1 }, (_, i) => first + i)
  for (const seed of testSeeds(defaults)) kvSeedTest(seed, nodesFor(seed))
}

/** One seeded kv run at a given node count. */
export function kvSeedTest(seed: number, nodes: number, why = ''): void {
  {
    it(`seed ${seed} (${nodes} nodes): no acknowledged write lost, no false siblings, final reads agree${why}`, () => {
      withReplay(seed, () => {
        const scenario = kvScenario({ seed, nodes, durationMs: kvDurationMs, maxKeptTraceLines: 0 })
        const problems = scenario.run()
        expect(problems).toEqual([])
        expect(scenario.workload.stats.okWrites).toBeGreaterThan(0)
      }, { scenario: 'kv', nodes, durationMs: kvDurationMs })
    })
  }
}
