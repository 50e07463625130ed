/**
 * A test harness: N replicas of one key, each a real DottedVersionVectorSet, run in lockstep with a naive
 * reference model that knows nothing about vectors or dots. The model is the specification in its plainest form:
 *
 *   seen[r]       the set of write ids replica r has heard of (its own, merged-in ones, and the ones named by the
 *                 contexts of writes it coordinated);
 *   covered[w]    the write ids that write w's context named (what the client had read), empty for a blind write;
 *   live(r)       seen[r] minus every write that some write in seen[r] covered.
 *
 * A merge unions `seen`, a wipe empties it, and compaction does not touch it: it is a representation change that
 * must be invisible. After every step the harness compares each replica's siblings with live(r) and its history
 * with seen[r], so lost writes, resurrected writes and false siblings all show up as a mismatch.
 *
 * Test-only switches break the implementation on purpose (reusing the generation after a wipe, compacting
 * without the replica-wide precondition) so the properties can show that they detect those bugs.
 */
import { makeActor } from '../../../src/core/versioning/actor.ts'
import type { Actor, Dot } from '../../../src/core/versioning/actor.ts'
import { emptyObject, latestTimestamp, mergeObjects, updateObject } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import type { DottedVersionVectorSet, SiblingContent } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import { compactRetiredGenerations } from '../../../src/core/versioning/generation-compaction.ts'
import { HybridLogicalClock } from '../../../src/core/versioning/hybrid-logical-clock.ts'
import { coversDot } from '../../../src/core/versioning/version-vector.ts'
import type { VersionVector } from '../../../src/core/versioning/version-vector.ts'
import { defaultVersioningLimits } from '../../../src/core/versioning/versioning-limits.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import fc from 'fast-check'

export type Op =
  | { readonly kind: 'read'; readonly replica: number }
  | { readonly kind: 'write'; readonly replica: number; readonly context: number | null; readonly tombstone: boolean; readonly wallStepMs: number }
  | { readonly kind: 'merge'; readonly from: number; readonly to: number }
  | { readonly kind: 'wipe'; readonly replica: number }
  | { readonly kind: 'restart'; readonly replica: number }
  | { readonly kind: 'sync-and-compact' }

export interface ClusterOptions {
  /** A wiped node restarts with a higher generation (the fix for key amnesia). False reproduces riak_kv#679. */
  readonly bumpGenerationOnWipe: boolean
  /** `retired`: compact after a full sync, as the replication layer must. `local-only`: compact without it. */
  readonly compaction: 'retired' | 'local-only'
}

export const correctOptions: ClusterOptions = { bumpGenerationOnWipe: true, compaction: 'retired' }

interface HeldContext {
  readonly real: VersionVector
  readonly model: ReadonlySet<number>
}

interface WriteRecord {
  readonly dot: Dot
  readonly covered: ReadonlySet<number>
}

/** Plenty of headroom: the limits have their own tests, these runs must never be refused. */
const roomyLimits = { ...defaultVersioningLimits, maxSiblings: 10_000, siblingWarnCount: 10_000 }

export class ReplicaCluster {
  readonly objects: DottedVersionVectorSet[]
  readonly snapshots: DottedVersionVectorSet[] = []
  readonly writes: WriteRecord[] = []
  private readonly seen: Set<number>[]
  private readonly generations: number[]
  private readonly clocks: HybridLogicalClock[]
  private readonly wallMs: number[]
  private readonly contexts: HeldContext[] = []
  private readonly idByDot = new Map<string, number>()
  /** Actors whose entries compaction may have dropped; their superseded dots are outside the coverage check. */
  private readonly retiredActors = new Set<string>()

  constructor(
    readonly nodeCount: number,
    private readonly options: ClusterOptions = correctOptions,
  ) {
    this.objects = Array.from({ length: nodeCount }, () => emptyObject)
    this.seen = Array.from({ length: nodeCount }, () => new Set<number>())
    this.generations = Array.from({ length: nodeCount }, () => 1)
    this.clocks = Array.from({ length: nodeCount }, () => new HybridLogicalClock())
    this.wallMs = Array.from({ length: nodeCount }, (_, i) => 1_700_000_000_000 + i * 7)
  }

