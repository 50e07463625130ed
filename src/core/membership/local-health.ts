/**
 * Lifeguard's local health multiplier ("LHM", Dadgar et al., 2017; memberlist calls it awareness). A node that is
 * itself slow (CPU starved, paused, lagging event loop, lossy NIC) sees everyone else as slow and, with fixed
 * timeouts, accuses healthy members. So each node keeps a score of evidence against its *own* health and
 * stretches its probe timeout, probe interval and suspicion timeouts by (1 + score):
 *
 *   raises it: each nack missing from a failed probe (a helper that cannot even answer us points at our own
 *              network), a failed probe with no helpers to ask, having to refute a suspicion about ourselves,
 *              event-loop lag reported by the shell (one point per `lagPerPointMs`);
 *   lowers it: every successful probe.
 *
 * The score lives in [0, maxScore]; `awarenessMaxMultiplier` is maxScore. Pure and tiny by design.
 */
import { assert } from '../primitives/assert.ts'
import type { Millis } from '../primitives/ids.ts'

export interface LocalHealthOptions {
  /** The score's ceiling (`awarenessMaxMultiplier`): timeouts stretch at most (1 + this) times. */
  readonly maxScore: number
  /**
   * Event-loop lag worth one point. Half the probe timeout: lag that long can make a direct ack look late on its
   * own, so it is evidence that our verdicts are skewed.
   */
  readonly lagPerPointMs: Millis
}

export class LocalHealth {
  private scoreValue = 0

  constructor(private readonly options: LocalHealthOptions) {
    assert(Number.isInteger(options.maxScore) && options.maxScore >= 0, 'local health ceiling must be an integer ≥ 0')
    assert(options.lagPerPointMs > 0, 'lag per point must be positive')
  }

  get score(): number {
    return this.scoreValue
  }

  /** 1 when healthy, up to 1 + maxScore. */
  get multiplier(): number {
    return 1 + this.scoreValue
  }

  /** Adds `delta` (negative for good news), clamped to [0, maxScore]. */
  applyDelta(delta: number): void {
    assert(Number.isInteger(delta), () => `local health delta must be an integer, got ${delta}`)
    this.scoreValue = Math.min(this.options.maxScore, Math.max(0, this.scoreValue + delta))
  }

  /** The shell measured its event loop running `lagMs` late; long lag means our own timeouts cannot be trusted. */
  reportLag(lagMs: Millis): void {
    if (!(lagMs > 0)) return
    const points = Math.floor(Math.min(lagMs, Number.MAX_SAFE_INTEGER) / this.options.lagPerPointMs)
    if (points > 0) this.applyDelta(Math.min(points, this.options.maxScore))
  }

  /** A timeout stretched by our own health. */
  scale(timeoutMs: Millis): Millis {
    return timeoutMs * this.multiplier
  }
}
