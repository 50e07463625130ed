/**
 * Bucket properties (n, r, w, conflict) as cluster metadata. The scheme is a last-writer-wins register per bucket:
 * a PUT of props on any node stamps the new value with that node's hybrid logical clock, stores it (put-meta),
 * and pushes it to every live member; the placement gossip re-spreads the whole set, so a member that was down
 * or partitioned catches up within a few gossip rounds. Merging keeps, per bucket, the entry with the greatest
 * (stamp, writer): a join-semilattice, so every node ends with the same props whatever order it hears them in.
 * Two concurrent props changes to one bucket keep the later one; props change rarely and by operators, so that
 * is the expected behaviour, not a lost write.
 *
 * Pure; persisted as one JSON document, decoded defensively (a corrupt document is ignored and logged by the
 * caller, and the gossip refills it).
 */
import type { NodeId } from '../primitives/ids.ts'
import type { BucketProps } from '../node/client.ts'
import type { QuorumSetting } from '../node/node-config.ts'
import type { HlcTimestamp } from '../versioning/hybrid-logical-clock.ts'
import { compareHlcTimestamps, isValidHlcTimestamp } from '../versioning/hybrid-logical-clock.ts'

export interface BucketPropsEntry {
  readonly bucket: string
  readonly props: BucketProps
  readonly stamp: HlcTimestamp
  readonly writer: NodeId
}

/** Buckets with non-default props one cluster may hold; each entry rides in every full metadata exchange. */
export const MAX_BUCKET_PROPS_ENTRIES = 4_096

export const bucketPropsMetaName = 'buckets.props'

export class BucketPropsRegistry {
  private readonly byBucket = new Map<string, BucketPropsEntry>()

  constructor(private readonly defaults: BucketProps) {}

  get(bucket: string): BucketProps {
    return this.byBucket.get(bucket)?.props ?? this.defaults
  }

  entries(): BucketPropsEntry[] {
    return [...this.byBucket.values()].sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0))
  }

  /** Keeps the greater entry per bucket; returns true when anything changed. */
  merge(entries: readonly BucketPropsEntry[]): boolean {
    let changed = false
    for (const entry of entries) {
      const current = this.byBucket.get(entry.bucket)
      if (current !== undefined && compareEntries(entry, current) <= 0) continue
      if (current === undefined && this.byBucket.size >= MAX_BUCKET_PROPS_ENTRIES) continue
      this.byBucket.set(entry.bucket, entry)
      changed = true
    }
    return changed
  }

  digest(): string {
    return digestEntries(this.entries())
  }

  encode(): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(this.entries()))
  }

  /** Restores persisted entries; returns false when the document is not what encode() writes. */
  restore(bytes: Uint8Array): boolean {
    let parsed: unknown
    try {
      parsed = JSON.parse(new TextDecoder().decode(bytes))
    } catch {
      return false
    }
    if (!Array.isArray(parsed) || !parsed.every(isEntry)) return false
    this.merge(parsed)
    return true
  }
}

/**
 * Equal digests mean equal sets with overwhelming likelihood: count, newest stamp, and a hash of every stamp.
 * Entries must be sorted by bucket (as entries() returns them and as they travel).
 */
export function digestEntries(entries: readonly BucketPropsEntry[]): string {
  let hash = 0x811c9dc5
  let newest = 0
  for (const entry of entries) {
    const text = `${entry.bucket}\u0000${entry.stamp.physicalMs}.${entry.stamp.logical}.${entry.writer}`
    for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0
    newest = Math.max(newest, entry.stamp.physicalMs)
  }
  return `${entries.length}:${newest}:${hash.toString(16)}`
}

/** The LWW order: stamp, then the writer's id, so equal stamps from two nodes still order the same everywhere. */
function compareEntries(a: BucketPropsEntry, b: BucketPropsEntry): number {
  return compareHlcTimestamps(a.stamp, b.stamp) || (a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : 0)
}

/**
 * Applies a client's partial props over the current ones and checks the result against the cluster's N (a bucket
 * cannot have more replicas than the ownership table lists). Returns the new props or a problem sentence.
 */
export function applyPropsPatch(current: BucketProps, patch: Partial<BucketProps>, maxN: number): BucketProps | string {
  const next: BucketProps = { ...current, ...patch }
  if (!Number.isInteger(next.n) || next.n < 1 || next.n > maxN) return `n must be an integer in 1..${maxN}`
  for (const [name, setting] of [['r', next.r], ['w', next.w]] as const) {
    if (!isQuorumSettingFor(setting, next.n)) return `${name} must be one, quorum, all or an integer in 1..${next.n}`
  }
  if (next.conflict !== 'siblings' && next.conflict !== 'lww') return 'conflict must be siblings or lww'
  return next
}

export function isQuorumSettingFor(setting: QuorumSetting, n: number): boolean {
  if (setting === 'one' || setting === 'quorum' || setting === 'all') return true
  return Number.isInteger(setting) && setting >= 1 && setting <= n
}

function isEntry(value: unknown): value is BucketPropsEntry {
  if (typeof value !== 'object' || value === null) return false
  const entry = value as Record<string, unknown>
  const props = entry.props as Record<string, unknown> | null | undefined
  return (
    typeof entry.bucket === 'string' &&
    typeof entry.writer === 'string' &&
    typeof props === 'object' && props !== null &&
    typeof props.n === 'number' &&
    (props.conflict === 'siblings' || props.conflict === 'lww') &&
    isQuorumSettingFor(props.r as QuorumSetting, props.n) &&
    isQuorumSettingFor(props.w as QuorumSetting, props.n) &&
    typeof entry.stamp === 'object' && entry.stamp !== null && isValidHlcTimestamp(entry.stamp as HlcTimestamp)
  )
}
