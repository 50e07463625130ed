/**
 * The read quorum against a naive reference: the merge is a plain fold over every object received, repairs are
 * the answering replicas whose copy differs from it, and the status is decided by brute force over the
 * outstanding answers.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import type { NodeId } from '../../../src/core/primitives/ids.ts'
import type { ReadReply } from '../../../src/core/replication/read-quorum.ts'
import { ReadQuorum } from '../../../src/core/replication/read-quorum.ts'
import type { QuorumStatus } from '../../../src/core/replication/write-quorum.ts'
import { makeActor } from '../../../src/core/versioning/actor.ts'
import { mergeAllObjects, mergeObjects, updateObject } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import { encodeObject } from '../../../src/core/versioning/object-codec.ts'
import type { DottedVersionVectorSet } from '../../../src/core/versioning/sibling.ts'
import { emptyObject } from '../../../src/core/versioning/sibling.ts'

const ids = ['a', 'b', 'c', 'd', 'e'].map(nodeId)
const actors = ids.slice(0, 3).map((id) => makeActor(id, 1))

/** A pool of related objects: each is a write over an earlier one (or over nothing), with or without its context. */
const objectPool = fc
  .array(fc.record({ actor: fc.nat(2), base: fc.nat(20), withContext: fc.boolean(), merge: fc.nat(20) }), { minLength: 1, maxLength: 8 })
  .map((steps) => {
    const pool: DottedVersionVectorSet[] = [emptyObject]
    // An actor mints its dots in order, so its writes build on everything it minted before (as a primary's do).
    const lastOf = actors.map(() => emptyObject)
    steps.forEach((step, i) => {
      const base = mergeObjects(pool[step.base % pool.length] as DottedVersionVectorSet, lastOf[step.actor] as DottedVersionVectorSet)
      const write = {
        context: step.withContext ? base.history : null,
        content: { kind: 'value' as const, value: new Uint8Array([i]), contentType: 'x' },
        actor: actors[step.actor] as ReturnType<typeof makeActor>,
        timestamp: { physicalMs: i + 1, logical: 0 },
      }
      const updated = updateObject(base, write)
      if (updated.kind !== 'updated') return
      lastOf[step.actor] = updated.object
      pool.push(mergeObjects(updated.object, pool[step.merge % pool.length] as DottedVersionVectorSet))
    })
    return pool
  })

/** A found reply carries its canonical bytes, as one received from a replica does. */
function foundReply(object: DottedVersionVectorSet): ReadReply {
  return { kind: 'found', object, encoded: encodeObject(object) }
}

function naiveStatus(targets: readonly NodeId[], primaries: ReadonlySet<NodeId>, r: number, pr: number, replies: ReadonlyMap<NodeId, ReadReply>): QuorumStatus {
  const met = (answered: readonly NodeId[]): boolean => answered.length >= r && answered.filter((t) => primaries.has(t)).length >= pr
  const answered = targets.filter((t) => replies.has(t) && replies.get(t)?.kind !== 'failed')
  if (met(answered)) return 'satisfied'
  const outstanding = targets.filter((t) => !replies.has(t))
  return met([...answered, ...outstanding]) ? 'pending' : 'failed'
}

const scenario = fc.record({
  pool: objectPool,
  targets: fc.shuffledSubarray(ids, { minLength: 1 }),
  primaryMask: fc.nat(31),
  rFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  prFraction: fc.double({ min: 0, max: 1, noNaN: true }),
  replies: fc.array(fc.tuple(fc.constantFrom(...ids), fc.oneof(fc.constant(-1), fc.constant(-2), fc.nat(20))), { maxLength: 10 }),
})

