import { describe, expect, it } from 'vitest'
import { check } from '../../scripts/chaos/checker.ts'
import type { FinalRead } from '../../scripts/chaos/checker.ts'
import type { HistoryEvent, ReadResult } from '../../scripts/chaos/history.ts'

/** A tiny builder so each case reads like the history it stands for. */
class History {
  readonly events: HistoryEvent[] = []
  private id = 1
  private clock = 0

  put(key: string, value: string, outcome: 'ok' | 'fail', contextFrom: number | null = null): number {
    const id = this.id++
    this.events.push({ type: 'invoke', id, client: 0, node: 'n1', op: 'put', key, value, context: contextFrom === null ? null : `ctx${contextFrom}`, contextFrom, atMs: this.clock++ })
    this.events.push({ type: 'complete', id, outcome, atMs: this.clock++ })
    return id
  }

  del(key: string, contextFrom: number, outcome: 'ok' | 'fail' = 'ok'): number {
    const id = this.id++
    this.events.push({ type: 'invoke', id, client: 0, node: 'n1', op: 'delete', key, context: `ctx${contextFrom}`, contextFrom, atMs: this.clock++ })
    this.events.push({ type: 'complete', id, outcome, atMs: this.clock++ })
    return id
  }

  get(key: string, values: string[]): number {
    const id = this.id++
    this.events.push({ type: 'invoke', id, client: 0, node: 'n1', op: 'get', key, atMs: this.clock++ })
    this.events.push({ type: 'complete', id, outcome: 'ok', read: result(values, `ctx${id}`), atMs: this.clock++ })
    return id
  }
}

function result(values: string[], context: string | null = 'final'): ReadResult {
  return { kind: values.length === 0 ? 'not-found' : values.length === 1 ? 'value' : 'siblings', values, context }
}

function finals(key: string, values: string[], nodes = ['n1', 'n2', 'n3']): FinalRead[] {
  return nodes.map((node) => ({ key, node, read: result(values) }))
}

