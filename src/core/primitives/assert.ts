/**
 * Assertions stay on in production: a node that finds its own state impossible must crash rather than carry on
 * and spread corruption to its replicas (TigerBeetle's rule). Use them in pairs: check a value before it is
 * written and again after it is read back.
 */

export class AssertionError extends Error {
  override readonly name = 'AssertionError'
}

/** `message` may be a function, so that a message built from values costs nothing while the assertion holds. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === 'string' ? message : message())
}

/** The default branch of an exhaustive switch: the compiler proves it unreachable, the run time double-checks. */
export function unreachable(value: never, message = 'unreachable'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`)
}

/** Clamps a float into [min, max] and maps NaN to min, so NaN or Infinity cannot spread through a computation. */
export function clampFinite(value: number, min: number, max: number): number {
  if (Number.isNaN(value)) return min
  return Math.min(max, Math.max(min, value))
}
