import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Suspicion, expectedConfirmations, suspicionTimeoutMinMs, suspicionTimeoutMs } from '../../../src/core/membership/suspicion.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'

function suspicion(minMs: number, maxMs: number, expected: number): Suspicion {
  return new Suspicion({
    suspect: nodeId('s'), generation: 1, incarnation: 0, accuser: nodeId('a0'), startedAtMs: 1_000,
    minTimeoutMs: minMs, maxTimeoutMs: maxMs, expectedConfirmations: expected,
  })
}

describe('Lifeguard suspicion timeout', () => {
  it('min = multiplier · max(1, log₁₀ n) · probe interval', () => {
    expect(suspicionTimeoutMinMs(4, 1, 1_000)).toBe(4_000)
    expect(suspicionTimeoutMinMs(4, 10, 1_000)).toBe(4_000)
    expect(suspicionTimeoutMinMs(4, 100, 1_000)).toBe(8_000)
    expect(expectedConfirmations(4, 10)).toBe(2)
    expect(expectedConfirmations(4, 3)).toBe(1)
    expect(expectedConfirmations(4, 2)).toBe(0)
  })

  it('starts at max, stays within [min, max], and shrinks monotonically to min at k confirmations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 10 }), fc.integer({ min: 0, max: 8 }), (minMs, multiplier, expected) => {
        const maxMs = minMs * multiplier
        const timer = suspicion(minMs, maxMs, expected)
        let previous = timer.timeoutMs()
        expect(previous).toBe(expected === 0 ? minMs : maxMs)
        for (let i = 1; i <= expected + 3; i++) {
          timer.confirm(nodeId(`a${i}`))
          const timeout = timer.timeoutMs()
          expect(timeout).toBeLessThanOrEqual(previous)
          expect(timeout).toBeGreaterThanOrEqual(minMs)
          expect(timeout).toBeLessThanOrEqual(maxMs)
          previous = timeout
        }
        expect(timer.timeoutMs()).toBe(minMs)
        expect(timer.confirmations).toBe(expected)
      }),
    )
  })

  it('counts only new, independent accusers', () => {
    const timer = suspicion(1_000, 6_000, 2)
    expect(timer.confirm(nodeId('a0'))).toBe(false) // the original accuser
    expect(timer.confirm(nodeId('a1'))).toBe(true)
    expect(timer.confirm(nodeId('a1'))).toBe(false)
    expect(timer.timeoutMs()).toBe(suspicionTimeoutMs(1_000, 6_000, 1, 2))
    expect(timer.timeoutMs()).toBeLessThan(6_000)
    expect(timer.confirm(nodeId('a2'))).toBe(true)
    expect(timer.confirm(nodeId('a3'))).toBe(false) // no more expected
    expect(timer.deadlineMs()).toBe(2_000)
    expect(timer.isExpired(1_999)).toBe(false)
    expect(timer.isExpired(2_000)).toBe(true)
  })

  it('strong evidence caps the timeout, even below the minimum', () => {
    const timer = suspicion(4_000, 24_000, 2)
    timer.capTimeout(1_000)
    expect(timer.timeoutMs()).toBe(1_000)
    timer.capTimeout(5_000)
    expect(timer.timeoutMs()).toBe(1_000)
  })
})
