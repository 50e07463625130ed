/**
 * Protocol tests over the tiny in-file harness (swim-harness.ts): convergence from one seed, detection of a
 * crashed node within the bound, refutation, restart with a new generation, graceful leave, the emergent leader,
 * and no false positives on a lossy but healthy network. Each test names its seed; a failure prints it.
 */
import { describe, expect, it } from 'vitest'
import { Harness, config } from './swim-harness.ts'
import type { MembershipEvent } from '../../../src/core/membership/membership-effect.ts'
import type { MemberUpdate } from '../../../src/core/membership/membership-messages.ts'
import { Swim } from '../../../src/core/membership/swim.ts'
import { callId, nodeId, peerAddress } from '../../../src/core/primitives/ids.ts'
import { SeededRandom } from '../../../src/core/primitives/random.ts'
import { metadata } from './swim-harness.ts'

const BASE_GENERATION = 1_700_000_000

function startCluster(seed: number, size: number, options: Partial<ConstructorParameters<typeof Harness>[0]> = {}): Harness {
  const harness = new Harness({ seed, ...options })
  for (let i = 0; i < size; i++) {
    // Node 0 is the seed everyone joins through; generations differ so the leader is node 0.
    harness.start(i, BASE_GENERATION + i, i === 0 ? [] : [0])
    harness.run(7)
  }
  return harness
}

function converge(harness: Harness, limitMs = 10_000): number {
  const tookMs = harness.runUntil(() => harness.viewsAgree(), limitMs)
  expect(tookMs, 'views did not converge').not.toBeNull()
  return tookMs as number
}

function replay(seed: number): string {
  return `replay: seed=${seed} npx vitest run test/core/membership/swim.test.ts`
}

