/**
 * The write quorum against a naive reference: "failed" is defined by brute force as "no way of answering the
 * outstanding targets reaches the quorum", rather than by the counting formula the implementation uses.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import type { NodeId } from '../../../src/core/primitives/ids.ts'
import type { QuorumStatus, WriteReply } from '../../../src/core/replication/write-quorum.ts'
import { WriteQuorum } from '../../../src/core/replication/write-quorum.ts'

const ids = ['a', 'b', 'c', 'd', 'e', 'f'].map(nodeId)

function naiveStatus(targets: readonly NodeId[], primaries: ReadonlySet<NodeId>, w: number, pw: number, replies: ReadonlyMap<NodeId, WriteReply>): QuorumStatus {
  const met = (answers: ReadonlyMap<NodeId, WriteReply>): boolean => {
    const acks = targets.filter((t) => answers.get(t) === 'ack')
    return acks.length >= w && acks.filter((t) => primaries.has(t)).length >= pw
  }
  if (met(replies)) return 'satisfied'
  const outstanding = targets.filter((t) => !replies.has(t))
  for (let mask = 0; mask < 1 << outstanding.length; mask++) {
    const completed = new Map(replies)
    outstanding.forEach((t, i) => completed.set(t, (mask >> i) & 1 ? 'ack' : 'nack'))
    if (met(completed)) return 'pending'
  }
  return 'failed'
}

const scenario = fc
  .shuffledSubarray(ids, { minLength: 1 })
  .chain((targets) => fc.record({
    targets: fc.constant(targets),
    primaries: fc.subarray(targets),
    w: fc.integer({ min: 1, max: targets.length }),
    pwFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    replies: fc.array(fc.tuple(fc.constantFrom(...ids), fc.constantFrom<WriteReply>('ack', 'nack')), { maxLength: 12 }),
  }))

describe('WriteQuorum', () => {
  it('agrees with the brute-force reference after every reply, and its outcomes are final', () => {
    fc.assert(fc.property(scenario, ({ targets, primaries, w, pwFraction, replies }) => {
      const primarySet = new Set(primaries)
      const pw = Math.floor(pwFraction * (primarySet.size + 1))
      const quorum = new WriteQuorum({ targets, primaries: primarySet, w, pw })
      const seen = new Map<NodeId, WriteReply>()
      let previous: QuorumStatus = naiveStatus(targets, primarySet, w, pw, seen)
      expect(quorum.status()).toBe(previous)
      for (const [from, reply] of replies) {
        quorum.add(from, reply)
        if (targets.includes(from) && !seen.has(from)) seen.set(from, reply)
        const status = quorum.status()
        expect(status).toBe(naiveStatus(targets, primarySet, w, pw, seen))
        if (previous !== 'pending') expect(status).toBe(previous)
        previous = status
      }
      const outcome = quorum.outcome()
      expect(outcome.acknowledged).toBe([...seen.values()].filter((r) => r === 'ack').length)
      expect(outcome.acknowledgedPrimaries).toBe([...seen].filter(([t, r]) => r === 'ack' && primarySet.has(t)).length)
    }))
  })

  it('fails fast: w=all with one replica refusing is failed at once, not at the deadline', () => {
    const [a, b, c] = ids as [NodeId, NodeId, NodeId]
    const quorum = new WriteQuorum({ targets: [a, b, c], primaries: new Set([a, b, c]), w: 3, pw: 0 })
    quorum.add(a, 'ack')
    expect(quorum.status()).toBe('pending')
    quorum.add(b, 'nack')
    expect(quorum.status()).toBe('failed')
    expect(quorum.outcome()).toMatchObject({ required: 3, acknowledged: 1 })
  })

  it('pw counts only primaries: fallback acks satisfy w but not pw', () => {
    const [a, b, c] = ids as [NodeId, NodeId, NodeId]
    const quorum = new WriteQuorum({ targets: [a, b, c], primaries: new Set([a]), w: 2, pw: 2 })
    quorum.add(b, 'ack')
    quorum.add(c, 'ack')
    expect(quorum.status()).toBe('failed')
    expect(quorum.outcome()).toMatchObject({ acknowledged: 2, acknowledgedPrimaries: 0 })
  })
})
