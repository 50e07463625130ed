/**
 * The hybrid logical clock under wall-clock jumps of up to ±10 s, and last-write-wins merges that must pick the
 * same winner on every replica whatever order the merges happen in.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { makeActor } from '../../../src/core/versioning/actor.ts'
import { emptyObject } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import type { DottedVersionVectorSet, Sibling } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import {
  compareHlcTimestamps,
  HybridLogicalClock,
  MAX_HLC_LOGICAL,
} from '../../../src/core/versioning/hybrid-logical-clock.ts'
import type { HlcTimestamp } from '../../../src/core/versioning/hybrid-logical-clock.ts'
import {
  compareLastWriteWins,
  lastWriteWinner,
  mergeLastWriteWins,
  updateLastWriteWins,
} from '../../../src/core/versioning/last-write-wins.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'

const start = 1_700_000_000_000
const jumpArb = fc.integer({ min: -10_000, max: 10_000 })

type ClockStep = { readonly clock: number; readonly jumpMs: number; readonly observeFrom: number | null }

const stepsArb = fc.array(
  fc.record({ clock: fc.nat({ max: 2 }), jumpMs: jumpArb, observeFrom: fc.option(fc.nat({ max: 2 }), { nil: null }) }),
  { minLength: 1, maxLength: 200, size: 'max' },
)

describe('hybrid logical clock', () => {
  it('is strictly monotonic, never behind the wall clock, and after everything it observed, under ±10 s jumps', () => {
    fc.assert(
      fc.property(stepsArb, (steps: ClockStep[]) => {
        const clocks = [0, 1, 2].map(() => new HybridLogicalClock())
        const walls = [start, start + 3, start - 5]
        const maxSeenPhysical = [0, 0, 0]
        for (const step of steps) {
          const clock = clocks[step.clock] as HybridLogicalClock
          walls[step.clock] = (walls[step.clock] as number) + step.jumpMs
          const wall = walls[step.clock] as number
          const before = clock.last
          const remote = step.observeFrom === null ? null : (clocks[step.observeFrom] as HybridLogicalClock).last
          const observation = remote === null ? null : clock.observe(remote, wall)
          const timestamp = observation === null ? clock.now(wall) : observation.timestamp
          expect(compareHlcTimestamps(timestamp, before)).toBeGreaterThan(0)
          expect(timestamp.physicalMs).toBeGreaterThanOrEqual(wall)
          const absorbed = observation?.kind === 'observed' ? (remote as HlcTimestamp) : null
          if (absorbed !== null) expect(compareHlcTimestamps(timestamp, absorbed)).toBeGreaterThan(0)
          // Random walks drift apart; beyond the bound the remote timestamp is refused, and the outcome says so.
          if (observation?.kind === 'remote-too-far-ahead') expect(observation.aheadMs).toBeGreaterThan(60_000)
          // Stays close to real time: never ahead of the largest wall reading or absorbed timestamp it has seen.
          maxSeenPhysical[step.clock] = Math.max(maxSeenPhysical[step.clock] as number, wall, absorbed?.physicalMs ?? 0)
          expect(timestamp.physicalMs).toBeLessThanOrEqual(maxSeenPhysical[step.clock] as number)
        }
      }),
      { seed: 0x41c, numRuns: 300 },
    )
  })

  it('does not absorb a remote timestamp beyond the drift bound, and says so', () => {
    const clock = new HybridLogicalClock({ maxForwardDriftMs: 1_000 })
    const outcome = clock.observe({ physicalMs: start + 5_000, logical: 0 }, start)
    expect(outcome.kind).toBe('remote-too-far-ahead')
    expect(outcome.timestamp.physicalMs).toBe(start)
    expect(clock.observe({ physicalMs: start + 500, logical: 7 }, start).timestamp).toEqual({ physicalMs: start + 500, logical: 8 })
  })

  it('borrows the next millisecond instead of overflowing the logical counter', () => {
    const clock = new HybridLogicalClock(undefined, { physicalMs: start, logical: MAX_HLC_LOGICAL })
    expect(clock.now(start - 1)).toEqual({ physicalMs: start + 1, logical: 0 })
  })
})

type LwwOp =
  | { readonly kind: 'write'; readonly replica: number; readonly jumpMs: number; readonly tombstone: boolean }
  | { readonly kind: 'merge'; readonly from: number; readonly to: number }

const lwwOpsArb = fc.array(
  fc.oneof(
    fc.record({ kind: fc.constant('write' as const), replica: fc.nat({ max: 4 }), jumpMs: jumpArb, tombstone: fc.boolean() }),
    fc.record({ kind: fc.constant('merge' as const), from: fc.nat({ max: 4 }), to: fc.nat({ max: 4 }) }),
  ),
  { minLength: 1, maxLength: 60, size: 'max' },
)

function runLww(nodeCount: number, ops: readonly LwwOp[]): { replicas: DottedVersionVectorSet[]; written: Sibling[] } {
  const replicas: DottedVersionVectorSet[] = Array.from({ length: nodeCount }, () => emptyObject)
  const clocks = replicas.map(() => new HybridLogicalClock())
  const walls = replicas.map(() => start)
  const written: Sibling[] = []
  for (const op of ops) {
    if (op.kind === 'merge') {
      const to = op.to % nodeCount
      replicas[to] = mergeLastWriteWins(replicas[to] as DottedVersionVectorSet, replicas[op.from % nodeCount] as DottedVersionVectorSet)
      continue
    }
    const r = op.replica % nodeCount
    walls[r] = (walls[r] as number) + op.jumpMs
    const winner = lastWriteWinner((replicas[r] as DottedVersionVectorSet).siblings)
    const clock = clocks[r] as HybridLogicalClock
    const observation = winner === null ? null : clock.observe(winner.timestamp, walls[r] as number)
    const timestamp: HlcTimestamp = observation === null ? clock.now(walls[r] as number) : observation.timestamp
    const content = op.tombstone ? { kind: 'tombstone' as const } : { kind: 'value' as const, value: Uint8Array.of(written.length), contentType: 'x/y' }
    const outcome = updateLastWriteWins(replicas[r] as DottedVersionVectorSet, { content, actor: makeActor(nodeId(`n${r}`), 1), timestamp })
    if (outcome.kind !== 'updated') throw new Error(outcome.kind)
    replicas[r] = outcome.object
    written.push({ dot: outcome.dot, timestamp, content })
    // A write stamped after observing the stored value wins, unless that value was beyond the drift bound.
    if (observation?.kind !== 'remote-too-far-ahead') expect(outcome.result).toBe('won')
  }
  return { replicas, written }
}

describe('last-write-wins', () => {
  it('picks the same winner on every replica in any merge order: the greatest write by (HLC, node id)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 3, max: 5 }), lwwOpsArb, fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 5, maxLength: 5 }), (nodeCount, ops, order) => {
        const { replicas, written } = runLww(nodeCount, ops)
        const indices = order.filter((r) => r < nodeCount)
        const forward = indices.reduce((acc, r) => mergeLastWriteWins(acc, replicas[r] as DottedVersionVectorSet), emptyObject)
        const backward = [...indices].reverse().reduce((acc, r) => mergeLastWriteWins(replicas[r] as DottedVersionVectorSet, acc), emptyObject)
        expect(forward).toEqual(backward)
        const best = written.reduce<Sibling | null>((acc, s) => (acc === null || compareLastWriteWins(s, acc) > 0 ? s : acc), null)
        expect(forward.siblings).toEqual(best === null ? [] : [best])
        for (const replica of replicas) expect(replica.siblings.length).toBeLessThanOrEqual(1)
      }),
      { seed: 0x1_3337, numRuns: 300 },
    )
  })

  it('breaks timestamp ties by node id, the same way everywhere', () => {
    const timestamp = { physicalMs: start, logical: 0 }
    const content = { kind: 'value' as const, value: Uint8Array.of(1), contentType: 'x/y' }
    const a = updateLastWriteWins(emptyObject, { content, actor: makeActor(nodeId('a'), 1), timestamp })
    const b = updateLastWriteWins(emptyObject, { content, actor: makeActor(nodeId('b'), 1), timestamp })
    if (a.kind !== 'updated' || b.kind !== 'updated') throw new Error('refused')
    expect(mergeLastWriteWins(a.object, b.object).siblings[0]?.dot.node).toBe('b')
    expect(mergeLastWriteWins(b.object, a.object).siblings[0]?.dot.node).toBe('b')
  })

  it('reports a write that loses to a stored later one', () => {
    const content = { kind: 'value' as const, value: Uint8Array.of(1), contentType: 'x/y' }
    const actor = makeActor(nodeId('a'), 1)
    const first = updateLastWriteWins(emptyObject, { content, actor, timestamp: { physicalMs: start + 10, logical: 0 } })
    if (first.kind !== 'updated') throw new Error('refused')
    const late = updateLastWriteWins(first.object, { content, actor, timestamp: { physicalMs: start, logical: 0 } })
    expect(late).toMatchObject({ kind: 'updated', result: 'lost' })
  })
})
