/**
 * The echo protocol under the simulator's faults: the faults must show in the trace and in the counters (a
 * fault that never fired proves nothing), and once everything is healed every echo must complete.
 */
import { describe, expect, it } from 'vitest'
import { nodeId } from '../../src/core/primitives/ids.ts'
import { EchoWorkload, defaultEchoWorkloadOptions } from '../../src/sim/echo-workload.ts'
import { FaultSchedule } from '../../src/sim/fault-schedule.ts'
import { withReplay } from '../../src/sim/replay.ts'
import { runScenario } from '../../src/sim/scenarios.ts'
import { World } from '../../src/sim/world.ts'
import { testSeeds } from './seeds.ts'

const testFile = 'test/sim/echo.test.ts'
const n = (i: number) => nodeId(`n${i}`)

/** A hand-written schedule that is sure to hit every fault kind while echoes are in flight. */
const schedule = FaultSchedule.of([
  { atMs: 1_000, fault: { kind: 'partition', sideA: [n(1), n(2)], sideB: [n(3), n(4), n(5)], direction: 'two-way' } },
  { atMs: 1_500, fault: { kind: 'loss-burst', lossProbability: 0.6 } },
  { atMs: 2_500, fault: { kind: 'crash', node: n(5) } },
  { atMs: 3_000, fault: { kind: 'heal' } },
  { atMs: 3_000, fault: { kind: 'partition', sideA: [n(3)], sideB: [n(1), n(4)], direction: 'one-way' } },
  { atMs: 4_000, fault: { kind: 'heal' } },
  { atMs: 4_000, fault: { kind: 'loss-end' } },
  { atMs: 4_500, fault: { kind: 'restart', node: n(5) } },
])

describe('echo under loss, partitions and crashes', () => {
  for (const seed of testSeeds([1, 2])) {
    it(`seed ${seed}: shows the faults in the trace and completes once healed`, () => {
      withReplay(seed, () => {
        const world = new World({ seed, nodes: 5, network: { lossProbability: 0.05, duplicateProbability: 0.05 }, faults: schedule })
        const workload = new EchoWorkload(world, world.workloadRandom, { ...defaultEchoWorkloadOptions, exchanges: 150, spreadMs: 4_500 })
        workload.schedule()
        const run = world.runUntil(12_000)
        expect(run.outcome).toBe('reached-time')
        expect(workload.problems()).toEqual([])
        expect(workload.isDone).toBe(true)

        const counters = world.network.counters.snapshot()
        expect(counters.datagramsLost).toBeGreaterThan(0)
        expect(counters.datagramsCut).toBeGreaterThan(0)
        expect(counters.datagramsDuplicated).toBeGreaterThan(0)
        expect(counters.connectionsBroken).toBeGreaterThan(0)
        expect(counters.partitions).toBe(2)
        expect(counters.heals).toBe(2)
        expect(workload.stats().resends).toBeGreaterThan(0)

        const trace = world.trace
        expect(trace.grep('net    partition two-way [n1:7000,n2:7000] | [n3:7000,n4:7000,n5:7000]')).toHaveLength(1)
        expect(trace.grep('net    partition one-way')).toHaveLength(1)
        expect(trace.grep('net    heal')).toHaveLength(2)
        expect(trace.grep(' lost').length).toBeGreaterThan(0)
        expect(trace.grep(' cut').length).toBeGreaterThan(0)
        expect(trace.grep('fault  crash n5')).toHaveLength(1)
        expect(trace.grep('n5     start generation 2')).toHaveLength(1)
        expect(world.cluster.node('n5').generation).toBe(2)
      }, { testFile })
    })
  }

  for (const seed of testSeeds([3, 4, 5])) {
    it(`seed ${seed}: the echo scenario with a generated fault schedule passes`, () => {
      const options = { seed, nodes: 5, durationMs: 15_000 }
      withReplay(seed, () => {
        const result = runScenario('echo', options)
        expect(result.problems).toEqual([])
        expect(result.world.faults.faults.length).toBeGreaterThan(0)
        expect(result.world.trace.grep('fault ').length).toBeGreaterThanOrEqual(result.world.faults.faults.length)
      }, { durationMs: options.durationMs })
    })
  }

  it('a corrupted datagram is dropped by the codec and counted, never delivered half-valid', () => {
    const seed = testSeeds([6])[0] as number
    withReplay(seed, () => {
      const world = new World({ seed, nodes: 3, network: { corruptProbability: 0.5 } })
      const workload = new EchoWorkload(world, world.workloadRandom, {
        ...defaultEchoWorkloadOptions, exchanges: 100, spreadMs: 2_000, paths: ['datagram'],
      })
      workload.schedule()
      world.runUntil(10_000)
      expect(workload.problems()).toEqual([])
      expect(world.network.counters.get('datagramsCorrupted')).toBeGreaterThan(0)
      expect(world.network.counters.get('malformedDropped')).toBeGreaterThan(0)
      expect(world.trace.grep('malformed from').length).toBe(world.network.counters.get('malformedDropped'))
    }, { testFile })
  })
})
