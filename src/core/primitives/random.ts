/**
 * The Random port and a seeded PRNG. Every random choice in the core (which member to probe next, which k helpers
 * to ask, jitter) comes from an injected Random, so one seed replays one run exactly. The production shell seeds
 * it from the operating system; the simulator derives one seed per node from the world's seed.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counter): 128 bits of state, passes PractRand, and
 * needs only 32-bit integer arithmetic, which JavaScript does exactly.
 */
import { assert } from './assert.ts'

export interface Random {
  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number
  /** A float in [0, 1). */
  nextFloat(): number
  /** An integer in [0, bound). */
  nextInt(bound: number): number
}

export class SeededRandom implements Random {
  private a: number
  private b: number
  private c: number
  private counter: number

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), () => `seed must be a safe integer, got ${seed}`)
    // Split the seed into two 32-bit halves so seeds above 2^32 still give distinct streams.
    this.a = seed >>> 0
    this.b = Math.floor(seed / 0x1_0000_0000) >>> 0
    this.c = 0x9e37_79b9
    this.counter = 1
    // Discard the first outputs: sfc32 mixes poorly for the first few rounds after a sparse seed.
    for (let i = 0; i < 15; i++) this.nextUint32()
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.counter) >>> 0
    this.counter = (this.counter + 1) >>> 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) >>> 0
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0
    this.c = (this.c + t) >>> 0
    return t
  }

  nextFloat(): number {
    return this.nextUint32() / 0x1_0000_0000
  }

  nextInt(bound: number): number {
    assert(Number.isInteger(bound) && bound > 0 && bound <= 0x1_0000_0000, () => `bound must be in 1..2^32, got ${bound}`)
    // Rejection sampling removes the modulo bias that a plain `% bound` has for bounds that are not powers of two.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % bound)
    for (;;) {
      const value = this.nextUint32()
      if (value < limit) return value % bound
    }
  }

  /** A new independent generator, for handing one stream per node or per module out of one seed. */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32() * 0x1_0000 + (this.nextUint32() & 0xffff))
  }
}

/** Fisher–Yates shuffle into a new array; the input order must itself be deterministic (sort it first). */
export function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const out = items.slice()
  for (let i = out.length - 1; i > 0; i--) {
    const j = random.nextInt(i + 1)
    const tmp = out[i] as T
    out[i] = out[j] as T
    out[j] = tmp
  }
  return out
}

/** Up to `count` distinct items chosen uniformly; deterministic for a given generator state and input order. */
export function sample<T>(random: Random, items: readonly T[], count: number): T[] {
  return shuffled(random, items).slice(0, Math.max(0, count))
}

/** Uniform in [min, max). */
export function uniform(random: Random, min: number, max: number): number {
  return min + random.nextFloat() * (max - min)
}
