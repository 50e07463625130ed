/**
 * The PBS staleness measurement (scripts/bench/staleness.ts) on a few trials with a fixed seed: deterministic,
 * so these bounds hold on every run, and fast enough for `npm test`. It checks the three properties the table
 * must show: t = 0 at or below the analytic bound C(N−W,R)/C(N,R), staleness falling toward 0 as t grows, and
 * no stale read at all when R + W > N.
 */
import { describe, expect, it } from 'vitest'
import { binomial, measureStaleness, N, staleBound } from '../../scripts/bench/staleness.ts'
import type { StalenessCell } from '../../scripts/bench/staleness.ts'

const SEED = 1
const TRIALS = 30

describe('PBS staleness in the simulator', () => {
  it('the analytic bound is C(N−W,R)/C(N,R)', () => {
    expect([binomial(3, 1), binomial(3, 2), binomial(1, 2), binomial(2, 1)]).toEqual([3, 3, 0, 2])
    expect(staleBound(3, 1, 1)).toBeCloseTo(2 / 3)
    expect(staleBound(3, 1, 2)).toBeCloseTo(1 / 3)
    expect(staleBound(3, 2, 2)).toBe(0)
  })

  it('sits below the bound at t = 0, falls toward 0 with t, and never reads stale when R + W > N', () => {
    const table = measureStaleness({ trials: TRIALS, seed: SEED, meanLegMs: 10, delaysMs: [0, 10, 100] })
    const cell = (r: number, w: number, delayMs: number): StalenessCell => {
      const found = table.cells.find((c) => c.r === r && c.w === w && c.delayMs === delayMs)
      if (found === undefined) throw new Error(`no cell R=${r} W=${w} t=${delayMs}`)
      return found
    }
    const stale = (c: StalenessCell): number => c.stale / (c.trials - c.failed)
    const replay = `replay: npm run bench -- staleness --trials ${TRIALS} --seed ${SEED}`
    for (const c of table.cells) expect([c.trials, c.failed], replay).toEqual([TRIALS, 0])
    for (const [r, w] of [[1, 1], [1, 2]] as const) expect(stale(cell(r, w, 0)), replay).toBeLessThanOrEqual(staleBound(N, r, w))
    // R = W = 1 at t = 0 is stale often enough to see the fall: the write has reached one replica of three.
    expect(stale(cell(1, 1, 0)), replay).toBeGreaterThan(0)
    expect(stale(cell(1, 1, 10)), replay).toBeLessThan(stale(cell(1, 1, 0)))
    expect(stale(cell(1, 1, 100)), replay).toBe(0)
    for (const delayMs of [0, 10, 100]) expect(cell(2, 2, delayMs).stale, replay).toBe(0)
  })
})
