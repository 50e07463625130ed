/**
 * Hybrid logical clock (Kulkarni, Demirbas et al., "Logical Physical Clocks", 2014). A timestamp is
 * (physicalMs, logical): physicalMs follows the largest wall-clock reading seen, locally or in a remote
 * timestamp, and logical counts events within that millisecond. Timestamps of one clock strictly increase even
 * when the wall clock steps backwards (NTP slew, VM migration), stay close to wall time, and respect causality:
 * an event after observing a remote timestamp is ordered after it. Last-write-wins buckets order writes by
 * (timestamp, dot), so the node id inside the dot breaks ties the same way on every replica.
 *
 * Pure: the wall clock arrives as an argument (`now(wallClockMs)`); the shell reads the real clock. The state is
 * one timestamp, so a restarted node may seed it from the newest timestamp it still has on disk.
 *
 * Limits: a remote timestamp more than maxForwardDriftMs ahead of our wall clock is not absorbed (a node with a
 * clock set to the year 2100 would otherwise drag every clock in the cluster there, and pin every LWW winner);
 * the caller learns this from the outcome and counts it. The logical counter is capped; at the cap the clock
 * borrows the next millisecond instead of overflowing, which keeps it monotonic at a bounded cost in drift.
 */
import { assert } from '../primitives/assert.ts'
import type { Millis } from '../primitives/ids.ts'

export interface HlcTimestamp {
  /** Milliseconds since the Unix epoch, the largest wall-clock reading this event has seen. */
  readonly physicalMs: Millis
  /** Events within the same physicalMs; resets to 0 whenever physicalMs advances. */
  readonly logical: number
}

/** Fits a uint32; 4 billion events in one millisecond without the wall clock moving does not happen. */
export const MAX_HLC_LOGICAL = 0xffff_ffff

export const zeroHlcTimestamp: HlcTimestamp = Object.freeze({ physicalMs: 0, logical: 0 })

export interface HybridLogicalClockOptions {
  /**
   * Remote timestamps further ahead of our wall clock than this are not absorbed. One minute tolerates any NTP
   * disciplined LAN with room for a paused VM, and still stops a broken clock from poisoning the cluster.
   */
  readonly maxForwardDriftMs: Millis
}

export const defaultHybridLogicalClockOptions: HybridLogicalClockOptions = { maxForwardDriftMs: 60_000 }

export type HlcObservation =
  /** The remote timestamp was absorbed; `timestamp` is after both it and everything local. */
  | { readonly kind: 'observed'; readonly timestamp: HlcTimestamp }
  /** The remote timestamp was too far ahead and was ignored; `timestamp` is a plain local tick. */
  | { readonly kind: 'remote-too-far-ahead'; readonly timestamp: HlcTimestamp; readonly aheadMs: Millis }

export function compareHlcTimestamps(a: HlcTimestamp, b: HlcTimestamp): number {
  return a.physicalMs - b.physicalMs || a.logical - b.logical
}

export function isValidHlcTimestamp(timestamp: HlcTimestamp): boolean {
  return (
    Number.isSafeInteger(timestamp.physicalMs) &&
    timestamp.physicalMs >= 0 &&
    Number.isInteger(timestamp.logical) &&
    timestamp.logical >= 0 &&
    timestamp.logical <= MAX_HLC_LOGICAL
  )
}

export class HybridLogicalClock {
  private latest: HlcTimestamp

  constructor(
    private readonly options: HybridLogicalClockOptions = defaultHybridLogicalClockOptions,
    initial: HlcTimestamp = zeroHlcTimestamp,
  ) {
    assert(options.maxForwardDriftMs >= 0, 'maxForwardDriftMs must not be negative')
    assert(isValidHlcTimestamp(initial), () => `invalid initial timestamp ${JSON.stringify(initial)}`)
    this.latest = initial
  }

  /** The last timestamp issued; the clock never issues one at or below it again. */
  get last(): HlcTimestamp {
    return this.latest
  }

  /** A timestamp for a local event (a write this node coordinates). */
  now(wallClockMs: Millis): HlcTimestamp {
    assertWallClock(wallClockMs)
    return this.advance(this.latest, wallClockMs)
  }

  /** A timestamp for an event that follows `remote` (a write over an object that holds remote timestamps). */
  observe(remote: HlcTimestamp, wallClockMs: Millis): HlcObservation {
    assertWallClock(wallClockMs)
    assert(isValidHlcTimestamp(remote), () => `invalid remote timestamp ${JSON.stringify(remote)}`)
    const aheadMs = remote.physicalMs - wallClockMs
    if (aheadMs > this.options.maxForwardDriftMs) {
      return { kind: 'remote-too-far-ahead', timestamp: this.advance(this.latest, wallClockMs), aheadMs }
    }
    const floor = compareHlcTimestamps(remote, this.latest) > 0 ? remote : this.latest
    return { kind: 'observed', timestamp: this.advance(floor, wallClockMs) }
  }

  /** The smallest timestamp above `floor` whose physical part is at least the wall clock. */
  private advance(floor: HlcTimestamp, wallClockMs: Millis): HlcTimestamp {
    let next: HlcTimestamp
    if (wallClockMs > floor.physicalMs) next = { physicalMs: wallClockMs, logical: 0 }
    else if (floor.logical < MAX_HLC_LOGICAL) next = { physicalMs: floor.physicalMs, logical: floor.logical + 1 }
    else next = { physicalMs: floor.physicalMs + 1, logical: 0 }
    // The pair: strictly after everything issued and everything observed, and never behind the wall clock.
    assert(compareHlcTimestamps(next, this.latest) > 0, 'hybrid logical clock went backwards')
    assert(next.physicalMs >= wallClockMs, 'hybrid logical clock fell behind the wall clock')
    this.latest = next
    return next
  }
}

function assertWallClock(wallClockMs: Millis): void {
  assert(Number.isSafeInteger(wallClockMs) && wallClockMs >= 0, () => `wall clock must be a safe integer ≥ 0, got ${wallClockMs}`)
}
