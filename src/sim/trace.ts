/**
 * The append-only record of a simulated run: one text line per event, "time actor what". It is the
 * simulator's evidence twice over: a human reads it to understand a failing seed, and its hash proves that
 * one seed gives one run, byte for byte (if two runs of a seed ever hash differently, something
 * nondeterministic has leaked into the simulation, and every replay built on it is worthless).
 *
 * Every line is hashed as it is appended; only the first `maxKeptLines` are kept as text, so a long run
 * still has a full-strength hash without holding megabytes of lines it will never print.
 */
import { createHash } from 'node:crypto'
import type { Hash } from 'node:crypto'
import { assert } from '../core/primitives/assert.ts'
import type { Millis } from '../core/primitives/ids.ts'

export interface TraceOptions {
  /** Lines kept as text for printing and for tests that search the trace; the hash covers every line. */
  readonly maxKeptLines: number
}

export const defaultTraceOptions: TraceOptions = { maxKeptLines: 500_000 }

/** Who did it: a node id, `net` for the network, `fault` for the fault schedule, `world`, or a workload. */
export type TraceActor = string

export class Trace {
  private readonly kept: string[] = []
  private readonly hash: Hash = createHash('sha256')
  private total = 0
  private lastTimeMs: Millis = 0

  constructor(private readonly options: TraceOptions = defaultTraceOptions) {
    assert(options.maxKeptLines >= 0, 'maxKeptLines must not be negative')
  }

  record(timeMs: Millis, actor: TraceActor, what: string): void {
    // The trace is in execution order, which the scheduler guarantees is time order; check it here too.
    assert(timeMs >= this.lastTimeMs, () => `trace time went backwards: ${timeMs} < ${this.lastTimeMs}`)
    this.lastTimeMs = timeMs
    const line = `${formatTimeMs(timeMs)} ${actor.padEnd(6)} ${what}`
    this.hash.update(line)
    this.hash.update('\n')
    this.total++
    if (this.kept.length < this.options.maxKeptLines) this.kept.push(line)
  }

  /** Lines recorded, including those hashed but not kept. */
  get lineCount(): number {
    return this.total
  }

  get truncated(): boolean {
    return this.total > this.kept.length
  }

  lines(): readonly string[] {
    return this.kept
  }

  text(): string {
    return this.kept.length === 0 ? '' : `${this.kept.join('\n')}\n`
  }

  /** SHA-256 of every line so far, hex; the run's fingerprint. Cheap to call repeatedly. */
  digest(): string {
    return this.hash.copy().digest('hex')
  }

  /** Kept lines that contain `fragment`, for tests and for summaries. */
  grep(fragment: string): string[] {
    return this.kept.filter((line) => line.includes(fragment))
  }
}

/** Fixed width and three decimals (microseconds), so that traces line up and compare as text. */
export function formatTimeMs(timeMs: Millis): string {
  return timeMs.toFixed(3).padStart(11)
}
