/**
 * Ownership handoff under load (kv-join-scenario.ts): one node joins and another leaves while the kv workload
 * runs; no acknowledged write may be lost, no false sibling appear, and the final r=all reads must agree.
 * `SEED=N npx vitest run test/sim/handoff.test.ts` runs one seed; every failure prints its replay command.
 */
import { describe, expect, it } from 'vitest'
import { kvJoinScenario } from '../../src/sim/kv-join-scenario.ts'
import { withReplay } from '../../src/sim/replay.ts'
import { testSeeds } from './seeds.ts'

const durationMs = 14_000

/** 3 or 4 nodes at the start (so 4 or 5 with the joiner), cycling with the seed. */
function initialNodesFor(seed: number): number {
  return 3 + (seed % 2)
}

describe('ownership handoff: a node joins and another leaves under the kv workload', () => {
  const seeds = testSeeds(Array.from({ length: 40 }, (_, i) => i + 1))
  for (const seed of seeds) {
    const initialNodes = initialNodesFor(seed)
    it(`seed ${seed} (${initialNodes} nodes + 1 joining, n2 leaving): nothing acknowledged lost`, () => {
      withReplay(seed, () => {
        const scenario = kvJoinScenario({ seed, initialNodes, durationMs, maxKeptTraceLines: 0 })
        const problems = scenario.run()
        expect(problems).toEqual([])
        expect(scenario.workload.stats.okWrites).toBeGreaterThan(0)
      }, { scenario: 'kv-join', nodes: initialNodes + 1, durationMs, testFile: 'test/sim/handoff.test.ts' })
    })
  }
})
