import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { PHI_MAX, PhiAccrualDetector, phiOf } from '../../../src/core/membership/phi-accrual-detector.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'

const peer = nodeId('peer')

function detectorWith(intervalsMs: number[], options: Partial<ConstructorParameters<typeof PhiAccrualDetector>[0]> = {}) {
  const detector = new PhiAccrualDetector({ windowSize: 100, minStdDevMs: 50, minIntervalMs: 0, acceptablePauseMs: 0, ...options })
  let nowMs = 1_000
  detector.heartbeat(peer, nowMs)
  for (const intervalMs of intervalsMs) {
    nowMs += intervalMs
    detector.heartbeat(peer, nowMs)
  }
  return { detector, lastMs: nowMs }
}

const intervals = fc.array(fc.integer({ min: 1, max: 5_000 }), { minLength: 8, maxLength: 60 })

describe('PhiAccrualDetector', () => {
  it('φ never decreases as silence grows', () => {
    fc.assert(
      fc.property(intervals, fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 }), (history, a, b) => {
        const { detector, lastMs } = detectorWith(history)
        const [early, late] = a <= b ? [a, b] : [b, a]
        expect(detector.phi(peer, lastMs + late)).toBeGreaterThanOrEqual(detector.phi(peer, lastMs + early))
      }),
    )
  })

  it('φ is finite and within [0, PHI_MAX] for any history and silence', () => {
    fc.assert(
      fc.property(intervals, fc.double({ min: 0, max: 1e15, noNaN: true }), (history, silenceMs) => {
        const { detector, lastMs } = detectorWith(history)
        const phi = detector.phi(peer, lastMs + silenceMs)
        expect(Number.isFinite(phi)).toBe(true)
        expect(phi).toBeGreaterThanOrEqual(0)
        expect(phi).toBeLessThanOrEqual(PHI_MAX)
      }),
    )
  })

  it('phiOf clamps extreme inputs instead of returning NaN or Infinity', () => {
    for (const [silence, mean, sd] of [[1e300, 1, 1], [0, 1e300, 1], [Infinity, 1, 1], [5, 5, 1e-300]] as const) {
      const phi = phiOf(silence, mean, sd)
      expect(Number.isNaN(phi)).toBe(false)
      expect(phi).toBeGreaterThanOrEqual(0)
      expect(phi).toBeLessThanOrEqual(PHI_MAX)
    }
  })

  it('the std-dev floor keeps one late heartbeat from a perfectly regular peer below the threshold', () => {
    const regular = Array.from({ length: 50 }, () => 1_000)
    const floored = detectorWith(regular, { minStdDevMs: 250 })
    const unfloored = detectorWith(regular, { minStdDevMs: 1 })
    // 500 ms late: with no floor the zero spread makes this a certainty; with a 250 ms floor it is 2σ.
    expect(unfloored.detector.phi(peer, unfloored.lastMs + 1_500)).toBeGreaterThan(8)
    expect(floored.detector.phi(peer, floored.lastMs + 1_500)).toBeLessThan(3)
  })

  it('φ is about 0.3 at the mean and crosses 8 a few deviations later', () => {
    const { detector, lastMs } = detectorWith(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 900 : 1_100)), { minStdDevMs: 100 })
    expect(detector.phi(peer, lastMs + 1_000)).toBeCloseTo(0.3, 1)
    expect(detector.phi(peer, lastMs + 1_400)).toBeLessThan(8)
    expect(detector.phi(peer, lastMs + 1_700)).toBeGreaterThan(8)
  })

  it('is 0 until the window holds enough intervals, and bounded by the window size', () => {
    const young = detectorWith([1_000, 1_000, 1_000])
    expect(young.detector.phi(peer, young.lastMs + 60_000)).toBe(0)
    // A window of 10 forgets the slow start: only the last 10 fast intervals count.
    const { detector, lastMs } = detectorWith([...Array.from({ length: 30 }, () => 10_000), ...Array.from({ length: 10 }, () => 100)], { windowSize: 10, minStdDevMs: 10 })
    expect(detector.phi(peer, lastMs + 1_000)).toBeGreaterThan(8)
  })

  it('merges arrivals in one burst and honours the acceptable pause', () => {
    const bursty = new PhiAccrualDetector({ windowSize: 100, minStdDevMs: 50, minIntervalMs: 100, acceptablePauseMs: 0 })
    let nowMs = 0
    for (let i = 0; i < 20; i++) {
      nowMs += 1_000
      bursty.heartbeat(peer, nowMs)
      bursty.heartbeat(peer, nowMs + 1) // the ack's gossip, one millisecond later
    }
    expect(bursty.phi(peer, nowMs + 1 + 1_000)).toBeLessThan(1)
    const patient = detectorWith(Array.from({ length: 20 }, () => 1_000), { acceptablePauseMs: 2_000 })
    expect(patient.detector.phi(peer, patient.lastMs + 2_500)).toBeLessThan(1)
  })

  it('refuses time going backwards', () => {
    const { detector, lastMs } = detectorWith([10, 10])
    expect(() => detector.heartbeat(peer, lastMs - 1)).toThrow(/back in time/)
  })
})
