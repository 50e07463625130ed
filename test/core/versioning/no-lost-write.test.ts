/**
 * The properties that decide whether Chorus ever loses a write (DESIGN.md section 9, invariants 1 and 2), checked
 * against the naive reference model in replica-cluster.ts over random interleavings of reads, writes with and
 * without contexts, deletes, merges in any order, restarts, disk wipes and compactions on 3–5 replicas.
 * Every property runs from a fixed seed; on failure fast-check prints the seed and path to replay it.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Op } from './replica-cluster.ts'
import { correctOptions, nodeCountArb, opArb, ReplicaCluster } from './replica-cluster.ts'

type Options = ConstructorParameters<typeof ReplicaCluster>[1]

/** Runs the ops, comparing with the model after every step; then merges everything in `order`. */
function runAndCheck(nodeCount: number, ops: readonly Op[], order: readonly number[], options: Options): string | null {
  const cluster = new ReplicaCluster(nodeCount, options)
  for (const [step, op] of ops.entries()) {
    cluster.apply(op)
    const mismatch = cluster.mismatch()
    if (mismatch !== null) return `after step ${step} (${JSON.stringify(op)}): ${mismatch}`
  }
  return cluster.lostWrite(order.filter((r) => r < nodeCount))
}

const mergeOrderArb = fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 })

describe('no lost write, no false concurrency (model-based)', () => {
  it('reads, writes with and without contexts, deletes and merges in any order match the model', () => {
    fc.assert(
      fc.property(nodeCountArb, fc.array(opArb({ wipes: false, restarts: false, compactions: false }), { maxLength: 80, size: 'max' }), mergeOrderArb,
        (nodeCount, ops, order) => {
          expect(runAndCheck(nodeCount, ops, order, correctOptions)).toBeNull()
        }),
      { seed: 0x10_57, numRuns: 300 },
    )
  })

  it('amnesia: a replica that loses its disk and restarts under the same node id never makes an acknowledged write vanish', () => {
    // Every run wipes at least once, in the middle of a random history, and keeps going.
    const opsArb = opArb({ wipes: true, restarts: true, compactions: false })
    const wipeArb = fc.record({ kind: fc.constant('wipe' as const), replica: fc.nat({ max: 4 }) })
    fc.assert(
      fc.property(nodeCountArb, fc.array(opsArb, { maxLength: 40, size: 'max' }), wipeArb, fc.array(opsArb, { maxLength: 40, size: 'max' }), mergeOrderArb,
        (nodeCount, before, wipe, after, order) => {
          expect(runAndCheck(nodeCount, [...before, wipe, ...after], order, correctOptions)).toBeNull()
        }),
      { seed: 0xa3_4e51a, numRuns: 300 },
    )
  })

  it('compaction of retired generations after a replica-wide sync is invisible to every later operation', () => {
    const opsArb = opArb({ wipes: true, restarts: true, compactions: true })
    fc.assert(
      fc.property(nodeCountArb, fc.array(opsArb, { maxLength: 80, size: 'max' }), mergeOrderArb, (nodeCount, ops, order) => {
        expect(runAndCheck(nodeCount, ops, order, correctOptions)).toBeNull()
      }),
      { seed: 0xc0_3ac7, numRuns: 300 },
    )
  })

  it('compaction keeps vectors bounded: one entry per node plus the generations that live siblings need', () => {
    const opsArb = opArb({ wipes: true, restarts: true, compactions: false })
    fc.assert(
      fc.property(nodeCountArb, fc.array(opsArb, { maxLength: 80, size: 'max' }), (nodeCount, ops) => {
        const cluster = new ReplicaCluster(nodeCount, correctOptions)
        for (const op of ops) cluster.apply(op)
        cluster.apply({ kind: 'sync-and-compact' })
        for (const object of cluster.objects) {
          const needed = new Set(object.siblings.map((s) => `${s.dot.node}/${s.dot.generation}`))
          const stale = object.history.filter((entry) => {
            const current = cluster.actorOf(Number(entry.node.slice('node-'.length))).generation
            return entry.generation < current && !needed.has(`${entry.node}/${entry.generation}`)
          })
          expect(stale).toEqual([])
        }
      }),
      { seed: 0xb0_0d, numRuns: 200 },
    )
  })
})

describe('the properties detect the bugs they guard against', () => {
  // If these stop failing, the properties above have gone blind: the harness or the generators are broken.
  it('reusing the generation after a disk wipe (riak_kv#679) is caught', () => {
    const opsArb = opArb({ wipes: true, restarts: false, compactions: false })
    const result = fc.check(
      fc.property(nodeCountArb, fc.array(opsArb, { maxLength: 80, size: 'max' }), mergeOrderArb, (nodeCount, ops, order) => {
        expect(runAndCheck(nodeCount, ops, order, { bumpGenerationOnWipe: false, compaction: 'retired' })).toBeNull()
      }),
      { seed: 0xbad_1, numRuns: 300 },
    )
    expect(result.failed).toBe(true)
  })

  it('compacting old generations without the replica-wide precondition is caught', () => {
    const opsArb = opArb({ wipes: false, restarts: true, compactions: true })
    const result = fc.check(
      fc.property(nodeCountArb, fc.array(opsArb, { maxLength: 80, size: 'max' }), mergeOrderArb, (nodeCount, ops, order) => {
        expect(runAndCheck(nodeCount, ops, order, { bumpGenerationOnWipe: true, compaction: 'local-only' })).toBeNull()
      }),
      { seed: 0xbad_2, numRuns: 300 },
    )
    expect(result.failed).toBe(true)
  })
})
