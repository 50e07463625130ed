/**
 * Load shedding at the edge. A node that queues without limit answers everything late and, worse, acks its own
 * membership probes late, until the cluster declares it dead and moves its load to the others. So when too many
 * requests are in flight, or the event loop is already lagging, a new request is refused at once with 503
 * `overloaded` and Retry-After: cheap for us, honest for the client, and its retry goes to a calmer moment or
 * another node. /health and /metrics are never shed (the server does not route them through the guard), so an
 * operator can still see why.
 */
import { ChorusError } from '../errors.ts'

export interface OverloadBounds {
  readonly maxInFlightRequests: number
  readonly maxEventLoopLagMs: number
}

export type Admission = 'admitted' | 'too-many-in-flight' | 'event-loop-lagging'

export class OverloadGuard {
  private inFlight = 0

  constructor(
    private readonly bounds: OverloadBounds,
    private readonly eventLoopLagMs: () => number,
  ) {}

  get inFlightRequests(): number {
    return this.inFlight
  }

  /** Decides whether a new request may start; an admitted request must call `release` exactly once. */
  admit(): Admission {
    if (this.inFlight >= this.bounds.maxInFlightRequests) return 'too-many-in-flight'
    if (this.eventLoopLagMs() > this.bounds.maxEventLoopLagMs) return 'event-loop-lagging'
    this.inFlight++
    return 'admitted'
  }

  release(): void {
    this.inFlight--
    if (this.inFlight < 0) throw new Error('OverloadGuard.release called more often than admit')
  }
}

export function overloadedError(admission: Exclude<Admission, 'admitted'>, bounds: OverloadBounds): ChorusError {
  const why =
    admission === 'too-many-in-flight'
      ? `${bounds.maxInFlightRequests} requests are already in flight`
      : `the event loop lags more than ${bounds.maxEventLoopLagMs} ms`
  return new ChorusError('OVERLOADED', `the node is shedding load: ${why}; retry later or use another node`)
}
