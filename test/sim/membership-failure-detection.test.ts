/**
 * Failure detection in the simulated world, 10 nodes on the `test` preset (period T = 200 ms):
 * - a process that dies on a live host (its port refuses) and a host that vanishes (a partition: only silence)
 *   are each declared dead by every other running node within the bound membershipBounds derives from the
 *   config, and nobody else is declared dead meanwhile;
 * - with 5% of datagrams lost all the time, no running node is ever declared dead. The suite runs ten minutes
 *   of virtual time for each of several seeds; the full two hours is
 *   `npm run sim -- --seed 1 --scenario membership-loss --nodes 10 --duration-ms 7200000` (about a minute).
 * The measured detection times and false-suspicion counts are printed.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { presets } from '../../src/core/node/node-config.ts'
import { membershipBounds } from '../../src/sim/membership-scenarios.ts'
import { Figures, runChecked } from './membership-support.ts'
import { testSeeds } from './seeds.ts'

const testFile = 'test/sim/membership-failure-detection.test.ts'
const detection = new Figures()
const loss = new Figures()

describe('membership failure detection (simulated, 10 nodes)', () => {
  it('refusal is detected under a tighter bound than silence', () => {
    const bounds = membershipBounds(presets.test, 10)
    expect(bounds.detectRefusalMs).toBeLessThan(bounds.detectSilenceMs)
  })

  for (const seed of testSeeds([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])) {
    it(`seed ${seed}: a crashed process and a lost host are declared dead everywhere within the bound`, () => {
      detection.add(runChecked('membership-crash', seed, testFile, { durationMs: 8_000 }))
    })
  }

  for (const seed of testSeeds([1, 2, 3])) {
    it(`seed ${seed}: 5% loss for five minutes declares no running node dead`, () => {
      const result = runChecked('membership-loss', seed, testFile, { durationMs: 5 * 60 * 1_000 })
      expect(result.checker.falseDeads()).toEqual([])
      loss.add(result)
    })
  }

  afterAll(() => {
    const bounds = membershipBounds(presets.test, 10)
    detection.print(`detection after the fault, ms (bounds: refusal ${bounds.detectRefusalMs}, silence ${bounds.detectSilenceMs}); *Ms = every observer`)
    loss.print('5% loss, five minutes, per seed (counts)')
  })
})
