/**
 * The Clock port. The core never reads a clock: shells read this one and pass the value in as nowMs.
 * The runtime's clock is monotonic (so a wall-clock step cannot make time run backwards for the core) plus a
 * wall-clock reading for the few things that need calendar time (the generation's floor, HLC timestamps);
 * the simulator's clock is the world's virtual time, with per-node skew for the wall-clock reading.
 */
import type { Millis } from './ids.ts'

export interface Clock {
  /** Monotonic milliseconds: never goes backwards, arbitrary origin. */
  nowMs(): Millis
  /** Wall-clock milliseconds since the Unix epoch; may jump in either direction. */
  wallClockMs(): Millis
}
