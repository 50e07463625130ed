/**
 * The production Random: the same seeded generator the simulator uses, seeded from the operating system so
 * two nodes never share a stream. The seed is logged at start, which makes a production run's random choices
 * reproducible in principle when debugging.
 */
import { randomBytes } from 'node:crypto'
import { SeededRandom } from '../core/primitives/random.ts'

export function osSeed(): number {
  // 48 bits: a safe integer, and SeededRandom splits it into two 32-bit halves.
  return randomBytes(6).readUIntBE(0, 6)
}

export function systemRandom(seed: number = osSeed()): SeededRandom {
  return new SeededRandom(seed)
}
