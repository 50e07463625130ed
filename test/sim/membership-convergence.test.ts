/**
 * 50 nodes started at once converge to one full view within a bound computed from the config
 * (membershipBounds: the seed's burst of join updates drained through datagrams of k updates, f per gossip
 * round, plus the epidemic's log spread), both when every node joins through one seed and when the seeds form a
 * ring (each node knows only the next, so nobody's seed is up first). The ring found the island bug: being
 * reached by a neighbour used to count as joined, and the cluster settled into islands that never met.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { presets } from '../../src/core/node/node-config.ts'
import { membershipBounds } from '../../src/sim/membership-scenarios.ts'
import { Figures, runChecked } from './membership-support.ts'
import { testSeeds } from './seeds.ts'

const testFile = 'test/sim/membership-convergence.test.ts'
const nodes = 50
// Convergence ends the interesting part; a short tail still checks that nobody is declared dead meanwhile.
const durationMs = 3_000
const figures = new Figures()

describe('membership convergence (simulated, 50 nodes)', () => {
  it('the bound is below the push-pull interval, so gossip and not the push-pull backstop does the work', () => {
    const bounds = membershipBounds(presets.test, nodes)
    expect(bounds.convergeGossipMs).toBeLessThanOrEqual(presets.test.pushPullIntervalMs + 2 * presets.test.probeIntervalMs)
  })

  for (const seed of testSeeds([1, 2, 3, 4, 5])) {
    it(`seed ${seed}: every node joins through one seed`, () => {
      figures.add(runChecked('membership-converge', seed, testFile, { nodes, durationMs }))
    })
  }

  // 1 was the first seed to show the islands (every seed of the ring did, before the fix).
  for (const seed of testSeeds([1, 2, 3])) {
    it(`seed ${seed}: seeds form a ring`, () => {
      figures.add(runChecked('membership-converge-ring', seed, testFile, { nodes, durationMs }))
    })
  }

  afterAll(() => figures.print(`convergence of ${nodes} nodes, ms (bound ${membershipBounds(presets.test, nodes).convergeGossipMs} ms)`))
})
