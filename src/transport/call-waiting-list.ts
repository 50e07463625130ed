/**
 * The request waiting list of one TCP channel (Fowler's "Request Waiting List"): calls that were written and
 * await a response, keyed by call id. Each entry owns a timer so that every call ends in exactly one callback —
 * the answer, its timeout, or the failure of the connection — and none can hang.
 *
 * Node's timers are kept in per-duration linked lists, so one setTimeout per call is O(1) to arm and clear;
 * a hand-rolled timer wheel would buy little. Timers are unref'd: a pending call alone should not keep a
 * process alive, the sockets do that.
 */
import type { CallFailure, CallOutcome } from '../core/node/input.ts'
import { assert } from '../core/primitives/assert.ts'
import { IdTable } from '../core/primitives/id-table.ts'

export interface PendingCall {
  /** 0 until the call is written; then its id on the wire. */
  callId: number
  /** The prepared frame (frame-codec.ts); sealed with its id when the call is written. */
  readonly frame: Uint8Array
  readonly callback: (outcome: CallOutcome) => void
  timer: NodeJS.Timeout | undefined
  settled: boolean
}

export class CallWaitingList {
  /** Not a Map: see id-table.ts for how a churned long-lived Map kept every answered call alive. */
  private readonly calls = new IdTable<PendingCall>()
  private lastCallId = 0

  get size(): number {
    return this.calls.size
  }

  /** Assigns the call a fresh id (never 0, never one in use) and records it as awaiting a response. */
  add(call: PendingCall): number {
    assert(call.callId === 0 && !call.settled, 'a call is added to the waiting list once')
    let id = this.lastCallId
    do id = id === 0xffff_ffff ? 1 : id + 1
    while (this.calls.has(id))
    this.lastCallId = id
    call.callId = id
    this.calls.set(id, call)
    return id
  }

  /** Removes and returns the call with this id, or undefined when it already ended (a late response). */
  take(callId: number): PendingCall | undefined {
    return this.calls.take(callId)
  }

  /** Removes a call that ended otherwise (its timeout fired). */
  remove(call: PendingCall): void {
    if (this.calls.get(call.callId) === call) this.calls.delete(call.callId)
  }

  /** Ends every waiting call with the same failure, e.g. when the connection dropped. */
  failAll(reason: CallFailure): void {
    for (const call of this.calls.drain()) settle(call, { kind: 'failed', reason })
  }
}

/** Ends a call exactly once: clears its timer and runs its callback; later attempts do nothing. */
export function settle(call: PendingCall, outcome: CallOutcome): void {
  if (call.settled) return
  call.settled = true
  if (call.timer !== undefined) clearTimeout(call.timer)
  call.callback(outcome)
}

/** A failed outcome, shared so the hot failure paths do not allocate. */
export function failed(reason: CallFailure): CallOutcome {
  return failures[reason]
}

const failures: { readonly [R in CallFailure]: CallOutcome } = {
  timeout: { kind: 'failed', reason: 'timeout' },
  refused: { kind: 'failed', reason: 'refused' },
  'connection-lost': { kind: 'failed', reason: 'connection-lost' },
  unreachable: { kind: 'failed', reason: 'unreachable' },
  overloaded: { kind: 'failed', reason: 'overloaded' },
}
