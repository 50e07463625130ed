/**
 * The record of what a key-value workload's clients did and saw, as the checker needs it: every write with the
 * values its context covered (what the read it came from returned), every read with what it returned, and when
 * each was invoked and completed in virtual time. Values are unique per write (`c<client>-<seq>`), so a value in a
 * read names the write that produced it.
 */
import type { Millis } from '../core/primitives/ids.ts'

/** How a request ended for the client: `ok`, or anything else, after which the write may or may not exist. */
export type KvOutcome = 'ok' | 'indeterminate'

export interface KvWrite {
  readonly id: number
  readonly client: number
  readonly key: string
  readonly kind: 'put' | 'delete'
  /** The value a put stored (unique per write); null for a delete. */
  readonly value: string | null
  /** Values returned by the read whose context this write carried; empty for a blind write. */
  readonly covers: ReadonlySet<string>
  readonly w: string
  /** pw resolved to a number, 0 when the request had none. */
  readonly pw: number
  readonly invokedAtMs: Millis
  completedAtMs: Millis | null
  outcome: KvOutcome | null
  /** Sent again with the same X-Request-Id after a failure. */
  retried: boolean
}

export interface KvRead {
  readonly id: number
  readonly client: number
  readonly key: string
  readonly node: string
  readonly r: string
  /** pr resolved to a number, 0 when the request had none. */
  readonly pr: number
  readonly invokedAtMs: Millis
  /** Whether this is one of the final r=all reads after the faults stopped. */
  readonly final: boolean
  completedAtMs: Millis | null
  outcome: KvOutcome | null
  values: readonly string[]
  deleted: boolean
  context: string
}

export class KvHistory {
  readonly writes: KvWrite[] = []
  readonly reads: KvRead[] = []
  private nextId = 1

  addWrite(fields: Omit<KvWrite, 'id' | 'completedAtMs' | 'outcome' | 'retried'>): KvWrite {
    const write: KvWrite = { ...fields, id: this.nextId++, completedAtMs: null, outcome: null, retried: false }
    this.writes.push(write)
    return write
  }

  addRead(fields: Omit<KvRead, 'id' | 'completedAtMs' | 'outcome' | 'values' | 'deleted' | 'context'>): KvRead {
    const read: KvRead = { ...fields, id: this.nextId++, completedAtMs: null, outcome: null, values: [], deleted: false, context: '' }
    this.reads.push(read)
    return read
  }

  keys(): string[] {
    return [...new Set(this.writes.map((w) => w.key))].sort()
  }
}
