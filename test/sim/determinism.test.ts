/**
 * One seed, one run: the whole simulated world (nodes, network, faults, workload) must replay byte for byte.
 * If this test ever fails, something nondeterministic (a clock, Math.random, hash order, a promise) has leaked
 * into the simulation, and no replay built on it can be trusted.
 */
import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { withReplay } from '../../src/sim/replay.ts'
import { runScenario } from '../../src/sim/scenarios.ts'
import type { ScenarioOptions } from '../../src/sim/scenarios.ts'
import { testSeeds } from './seeds.ts'

const shape = { nodes: 5, durationMs: 12_000 }

function fingerprint(options: ScenarioOptions): { digest: string; lines: number; text: string; problems: readonly string[] } {
  const result = runScenario('echo', options)
  return { digest: result.world.trace.digest(), lines: result.world.trace.lineCount, text: result.world.trace.text(), problems: result.problems }
}

describe('determinism', () => {
  for (const seed of testSeeds([11, 12])) {
    it(`seed ${seed}: two runs give identical traces`, () => {
      withReplay(seed, () => {
        const first = fingerprint({ seed, ...shape })
        const second = fingerprint({ seed, ...shape })
        expect(first.problems).toEqual([])
        expect(second.digest).toBe(first.digest)
        expect(second.lines).toBe(first.lines)
        // The hash should be enough; comparing the text too makes a failure show the first differing line.
        expect(second.text === first.text).toBe(true)
      }, { durationMs: shape.durationMs })
    })
  }

  it('different seeds give different traces', () => {
    const seed = testSeeds([21])[0] as number
    withReplay(seed, () => {
      const digests = [seed, seed + 1, seed + 2].map((s) => fingerprint({ seed: s, ...shape }).digest)
      expect(new Set(digests).size).toBe(3)
    }, { durationMs: shape.durationMs })
  })

  it('the replay command reproduces a test run in a fresh process', () => {
    const seed = testSeeds([11])[0] as number
    withReplay(seed, () => {
      const inProcess = fingerprint({ seed, ...shape })
      // A separate process has fresh module state (codec caches, counters): the same seed must still hash the same.
      const output = execFileSync(process.execPath, [
        '--import', 'tsx', 'scripts/simulate.ts', '--seed', String(seed), '--duration-ms', String(shape.durationMs),
      ], { encoding: 'utf8' })
      expect(output).toContain(`sha256 ${inProcess.digest}`)
    }, { durationMs: shape.durationMs })
  })
})
