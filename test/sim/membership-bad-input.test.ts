/**
 * Bad input in the simulated world (DESIGN.md invariant 5, issue 3): garbage, truncated and oversized datagrams
 * and frames are dropped by the codec and counted; well-formed membership messages that mean nothing here (from
 * unknown nodes, about stale generations, a late `left` from a node's previous life, replies to probes never
 * sent) are dropped by Swim and counted. None of it changes any view, and the cluster carries on.
 */
import { describe, expect, it } from 'vitest'
import type { MemberUpdate, MembershipMessage } from '../../src/core/membership/membership-messages.ts'
import type { SwimCounters } from '../../src/core/membership/swim.ts'
import type { NodeId, PeerAddress } from '../../src/core/primitives/ids.ts'
import { nodeId, peerAddress } from '../../src/core/primitives/ids.ts'
import { encodeMessage } from '../../src/transport/wire-codec.ts'
import { MembershipChecker, runUntilTrue } from '../../src/sim/membership-checker.ts'
import { withReplay } from '../../src/sim/replay.ts'
import { World } from '../../src/sim/world.ts'
import { testSeeds } from './seeds.ts'

const testFile = 'test/sim/membership-bad-input.test.ts'
const intruder = peerAddress('intruder:7000')
const metadata = { httpAddress: 'x:8000', zone: '', partitions: 64, protocolVersion: 1 }

function counters(world: World, id: string): SwimCounters {
  const swim = world.cluster.node(id).currentNode?.membership
  if (swim === undefined) throw new Error(`${id} is down`)
  return { ...swim.counters }
}

function update(kind: MemberUpdate['kind'], node: string, generation: number, incarnation = 0): MemberUpdate {
  const fields = { node: nodeId(node), address: peerAddress(`${node}:7000`), generation, incarnation, metadata }
  return kind === 'suspect' || kind === 'dead' ? { kind, ...fields, accuser: nodeId('ghost') } : { kind, ...fields }
}

describe('membership bad input (simulated, 5 nodes)', () => {
  for (const seed of testSeeds([1, 2, 3])) {
    it(`seed ${seed}: garbage and meaningless messages are dropped, counted, and change no view`, () => {
      withReplay(seed, () => {
        const world = new World({ seed, nodes: 5, maxKeptTraceLines: 0 })
        const checker = new MembershipChecker(world)
        expect(runUntilTrue(world, () => checker.isFullView(), 2_000)).not.toBeNull()
        // n3 gets a second life, so that its first is a stale generation everyone has moved past.
        world.crash('n3')
        world.runFor(20)
        world.restart('n3')
        expect(runUntilTrue(world, () => checker.isFullView(), world.nowMs + 2_000)).not.toBeNull()
        world.runFor(1_000)
        const target: PeerAddress = peerAddress('n1:7000')
        const before = counters(world, 'n1')
        const transitionsBefore = checker.transitions.length
        const malformedBefore = world.network.counters.get('malformedDropped')

        const datagram = (message: MembershipMessage, from: PeerAddress = intruder): void =>
          world.network.sendDatagram(from, target, encodeMessage(message), `injected ${message.kind}`)
        const updates = [
          update('left', 'n3', 1, 7), // a late leave from n3's previous life
          update('dead', 'n3', 1, 9),
          update('alive', 'n3', 1, 50),
          update('suspect', 'n1', 0, 3), // an accusation of n1's own past life
          update('dead', 'ghost', 5), // news of the death of a node nobody knew
          update('left', 'phantom', 5),
        ]
        world.schedule(0, () => {
          // Garbage: random bytes, a wrong version byte, a valid message cut short.
          const random = world.workloadRandom
          for (let i = 0; i < 20; i++) {
            const bytes = new Uint8Array(1 + random.nextInt(1_000))
            for (let j = 0; j < bytes.length; j++) bytes[j] = random.nextInt(256)
            // Half carry the right version byte, so that they reach MessagePack and the schema.
            if (i % 2 === 0) bytes[0] = 1
            world.network.sendDatagram(intruder, target, bytes, 'garbage')
          }
          world.network.sendDatagram(intruder, target, Uint8Array.of(99, 1, 2, 3), 'wrong version')
          const whole = encodeMessage({ kind: 'swim-gossip', from: nodeId('n2'), updates: [update('alive', 'n2', 1, 99)] })
          world.network.sendDatagram(intruder, target, whole.subarray(0, Math.floor(whole.length / 2)), 'truncated')
          // Frames: garbage, and one far over the frame limit.
          world.network.sendStream(intruder, target, { kind: 'one-way', bytes: Uint8Array.of(1, 0xc1, 0xc1), description: 'garbage frame' })
          world.network.sendStream(intruder, target, { kind: 'one-way', bytes: new Uint8Array(5 * 1024 * 1024).fill(1), description: 'oversized frame' })
          // Well-formed, and meaningless here.
          datagram({ kind: 'swim-gossip', from: nodeId('ghost'), updates })
          datagram({ kind: 'swim-ack', seq: 987_654, from: nodeId('ghost'), updates: [] })
          datagram({ kind: 'swim-nack', seq: 987_655, from: nodeId('ghost'), target: nodeId('n2'), refused: true, updates: [] })
          datagram({ kind: 'swim-indirect-ack', seq: 987_656, from: nodeId('ghost'), target: nodeId('n2'), updates: [] })
          datagram({ kind: 'swim-ping', seq: 1, from: nodeId('ghost'), target: nodeId('n4'), updates: [] })
          datagram({ kind: 'swim-push-pull-request', from: nodeId('ghost'), join: true, members: updates })
        })
        world.runFor(2_000)

        const after = counters(world, 'n1')
        const codecDropped = world.network.counters.get('malformedDropped') - malformedBefore
        // 20 random, 1 wrong version, 1 truncated, 2 frames.
        expect(codecDropped).toBe(24)
        expect(after.staleGenerationUpdates - before.staleGenerationUpdates).toBe(4)
        expect(after.strangerObituaries - before.strangerObituaries).toBe(2)
        expect(after.unmatchedReplies - before.unmatchedReplies).toBeGreaterThanOrEqual(3)
        expect(after.misdirectedPings - before.misdirectedPings).toBe(1)
        expect(after.unexpectedMessages - before.unexpectedMessages).toBe(1)
        expect(after.refutations).toBe(before.refutations)
        // Nothing changed in any view: no transitions at all, and still one full view at the current generations.
        expect(checker.transitions.slice(transitionsBefore)).toEqual([])
        expect(checker.viewProblems()).toEqual([])
        const n1: NodeId = nodeId('n1')
        expect(checker.currentRecord(n1, nodeId('ghost'))).toBeUndefined()
        expect(checker.currentRecord(n1, nodeId('n3'))?.generation).toBe(2)
      }, { testFile })
    })
  }
})
