/**
 * Deleted keys stay deleted across tombstone reaping (issue 8, tombstone-reaper.ts): a replica partitioned away
 * during a delete comes back holding the old value; r = all reads stay 404 before and after the tombstone is reaped
 * on every replica. Seeds 1..20 by default; `SEED=N npx vitest run test/sim/tombstone.test.ts` replays one.
 */
import { describe, expect, it } from 'vitest'
import { runTombstoneScenario } from '../../src/sim/tombstone-scenario.ts'
import { withReplay } from '../../src/sim/replay.ts'
import { testSeeds } from './seeds.ts'

const defaults = Array.from({ length: 20 }, (_, i) => i + 1)

describe('tombstone reaping: a replica that missed the delete cannot bring the key back', () => {
  for (const seed of testSeeds(defaults)) {
    it(`seed ${seed}: reaped on every replica, and r=all reads are 404 before and after`, () => {
      withReplay(seed, () => {
        const result = runTombstoneScenario({ seed, maxKeptTraceLines: 0 })
        expect(result.problems).toEqual([])
        expect(result.reapedEverywhereAtMs).not.toBeNull()
      }, { scenario: 'tombstone', nodes: 3, testFile: 'test/sim/tombstone.test.ts' })
    })
  }
})

describe('tombstone reaping: an un-reaped tombstone wins over the stale replica', () => {
  for (const seed of testSeeds([101, 102, 103, 104, 105])) {
    it(`seed ${seed}: right after the heal, r=all reads on every node (the victim included) are 404`, () => {
      withReplay(seed, () => {
        const result = runTombstoneScenario({ seed, maxKeptTraceLines: 0, stopAfterFirstReads: true })
        expect(result.problems).toEqual([])
      }, { scenario: 'tombstone', nodes: 3, testFile: 'test/sim/tombstone.test.ts' })
    })
  }
})
