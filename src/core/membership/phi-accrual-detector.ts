/**
 * Phi-accrual failure detector (Hayashibara et al., 2004). Instead of a verdict it reports how surprised we
 * should be that a peer has been silent this long, given the intervals we have seen: φ = 1 means a 10% chance
 * that suspecting it is a mistake, φ = 3 means 0.1%. Pure: time arrives as nowMs; the window is bounded.
 * The standard deviation has a floor so that one late packet from a very regular peer does not convict it.
 *
 * φ uses Akka's logistic approximation of the normal CDF (max error about 1e-4), which unlike erf needs no table
 * and stays finite far into the tail; the result is clamped to [0, PHI_MAX] so NaN or Infinity never spreads.
 *
 * Arrivals closer together than `minIntervalMs` are one heartbeat: an ack and a gossip datagram that arrive in
 * the same burst would otherwise record a near-zero interval, shrink the mean and make ordinary silence look
 * alarming.
 */
import { assert, clampFinite } from '../primitives/assert.ts'
import type { Millis, NodeId } from '../primitives/ids.ts'

/** φ never exceeds this: 1e-100 is already certainty, and a bound keeps sums and comparisons finite. */
export const PHI_MAX = 100

/** Below this many recorded intervals φ is 0: a handful of points is not a distribution, and a young window
 * with a tiny spread would convict a peer for its first long silence. */
const MIN_INTERVALS_FOR_PHI = 8

export interface PhiAccrualOptions {
  /** Intervals kept per peer (`phiWindowSize`). */
  readonly windowSize: number
  /** Floor on the standard deviation (`phiMinStdDevMs`). */
  readonly minStdDevMs: Millis
  /** Arrivals closer than this are merged into one heartbeat. */
  readonly minIntervalMs: Millis
  /**
   * Silence beyond the mean that is normal and not evidence (Akka's acceptable-heartbeat-pause): added to the
   * mean before φ is computed.
   */
  readonly acceptablePauseMs: Millis
}

/** A ring of the last `capacity` intervals with running sums, so φ is O(1). */
class IntervalWindow {
  private readonly intervals: number[] = []
  private next = 0
  private sum = 0
  private sumOfSquares = 0

  constructor(private readonly capacity: number) {}

  get count(): number {
    return this.intervals.length
  }

  add(intervalMs: number): void {
    if (this.intervals.length === this.capacity) {
      const evicted = this.intervals[this.next] as number
      this.sum -= evicted
      this.sumOfSquares -= evicted * evicted
      this.intervals[this.next] = intervalMs
    } else {
      this.intervals.push(intervalMs)
    }
    this.next = (this.next + 1) % this.capacity
    this.sum += intervalMs
    this.sumOfSquares += intervalMs * intervalMs
  }

  mean(): number {
    return this.sum / this.intervals.length
  }

  /** Population standard deviation; running sums can drift slightly negative, so the variance is clamped. */
  stdDev(): number {
    const mean = this.mean()
    return Math.sqrt(Math.max(0, this.sumOfSquares / this.intervals.length - mean * mean))
  }
}

interface PeerHistory {
  lastArrivalMs: Millis
  readonly window: IntervalWindow
}

export class PhiAccrualDetector {
  private readonly peers = new Map<NodeId, PeerHistory>()

  constructor(private readonly options: PhiAccrualOptions) {
    assert(Number.isInteger(options.windowSize) && options.windowSize > 0, 'phi window size must be a positive integer')
    assert(options.minStdDevMs > 0, 'phi std-dev floor must be positive')
    assert(options.minIntervalMs >= 0, 'phi min interval must not be negative')
    assert(options.acceptablePauseMs >= 0, 'phi acceptable pause must not be negative')
  }

  /** Records that something arrived from `peer` at `nowMs`. */
  heartbeat(peer: NodeId, nowMs: Millis): void {
    const history = this.peers.get(peer)
    if (history === undefined) {
      this.peers.set(peer, { lastArrivalMs: nowMs, window: new IntervalWindow(this.options.windowSize) })
      return
    }
    const intervalMs = nowMs - history.lastArrivalMs
    // Time never goes backwards; a shell that fed us an older time is a bug, not a network event.
    assert(intervalMs >= 0, () => `phi heartbeat went back in time for ${peer}: ${intervalMs} ms`)
    history.lastArrivalMs = nowMs
    if (intervalMs >= this.options.minIntervalMs && intervalMs > 0) history.window.add(intervalMs)
  }

  /** How suspicious the silence of `peer` is at `nowMs`; 0 for a peer with too little history. */
  phi(peer: NodeId, nowMs: Millis): number {
    const history = this.peers.get(peer)
    if (history === undefined || history.window.count < MIN_INTERVALS_FOR_PHI) return 0
    const silenceMs = Math.max(0, nowMs - history.lastArrivalMs)
    const stdDevMs = Math.max(this.options.minStdDevMs, history.window.stdDev())
    return phiOf(silenceMs, history.window.mean() + this.options.acceptablePauseMs, stdDevMs)
  }

  /** Forgets a peer (reaped, or restarted with a new generation whose rhythm is unknown). */
  remove(peer: NodeId): void {
    this.peers.delete(peer)
  }

  has(peer: NodeId): boolean {
    return this.peers.has(peer)
  }

  /** When something last arrived from `peer`, or undefined if nothing ever did. */
  lastArrivalMs(peer: NodeId): Millis | undefined {
    return this.peers.get(peer)?.lastArrivalMs
  }
}

/**
 * φ = -log10(P(interval > silence)) for a normal distribution, via the logistic approximation
 * P(X ≤ x) ≈ 1 / (1 + e^(-y(1.5976 + 0.070566 y²))), y = (x - mean) / stdDev. Written in the form that avoids
 * cancellation on both sides of the mean, as Akka does.
 */
export function phiOf(silenceMs: number, meanMs: number, stdDevMs: number): number {
  const y = (silenceMs - meanMs) / stdDevMs
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
  const phi = silenceMs > meanMs ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e))
  // e overflows to Infinity deep below the mean (φ → 0) and underflows to 0 far above it (φ → Infinity).
  if (Number.isNaN(phi)) return silenceMs > meanMs ? PHI_MAX : 0
  return clampFinite(phi, 0, PHI_MAX)
}
