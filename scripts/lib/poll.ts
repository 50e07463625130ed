/**
 * Polling with a deadline: the only way tests and benchmarks here wait for something to happen. A fixed sleep
 * either wastes time or flakes; a poll returns as soon as the condition holds and fails loudly, saying what
 * it waited for, when it does not.
 */
export interface PollOptions {
  /** Give up after this long. */
  readonly deadlineMs: number
  /** Pause between attempts; the attempt's own duration comes on top. */
  readonly intervalMs?: number
  /** Named in the timeout error, with the last observed state if `describe` is given. */
  readonly what: string
}

export class PollTimeoutError extends Error {
  override readonly name = 'PollTimeoutError'
}

export function delay(ms: number): Promise<void> {
  return new Promise((wake) => setTimeout(wake, ms))
}

/**
 * Calls `attempt` until it returns a value other than undefined, then returns that value. `describe` renders
 * the last state for the error message when the deadline passes.
 */
export async function pollUntil<T>(
  attempt: () => Promise<T | undefined> | T | undefined,
  options: PollOptions,
  describe?: () => string,
): Promise<T> {
  const until = Date.now() + options.deadlineMs
  const intervalMs = options.intervalMs ?? 100
  for (;;) {
    const result = await attempt()
    if (result !== undefined) return result
    if (Date.now() >= until) {
      const detail = describe === undefined ? '' : `; last state: ${describe()}`
      throw new PollTimeoutError(`timed out after ${options.deadlineMs} ms waiting for ${options.what}${detail}`)
    }
    await delay(Math.min(intervalMs, Math.max(0, until - Date.now())))
  }
}
