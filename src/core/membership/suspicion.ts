/**
 * One suspicion timer with Lifeguard's dynamic timeout (Dadgar et al., 2017, "LHA-Suspicion"). A suspicion
 * starts with a long timeout, which gives a slow but live member time to hear of it and refute; each independent
 * confirmation (another member suspecting the same node at the same incarnation) is evidence that the problem is
 * the suspect, not the accuser, and shrinks the timeout logarithmically towards the minimum:
 *
 *     timeout(c) = max(min, max − (max − min) · log(c + 1) / log(k + 1))
 *
 * with c confirmations so far and k the confirmations we expect. The minimum is SWIM's
 * suspicionMultiplier · log₁₀(n) · probeInterval (n floored at 10 so tiny clusters do not get tiny timeouts, as
 * memberlist does), and max = suspicionMaxTimeoutMultiplier · min. Pure: the caller asks `isExpired(nowMs)`.
 */
import { assert } from '../primitives/assert.ts'
import type { Millis, NodeId } from '../primitives/ids.ts'

/** SWIM's lower suspicion timeout: multiplier · max(1, log₁₀ n) · probe interval. */
export function suspicionTimeoutMinMs(suspicionMultiplier: number, clusterSize: number, probeIntervalMs: Millis): Millis {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, clusterSize)))
  return Math.floor(suspicionMultiplier * nodeScale * probeIntervalMs)
}

/**
 * Confirmations a suspicion waits for before reaching the minimum timeout: memberlist's suspicionMultiplier − 2,
 * capped by the members other than the suspect and ourselves who could confirm it.
 */
export function expectedConfirmations(suspicionMultiplier: number, clusterSize: number): number {
  return Math.max(0, Math.min(suspicionMultiplier - 2, clusterSize - 2))
}

/** The timeout after `confirmations` of `expected`; when nothing is expected it is the minimum at once. */
export function suspicionTimeoutMs(minMs: Millis, maxMs: Millis, confirmations: number, expected: number): Millis {
  if (expected < 1) return minMs
  const fraction = Math.log(confirmations + 1) / Math.log(expected + 1)
  const timeoutMs = Math.floor(maxMs - fraction * (maxMs - minMs))
  return Math.min(maxMs, Math.max(minMs, timeoutMs))
}

export interface SuspicionOptions {
  readonly suspect: NodeId
  readonly generation: number
  readonly incarnation: number
  /** Who raised it; their accusation is the suspicion itself, not a confirmation. */
  readonly accuser: NodeId
  readonly startedAtMs: Millis
  readonly minTimeoutMs: Millis
  readonly maxTimeoutMs: Millis
  readonly expectedConfirmations: number
}

export class Suspicion {
  readonly suspect: NodeId
  readonly generation: number
  readonly incarnation: number
  readonly startedAtMs: Millis
  private readonly accusers = new Set<NodeId>()
  private readonly minTimeoutMs: Millis
  private readonly maxTimeoutMs: Millis
  private readonly expected: number
  /** Set by strong evidence; may undercut the minimum, which exists only to give a live suspect time. */
  private strongCapMs: Millis = Number.POSITIVE_INFINITY

  constructor(options: SuspicionOptions) {
    assert(options.minTimeoutMs > 0, 'suspicion min timeout must be positive')
    assert(options.maxTimeoutMs >= options.minTimeoutMs, 'suspicion max timeout must be at least the min')
    this.suspect = options.suspect
    this.generation = options.generation
    this.incarnation = options.incarnation
    this.startedAtMs = options.startedAtMs
    this.minTimeoutMs = options.minTimeoutMs
    this.maxTimeoutMs = options.maxTimeoutMs
    this.expected = options.expectedConfirmations
    this.accusers.add(options.accuser)
  }

  /** Independent confirmations so far (accusers other than the first). */
  get confirmations(): number {
    return this.accusers.size - 1
  }

  /**
   * Counts `accuser` if it is new and more are still expected; returns whether it counted (the caller re-gossips
   * counted confirmations so that other members' timers shrink too).
   */
  confirm(accuser: NodeId): boolean {
    if (this.confirmations >= this.expected) return false
    if (this.accusers.has(accuser)) return false
    this.accusers.add(accuser)
    return true
  }

  /**
   * Strong evidence (a refused connection confirmed by a helper) caps the whole timeout at `timeoutMs`: the
   * suspect cannot refute from a closed port, and a live one still has that long to do so.
   */
  capTimeout(timeoutMs: Millis): void {
    assert(timeoutMs > 0, 'suspicion cap must be positive')
    this.strongCapMs = Math.min(this.strongCapMs, timeoutMs)
  }

  timeoutMs(): Millis {
    const dynamic = suspicionTimeoutMs(this.minTimeoutMs, this.maxTimeoutMs, this.confirmations, this.expected)
    return Math.min(dynamic, this.strongCapMs)
  }

  deadlineMs(): Millis {
    return this.startedAtMs + this.timeoutMs()
  }

  isExpired(nowMs: Millis): boolean {
    return nowMs >= this.deadlineMs()
  }
}
