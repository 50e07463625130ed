/**
 * Compaction, checked directly: it drops exactly the retired entries that no sibling needs, and for every dot
 * that can still appear anywhere (any dot of a live actor, any sibling's dot) coverage is unchanged, so a context
 * neither gains a dot it did not cover nor loses one it did. The model-based run in no-lost-write.test.ts checks
 * the same thing end to end across later reads, writes and merges.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Dot } from '../../../src/core/versioning/actor.ts'
import { mergeAllObjects, updateObject } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import { compactRetiredGenerations, supersededGenerations } from '../../../src/core/versioning/generation-compaction.ts'
import { objectProblem } from '../../../src/core/versioning/sibling.ts'
import { coversDot } from '../../../src/core/versioning/version-vector.ts'
import { emptyObject } from '../../../src/core/versioning/sibling.ts'
import { makeActor } from '../../../src/core/versioning/actor.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import type { NodeId } from '../../../src/core/primitives/ids.ts'
import { nodeCountArb, opArb, ReplicaCluster } from './replica-cluster.ts'

describe('generation compaction', () => {
  it('changes coverage only for retired actors\' superseded dots, and keeps every entry a sibling needs', () => {
    fc.assert(
      fc.property(nodeCountArb, fc.array(opArb({ wipes: true, restarts: true, compactions: false }), { maxLength: 80, size: 'max' }), (nodeCount, ops) => {
        const cluster = new ReplicaCluster(nodeCount)
        for (const op of ops) cluster.apply(op)
        const synced = mergeAllObjects(cluster.objects)
        const retired = new Map<NodeId, number>(Array.from({ length: nodeCount }, (_, r) => [cluster.actorOf(r).node, cluster.actorOf(r).generation]))
        const compacted = compactRetiredGenerations(synced, retired)
        expect(objectProblem(compacted)).toBeNull()
        expect(compacted.siblings).toBe(synced.siblings)
        const siblingDots = new Set(synced.siblings.map((s) => `${s.dot.node}/${s.dot.generation}/${s.dot.counter}`))
        // Every dot ever minted, plus the next few each current actor will mint.
        const future: Dot[] = Array.from({ length: nodeCount }, (_, r) => [1, 2, 3].map((k) => ({ ...cluster.actorOf(r), counter: k }))).flat()
        for (const dot of [...cluster.writes.map((w) => w.dot), ...future]) {
          const retiredActor = dot.generation < (retired.get(dot.node) ?? 0)
          const isSibling = siblingDots.has(`${dot.node}/${dot.generation}/${dot.counter}`)
          if (!retiredActor || isSibling) expect(coversDot(compacted.history, dot)).toBe(coversDot(synced.history, dot))
        }
        // Nothing retired and unneeded is left behind.
        for (const entry of compacted.history) {
          const needed = synced.siblings.some((s) => s.dot.node === entry.node && s.dot.generation === entry.generation)
          expect(entry.generation >= (retired.get(entry.node) ?? 0) || needed).toBe(true)
        }
      }),
      { seed: 0xc0_4a, numRuns: 300 },
    )
  })

  it('is a no-op without retired generations, and reports the candidates as a metric', () => {
    const node = nodeId('n1')
    const timestamp = { physicalMs: 1, logical: 0 }
    const content = { kind: 'value' as const, value: Uint8Array.of(1), contentType: 'x/y' }
    const first = updateObject(emptyObject, { context: null, content, actor: makeActor(node, 1), timestamp })
    if (first.kind !== 'updated') throw new Error('refused')
    const second = updateObject(first.object, { context: first.object.history, content, actor: makeActor(node, 2), timestamp })
    if (second.kind !== 'updated') throw new Error('refused')
    expect(second.object.history.map((e) => e.generation)).toEqual([1, 2])
    expect(supersededGenerations(second.object)).toEqual([{ node, generation: 1 }])
    expect(compactRetiredGenerations(second.object, new Map())).toBe(second.object)
    expect(compactRetiredGenerations(second.object, new Map([[node, 2]])).history.map((e) => e.generation)).toEqual([2])
  })
})
