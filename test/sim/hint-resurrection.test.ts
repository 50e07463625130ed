/**
 * A hint replayed after its key's tombstone was reaped does not bring the key back (tombstone-reaper.ts, the
 * superseded-copy rule): the owner drops the late copy, answers the hint, and no owner holds the key afterwards.
 * Seeds 1..10 by default; `SEED=N npx vitest run test/sim/hint-resurrection.test.ts` replays one.
 */
import { describe, expect, it } from 'vitest'
import { runHintResurrectionScenario } from '../../src/sim/hint-resurrection-scenario.ts'
import { withReplay } from '../../src/sim/replay.ts'
import { testSeeds } from './seeds.ts'

const defaults = Array.from({ length: 10 }, (_, i) => i + 1)

describe('tombstone reaping: a late hint cannot resurrect a reaped key', () => {
  for (const seed of testSeeds(defaults)) {
    it(`seed ${seed}: the owner drops the superseded hint and the key stays gone`, () => {
      withReplay(seed, () => {
        const result = runHintResurrectionScenario({ seed, maxKeptTraceLines: 0 })
        expect(result.problems, result.notes.join('\n')).toEqual([])
        expect(result.supersededCopiesDropped).toBeGreaterThan(0)
      }, { testFile: 'test/sim/hint-resurrection.test.ts', nodes: 4 })
    })
  }
})
