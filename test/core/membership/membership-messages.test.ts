/**
 * The size estimate must be an upper bound on the real encoding, or the dissemination queue builds datagrams
 * the network drops. The wire codec is the lead's; until it exists, check against msgpackr directly, both as
 * plain maps and with its record extension.
 */
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { estimateEncodedBytes } from '../../../src/core/membership/membership-messages.ts'
import type { MemberUpdate, MembershipMessage } from '../../../src/core/membership/membership-messages.ts'
import { nodeId, peerAddress } from '../../../src/core/primitives/ids.ts'

const text = fc.string({ unit: 'binary', maxLength: 60 })
const count = fc.oneof(fc.integer({ min: 0, max: 2 ** 31 }), fc.maxSafeInteger())

const arbitraryUpdate: fc.Arbitrary<MemberUpdate> = fc
  .record({
    kind: fc.constantFrom('alive' as const, 'suspect' as const, 'dead' as const, 'left' as const),
    node: text.map(nodeId),
    address: text.map(peerAddress),
    generation: count,
    incarnation: count,
    metadata: fc.record({ httpAddress: text, zone: text, partitions: count, protocolVersion: count }),
    accuser: text.map(nodeId),
  })
  .map(({ kind, accuser, ...fields }) => (kind === 'suspect' || kind === 'dead' ? { kind, ...fields, accuser } : { kind, ...fields }))

const arbitraryMessage: fc.Arbitrary<MembershipMessage> = fc.oneof(
  fc.record({ kind: fc.constant('swim-ping' as const), seq: count, from: text.map(nodeId), target: text.map(nodeId), updates: fc.array(arbitraryUpdate, { maxLength: 8 }) }),
  fc.record({ kind: fc.constant('swim-nack' as const), seq: count, from: text.map(nodeId), target: text.map(nodeId), refused: fc.boolean(), updates: fc.array(arbitraryUpdate, { maxLength: 8 }) }),
  fc.record({ kind: fc.constant('swim-push-pull-request' as const), from: text.map(nodeId), join: fc.boolean(), members: fc.array(arbitraryUpdate, { maxLength: 20 }) }),
)

describe('estimateEncodedBytes', () => {
  it('is an upper bound on msgpackr encoding, with and without records', () => {
    const plain = new Packr({ useRecords: false })
    fc.assert(
      fc.property(arbitraryMessage, (message) => {
        const estimate = estimateEncodedBytes(message)
        expect(plain.pack(message).length).toBeLessThanOrEqual(estimate)
        expect(new Packr({ useRecords: true }).pack(message).length).toBeLessThanOrEqual(estimate)
      }),
      { numRuns: 300 },
    )
  })
})