describe('ReadQuorum', () => {
  it('agrees with a naive fold and a brute-force status after every reply', () => {
    fc.assert(fc.property(scenario, ({ pool, targets, primaryMask, rFraction, prFraction, replies }) => {
      const primaries = new Set(targets.filter((_, i) => (primaryMask >> i) & 1))
      const r = 1 + Math.floor(rFraction * targets.length)
      const pr = Math.floor(prFraction * (primaries.size + 1))
      const quorum = new ReadQuorum({ targets, primaries, r, pr, merge: mergeObjects })
      const seen = new Map<NodeId, ReadReply>()
      for (const [from, pick] of replies) {
        const reply: ReadReply = pick === -1 ? { kind: 'missing' } : pick === -2 ? { kind: 'failed' } : foundReply(pool[pick % pool.length] as DottedVersionVectorSet)
        quorum.add(from, reply)
        if (targets.includes(from) && !seen.has(from)) seen.set(from, reply)
        expect(quorum.status()).toBe(naiveStatus(targets, primaries, r, pr, seen))
      }
      const found = [...seen.values()].flatMap((reply) => (reply.kind === 'found' ? [reply.object] : []))
      const expected = mergeAllObjects(found)
      const outcome = quorum.outcome()
      expect(encodeObject(outcome.merged)).toEqual(encodeObject(expected))
      const isEmpty = expected.history.length === 0
      // Read repair sends these bytes: when every copy agreed they are the copies' own, never a stale merge.
      expect(outcome.mergedEncoded).toEqual(isEmpty ? null : encodeObject(expected))
      const expectedRepairs = [...seen].filter(([, reply]) =>
        reply.kind === 'missing' ? !isEmpty
        : reply.kind === 'found' ? Buffer.compare(Buffer.from(encodeObject(reply.object)), Buffer.from(encodeObject(expected))) !== 0
        : false,
      ).map(([id]) => id)
      expect([...outcome.repairs].sort()).toEqual(expectedRepairs.sort())
    }))
  })

  it('partial asking: the first ask is minimal, topping up after each answer is as available as asking everyone, and it completes', () => {
    const asking = fc.record({
      targets: fc.shuffledSubarray(ids, { minLength: 1 }),
      primaryMask: fc.nat(31),
      rFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      prFraction: fc.double({ min: 0, max: 1, noNaN: true }),
      failMask: fc.nat(31),
      answerPicks: fc.array(fc.nat(10), { minLength: 10, maxLength: 10 }),
    })
    fc.assert(fc.property(asking, ({ targets, primaryMask, rFraction, prFraction, failMask, answerPicks }) => {
      const primaries = new Set(targets.filter((_, i) => (primaryMask >> i) & 1))
      const r = 1 + Math.floor(rFraction * targets.length)
      const pr = Math.floor(prFraction * (primaries.size + 1))
      const fails = new Set(targets.filter((_, i) => (failMask >> i) & 1))
      const quorum = new ReadQuorum({ targets, primaries, r, pr, merge: mergeObjects })
      const outstanding = quorum.askNext(targets)
      if (quorum.status() === 'pending') {
        expect(outstanding.length).toBe(Math.max(r, pr))
        expect(outstanding.filter((t) => primaries.has(t)).length).toBeGreaterThanOrEqual(pr)
      }
      // Answers arrive in an arbitrary order; each one may make the coordinator ask more.
      for (let step = 0; outstanding.length > 0; step++) {
        const [from] = outstanding.splice((answerPicks[step % answerPicks.length] ?? 0) % outstanding.length, 1) as [NodeId]
        quorum.add(from, fails.has(from) ? { kind: 'failed' } : { kind: 'missing' })
        outstanding.push(...quorum.askNext(targets))
      }
      const healthy = targets.filter((t) => !fails.has(t))
      const reachable = healthy.length >= r && healthy.filter((t) => primaries.has(t)).length >= pr
      expect(quorum.status()).toBe(reachable ? 'satisfied' : 'failed')
      expect(quorum.complete).toBe(true)
      expect(quorum.askRest(targets)).toEqual([])
    }))
  })

  it('a failed answer is no answer: r=2 with one failure and one missing is still pending', () => {
    const [a, b, c] = ids as [NodeId, NodeId, NodeId]
    const quorum = new ReadQuorum({ targets: [a, b, c], primaries: new Set([a, b, c]), r: 2, pr: 0, merge: mergeObjects })
    quorum.add(a, { kind: 'failed' })
    quorum.add(b, { kind: 'missing' })
    expect(quorum.status()).toBe('pending')
    quorum.add(c, { kind: 'failed' })
    expect(quorum.status()).toBe('failed')
  })
})
