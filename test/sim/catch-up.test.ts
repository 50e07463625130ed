/**
 * Change-log catch-up (issue 8, change-log-catch-up.ts): with hinted handoff, read repair and scheduled Merkle rounds
 * all off, a replica that was partitioned away or crashed while writes went on holds exactly what its peers hold
 * within a few seconds of returning, through the change log alone; away a second time, it resumes from the
 * high-water marks the first catch-up left (from disk, after a crash); when the peers' logs were truncated past
 * its marks, it falls back to the Merkle exchange and still converges. Seeds 1..16 per case by default;
 * `SEED=N npx vitest run test/sim/catch-up.test.ts` replays one. Node counts cycle through 3, 4 and 5.
 */
import { describe, expect, it } from 'vitest'
import { runCatchUpScenario } from '../../src/sim/catch-up-scenario.ts'
import type { CatchUpOutage } from '../../src/sim/catch-up-scenario.ts'
import { withReplay } from '../../src/sim/replay.ts'
import { testSeeds } from './seeds.ts'

const defaults = Array.from({ length: 16 }, (_, i) => i + 1)

for (const outage of ['partition', 'crash'] as const satisfies readonly CatchUpOutage[]) {
  describe(`catch-up after a ${outage}: the change log alone brings the victim back in line`, () => {
    for (const seed of testSeeds(defaults)) {
      const nodes = 3 + (seed % 3)
      it(`seed ${seed} (${nodes} nodes)`, () => {
        withReplay(seed, () => {
          const result = runCatchUpScenario({ seed, nodes, outage, maxKeptTraceLines: 0 })
          expect(result.problems, result.notes.join('\n')).toEqual([])
          expect(result.divergedBeforeReturn, 'the victim missed no write: the run proves nothing').toBeGreaterThan(0)
          expect(result.totals.catchUpObjectsFetched).toBeGreaterThan(0)
          expect(result.totals.catchUpFallbacks).toBe(0)
          expect(result.totals.roundsStarted).toBe(0)
          expect(result.victimPersistedMarks, 'the victim persisted no high-water mark').toBeGreaterThan(0)
        }, { testFile: 'test/sim/catch-up.test.ts', nodes })
      })
    }
  })

  describe(`catch-up after a second ${outage}: resumes from the high-water marks the first one left`, () => {
    for (const seed of testSeeds(defaults.slice(0, 8))) {
      const nodes = 3 + (seed % 3)
      it(`seed ${seed} (${nodes} nodes)`, () => {
        withReplay(seed, () => {
          const result = runCatchUpScenario({ seed, nodes, outage, outages: 2, maxKeptTraceLines: 0 })
          expect(result.problems, result.notes.join('\n')).toEqual([])
          expect(result.divergedBeforeReturn).toBeGreaterThan(0)
          expect(result.victimJobsFromMark, result.notes.join('\n')).toBeGreaterThan(0)
          expect(result.totals.catchUpFallbacks).toBe(0)
          expect(result.totals.roundsStarted).toBe(0)
        }, { testFile: 'test/sim/catch-up.test.ts', nodes })
      })
    }
  })

  describe(`catch-up after a ${outage}, peers' logs truncated: falls back to the Merkle exchange`, () => {
    for (const seed of testSeeds(defaults.slice(0, 8))) {
      const nodes = 3 + (seed % 3)
      it(`seed ${seed} (${nodes} nodes)`, () => {
        withReplay(seed, () => {
          const result = runCatchUpScenario({ seed, nodes, outage, truncate: true, maxKeptTraceLines: 0 })
          expect(result.problems, result.notes.join('\n')).toEqual([])
          expect(result.divergedBeforeReturn).toBeGreaterThan(0)
          expect(result.totals.catchUpFallbacks).toBeGreaterThan(0)
          expect(result.totals.roundsStarted).toBe(0)
        }, { testFile: 'test/sim/catch-up.test.ts', nodes })
      })
    }
  })
}