describe('chaos checker', () => {
  it('passes a clean history with siblings, a read-modify-write and a delete', () => {
    const h = new History()
    h.put('a', 'a1', 'ok')
    h.put('a', 'a2', 'ok')
    const read = h.get('a', ['a1', 'a2'])
    h.put('a', 'a3', 'ok', read)
    h.put('b', 'b1', 'ok')
    const readB = h.get('b', ['b1'])
    h.del('b', readB)
    const outcome = check(h.events, [...finals('a', ['a3']), ...finals('b', [])])
    expect(outcome.violations).toEqual([])
    expect(outcome.acknowledged).toBe(5)
    expect(outcome.siblingsSeen).toBe(1)
  })

  it('reports an acknowledged write missing from the final state', () => {
    const h = new History()
    h.put('a', 'a1', 'ok')
    h.put('a', 'a2', 'ok')
    const outcome = check(h.events, finals('a', ['a1']))
    expect(outcome.lost.map((lost) => lost.value)).toEqual(['a2'])
    expect(outcome.violations).toContain('1 acknowledged writes lost')
  })

  it('reports loss even when only one node misses the write', () => {
    const h = new History()
    h.put('a', 'a1', 'ok')
    const outcome = check(h.events, [...finals('a', ['a1'], ['n1', 'n2']), { key: 'a', node: 'n3', read: result([]) }])
    expect(outcome.lost[0]?.missingOn).toEqual(['n3'])
    expect(outcome.disagreements).toEqual(['a'])
  })

  it('does not excuse a loss with a write whose read had not seen the lost value', () => {
    const h = new History()
    const early = h.get('a', [])
    h.put('a', 'a1', 'ok')
    h.put('a', 'a2', 'ok', early)
    expect(check(h.events, finals('a', ['a2'])).lost.map((lost) => lost.value)).toEqual(['a1'])
  })

  it('treats failed writes as indeterminate: they may appear or not', () => {
    const h = new History()
    h.put('a', 'a1', 'fail')
    h.put('b', 'b1', 'fail')
    const outcome = check(h.events, [...finals('a', ['a1']), ...finals('b', [])])
    expect(outcome.violations).toEqual([])
    expect(outcome.indeterminate).toBe(2)
    expect(outcome.indeterminateSeen).toBe(1)
  })

  it('lets an indeterminate covering write excuse a missing value', () => {
    const h = new History()
    h.put('a', 'a1', 'ok')
    const read = h.get('a', ['a1'])
    h.del('a', read, 'fail')
    expect(check(h.events, finals('a', [])).violations).toEqual([])
  })

  it('reports a value that was never written, during the run and at the end', () => {
    const h = new History()
    h.put('a', 'a1', 'ok')
    h.get('a', ['a1', 'ghost'])
    const outcome = check(h.events, finals('a', ['a1', 'phantom']))
    expect(outcome.neverWritten.map((finding) => finding.value)).toEqual(['ghost', 'phantom', 'phantom', 'phantom'])
  })

  it('reports a false sibling: a value beside the write that replaced it', () => {
    const h = new History()
    h.put('a', 'a1', 'ok')
    const read = h.get('a', ['a1'])
    h.put('a', 'a2', 'ok', read)
    h.get('a', ['a1', 'a2'])
    const outcome = check(h.events, finals('a', ['a2']))
    expect(outcome.falseSiblings).toHaveLength(1)
    expect(outcome.falseSiblings[0]?.value).toBe('a1')
  })

  it('reports a false sibling through a chain of replacements', () => {
    const h = new History()
    h.put('a', 'a1', 'ok')
    const r1 = h.get('a', ['a1'])
    h.put('a', 'a2', 'ok', r1)
    const r2 = h.get('a', ['a2'])
    h.put('a', 'a3', 'ok', r2)
    const outcome = check(h.events, finals('a', ['a1', 'a3']))
    expect(outcome.falseSiblings.length).toBeGreaterThan(0)
    expect(outcome.resurrected.map((finding) => finding.value)).toContain('a1')
  })

  it('ignores drop events, so values dropped by --drop-acked count as lost', () => {
    const h = new History()
    h.put('a', 'a1', 'ok')
    h.events.push({ type: 'drop', key: 'a', values: ['a1'], atMs: 100 })
    expect(check(h.events, finals('a', [])).lost).toHaveLength(1)
  })

  it('counts success only for operations outside fault windows', () => {
    const h = new History()
    h.put('a', 'a1', 'ok') // atMs 0..1
    h.put('a', 'a2', 'fail') // atMs 2..3, inside the fault
    h.events.push({ type: 'fault', kind: 'kill', nodes: ['n2'], startMs: 2, endMs: 3 })
    expect(check(h.events, finals('a', ['a1'])).outsideFaults).toEqual({ total: 1, ok: 1 })
  })

  it('counts an LWW write beaten by an older one as an expected loss, not a violation', () => {
    const h = new History()
    h.put('lww-0', 'x1', 'ok') // acknowledged at 1
    h.put('lww-0', 'x2', 'ok') // began at 2, after x1 was acknowledged: under LWW it should win
    h.get('lww-0', ['x1']) // began after x2 was acknowledged, and still saw x1: a skewed clock stamped x2 older
    const outcome = check(h.events, finals('lww-0', ['x1']))
    expect(outcome.lwwLost.map((finding) => finding.value)).toEqual(['x2'])
    expect(outcome.lwwAcknowledged).toBe(2)
    expect(outcome.lost).toEqual([])
    expect(outcome.violations).toEqual([])
  })

  it('does not count concurrent LWW writes, and keeps never-written values and disagreement as violations', () => {
    const h = new History()
    h.events.push({ type: 'invoke', id: 101, client: 0, node: 'n1', op: 'put', key: 'lww-1', value: 'y1', context: null, contextFrom: null, atMs: 0 })
    h.events.push({ type: 'invoke', id: 102, client: 1, node: 'n2', op: 'put', key: 'lww-1', value: 'y2', context: null, contextFrom: null, atMs: 1 })
    h.events.push({ type: 'complete', id: 101, outcome: 'ok', atMs: 2 })
    h.events.push({ type: 'complete', id: 102, outcome: 'ok', atMs: 3 })
    const concurrent = check(h.events, finals('lww-1', ['y1']))
    expect(concurrent.lwwLost).toEqual([])
    expect(concurrent.violations).toEqual([])
    const bad = check(h.events, [...finals('lww-1', ['y1'], ['n1', 'n2']), { key: 'lww-1', node: 'n3', read: result(['ghost']) }])
    expect(bad.neverWritten.map((finding) => finding.value)).toEqual(['ghost'])
    expect(bad.disagreements).toEqual(['lww-1'])
  })
})
