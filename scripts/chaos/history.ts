/**
 * The chaos run's history: one JSON object a line, an `invoke` when a client starts an operation and a
 * `complete` when it learns the outcome. The checker (checker.ts) reads only this plus the final reads, so a
 * saved history can be re-checked later without a cluster.
 *
 * Writes whose outcome is `fail` are indeterminate, not absent: a PUT that timed out may still have landed on
 * some replicas, so the checker allows its value to appear but never requires it.
 */
import { createWriteStream } from 'node:fs'
import type { WriteStream } from 'node:fs'

export type OpKind = 'put' | 'delete' | 'get'

/**
 * Keys with this prefix live in the `lww` bucket (workload.ts): blind puts and reads only. The checker judges
 * them by real-time order instead of contexts, and counts their losses apart: LWW loses writes by design.
 */
export const LWW_KEY_PREFIX = 'lww-'

export function isLwwKey(key: string): boolean {
  return key.startsWith(LWW_KEY_PREFIX)
}

/** What a read returned: the live values (one, several siblings, or none) and the context to write back. */
export interface ReadResult {
  readonly kind: 'value' | 'siblings' | 'not-found'
  readonly values: readonly string[]
  readonly context: string | null
}

export interface InvokeEvent {
  readonly type: 'invoke'
  readonly id: number
  readonly client: number
  readonly node: string
  readonly op: OpKind
  readonly key: string
  /** The value a put writes; unique per put, so a value read names the put that wrote it. */
  readonly value?: string
  /** The context sent with a put or delete, and the id of the read it came from (null: a blind write). */
  readonly context?: string | null
  readonly contextFrom?: number | null
  readonly requestId?: string
  readonly atMs: number
}

export interface CompleteEvent {
  readonly type: 'complete'
  readonly id: number
  readonly outcome: 'ok' | 'fail'
  readonly atMs: number
  /** For reads: what came back. */
  readonly read?: ReadResult
  /** For puts: the context of the new version. */
  readonly context?: string
  readonly error?: string
}

/**
 * A write made by `--drop-acked` to prove the checker catches loss. The checker skips these on purpose: to it
 * the dropped values simply vanished, which is exactly the loss it must report.
 */
export interface DropEvent {
  readonly type: 'drop'
  readonly key: string
  readonly values: readonly string[]
  readonly atMs: number
}

/** A fault the nemesis held between startMs and endMs. */
export interface FaultEvent {
  readonly type: 'fault'
  readonly kind: 'kill' | 'pause' | 'partition' | 'isolate' | 'loss' | 'delay' | 'clock'
  readonly nodes: readonly string[]
  readonly startMs: number
  readonly endMs: number
  readonly detail?: string
}

export type HistoryEvent = InvokeEvent | CompleteEvent | DropEvent | FaultEvent

/** Keeps every event in memory (the checker needs them all) and streams them to a JSON-lines file. */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = []
  private readonly stream: WriteStream
  private nextId = 1

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: 'w' })
  }

  newId(): number {
    return this.nextId++
  }

  record(event: HistoryEvent): void {
    this.events.push(event)
    this.stream.write(`${JSON.stringify(event)}\n`)
  }

  close(): Promise<void> {
    return new Promise((done) => this.stream.end(done))
  }
}

/** Parses a saved history file back into events (for re-checking). */
export function parseHistory(text: string): HistoryEvent[] {
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as HistoryEvent)
}