describe('Swim over the in-file harness', () => {
  it.each([1, 2, 3])('8 nodes converge from one seed (seed %i)', (seed) => {
    const harness = startCluster(seed, 8)
    const tookMs = converge(harness)
    expect(tookMs, replay(seed)).toBeLessThan(5_000)
    for (const node of harness.upNodes()) expect(node.swim.isJoined, replay(seed)).toBe(true)
    expect(harness.oversizedDatagrams, replay(seed)).toEqual([])
  })

  it.each([
    [11, 'refuse'],
    [12, 'silent'],
    [13, 'silent'],
  ] as const)('a crashed node is declared dead by every member within the bound (seed %i, %s)', (seed, mode) => {
    const harness = startCluster(seed, 8, { crashMode: mode })
    converge(harness)
    harness.crash(5)
    // Silence: up to two probe rounds until someone probes it (in practice one period, 7 probers), one period of
    // probing, the longest suspicion timeout, and dissemination. Refusal: a period or two.
    const boundMs = mode === 'refuse' ? 2_000 : 8_000
    const tookMs = harness.runUntil(() => harness.statesOf(5).every((state) => state === 'dead'), boundMs)
    expect(tookMs, `${replay(seed)} states ${harness.statesOf(5).join(',')}`).not.toBeNull()
    for (const node of harness.upNodes()) {
      expect(node.events).toContainEqual({ kind: 'member-down', node: Harness.id(5), generation: BASE_GENERATION + 5 })
    }
  })

  it('refusal is detected faster than silence', () => {
    const times: Record<string, number> = {}
    for (const mode of ['refuse', 'silent'] as const) {
      const harness = startCluster(21, 8, { crashMode: mode })
      converge(harness)
      harness.crash(3)
      times[mode] = harness.runUntil(() => harness.statesOf(3).every((state) => state === 'dead'), 10_000) ?? Infinity
    }
    expect(times['refuse']).toBeLessThan(times['silent'] as number)
  })

  it('a suspected live node refutes with a higher incarnation and is never declared dead', () => {
    const seed = 31
    const harness = startCluster(seed, 6)
    converge(harness)
    const accused = harness.swim(4)
    const record = harness.swim(1).member(accused.id)
    expect(record).toBeDefined()
    const suspect: MemberUpdate = {
      kind: 'suspect',
      node: accused.id,
      address: Harness.address(4),
      generation: BASE_GENERATION + 4,
      incarnation: 0,
      metadata: metadata(4),
      accuser: Harness.id(2),
    }
    const node1 = harness.node(1)
    harness.perform(node1, node1.swim.receive(Harness.address(2), { kind: 'swim-gossip', from: Harness.id(2), updates: [suspect] }, harness.nowMs))
    expect(node1.swim.member(accused.id)?.state).toBe('suspect')
    const tookMs = harness.runUntil(
      () => harness.upNodes().every((node) => node.swim.member(accused.id)?.state === 'alive' && (node.swim.member(accused.id)?.incarnation ?? 0) >= 1),
      5_000,
    )
    expect(tookMs, replay(seed)).not.toBeNull()
    expect(accused.incarnation).toBe(1)
    harness.run(5_000)
    expect(harness.statesOf(4).every((state) => state === 'alive'), replay(seed)).toBe(true)
    const downs = harness.upNodes().flatMap((node) => node.events.filter((event) => event.kind === 'member-down'))
    expect(downs).toEqual([])
  })

  it('a restarted node (new generation) is alive everywhere at once', () => {
    const seed = 41
    const harness = startCluster(seed, 6)
    converge(harness)
    harness.crash(2)
    harness.run(50)
    harness.start(2, BASE_GENERATION + 1_000, [0])
    const tookMs = harness.runUntil(
      () => harness.upNodes().every((node) => {
        const record = node.swim.member(Harness.id(2))
        return record?.state === 'alive' && record.generation === BASE_GENERATION + 1_000
      }),
      3_000,
    )
    // "At once": a push-pull with the seed plus gossip rounds, far below any suspicion timeout.
    expect(tookMs, replay(seed)).not.toBeNull()
    expect(tookMs as number, replay(seed)).toBeLessThan(1_000)
    harness.run(5_000)
    expect(harness.viewsAgree(), replay(seed)).toBe(true)
  })

  it('all nodes restarted at once come back alive everywhere, none stuck dead', () => {
    const seed = 42
    const harness = startCluster(seed, 6)
    converge(harness)
    for (let i = 0; i < 6; i++) harness.crash(i)
    harness.run(100)
    for (let i = 0; i < 6; i++) harness.start(i, BASE_GENERATION + 2_000 + i, i === 0 ? [1, 2] : [0])
    converge(harness, 15_000)
  })

  it('a graceful leave is seen as left everywhere and is not undone by stale gossip', () => {
    const seed = 51
    const harness = startCluster(seed, 6)
    converge(harness)
    const leaver = harness.node(3)
    harness.perform(leaver, leaver.swim.leave(harness.nowMs))
    const tookMs = harness.runUntil(() => harness.statesOf(3).every((state) => state === 'left'), 2_000)
    expect(tookMs, replay(seed)).not.toBeNull()
    harness.runUntil(() => leaver.swim.isLeaveDisseminated(), 5_000)
    expect(leaver.swim.isLeaveDisseminated()).toBe(true)
    harness.crash(3)
    // A late alive from the leaver's own generation must not revive it.
    const stale: MemberUpdate = {
      kind: 'alive', node: Harness.id(3), address: Harness.address(3), generation: BASE_GENERATION + 3,
      incarnation: 7, metadata: metadata(3),
    }
    const node0 = harness.node(0)
    harness.perform(node0, node0.swim.receive(Harness.address(1), { kind: 'swim-gossip', from: Harness.id(1), updates: [stale] }, harness.nowMs))
    harness.run(3_000)
    expect(harness.statesOf(3).every((state) => state === 'left'), replay(seed)).toBe(true)
    for (const node of harness.upNodes()) {
      expect(node.events).toContainEqual({ kind: 'member-left', node: Harness.id(3), generation: BASE_GENERATION + 3 })
    }
  })

  it('the leader is unique once views agree and moves to the next oldest when it dies', () => {
    const seed = 61
    const harness = startCluster(seed, 6)
    converge(harness)
    const leaders = new Set(harness.upNodes().map((node) => node.swim.leader()))
    expect([...leaders]).toEqual([Harness.id(0)])
    harness.crash(0)
    const tookMs = harness.runUntil(() => harness.upNodes().every((node) => node.swim.leader() === Harness.id(1)), 10_000)
    expect(tookMs, replay(seed)).not.toBeNull()
    for (const node of harness.upNodes()) {
      expect(node.events).toContainEqual<MembershipEvent>({ kind: 'leader-changed', leader: Harness.id(1) })
    }
  })

  it.each([71, 72])('no live node is declared dead on a healthy network with 5 percent loss (seed %i)', (seed) => {
    const harness = startCluster(seed, 6, { lossRate: 0.05 })
    converge(harness, 20_000)
    harness.run(60_000)
    const downs = harness.upNodes().flatMap((node) => node.events.filter((event) => event.kind === 'member-down'))
    expect(downs, replay(seed)).toEqual([])
    expect(harness.viewsAgree(), replay(seed)).toBe(true)
  })

  it('a partition heals into one view through push-pull', () => {
    const seed = 81
    const harness = startCluster(seed, 6)
    converge(harness)
    const side = (address: string): number => (Number(address.split('.')[3]?.split(':')[0]) < 3 ? 0 : 1)
    harness.blocked = (from, to) => side(from) !== side(to)
    harness.run(15_000)
    harness.blocked = () => false
    converge(harness, 3 * config.pushPullIntervalMs)
  })
})

