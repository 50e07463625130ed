/**
 * Invariant 3 (convergence) with hinted handoff and read repair off: after crashes, restarts, partitions and loss
 * stop, every owner of every partition holds the same objects within two anti-entropy intervals, read straight
 * from each node's simulated disk. Seeds 1..100 by default; `SEED=N npx vitest run test/sim/anti-entropy.test.ts`
 * replays one. Node counts cycle through 3, 4 and 5.
 */
import { describe, expect, it } from 'vitest'
import { antiEntropyCheckAtMs, antiEntropyScenario, antiEntropyScenarioConfig } from '../../src/sim/anti-entropy-scenario.ts'
import { withReplay } from '../../src/sim/replay.ts'
import { testSeeds } from './seeds.ts'

const defaults = Array.from({ length: 100 }, (_, i) => i + 1)

describe('anti-entropy: replicas converge without hinted handoff or read repair', () => {
  for (const seed of testSeeds(defaults)) {
    const nodes = 3 + (seed % 3)
    it(`seed ${seed} (${nodes} nodes): every replica identical within two intervals of the faults stopping`, () => {
      withReplay(seed, () => {
        const scenario = antiEntropyScenario({ seed, nodes, maxKeptTraceLines: 0 })
        expect(scenario.run()).toEqual([])
        expect(scenario.workload.stats.okWrites).toBeGreaterThan(0)
      }, { scenario: 'anti-entropy', nodes, testFile: 'test/sim/anti-entropy.test.ts' })
    })
  }
})

describe('anti-entropy: the convergence check is not vacuous', () => {
  it('with anti-entropy effectively off (one round per hour), some of seeds 1..10 leave replicas diverged', () => {
    const config = { ...antiEntropyScenarioConfig, antiEntropyIntervalMs: 3_600_000 }
    const diverged = Array.from({ length: 10 }, (_, i) => i + 1).filter((seed) => {
      const checkAtMs = antiEntropyCheckAtMs(antiEntropyScenarioConfig)
      const scenario = antiEntropyScenario({ seed, nodes: 3 + (seed % 3), maxKeptTraceLines: 0, config, checkAtMs })
      return scenario.run().some((problem) => problem.startsWith('partition '))
    })
    expect(diverged.length).toBeGreaterThan(0)
  })
})
