/**
 * This node's Merkle trees, one per partition, and how they are kept true to the disk:
 *
 *   start ─► rebuild: scan-partition pages of each partition in turn (bounded pages, one read in flight)
 *         ─► ready: every put-object / delete-object this node emits updates its partition's tree (observe)
 *
 * Writes emitted while a partition is being rebuilt update the tree at once and mark their keys, and the scan
 * skips marked keys: the scan may have read the disk before or after that write landed, the write is newer.
 * A tree is updated when the write is emitted, not when it is durable: if the write then fails or the process
 * crashes, the tree is ahead of the disk until the next start rebuilds it, and an exchange meanwhile may skip a
 * key whose digest the peer happens to share (it repairs once either side writes the key again). Trees are
 * not persisted: a rebuild costs one scan of the node's data, which a restart can afford.
 */
import type { Effect } from '../node/effect.ts'
import type { IoContinuations, Out } from '../node/io-continuations.ts'
import type { StoredObject } from '../node/storage-operation.ts'
import { MerkleTree, objectDigest } from './merkle-tree.ts'
import type { MerkleShape } from './merkle-tree.ts'

export interface PartitionTreesOptions {
  readonly partitions: number
  readonly shape: MerkleShape
  /** Objects per scan page while rebuilding: one page of objects is in memory at a time. */
  readonly rebuildPageSize: number
}

type RebuildState =
  /** Not started, or a page failed: the next tick (re)starts `partition` from its beginning. */
  | { readonly kind: 'waiting'; readonly partition: number; readonly touched: Set<string> }
  | { readonly kind: 'scanning'; readonly partition: number; readonly touched: Set<string> }
  | { readonly kind: 'done' }

export class PartitionTrees {
  private readonly trees: MerkleTree[] = []
  private readonly ready: boolean[] = []
  private rebuild: RebuildState = { kind: 'waiting', partition: 0, touched: new Set() }
  readonly counters = { rebuildPages: 0, rebuildObjects: 0, rebuildFailures: 0 }

  constructor(private readonly io: IoContinuations, private readonly options: PartitionTreesOptions) {
    for (let p = 0; p < options.partitions; p++) {
      this.trees.push(new MerkleTree(options.shape))
      this.ready.push(false)
    }
  }

  /** The partition's tree once it reflects the disk; null while it is still being rebuilt. */
  tree(partition: number): MerkleTree | null {
    return this.ready[partition] === true ? (this.trees[partition] ?? null) : null
  }

  /**
   * True only when this node is sure it stores no object under the key: the partition's tree is rebuilt and holds
   * no entry for it. The tree follows every put-object and delete-object as it is emitted, and a scan of the disk
   * before that, so a key it lacks was never stored, or its last emitted change removed it (a delete that then
   * failed leaves a tombstone the reaper or handoff had already let go). A write whose effect failed leaves an
   * entry with no object behind it; that errs the safe way: the caller reads the disk.
   */
  knownAbsent(partition: number, bucket: string, key: string): boolean {
    return this.ready[partition] === true && this.trees[partition]?.has(bucket, key) === false
  }

  get rebuilt(): boolean {
    return this.rebuild.kind === 'done'
  }

  /** Starts the rebuild on the first call; a failed page is retried on a later call. */
  tick(out: Out): void {
    if (this.rebuild.kind === 'waiting') this.scanPartition(this.rebuild.partition, null, out)
  }

  /** Follows every object this node writes or removes, whichever module emitted it. */
  observe(effects: readonly Effect[]): void {
    for (const effect of effects) {
      if (effect.kind !== 'write') continue
      for (const mutation of effect.mutations) {
        if (mutation.kind !== 'put-object' && mutation.kind !== 'delete-object') continue
        const tree = this.trees[mutation.partition]
        if (tree === undefined) continue
        tree.set(mutation.bucket, mutation.key, mutation.kind === 'put-object' ? objectDigest(mutation.value) : null)
        if (this.rebuild.kind !== 'done' && this.rebuild.partition === mutation.partition) {
          this.rebuild.touched.add(`${mutation.bucket}\u0000${mutation.key}`)
        }
      }
    }
  }

  private scanPartition(partition: number, after: { readonly bucket: string; readonly key: string } | null, out: Out): void {
    if (partition >= this.options.partitions) {
      this.rebuild = { kind: 'done' }
      return
    }
    const touched = this.rebuild.kind !== 'done' && this.rebuild.partition === partition ? this.rebuild.touched : new Set<string>()
    this.rebuild = { kind: 'scanning', partition, touched }
    const query = { kind: 'scan-partition' as const, partition, after, limit: this.options.rebuildPageSize }
    this.io.read(query, out, (result, next) => {
      if (result.kind !== 'objects') {
        // Storage trouble: start this partition over on a later tick rather than spin here.
        this.counters.rebuildFailures++
        this.trees[partition] = this.rebuiltTree(partition, touched)
        this.rebuild = { kind: 'waiting', partition, touched }
        return
      }
      this.counters.rebuildPages++
      this.addPage(partition, result.objects, touched)
      const last = result.objects[result.objects.length - 1]
      if (!result.complete && last !== undefined) return this.scanPartition(partition, { bucket: last.bucket, key: last.key }, next)
      this.ready[partition] = true
      this.scanPartition(partition + 1, null, next)
    })
  }

  private addPage(partition: number, objects: readonly StoredObject[], touched: ReadonlySet<string>): void {
    const tree = this.trees[partition] as MerkleTree
    for (const object of objects) {
      this.counters.rebuildObjects++
      if (touched.has(`${object.bucket}\u0000${object.key}`)) continue
      tree.set(object.bucket, object.key, objectDigest(object.value))
    }
  }

  /** After a failed scan the partition restarts from scratch, keeping only what writes told us since. */
  private rebuiltTree(partition: number, touched: ReadonlySet<string>): MerkleTree {
    const old = this.trees[partition] as MerkleTree
    const fresh = new MerkleTree(this.options.shape)
    for (const id of touched) {
      const [bucket = '', key = ''] = id.split('\u0000')
      fresh.set(bucket, key, old.get(bucket, key))
    }
    return fresh
  }
}
