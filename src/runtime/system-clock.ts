/**
 * The production Clock: monotonic time from performance.now (immune to NTP steps, so the core's "time never
 * goes backwards" assertion holds) and wall-clock time from Date.now, optionally offset. The offset exists for
 * chaos tests that skew one node's calendar clock (`--clock-offset-ms`, NodeConfig `clockOffsetMs`); it never
 * touches the monotonic clock. The chaos `clock` nemesis prefers `faketime` with FAKETIME_DONT_FAKE_MONOTONIC=1,
 * which skews Date.now itself and leaves performance.now alone, and falls back to this offset.
 */
import { performance } from 'node:perf_hooks'
import type { Clock } from '../core/primitives/clock.ts'
import type { Millis } from '../core/primitives/ids.ts'

export class SystemClock implements Clock {
  constructor(private readonly wallClockOffsetMs: Millis = 0) {}

  nowMs(): Millis {
    return performance.now()
  }

  wallClockMs(): Millis {
    return Date.now() + this.wallClockOffsetMs
  }
}
