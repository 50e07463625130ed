/**
 * Replication under faults, seeds 1..100 (the other hundred run in replication-more.test.ts, so the two halves
 * use both workers). `SEED=N npx vitest run test/sim/replication.test.ts` runs one seed.
 */
import { describe, expect, it } from 'vitest'
import { kvScenario } from '../../src/sim/kv-scenario.ts'
import { kvDurationMs, kvSeedTest, replicationSeedTests } from './replication-seeds.ts'

describe('replication: kv workload under crashes, restarts, loss and partitions (seeds 1..100)', () => {
  replicationSeedTests(1, 100)
})

describe('replication: seeds that once failed', () => {
  // A node still saw a healed peer as suspect when the final r=all reads ran: final reads now poll to a deadline.
  kvSeedTest(7, 3, ' (regression: final reads before membership settled)')
  // r=all accepted a fallback for a primary one node still thought down: final reads now also ask pr=all.
  kvSeedTest(69, 5, ' (regression: sloppy r=all in the final reads)')
  // A retried put reached a second primary and existed twice; the checker treats retried values as possibly doubled.
  kvSeedTest(33, 4, ' (regression: retried write applied on two primaries)')
})

describe('replication: determinism', () => {
  it('the same seed gives the same trace, byte for byte', () => {
    const digest = (): string => {
      const scenario = kvScenario({ seed: 42, nodes: 5, durationMs: kvDurationMs, maxKeptTraceLines: 0 })
      expect(scenario.run()).toEqual([])
      return scenario.world.trace.digest()
    }
    expect(digest()).toBe(digest())
  })
})
