/**
 * The world's own machinery: the event cap ends a livelock, quiet means nothing in flight, ticks arrive at
 * their interval with a seeded phase, clocks skew per node, and client requests get exactly one outcome.
 */
import { describe, expect, it } from 'vitest'
import { EchoWorkload, defaultEchoWorkloadOptions } from '../../src/sim/echo-workload.ts'
import { withReplay, replayLine } from '../../src/sim/replay.ts'
import { simulationEpochMs } from '../../src/sim/sim-clock.ts'
import { World } from '../../src/sim/world.ts'
import { testSeeds } from './seeds.ts'

const testFile = 'test/sim/world.test.ts'
const seed = testSeeds([8])[0] as number

describe('World', () => {
  it('ends a same-instant livelock at the event cap instead of hanging', () => {
    withReplay(seed, () => {
      const world = new World({ seed, nodes: 2, maxEvents: 20_000 })
      const forever = (): void => world.schedule(0, forever)
      world.schedule(10, forever)
      const result = world.runUntil(1_000)
      expect(result.outcome).toBe('event-limit')
      expect(result.nowMs).toBe(10)
      expect(world.trace.grep('event limit reached')).toHaveLength(1)
      // Every later run stops at once, too.
      expect(world.runUntilQuiet().outcome).toBe('event-limit')
    }, { testFile })
  })

  it('runUntilQuiet stops once nothing is in flight, though ticks go on', () => {
    withReplay(seed, () => {
      const world = new World({ seed, nodes: 3 })
      const workload = new EchoWorkload(world, world.workloadRandom, { ...defaultEchoWorkloadOptions, exchanges: 20, spreadMs: 500 })
      workload.schedule()
      const result = world.runUntilQuiet()
      expect(result.outcome).toBe('quiet')
      expect(workload.isDone).toBe(true)
      expect(world.scheduler.pendingForeground).toBe(0)
      // Quiet long before the default ten-minute deadline: the last messages are the change-log catch-up every
      // node runs with each peer it sees come up (one page per shared partition, two at a time), then nothing.
      expect(result.nowMs).toBeLessThan(5_000)
    }, { testFile })
  })

  it('ticks each node every tickIntervalMs, at seeded phases that differ between nodes', () => {
    withReplay(seed, () => {
      const world = new World({ seed, nodes: 3, node: { tickIntervalMs: 10 } })
      const tickTimes = new Map<string, number[]>()
      world.cluster.addObserver({
        onInput: (node, input) => {
          if (input.kind === 'tick') tickTimes.set(node.id, [...(tickTimes.get(node.id) ?? []), world.nowMs])
        },
      })
      world.runUntil(1_000)
      const phases = new Set<number>()
      for (const id of ['n1', 'n2', 'n3']) {
        const times = tickTimes.get(id) ?? []
        expect(times.length).toBeGreaterThanOrEqual(99)
        expect(times.length).toBeLessThanOrEqual(100)
        for (let i = 1; i < times.length; i++) expect((times[i] as number) - (times[i - 1] as number)).toBeCloseTo(10, 6)
        phases.add(times[0] as number)
      }
      expect(phases.size).toBe(3)
    }, { testFile })
  })

  it('gives each node a skewed wall clock over one shared monotonic clock', () => {
    withReplay(seed, () => {
      const world = new World({ seed, nodes: 4, maxClockSkewMs: 500 })
      world.runUntil(1_234)
      const clocks = world.cluster.nodes.map((node) => node.clock)
      for (const clock of clocks) {
        expect(clock.nowMs()).toBe(1_234)
        expect(Math.abs(clock.wallClockMs() - (simulationEpochMs + 1_234))).toBeLessThanOrEqual(500)
      }
      expect(new Set(clocks.map((clock) => clock.wallClockMs())).size).toBeGreaterThan(1)
    }, { testFile })
  })

  it('answers client requests, and a down node fails them as node-down', () => {
    withReplay(seed, () => {
      const world = new World({ seed, nodes: 2 })
      world.runUntil(50)
      const answered = world.clientRequest('n1', { kind: 'health' })
      world.crash('n2')
      const refused = world.clientRequest('n2', { kind: 'health' })
      world.runFor(10)
      expect(world.cluster.outcome(answered)).toEqual({ kind: 'response', response: { kind: 'health', id: 'n1', status: 'ok' } })
      expect(world.cluster.outcome(refused)).toEqual({ kind: 'failed', reason: 'node-down' })
    }, { testFile })
  })

  it('a failure inside a simulated test carries the replay command', () => {
    let message = ''
    const quiet = console.error
    console.error = () => {}
    try {
      withReplay(42, () => {
        throw new Error('invariant broken')
      }, { durationMs: 5_000 })
    } catch (error) {
      message = error instanceof Error ? error.message : ''
    } finally {
      console.error = quiet
    }
    expect(message).toContain('invariant broken')
    expect(message).toContain('replay: npm run sim -- --seed 42 --duration-ms 5000')
    expect(replayLine(7, { testFile })).toBe(`replay: npm run sim -- --seed 7\n    or: SEED=7 npx vitest run ${testFile}`)
  })
})
