/**
 * Hinted handoff, the delivering half (Dynamo section 4.6). A fallback that took a write for a down primary holds
 * it as a hint keyed by that primary; once membership says the primary is alive again (at once on member-up,
 * and on every replay interval for anything left over, including after this node restarts), the hints are read
 * a page at a time, sent to the primary as ordinary merges, and deleted only after the primary acknowledged
 * them. A replayed hint is merged, never applied blindly, so replaying one twice (an ack lost, a crash between
 * the ack and the delete) is harmless.
 *
 *   idle ──member-up / interval──► listing ──page──► sending (one merge call per hint) ──all acked──► next page
 *     ▲                                                   │ any failure
 *     └──────────────────────── wait for the next interval ◄┘
 *
 * One replay per target at a time; a page is `hintReplayBatch` hints, which bounds the objects in flight.
 */
import type { Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import type { StoredHint } from '../node/storage-operation.ts'
import type { ConflictMode } from './replication-messages.ts'

export interface HintReplayerPorts {
  readonly io: IoContinuations
  readonly self: NodeId
  /** Where a live member's cluster traffic goes; null when it is not alive (then its hints wait). */
  readonly liveAddress: (id: NodeId) => PeerAddress | null
  readonly conflictFor: (bucket: string) => ConflictMode
}

export interface HintReplayerOptions {
  readonly intervalMs: Millis
  readonly batch: number
  readonly callTimeoutMs: Millis
}

export class HintReplayer {
  private readonly active = new Set<NodeId>()
  private nextScanAtMs: Millis
  readonly counters = { replayed: 0, failed: 0, pages: 0 }

  constructor(private readonly ports: HintReplayerPorts, private readonly options: HintReplayerOptions, nowMs: Millis) {
    this.nextScanAtMs = nowMs
  }

  tick(nowMs: Millis, out: Out): void {
    if (nowMs < this.nextScanAtMs) return
    this.nextScanAtMs = nowMs + this.options.intervalMs
    this.ports.io.read({ kind: 'list-hint-targets' }, out, (result, next) => {
      if (result.kind !== 'hint-targets') return
      for (const { target, count } of result.targets) if (count > 0) this.start(target, next)
    })
  }

  /** A member came back: replay what we hold for it now rather than at the next interval. */
  memberUp(node: NodeId, out: Out): void {
    if (node !== this.ports.self) this.start(node, out)
  }

  private start(target: NodeId, out: Out): void {
    if (this.active.has(target) || this.ports.liveAddress(target) === null) return
    this.active.add(target)
    this.page(target, 0, out)
  }

  private page(target: NodeId, afterHintId: number, out: Out): void {
    this.ports.io.read({ kind: 'list-hints', target, afterHintId, limit: this.options.batch }, out, (result, next) => {
      if (result.kind !== 'hints' || result.hints.length === 0) return void this.active.delete(target)
      this.counters.pages++
      const last = result.hints[result.hints.length - 1] as StoredHint
      this.send(target, result.hints, next, (allAcked, after) => {
        if (allAcked && !result.complete) this.page(target, last.hintId, after)
        else this.active.delete(target)
      })
    })
  }

  private send(target: NodeId, hints: readonly StoredHint[], out: Out, done: (allAcked: boolean, out: Out) => void): void {
    const address = this.ports.liveAddress(target)
    if (address === null) return done(false, out)
    let outstanding = hints.length
    let allAcked = true
    const settle = (acked: boolean, next: Out): void => {
      allAcked &&= acked
      if (--outstanding === 0) done(allAcked, next)
    }
    for (const hint of hints) {
      const message = {
        kind: 'replica-merge' as const, from: this.ports.self, partition: hint.partition, bucket: hint.bucket, key: hint.key,
        conflict: this.ports.conflictFor(hint.bucket), object: hint.value,
      }
      this.ports.io.call(address, message, this.options.callTimeoutMs, out, (outcome, next) => {
        const acked = outcome.kind === 'ok' && outcome.message.kind === 'replica-merge-reply' && outcome.message.outcome === 'stored'
        if (!acked) {
          this.counters.failed++
          return settle(false, next)
        }
        this.counters.replayed++
        this.ports.io.write([{ kind: 'delete-hint', target, hintId: hint.hintId }], 'durable', next, (_, after) => settle(true, after))
      })
    }
  }
}
