/**
 * Every simulated failure must say how to replay it (STYLE rule 13, VOPR): a seed and the command that reruns
 * exactly that world. `withReplay` wraps a test body so that whatever fails inside it (an assertion of the
 * test, an assertion inside a node, an invariant checker) carries the replay line in its message.
 */

export interface ReplayFlags {
  readonly scenario?: string
  readonly nodes?: number
  readonly durationMs?: number
  /** For worlds built by a test rather than a scenario: the test file to rerun with SEED=N. */
  readonly testFile?: string
}

/** `npm run sim -- --seed N` plus whatever flags differ from the script's defaults. */
export function replayCommand(seed: number, flags: ReplayFlags = {}): string {
  const parts = ['npm run sim --', '--seed', String(seed)]
  if (flags.scenario !== undefined) parts.push('--scenario', flags.scenario)
  if (flags.nodes !== undefined) parts.push('--nodes', String(flags.nodes))
  if (flags.durationMs !== undefined) parts.push('--duration-ms', String(flags.durationMs))
  return parts.join(' ')
}

export function replayLine(seed: number, flags: ReplayFlags = {}): string {
  const line = `replay: ${replayCommand(seed, flags)}`
  return flags.testFile === undefined ? line : `${line}\n    or: SEED=${seed} npx vitest run ${flags.testFile}`
}

/** Runs `body`; if it throws, the error's message gains the replay line (and it is printed, in case it is lost). */
export function withReplay<T>(seed: number, body: () => T, flags: ReplayFlags = {}): T {
  try {
    return body()
  } catch (error) {
    const line = replayLine(seed, flags)
    console.error(line)
    if (error instanceof Error) {
      error.message = `${error.message}\n${line}`
      throw error
    }
    throw new Error(`${String(error)}\n${line}`, { cause: error })
  }
}
