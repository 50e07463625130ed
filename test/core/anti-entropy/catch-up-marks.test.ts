/**
 * Catch-up high-water marks (catch-up-marks.ts): marks only rise, unknown marks are 0, and the persisted record
 * round-trips; a corrupt or hostile record is refused as a whole (every mark stays where it was), never half-read.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CatchUpMarks, decodeMarks, encodeMarks } from '../../../src/core/anti-entropy/catch-up-marks.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import type { NodeId } from '../../../src/core/primitives/ids.ts'

const peer = fc.constantFrom('n1', 'n2', 'n3').map(nodeId)
const raise = fc.record({ peer, partition: fc.nat(7), seq: fc.nat(1_000) })

describe('CatchUpMarks', () => {
  it('a mark is the maximum ever raised to (a naive model agrees), and survives encode → restore', () => {
    fc.assert(fc.property(fc.array(raise, { maxLength: 60 }), (raises) => {
      const marks = new CatchUpMarks()
      const model = new Map<string, number>()
      for (const { peer: p, partition, seq } of raises) {
        marks.raise(p, partition, seq)
        model.set(`${p}/${partition}`, Math.max(model.get(`${p}/${partition}`) ?? 0, seq))
      }
      const restored = new CatchUpMarks()
      const record = marks.takeChanged()
      if (record !== null) expect(restored.restore(record)).toBe(true)
      for (const p of ['n1', 'n2', 'n3'].map(nodeId)) {
        for (let partition = 0; partition < 8; partition++) {
          const expected = model.get(`${p}/${partition}`) ?? 0
          expect(marks.get(p, partition)).toBe(expected)
          expect(restored.get(p, partition)).toBe(expected)
        }
      }
    }))
  })

  it('restoring never lowers a mark learned since the start', () => {
    const marks = new CatchUpMarks()
    marks.raise(nodeId('n1'), 3, 50)
    expect(marks.restore(encodeMarks(new Map<NodeId, Map<number, number>>([[nodeId('n1'), new Map([[3, 10], [4, 7]])]])))).toBe(true)
    expect(marks.get(nodeId('n1'), 3)).toBe(50)
    expect(marks.get(nodeId('n1'), 4)).toBe(7)
  })

  it('takeChanged hands out a record only after a change, and again after a failed write', () => {
    const marks = new CatchUpMarks()
    expect(marks.takeChanged()).toBeNull()
    marks.raise(nodeId('n2'), 0, 1)
    expect(marks.takeChanged()).not.toBeNull()
    expect(marks.takeChanged()).toBeNull()
    marks.raise(nodeId('n2'), 0, 1)
    expect(marks.takeChanged()).toBeNull()
    marks.persistFailed()
    expect(marks.takeChanged()).not.toBeNull()
  })

  it('refuses malformed records whole', () => {
    const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
    const bad = [
      new Uint8Array([0xff, 0xfe]),
      encode(null),
      encode({ v: 2, peers: {} }),
      encode({ v: 1, peers: [] }),
      encode({ v: 1, peers: { n1: [[0, -1]] } }),
      encode({ v: 1, peers: { n1: [[0, 1.5]] } }),
      encode({ v: 1, peers: { n1: [[0]] } }),
      encode({ v: 1, peers: { '': [[0, 1]] } }),
    ]
    for (const record of bad) {
      expect(decodeMarks(record)).toBeNull()
      const marks = new CatchUpMarks()
      marks.raise(nodeId('n1'), 0, 5)
      expect(marks.restore(record)).toBe(false)
      expect(marks.get(nodeId('n1'), 0)).toBe(5)
    }
  })
})