describe('Swim unit behaviour', () => {
  const self = { id: nodeId('a'), address: peerAddress('a:1'), generation: 100, metadata: metadata(0) }
  const peer = (name: string, generation = 100, incarnation = 0): MemberUpdate => ({
    kind: 'alive', node: nodeId(name), address: peerAddress(`${name}:1`), generation, incarnation, metadata: metadata(1),
  })
  function make(): Swim {
    let next = 1
    return new Swim(self, { random: new SeededRandom(5), nextCallId: () => callId(next++) }, config, 0)
  }
  function withPeers(swim: Swim, names: string[]): void {
    swim.receive(peerAddress('b:1'), { kind: 'swim-gossip', from: nodeId('b'), updates: names.map((name) => peer(name)) }, 0)
  }

  it('answers a ping with an ack and drops a ping meant for another node', () => {
    const swim = make()
    const effects = swim.receive(peerAddress('b:1'), { kind: 'swim-ping', seq: 9, from: nodeId('b'), target: self.id, updates: [] }, 1)
    expect(effects).toContainEqual(expect.objectContaining({ kind: 'send', to: 'b:1', message: expect.objectContaining({ kind: 'swim-ack', seq: 9 }) }))
    const misdirected = swim.receive(peerAddress('b:1'), { kind: 'swim-ping', seq: 10, from: nodeId('b'), target: nodeId('old'), updates: [] }, 2)
    expect(misdirected.filter((effect) => effect.kind === 'send')).toEqual([])
    expect(swim.counters.misdirectedPings).toBe(1)
  })

  it('after a silent probe timeout sends k ping-reqs and a TCP fallback ping, then suspects', () => {
    const swim = make()
    withPeers(swim, ['b', 'c', 'd', 'e', 'f'])
    let nowMs = 0
    let pinged: string | undefined
    while (pinged === undefined && nowMs < 1_000) {
      nowMs += 10
      const ping = swim.tick(nowMs).find((effect) => effect.kind === 'send' && effect.message.kind === 'swim-ping')
      if (ping?.kind === 'send' && ping.message.kind === 'swim-ping') pinged = ping.message.target
    }
    expect(pinged).toBeDefined()
    const indirect = swim.tick(nowMs + config.probeTimeoutMs)
    const pingReqs = indirect.filter((effect) => effect.kind === 'send' && effect.message.kind === 'swim-ping-req')
    expect(pingReqs).toHaveLength(config.indirectProbes)
    expect(indirect).toContainEqual(expect.objectContaining({ kind: 'call', message: expect.objectContaining({ kind: 'swim-ping', target: pinged }) }))
    swim.tick(nowMs + config.probeIntervalMs)
    expect(swim.member(nodeId(pinged as string))?.state).toBe('suspect')
    // Three helpers never nacked: evidence against our own health.
    expect(swim.localHealthScore).toBe(config.indirectProbes)
  })

  it('the buddy system tells a suspect it is suspected on the next ping', () => {
    const swim = make()
    withPeers(swim, ['b'])
    const suspect: MemberUpdate = { ...peer('b'), kind: 'suspect', accuser: nodeId('c') }
    swim.receive(peerAddress('c:1'), { kind: 'swim-gossip', from: nodeId('c'), updates: [suspect] }, 1)
    let nowMs = 1
    for (; nowMs < 2_000; nowMs += 10) {
      const ping = swim.tick(nowMs).find((effect) => effect.kind === 'send' && effect.message.kind === 'swim-ping')
      if (ping?.kind === 'send') {
        expect(ping.message.kind === 'swim-ping' && ping.message.updates[0]).toMatchObject({ kind: 'suspect', node: 'b' })
        return
      }
    }
    throw new Error('never pinged the suspect')
  })

  it('refutes a suspicion about itself and raises its local health score', () => {
    const swim = make()
    const accusation: MemberUpdate = {
      kind: 'suspect', node: self.id, address: self.address, generation: 100, incarnation: 0, metadata: self.metadata, accuser: nodeId('b'),
    }
    swim.receive(peerAddress('b:1'), { kind: 'swim-gossip', from: nodeId('b'), updates: [accusation] }, 1)
    expect(swim.incarnation).toBe(1)
    expect(swim.localHealthScore).toBe(1)
    // An accusation against our previous life is ignored.
    swim.receive(peerAddress('b:1'), { kind: 'swim-gossip', from: nodeId('b'), updates: [{ ...accusation, generation: 99, incarnation: 5 }] }, 2)
    expect(swim.incarnation).toBe(1)
  })

  it('a refused send starts ping-reqs at once, and a confirmed refusal suspects on the short timeout', () => {
    const swim = make()
    withPeers(swim, ['b', 'c', 'd'])
    const effects = swim.sendFailed(peerAddress('b:1'), 'refused', 5)
    const pingReqs = effects.filter((effect) => effect.kind === 'send' && effect.message.kind === 'swim-ping-req')
    expect(pingReqs).toHaveLength(2)
    for (const effect of pingReqs) {
      if (effect.kind !== 'send' || effect.message.kind !== 'swim-ping-req') continue
      const helper = effect.to
      swim.receive(helper, { kind: 'swim-nack', seq: effect.message.seq, from: nodeId(helper.split(':')[0] as string), target: nodeId('b'), refused: true, updates: [] }, 8)
    }
    expect(swim.member(nodeId('b'))?.state).toBe('suspect')
    swim.tick(8 + config.refusalSuspicionTimeoutMs - 1)
    expect(swim.member(nodeId('b'))?.state).toBe('suspect')
    swim.tick(8 + config.refusalSuspicionTimeoutMs)
    expect(swim.member(nodeId('b'))?.state).toBe('dead')
  })

  it('one confused observer cannot convict: a refusal that a helper answers is no suspicion', () => {
    const swim = make()
    withPeers(swim, ['b', 'c', 'd'])
    const effects = swim.sendFailed(peerAddress('b:1'), 'refused', 5)
    const pingReq = effects.find((effect) => effect.kind === 'send' && effect.message.kind === 'swim-ping-req')
    if (pingReq?.kind !== 'send' || pingReq.message.kind !== 'swim-ping-req') throw new Error('no ping-req')
    swim.receive(pingReq.to, { kind: 'swim-indirect-ack', seq: pingReq.message.seq, from: nodeId('c'), target: nodeId('b'), updates: [] }, 7)
    swim.tick(5_000)
    expect(swim.member(nodeId('b'))?.state).toBe('alive')
  })

  it('relays a ping-req and nacks the requester when the target stays silent', () => {
    const swim = make()
    const effects = swim.receive(peerAddress('b:1'), {
      kind: 'swim-ping-req', seq: 3, from: nodeId('b'), target: nodeId('c'), targetAddress: peerAddress('c:1'), updates: [],
    }, 10)
    expect(effects).toContainEqual(expect.objectContaining({ kind: 'send', to: 'c:1', message: expect.objectContaining({ kind: 'swim-ping', target: 'c' }) }))
    const later = swim.tick(10 + config.probeTimeoutMs)
    expect(later).toContainEqual(expect.objectContaining({ kind: 'send', to: 'b:1', message: expect.objectContaining({ kind: 'swim-nack', seq: 3, refused: false }) }))
  })

  it('φ above the threshold raises suspicion once per silence', () => {
    const swim = make()
    withPeers(swim, ['b'])
    let nowMs = 0
    for (let i = 0; i < 20; i++) {
      nowMs += 100
      swim.receive(peerAddress('b:1'), { kind: 'swim-gossip', from: nodeId('b'), updates: [] }, nowMs)
    }
    // Keep answering our probes so only φ can accuse: no ticks until long silence.
    nowMs += 5_000
    swim.tick(nowMs)
    expect(swim.members(nowMs).find((member) => member.id === 'b')?.phi).toBeGreaterThan(config.phiThreshold)
    expect(swim.member(nodeId('b'))?.state).toBe('suspect')
  })

  it('retries join with backoff until a seed answers', () => {
    const swim = make()
    const first = swim.join([peerAddress('s:1')], 0)
    expect(first).toHaveLength(1)
    const call = first[0]
    if (call?.kind !== 'call') throw new Error('expected a call')
    swim.callResult(call.callId, call.to, { kind: 'failed', reason: 'timeout' }, 500)
    const retries: number[] = []
    for (let nowMs = 510; nowMs < 5_000; nowMs += 10) {
      if (swim.tick(nowMs).some((effect) => effect.kind === 'call' && effect.message.kind === 'swim-push-pull-request')) retries.push(nowMs)
    }
    expect(retries.length).toBeGreaterThan(0)
    expect(swim.isJoined).toBe(false)
  })
})