  actorOf(replica: number): Actor {
    return makeActor(nodeId(`node-${replica}`), this.generations[replica] as number)
  }

  apply(op: Op): void {
    switch (op.kind) {
      case 'read': {
        const r = op.replica % this.nodeCount
        this.contexts.push({ real: (this.objects[r] as DottedVersionVectorSet).history, model: new Set(this.seen[r]) })
        return
      }
      case 'write':
        return this.write(op)
      case 'merge': {
        const from = op.from % this.nodeCount
        const to = op.to % this.nodeCount
        this.objects[to] = mergeObjects(this.objects[to] as DottedVersionVectorSet, this.objects[from] as DottedVersionVectorSet)
        for (const id of this.seen[from] as Set<number>) (this.seen[to] as Set<number>).add(id)
        this.snapshots.push(this.objects[to] as DottedVersionVectorSet)
        return
      }
      case 'wipe': {
        const r = op.replica % this.nodeCount
        this.objects[r] = emptyObject
        this.seen[r] = new Set()
        if (this.options.bumpGenerationOnWipe) this.generations[r] = (this.generations[r] as number) + 1
        this.clocks[r] = new HybridLogicalClock()
        return
      }
      case 'restart': {
        const r = op.replica % this.nodeCount
        this.generations[r] = (this.generations[r] as number) + 1
        return
      }
      case 'sync-and-compact':
        return this.syncAndCompact()
    }
  }

  private write(op: Extract<Op, { kind: 'write' }>): void {
    const r = op.replica % this.nodeCount
    const held = op.context === null || this.contexts.length === 0 ? null : (this.contexts[op.context % this.contexts.length] as HeldContext)
    const id = this.writes.length
    const content: SiblingContent = op.tombstone
      ? { kind: 'tombstone' }
      : { kind: 'value', value: Uint8Array.of(id & 0xff, id >>> 8), contentType: 'text/plain' }
    this.wallMs[r] = Math.max(0, (this.wallMs[r] as number) + op.wallStepMs)
    const object = this.objects[r] as DottedVersionVectorSet
    const clock = this.clocks[r] as HybridLogicalClock
    const latest = latestTimestamp(object)
    const timestamp = latest === null ? clock.now(this.wallMs[r] as number) : clock.observe(latest, this.wallMs[r] as number).timestamp
    const outcome = updateObject(object, { context: held?.real ?? null, content, actor: this.actorOf(r), timestamp }, roomyLimits)
    if (outcome.kind !== 'updated') throw new Error(`write refused: ${outcome.kind}`)
    this.objects[r] = outcome.object
    this.snapshots.push(outcome.object)
    this.writes.push({ dot: outcome.dot, covered: held?.model ?? new Set() })
    this.idByDot.set(dotKey(outcome.dot), id)
    const seen = this.seen[r] as Set<number>
    for (const covered of held?.model ?? []) seen.add(covered)
    seen.add(id)
  }

  /** Every replica merges with every other, then each compacts every generation older than its node's current. */
  private syncAndCompact(): void {
    const retired = new Map(Array.from({ length: this.nodeCount }, (_, r) => [this.actorOf(r).node, this.generations[r] as number]))
    for (const actor of this.objects.flatMap((object) => object.history)) {
      if (actor.generation < (retired.get(actor.node) ?? 0)) this.retiredActors.add(`${actor.node}/${actor.generation}`)
    }
    if (this.options.compaction === 'retired') {
      const merged = this.objects.reduce(mergeObjects, emptyObject)
      const union = new Set(this.seen.flatMap((seen) => [...seen]))
      for (let r = 0; r < this.nodeCount; r++) {
        this.objects[r] = merged
        this.seen[r] = new Set(union)
      }
    }
    for (let r = 0; r < this.nodeCount; r++) {
      this.objects[r] = compactRetiredGenerations(this.objects[r] as DottedVersionVectorSet, retired)
    }
  }

