/**
 * Hinted handoff storage: objects held for a replica that is down, keyed by target node and then by a hint id
 * that only grows, so a scan of one target's range replays its hints in the order they were stored. A hint is
 * deleted when the target acknowledges it. The store is bounded by count and bytes: once full, new hints are
 * dropped and counted rather than growing the disk without limit; anti-entropy repairs what a dropped hint
 * would have carried, only later.
 *
 * The index (target → hint id → size) lives in memory, rebuilt by one scan on recovery, so adding and removing
 * hints are synchronous decisions made in commit order, with no read before the write. The index is updated when
 * a write is planned, before it commits; if that commit fails the commit queue refuses every later write and the
 * node must restart, and recovery rebuilds the index from what is really on disk.
 *
 * A hint that fails its checksum is counted and skipped when listed (anti-entropy repairs its object); it stays
 * on disk, counted against the bound, until its target is removed from the cluster.
 */
import type { StoredHint } from '../core/node/storage-operation.ts'
import type { NodeId } from '../core/primitives/ids.ts'
import { nodeId } from '../core/primitives/ids.ts'
import { assert } from '../core/primitives/assert.ts'
import { decodeHintKey, hintKey, hintTargetRange, spaceRange } from './key-layout.ts'
import type { KvOperation, KvStore } from './kv-store.ts'
import { maxScanLimit } from './kv-store.ts'
import { copyBytes, decodeRecord, encodeRecord, isBytes, isObjectRecord, isUint53 } from './record-codec.ts'

export interface HintStoreOptions {
  /** Hints kept across all targets. 100,000 covers a replica down for minutes under heavy write load. */
  readonly maxHints: number
  /** Bytes of hinted values kept. 256 MiB bounds the disk a long outage can take from live data. */
  readonly maxHintBytes: number
}

export const defaultHintStoreOptions: HintStoreOptions = { maxHints: 100_000, maxHintBytes: 256 * 1024 * 1024 }

export type HintFields = Omit<StoredHint, 'hintId'>

export type AddHintResult = { readonly kind: 'stored'; readonly hintId: number; readonly operation: KvOperation } | { readonly kind: 'dropped' }

export interface HintStoreStats {
  readonly hints: number
  readonly bytes: number
  readonly dropped: number
  readonly corrupted: number
}

export class HintStore {
  private readonly index = new Map<string, Map<number, number>>()
  private lastHintId = 0
  private hints = 0
  private bytes = 0
  private dropped = 0
  private corrupted = 0

  private constructor(
    private readonly store: KvStore,
    private readonly options: HintStoreOptions,
  ) {}

  static async recover(store: KvStore, options: HintStoreOptions): Promise<HintStore> {
    const hints = new HintStore(store, options)
    let gte = spaceRange('hint').gte
    const lt = spaceRange('hint').lt
    for (;;) {
      const page = await store.scan({ gte, lt, limit: 10_000 })
      for (const row of page) {
        const { target, hintId } = decodeHintKey(row.key)
        hints.track(target, hintId, row.value.length)
        hints.lastHintId = Math.max(hints.lastHintId, hintId)
      }
      const last = page[page.length - 1]
      if (last === undefined || page.length < 10_000) return hints
      const { target, hintId } = decodeHintKey(last.key)
      gte = hintKey(target, hintId + 1)
    }
  }

  get stats(): HintStoreStats {
    return { hints: this.hints, bytes: this.bytes, dropped: this.dropped, corrupted: this.corrupted }
  }

  add(fields: HintFields): AddHintResult {
    const hintId = this.lastHintId + 1
    const value = encodeRecord('hint', { p: fields.partition, b: fields.bucket, k: fields.key, v: fields.value })
    if (this.hints + 1 > this.options.maxHints || this.bytes + value.length > this.options.maxHintBytes) {
      this.dropped++
      return { kind: 'dropped' }
    }
    this.lastHintId = hintId
    this.track(fields.target, hintId, value.length)
    return { kind: 'stored', hintId, operation: { kind: 'put', key: hintKey(fields.target, hintId), value } }
  }

  /** The delete for an acknowledged hint, or null if it is already gone (acks may repeat). */
  remove(target: NodeId, hintId: number): KvOperation | null {
    const hints = this.index.get(target)
    const size = hints?.get(hintId)
    if (hints === undefined || size === undefined) return null
    hints.delete(hintId)
    if (hints.size === 0) this.index.delete(target)
    this.hints--
    this.bytes -= size
    assert(this.hints >= 0 && this.bytes >= 0, 'hint accounting went negative')
    return { kind: 'del', key: hintKey(target, hintId) }
  }

  targets(): { target: NodeId; count: number }[] {
    return [...this.index.entries()].map(([target, hints]) => ({ target: nodeId(target), count: hints.size })).sort((a, b) => (a.target < b.target ? -1 : a.target > b.target ? 1 : 0))
  }

  /** Hints for `target` with id > afterHintId, oldest first. Corrupt hints are counted and skipped. */
  async list(target: NodeId, afterHintId: number, limit: number): Promise<{ hints: StoredHint[]; complete: boolean }> {
    assert(isUint53(afterHintId), () => `bad afterHintId ${afterHintId}`)
    assert(Number.isInteger(limit) && limit > 0 && limit <= maxScanLimit, () => `bad limit ${limit}`)
    const rows = await this.store.scan({ ...hintTargetRange(target, afterHintId + 1), limit })
    const hints: StoredHint[] = []
    for (const row of rows) {
      const { hintId } = decodeHintKey(row.key)
      const decoded = decodeRecord('hint', row.value, (payload) => {
        if (!isObjectRecord(payload)) return null
        const { p, b, k, v } = payload
        if (!isUint53(p) || typeof b !== 'string' || typeof k !== 'string' || !isBytes(v)) return null
        return { target, hintId, partition: p, bucket: b, key: k, value: copyBytes(v) }
      })
      if (decoded.kind === 'ok') hints.push(decoded.value)
      else this.corrupted++
    }
    return { hints, complete: rows.length < limit }
  }

  private track(target: string, hintId: number, size: number): void {
    let hints = this.index.get(target)
    if (hints === undefined) {
      hints = new Map()
      this.index.set(target, hints)
    }
    hints.set(hintId, size)
    this.hints++
    this.bytes += size
  }
}
