/**
 * High-water marks of change-log catch-up (High-Water Mark pattern): for each peer and partition, the peer's
 * change-log seq up to which this node is known to hold everything the peer's log names. Seqs are the peer's own
 * sequence space (src/storage/change-log.ts allocates them per node and partition and never repeats one across
 * restarts), so a mark is only ever compared with seqs of the same peer.
 *
 * Invariant: mark(peer, p) = s means every object the peer had durably stored with a log entry ≤ s has been
 * merged into a durable object of this node (or was a tombstone reapable under the low-water mark). A lower mark
 * is always true, which is why marks only ever rise and why an unknown mark is 0: catching up from 0 replays the
 * peer's whole log, which is correct as long as the log still reaches back to seq 1 (otherwise the catch-up falls
 * back to the Merkle exchange).
 *
 * Marks are persisted as one node-metadata record, written at most once per `persistSpacingMs` while any changed,
 * so a node that crashed and restarts catches up from where it was rather than from 0. A persisted mark is a
 * snapshot of a true mark and stays true: this node's objects only grow (merges never overwrite), except by
 * reaping, which removes only what no peer still needs. Pure: encoding is JSON through TextEncoder.
 */
import type { Millis, NodeId } from '../primitives/ids.ts'
import { nodeId } from '../primitives/ids.ts'

/** The node-metadata name of the persisted marks (not under the reserved `chorus.` prefix). */
export const catchUpMarksMetaName = 'anti-entropy.catch-up-marks'

/** Bounds what a decoded record may hold, so a corrupt record cannot make us allocate without limit. */
const maxPeers = 4_096
const maxPartitions = 1 << 20

export class CatchUpMarks {
  private readonly marks = new Map<NodeId, Map<number, number>>()
  private dirty = false

  get(peer: NodeId, partition: number): number {
    return this.marks.get(peer)?.get(partition) ?? 0
  }

  /** Raises the mark; a lower seq is ignored (marks never move back). Returns whether it changed. */
  raise(peer: NodeId, partition: number, seq: number): boolean {
    if (!Number.isSafeInteger(seq) || seq <= this.get(peer, partition)) return false
    let partitions = this.marks.get(peer)
    if (partitions === undefined) {
      partitions = new Map()
      this.marks.set(peer, partitions)
    }
    partitions.set(partition, seq)
    this.dirty = true
    return true
  }

  /** Marks restored from disk join the ones learned since the start (max of both). */
  restore(bytes: Uint8Array): boolean {
    const decoded = decodeMarks(bytes)
    if (decoded === null) return false
    for (const [peer, partitions] of decoded) for (const [partition, seq] of partitions) this.raise(peer, partition, seq)
    return true
  }

  /** The record to persist when something changed since the last call; null otherwise. */
  takeChanged(): Uint8Array | null {
    if (!this.dirty) return null
    this.dirty = false
    return encodeMarks(this.marks)
  }

  /** The write of the last taken record failed: take it again next time. */
  persistFailed(): void {
    this.dirty = true
  }
}

interface MarksRecord {
  readonly v: 1
  /** peer → [partition, seq] pairs. */
  readonly peers: Record<string, [number, number][]>
}

export function encodeMarks(marks: ReadonlyMap<NodeId, ReadonlyMap<number, number>>): Uint8Array {
  const peers: Record<string, [number, number][]> = {}
  for (const peer of [...marks.keys()].sort()) {
    peers[peer] = [...(marks.get(peer) ?? new Map<number, number>())].sort((a, b) => a[0] - b[0])
  }
  const record: MarksRecord = { v: 1, peers }
  return new TextEncoder().encode(JSON.stringify(record))
}

/** Null for anything but a well-formed record: a bad record means "no marks" (catch-up from 0), never a guess. */
export function decodeMarks(bytes: Uint8Array): Map<NodeId, Map<number, number>> | null {
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return null
  }
  if (typeof parsed !== 'object' || parsed === null || (parsed as { v?: unknown }).v !== 1) return null
  const peers = (parsed as { peers?: unknown }).peers
  if (typeof peers !== 'object' || peers === null || Array.isArray(peers)) return null
  const entries = Object.entries(peers as Record<string, unknown>)
  if (entries.length > maxPeers) return null
  const marks = new Map<NodeId, Map<number, number>>()
  for (const [peer, pairs] of entries) {
    if (peer.length === 0 || !Array.isArray(pairs) || pairs.length > maxPartitions) return null
    const partitions = new Map<number, number>()
    for (const pair of pairs as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2) return null
      const [partition, seq] = pair as unknown[]
      if (!isCount(partition) || partition >= maxPartitions || !isCount(seq)) return null
      partitions.set(partition, seq)
    }
    marks.set(nodeId(peer), partitions)
  }
  return marks
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

/** Persisting marks more often than this buys nothing: a stale mark only costs a few replayed entries. */
export const persistSpacingMs: Millis = 1_000
