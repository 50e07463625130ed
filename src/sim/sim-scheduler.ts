/**
 * The simulation's only scheduler: the event queue plus virtual time. Everything that happens in a simulated
 * world (a tick, a packet arriving, a disk write completing, a fault) is a closure scheduled here, and nothing
 * runs except by being popped from here, one at a time, in (time, sequence) order. No promise, timer or I/O
 * callback ever decides what runs next; that is the whole determinism argument.
 *
 * Events are foreground (in-flight work: packets, calls, disk operations, faults, workload timers) or
 * background (periodic ticks that never stop). A world is quiet when no foreground event is pending, which is
 * how `runUntilQuiet` knows the system has settled even though ticks keep coming.
 *
 * A cap on the number of events (TigerBeetle: a limit on everything) turns a livelock, such as two events that
 * keep rescheduling each other at the same instant, into a reported outcome instead of a hung test.
 */
import { assert } from '../core/primitives/assert.ts'
import type { Millis } from '../core/primitives/ids.ts'
import { EventQueue } from './event-queue.ts'
import { SimClock } from './sim-clock.ts'

export interface SimSchedulerOptions {
  /** Events run over the scheduler's lifetime before every run stops with `event-limit`. */
  readonly maxEvents: number
}

export const defaultSchedulerOptions: SimSchedulerOptions = {
  // A 60 s run of 5 nodes ticking every 10 ms is ~30,000 events plus traffic; 5 million leaves two orders of
  // magnitude for heavy workloads while still ending a same-instant livelock within a few seconds of real time.
  maxEvents: 5_000_000,
}

export type EventClass = 'foreground' | 'background'

interface SimEvent {
  readonly run: () => void
  readonly eventClass: EventClass
}

/** Why a run stopped: the requested time was reached, nothing was left in flight, or the event cap was hit. */
export type RunOutcome = 'reached-time' | 'quiet' | 'event-limit'

export interface RunResult {
  readonly outcome: RunOutcome
  readonly nowMs: Millis
  readonly eventsRun: number
}

export class SimScheduler {
  readonly clock = new SimClock()
  private readonly queue = new EventQueue<SimEvent>()
  private executed = 0
  private foregroundPending = 0

  constructor(private readonly options: SimSchedulerOptions = defaultSchedulerOptions) {
    assert(Number.isInteger(options.maxEvents) && options.maxEvents > 0, 'maxEvents must be a positive integer')
  }

  get nowMs(): Millis {
    return this.clock.nowMs()
  }

  get eventsRun(): number {
    return this.executed
  }

  get pendingForeground(): number {
    return this.foregroundPending
  }

  get limitReached(): boolean {
    return this.executed >= this.options.maxEvents
  }

  /** Schedules `run` at absolute virtual time `timeMs`, which must not be in the past. */
  at(timeMs: Millis, run: () => void, eventClass: EventClass = 'foreground'): void {
    assert(timeMs >= this.nowMs, () => `cannot schedule in the past: ${timeMs} < ${this.nowMs}`)
    if (eventClass === 'foreground') this.foregroundPending++
    this.queue.schedule(timeMs, { run, eventClass })
  }

  /** Schedules `run` after `delayMs` of virtual time (0 means later in this same instant). */
  after(delayMs: Millis, run: () => void, eventClass: EventClass = 'foreground'): void {
    assert(delayMs >= 0, () => `delay must not be negative, got ${delayMs}`)
    this.at(this.nowMs + delayMs, run, eventClass)
  }

  /** Runs every event due at or before `timeMs`, then sets the clock to `timeMs`. */
  runUntil(timeMs: Millis): RunResult {
    assert(timeMs >= this.nowMs, () => `cannot run back to ${timeMs}, it is already ${this.nowMs}`)
    for (;;) {
      if (this.limitReached) return this.result('event-limit')
      const next = this.queue.peek()
      if (next === undefined || next.timeMs > timeMs) break
      this.runNext()
    }
    this.clock.advanceTo(timeMs)
    return this.result('reached-time')
  }

  /** Runs until no foreground event is pending, or `deadlineMs` passes, or the event cap is hit. */
  runUntilQuiet(deadlineMs: Millis): RunResult {
    for (;;) {
      if (this.foregroundPending === 0) return this.result('quiet')
      if (this.limitReached) return this.result('event-limit')
      const next = this.queue.peek()
      if (next === undefined || next.timeMs > deadlineMs) break
      this.runNext()
    }
    if (deadlineMs > this.nowMs) this.clock.advanceTo(deadlineMs)
    return this.result('reached-time')
  }

  /** When the next event is due; undefined when nothing at all is scheduled. */
  nextEventTimeMs(): Millis | undefined {
    return this.queue.peek()?.timeMs
  }

  /** Runs the next event, if any; returns false when the queue is empty. */
  runNext(): boolean {
    const event = this.queue.pop()
    if (event === undefined) return false
    this.clock.advanceTo(event.timeMs)
    if (event.payload.eventClass === 'foreground') this.foregroundPending--
    this.executed++
    event.payload.run()
    return true
  }

  private result(outcome: RunOutcome): RunResult {
    return { outcome, nowMs: this.nowMs, eventsRun: this.executed }
  }
}
