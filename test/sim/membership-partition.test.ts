/**
 * A partition into halves: each half holds the other dead (and nobody within a half is declared dead), and after
 * the heal one full view returns within the bound (the next push-pull across the cut plus dissemination) with
 * one leader everywhere. The long variant holds the cut past deadMemberReapMs, so each side has forgotten the
 * other entirely: before the fix only the records of dead members were ever called across a cut, and with
 * those reaped the halves stayed apart for good (every seed; 1 and 2 were the first run). Push-pull now also
 * calls a seed that is no live member.
 */
import { afterAll, describe, it } from 'vitest'
import { Figures, runChecked } from './membership-support.ts'
import { testSeeds } from './seeds.ts'

const testFile = 'test/sim/membership-partition.test.ts'
const figures = new Figures()

describe('membership partitions (simulated, 10 nodes)', () => {
  for (const seed of testSeeds([1, 2, 3, 4, 5])) {
    it(`seed ${seed}: halves split and heal into one full view with one leader`, () => {
      figures.add(runChecked('membership-partition', seed, testFile, { durationMs: 15_000 }))
    })
  }

  for (const seed of testSeeds([1, 2])) {
    it(`seed ${seed}: a partition that outlasts the reaping of dead members still heals`, () => {
      figures.add(runChecked('membership-partition-long', seed, testFile))
    })
  }

  afterAll(() => figures.print('partition, ms'))
})
