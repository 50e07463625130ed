/**
 * Reachability as the simulated network models it: a dead process on a live host answers `refused` quickly,
 * a partition or a missing host answers nothing (timeouts), a crash breaks connections with `connection-lost`,
 * one-way partitions cut one direction only, and streams stay in order under heavy jitter.
 */
import { describe, expect, it } from 'vitest'
import type { CallOutcome, Input } from '../../src/core/node/input.ts'
import type { Message } from '../../src/core/node/message.ts'
import { nodeId, peerAddress } from '../../src/core/primitives/ids.ts'
import { withReplay } from '../../src/sim/replay.ts'
import { defaultNetworkOptions } from '../../src/sim/sim-network.ts'
import { pump, simTransportPair } from '../../src/sim/sim-transport-pair.ts'
import { SimTransport } from '../../src/sim/sim-transport.ts'
import { World } from '../../src/sim/world.ts'
import { Recorder, echo } from '../transport/transport-contract.ts'
import { testSeeds } from './seeds.ts'

const testFile = 'test/sim/sim-network.test.ts'
const seed = testSeeds([5])[0] as number

const ping = (seq: number): Message => ({ kind: 'echo', from: nodeId('n1'), seq, payload: Uint8Array.of(seq) })

/** A 3-node world, started, with every input each node receives recorded. */
function world3(): { world: World; inputs: Map<string, Input[]> } {
  const world = new World({ seed, nodes: 3 })
  const inputs = new Map<string, Input[]>()
  world.cluster.addObserver({ onInput: (node, input) => inputs.set(node.id, [...(inputs.get(node.id) ?? []), input]) })
  world.runUntil(100)
  return { world, inputs }
}

function callAndWait(world: World, from: string, to: string, timeoutMs: number): { outcome: CallOutcome; afterMs: number } {
  let outcome: CallOutcome | undefined
  const startMs = world.nowMs
  world.cluster.node(from).callFromShell(world.cluster.node(to).address, ping(1), timeoutMs, (result) => (outcome = result))
  pump(world.scheduler, () => outcome !== undefined, startMs + timeoutMs + 1_000)
  return { outcome: outcome as CallOutcome, afterMs: world.nowMs - startMs }
}

const sendFailures = (inputs: Input[] | undefined) => (inputs ?? []).filter((input) => input.kind === 'send-failed')