  /** live(r) of the reference model. */
  modelLive(seen: ReadonlySet<number>): number[] {
    const superseded = new Set<number>()
    for (const id of seen) for (const covered of (this.writes[id] as WriteRecord).covered) superseded.add(covered)
    return [...seen].filter((id) => !superseded.has(id)).sort((a, b) => a - b)
  }

  realLive(object: DottedVersionVectorSet): number[] {
    return object.siblings.map((sibling) => this.idByDot.get(dotKey(sibling.dot)) ?? -1).sort((a, b) => a - b)
  }

  /** Compares every replica with the model; returns the first disagreement, or null. */
  mismatch(): string | null {
    for (let r = 0; r < this.nodeCount; r++) {
      const object = this.objects[r] as DottedVersionVectorSet
      const seen = this.seen[r] as Set<number>
      const real = this.realLive(object).join(',')
      const model = this.modelLive(seen).join(',')
      if (real !== model) return `replica ${r}: siblings [${real}], model says [${model}]`
      const coverage = this.coverageMismatch(object, seen)
      if (coverage !== null) return `replica ${r}: ${coverage}`
    }
    return null
  }

  /** The history covers exactly the writes the model says were seen, except retired actors' superseded dots. */
  private coverageMismatch(object: DottedVersionVectorSet, seen: ReadonlySet<number>): string | null {
    for (let id = 0; id < this.writes.length; id++) {
      const dot = (this.writes[id] as WriteRecord).dot
      if (this.retiredActors.has(`${dot.node}/${dot.generation}`)) continue
      if (coversDot(object.history, dot) !== seen.has(id)) return `history coverage of write ${id} is ${!seen.has(id)}`
    }
    return null
  }

  /** Merge all replicas in the given order and check the "no lost write" statement against the model. */
  lostWrite(order: readonly number[]): string | null {
    const merged = order.reduce((acc, r) => mergeObjects(acc, this.objects[r] as DottedVersionVectorSet), emptyObject)
    const union = new Set(this.seen.flatMap((seen) => [...seen]))
    const present = new Set(this.realLive(merged))
    const superseded = new Set<number>()
    for (const id of union) for (const covered of (this.writes[id] as WriteRecord).covered) superseded.add(covered)
    for (const id of union) {
      // Every write that still exists somewhere is in the merged object or covered by a later write's context.
      if (!present.has(id) && !superseded.has(id)) return `write ${id} vanished after the final merge`
      if (present.has(id) && superseded.has(id)) return `write ${id} survived a write whose context covered it`
    }
    return null
  }
}

export function dotKey(dot: Dot): string {
  return `${dot.node}/${dot.generation}/${dot.counter}`
}

const replicaArb = fc.nat({ max: 4 })

/** Ops weighted toward writes and reads; merges common enough that replicas see each other's writes. */
export function opArb(options: { wipes: boolean; restarts: boolean; compactions: boolean }): fc.Arbitrary<Op> {
  const arbitraries: fc.WeightedArbitrary<Op>[] = [
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), replica: replicaArb }) },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constant('write' as const),
        replica: replicaArb,
        context: fc.option(fc.nat({ max: 1_000 }), { nil: null, freq: 3 }),
        tombstone: fc.constant(false),
        wallStepMs: fc.integer({ min: -10_000, max: 10_000 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('write' as const), replica: replicaArb, context: fc.option(fc.nat({ max: 1_000 }), { nil: null }), tombstone: fc.constant(true), wallStepMs: fc.integer({ min: 0, max: 50 }) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('merge' as const), from: replicaArb, to: replicaArb }) },
  ]
  if (options.wipes) arbitraries.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('wipe' as const), replica: replicaArb }) })
  if (options.restarts) arbitraries.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), replica: replicaArb }) })
  if (options.compactions) arbitraries.push({ weight: 1, arbitrary: fc.constant({ kind: 'sync-and-compact' as const }) })
  return fc.oneof(...arbitraries)
}

export const nodeCountArb = fc.integer({ min: 3, max: 5 })
