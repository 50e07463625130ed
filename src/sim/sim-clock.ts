/**
 * Virtual time. The world's SimClock is the only time there is in a simulation: it moves only when the
 * scheduler pops the next event, so a run takes as long as its events take to compute, whatever span of
 * virtual time it covers. Each node reads it through its own NodeClock, whose monotonic reading is the world's
 * time and whose wall-clock reading adds a per-node skew, because real machines disagree about calendar time
 * (by milliseconds with NTP, by minutes without) while their monotonic clocks all tick at the same rate.
 */
import { assert } from '../core/primitives/assert.ts'
import type { Clock } from '../core/primitives/clock.ts'
import type { Millis } from '../core/primitives/ids.ts'

/**
 * The wall-clock reading at virtual time zero: 2024-01-01T00:00:00Z. A constant, never Date.now(), so that
 * anything derived from calendar time (generations, HLC timestamps) replays from the seed.
 */
export const simulationEpochMs: Millis = 1_704_067_200_000

export class SimClock {
  private currentMs: Millis = 0

  nowMs(): Millis {
    return this.currentMs
  }

  /** Moves time forward to `timeMs`; time never runs backwards (the scheduler pops events in time order). */
  advanceTo(timeMs: Millis): void {
    assert(timeMs >= this.currentMs, () => `virtual time went backwards: ${timeMs} < ${this.currentMs}`)
    this.currentMs = timeMs
  }
}

/** One node's view of the world's clock: shared monotonic time, individually skewed wall-clock time. */
export class NodeClock implements Clock {
  constructor(
    private readonly world: SimClock,
    private skewMs: Millis = 0,
  ) {}

  nowMs(): Millis {
    return this.world.nowMs()
  }

  wallClockMs(): Millis {
    return simulationEpochMs + this.world.nowMs() + this.skewMs
  }

  /** A wall-clock step (an NTP correction or an operator's mistake); the monotonic reading is unaffected. */
  setSkewMs(skewMs: Millis): void {
    assert(Number.isFinite(skewMs), () => `skew must be finite, got ${skewMs}`)
    this.skewMs = skewMs
  }

  get currentSkewMs(): Millis {
    return this.skewMs
  }
}
