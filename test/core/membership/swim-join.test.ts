/**
 * Join and rejoin rules that the simulation found wanting (test/sim/membership-*.test.ts), pinned down on one
 * Swim instance: being reached is not being joined; a seed refusing a join call is no evidence against anyone;
 * a node that holds everyone else dead goes back to its seeds; periodic push-pull also calls a seed that is no
 * live member, so a partition that outlasts the reaping of dead records still heals.
 */
import { describe, expect, it } from 'vitest'
import { config, metadata } from './swim-harness.ts'
import type { MembershipEffect } from '../../../src/core/membership/membership-effect.ts'
import type { MemberUpdate } from '../../../src/core/membership/membership-messages.ts'
import { Swim } from '../../../src/core/membership/swim.ts'
import { callId, nodeId, peerAddress } from '../../../src/core/primitives/ids.ts'
import type { Millis, PeerAddress } from '../../../src/core/primitives/ids.ts'
import { SeededRandom } from '../../../src/core/primitives/random.ts'

const self = { id: nodeId('a'), address: peerAddress('a:1'), generation: 100, metadata: metadata(0) }
const seedAddress = peerAddress('s:1')

function make(): Swim {
  let next = 1
  return new Swim(self, { random: new SeededRandom(7), nextCallId: () => callId(next++) }, config, 0)
}

function member(name: string, kind: 'alive' | 'dead' = 'alive', generation = 100): MemberUpdate {
  const fields = { node: nodeId(name), address: peerAddress(`${name}:1`), generation, incarnation: 0, metadata: metadata(1) }
  return kind === 'dead' ? { kind, ...fields, accuser: nodeId('z') } : { kind, ...fields }
}

function pushPullCallsTo(effects: readonly MembershipEffect[]): PeerAddress[] {
  return effects.flatMap((effect) => (effect.kind === 'call' && effect.message.kind === 'swim-push-pull-request' ? [effect.to] : []))
}

function tickUntil(swim: Swim, fromMs: Millis, toMs: Millis): MembershipEffect[] {
  const effects: MembershipEffect[] = []
  for (let nowMs = fromMs; nowMs <= toMs; nowMs += 10) effects.push(...swim.tick(nowMs))
  return effects
}

describe('Swim join and rejoin', () => {
  it('being reached by a neighbour does not join us: we keep calling our own seed until it answers', () => {
    const swim = make()
    const [call] = swim.join([seedAddress], 0)
    if (call?.kind !== 'call') throw new Error('expected a join call')
    swim.callResult(call.callId, call.to, { kind: 'failed', reason: 'refused' }, 5)
    // A neighbour that joined through us pushes its state: we now know it, and are still not joined.
    swim.receiveCall(peerAddress('b:1'), callId(77), { kind: 'swim-push-pull-request', from: nodeId('b'), join: true, members: [member('b')] }, 10)
    expect(swim.member(nodeId('b'))?.state).toBe('alive')
    expect(swim.isJoined).toBe(false)
    const retries = pushPullCallsTo(tickUntil(swim, 20, 2_000))
    expect(retries).toContain(seedAddress)
    expect(swim.isJoined).toBe(false)
  })

  it('a seed answering the join call joins us', () => {
    const swim = make()
    const [call] = swim.join([seedAddress], 0)
    if (call?.kind !== 'call') throw new Error('expected a join call')
    swim.callResult(call.callId, call.to, { kind: 'ok', message: { kind: 'swim-push-pull-response', from: nodeId('s'), members: [member('s')] } }, 5)
    expect(swim.isJoined).toBe(true)
  })

  it('a refused join call starts no refusal check against the member now at that address', () => {
    const swim = make()
    const [call] = swim.join([peerAddress('b:1')], 0)
    if (call?.kind !== 'call') throw new Error('expected a join call')
    // b started after we called and has reached us meanwhile; the refusal from before it started arrives late.
    swim.receiveCall(peerAddress('b:1'), callId(70), { kind: 'swim-push-pull-request', from: nodeId('b'), join: true, members: [member('b'), member('c')] }, 2)
    const effects = swim.callResult(call.callId, call.to, { kind: 'failed', reason: 'refused' }, 4)
    expect(effects.filter((effect) => effect.kind === 'send' && effect.message.kind === 'swim-ping-req')).toEqual([])
    expect(swim.counters.refusalChecks).toBe(0)
  })

  it('a node that holds everyone else dead goes back to its seeds at once', () => {
    const swim = make()
    const [call] = swim.join([seedAddress], 0)
    if (call?.kind !== 'call') throw new Error('expected a join call')
    swim.callResult(call.callId, call.to, { kind: 'ok', message: { kind: 'swim-push-pull-response', from: nodeId('s'), members: [member('s'), member('b')] } }, 5)
    expect(swim.isJoined).toBe(true)
    swim.receive(peerAddress('b:1'), { kind: 'swim-gossip', from: nodeId('b'), updates: [member('s', 'dead'), member('b', 'dead')] }, 10)
    const effects = swim.tick(20)
    expect(swim.isJoined).toBe(false)
    expect(pushPullCallsTo(effects)).toEqual([seedAddress])
  })

  it('periodic push-pull also calls a seed that is no live member (a partition outlasting the reaping heals)', () => {
    const swim = make()
    const joinCalls = swim.join([seedAddress, peerAddress('b:1')], 0)
    // b answers; s does not, and is unknown to us, as if reaped after a long partition.
    for (const call of joinCalls) {
      if (call.kind !== 'call') continue
      const outcome = call.to === seedAddress
        ? { kind: 'failed' as const, reason: 'timeout' as const }
        : { kind: 'ok' as const, message: { kind: 'swim-push-pull-response' as const, from: nodeId('b'), members: [member('b')] } }
      swim.callResult(call.callId, call.to, outcome, 1)
    }
    expect(swim.isJoined).toBe(true)
    const calls = pushPullCallsTo(tickUntil(swim, 10, config.pushPullIntervalMs + 10))
    expect(calls).toContain(seedAddress)
  })
})
