/**
 * The compact wire form of SWIM messages and the placement digest (compact-membership-codec.ts): those kinds go
 * as positional arrays, every other kind stays a map, both forms of these kinds decode, and a malformed array is
 * a typed schema error like any other bad input. The round trip of every kind, and fuzzing of mutated encodings,
 * are in wire-codec.test.ts; this file pins the form and the sizes that the gossip-bytes budget relies on.
 */
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import type { MemberUpdate, MembershipMessage } from '../../src/core/membership/membership-messages.ts'
import type { Message } from '../../src/core/node/message.ts'
import { nodeId, peerAddress } from '../../src/core/primitives/ids.ts'
import { compactMessage } from '../../src/transport/compact-membership-codec.ts'
import { decodeMessage, encodeMessage, WIRE_VERSION } from '../../src/transport/wire-codec.ts'
import { messageArbitraries } from './message-arbitraries.ts'

const rawPackr = new Packr({ useRecords: false, mapsAsObjects: true })
const withVersion = (value: unknown): Uint8Array => Uint8Array.from([WIRE_VERSION, ...rawPackr.pack(value)])
const body = (bytes: Uint8Array): unknown => rawPackr.unpack(bytes.subarray(1))

const compactKinds = [
  'swim-ping', 'swim-ack', 'swim-ping-req', 'swim-nack', 'swim-indirect-ack', 'swim-gossip',
  'swim-push-pull-request', 'swim-push-pull-response', 'placement-digest',
] as const

function member(index: number, kind: MemberUpdate['kind'] = 'alive'): MemberUpdate {
  const identity = {
    node: nodeId(`node-${index}`),
    address: peerAddress(`10.213.17.${index}:7946`),
    generation: 1_764_380_000 + index,
    incarnation: index % 3,
    metadata: { httpAddress: `10.213.17.${index}:8080`, zone: '', partitions: 256, protocolVersion: 1 },
  }
  return kind === 'suspect' || kind === 'dead' ? { kind, ...identity, accuser: nodeId('node-1') } : { kind, ...identity }
}

const ping: Message = { kind: 'swim-ping', seq: 1_234, from: nodeId('node-1'), target: nodeId('node-3'), updates: [] }

describe('compact membership wire form', () => {
  for (const kind of compactKinds) {
    it(`sends ${kind} as an array and decodes it back`, () => {
      fc.assert(
        fc.property(messageArbitraries[kind] as fc.Arbitrary<Message>, (message) => {
          const bytes = encodeMessage(message)
          expect(Array.isArray(body(bytes))).toBe(true)
          expect(decodeMessage(bytes)).toEqual({ ok: true, value: message })
        }),
        { numRuns: 200, seed: 31 },
      )
    })

    it(`still decodes the map form of ${kind}`, () => {
      fc.assert(
        fc.property(messageArbitraries[kind] as fc.Arbitrary<Message>, (message) => {
          expect(decodeMessage(withVersion(message))).toEqual({ ok: true, value: message })
        }),
        { numRuns: 100, seed: 32 },
      )
    })
  }

  it('leaves every other kind a map', () => {
    expect(compactMessage({ kind: 'echo', from: nodeId('a'), seq: 1, payload: new Uint8Array(0) })).toBeNull()
    expect(Array.isArray(body(encodeMessage({ kind: 'echo', from: nodeId('a'), seq: 1, payload: new Uint8Array(0) })))).toBe(false)
  })

  it('makes a ping about a third of its map form, and a push-pull member about a third too', () => {
    expect(encodeMessage(ping).length).toBeLessThanOrEqual(24)
    expect(withVersion(ping).length).toBeGreaterThanOrEqual(55)
    const members = Array.from({ length: 10 }, (_, index) => member(index + 1))
    const pushPull: MembershipMessage = { kind: 'swim-push-pull-request', from: nodeId('node-1'), join: false, members }
    expect(encodeMessage(pushPull).length).toBeLessThan(withVersion(pushPull).length * 0.4)
  })

  it('carries the accuser of suspect and dead updates only', () => {
    const updates = (['alive', 'suspect', 'dead', 'left'] as const).map((kind, index) => member(index + 2, kind))
    const gossip: Message = { kind: 'swim-gossip', from: nodeId('node-1'), updates }
    const compact = body(encodeMessage(gossip)) as [number, string, unknown[][]]
    expect(compact[2].map((update) => update.length)).toEqual([9, 10, 10, 9])
    expect(decodeMessage(encodeMessage(gossip))).toEqual({ ok: true, value: gossip })
  })

  it('turns malformed arrays into schema errors', () => {
    const update = [0, 'node-2', '10.0.0.2:7946', 5, 0, '10.0.0.2:8080', '', 256, 1]
    const hostile: unknown[] = [
      [],
      [0, 1, 'a', 'b', []],
      [99, 1, 'a', 'b', []],
      ['swim-ping', 1, 'a', 'b', []],
      [1, 1, 'node-1', 'node-3'],
      [1, 1, 'node-1', 'node-3', [], 'extra'],
      [1, 1, 'node-1', 'node-3', 'not-an-array'],
      [1, 1, 'node-1', 'node-3', [{ kind: 'alive' }]],
      [1, 1, 'node-1', 'node-3', [[7, ...update.slice(1)]]],
      [1, 1, 'node-1', 'node-3', [[1, ...update.slice(1)]]],
      [1, 1, 'node-1', 'node-3', [[...update, 'accuser-of-an-alive']]],
      [1, 'seq', 'node-1', 'node-3', [update]],
      [9, 'node-1', 3, null, 'digest'],
      [9, 'node-1', null, 3, 'digest'],
      [7, 'node-1', false, Array.from({ length: 16_385 }, () => update)],
    ]
    for (const value of hostile) {
      const decoded = decodeMessage(withVersion(value))
      expect(decoded.ok, JSON.stringify(value).slice(0, 80)).toBe(false)
      if (!decoded.ok) expect(decoded.error.reason).toBe('schema')
    }
    expect(decodeMessage(withVersion([1, 1, 'node-1', 'node-3', [update]])).ok).toBe(true)
  })
})