describe('SimNetwork reachability', () => {
  it("a crashed node's address yields `refused`, quickly, on every carrier", () => {
    withReplay(seed, () => {
      const { world, inputs } = world3()
      world.crash('n2')
      const { outcome, afterMs } = callAndWait(world, 'n1', 'n2', 2_000)
      expect(outcome).toEqual({ kind: 'failed', reason: 'refused' })
      expect(afterMs).toBeLessThan(100)

      world.cluster.node('n1').sendFromShell(world.cluster.node('n2').address, 'datagram', ping(2))
      world.cluster.node('n1').sendFromShell(world.cluster.node('n2').address, 'stream', ping(3))
      world.runFor(200)
      // Membership keeps probing n2 too, so there are more failures than our two sends: all must be refusals.
      const failures = sendFailures(inputs.get('n1'))
      expect(failures.length).toBeGreaterThanOrEqual(2)
      expect(new Set(failures.map((f) => JSON.stringify(f)))).toEqual(
        new Set([JSON.stringify({ kind: 'send-failed', to: world.cluster.node('n2').address, reason: 'refused' })]),
      )
      expect(world.network.counters.get('refusals')).toBeGreaterThanOrEqual(3)
      expect(world.trace.grep('no process, refused').length).toBeGreaterThanOrEqual(1)
    }, { testFile })
  })

  it('a partition yields silence: calls time out, datagrams vanish without a refusal', () => {
    withReplay(seed, () => {
      const { world, inputs } = world3()
      world.partition(['n1'], ['n2'])
      const { outcome, afterMs } = callAndWait(world, 'n1', 'n2', 500)
      expect(outcome).toEqual({ kind: 'failed', reason: 'timeout' })
      expect(afterMs).toBe(500)
      world.cluster.node('n1').sendFromShell(world.cluster.node('n2').address, 'datagram', ping(2))
      world.runFor(2_000)
      expect(sendFailures(inputs.get('n1'))).toEqual([])
      // Our datagram and membership's probes across the cut all vanish without a refusal.
      expect(world.network.counters.get('datagramsCut')).toBeGreaterThanOrEqual(1)
      // Healed, the same call succeeds on a new connection.
      world.heal()
      expect(callAndWait(world, 'n1', 'n2', 500).outcome.kind).toBe('ok')
    }, { testFile })
  })

  it('an address with no host at all is silence too', () => {
    withReplay(seed, () => {
      const { world } = world3()
      let outcome: CallOutcome | undefined
      world.cluster.node('n1').callFromShell(peerAddress('nowhere:7000'), ping(1), 300, (result) => (outcome = result))
      world.runFor(1_000)
      expect(outcome).toEqual({ kind: 'failed', reason: 'timeout' })
    }, { testFile })
  })

  it('a one-way partition cuts one direction of datagrams, and any stream between the two', () => {
    withReplay(seed, () => {
      const { world, inputs } = world3()
      world.partition(['n1'], ['n2'], 'one-way')
      const n1 = world.cluster.node('n1')
      const n2 = world.cluster.node('n2')
      n1.sendFromShell(n2.address, 'datagram', ping(1))
      n2.sendFromShell(n1.address, 'datagram', ping(2))
      world.runFor(500)
      const packetsAt = (id: string) => (inputs.get(id) ?? []).filter((input) => input.kind === 'packet' && input.message.kind === 'echo')
      expect(packetsAt('n2')).toHaveLength(0)
      expect(packetsAt('n1')).toHaveLength(1)
      // TCP needs both directions: the call from the side that can still send gets nothing back.
      expect(callAndWait(world, 'n2', 'n1', 300).outcome).toEqual({ kind: 'failed', reason: 'timeout' })
    }, { testFile })
  })

  it('a crash mid-call fails the caller with `connection-lost`, and the restarted node is generation + 1', () => {
    withReplay(seed, () => {
      const pair = simTransportPair(seed)
      const atB = new Recorder()
      pair.a.listen(new Recorder())
      pair.b.listen(atB)
      const outcomes: CallOutcome[] = []
      pair.a.call(pair.b.localAddress, echo(1), 5_000, (outcome) => outcomes.push(outcome))
      pump(pair.scheduler, () => atB.calls.length === 1, 1_000)
      pair.b.crash()
      pump(pair.scheduler, () => outcomes.length === 1, pair.scheduler.nowMs + 1_000)
      expect(outcomes).toEqual([{ kind: 'failed', reason: 'connection-lost' }])
      // The dead side's respond does nothing: its process is gone.
      atB.calls[0]?.respond(echo(1))
      pair.scheduler.runUntil(pair.scheduler.nowMs + 6_000)
      expect(outcomes).toHaveLength(1)

      const { world } = world3()
      world.crash('n3')
      world.restart('n3')
      expect(world.cluster.node('n3').generation).toBe(2)
      expect(callAndWait(world, 'n1', 'n3', 500).outcome.kind).toBe('ok')
    }, { testFile })
  })

  it('streams deliver in order under heavy jitter while datagrams reorder', () => {
    withReplay(seed, () => {
      const pair = simTransportPair(seed, { ...defaultNetworkOptions, latency: { baseMs: 1, jitterMs: 50, tailProbability: 0.2, tailMs: 100 } })
      const atB = new Recorder()
      pair.a.listen(new Recorder())
      pair.b.listen(atB)
      for (let seq = 0; seq < 200; seq++) {
        pair.a.send(pair.b.localAddress, 'stream', echo(seq))
        pair.a.send(pair.b.localAddress, 'datagram', echo(seq))
      }
      pump(pair.scheduler, () => atB.messages.length === 400, 5_000)
      const seqs = (carrier: string) =>
        atB.messages.filter((m) => m.carrier === carrier).map((m) => (m.message.kind === 'echo' ? m.message.seq : -1))
      const ascending = Array.from({ length: 200 }, (_, i) => i)
      expect(seqs('stream')).toEqual(ascending)
      expect(seqs('datagram')).not.toEqual(ascending)
      expect([...seqs('datagram')].sort((x, y) => x - y)).toEqual(ascending)
    }, { testFile })
  })
})

describe('SimTransport back-pressure', () => {
  it('fails calls beyond the per-peer limit with `overloaded`, from the queue', () => {
    withReplay(seed, () => {
      const pair = simTransportPair(seed)
      const limited = new SimTransport(pair.network, pair.scheduler, pair.trace, peerAddress('c:7000'), { maxPendingCallsPerPeer: 2 })
      const atB = new Recorder()
      limited.listen(new Recorder())
      pair.b.listen(atB)
      const outcomes: CallOutcome[] = []
      for (let seq = 0; seq < 3; seq++) limited.call(pair.b.localAddress, echo(seq), 1_000, (outcome) => outcomes.push(outcome))
      expect(outcomes).toEqual([])
      pump(pair.scheduler, () => outcomes.length === 1, 100)
      expect(outcomes).toEqual([{ kind: 'failed', reason: 'overloaded' }])
      pump(pair.scheduler, () => atB.calls.length === 2, 100)
      for (const held of atB.calls) held.respond(held.message)
      pump(pair.scheduler, () => outcomes.length === 3, 200)
      expect(outcomes.slice(1).map((outcome) => outcome.kind)).toEqual(['ok', 'ok'])
    }, { testFile })
  })
})
