import { describe, expect, it } from 'vitest'
import { Node } from '../../../src/core/node/node.ts'
import { presets } from '../../../src/core/node/node-config.ts'
import { callId, nodeId, peerAddress, requestId } from '../../../src/core/primitives/ids.ts'
import { SeededRandom } from '../../../src/core/primitives/random.ts'

const metadata = { httpAddress: '127.0.0.1:8001', zone: '', partitions: 64, protocolVersion: 1 }
const makeNode = (): Node =>
  new Node({ id: nodeId('n1'), address: peerAddress('127.0.0.1:7001'), generation: 1, metadata }, { random: new SeededRandom(1) }, presets.test, 0)
const peer = peerAddress('127.0.0.1:7002')
const payload = new Uint8Array([1, 2, 3])

describe('Node.step', () => {
  it('answers an echo datagram with an echo-reply to the sender', () => {
    const effects = makeNode().step({ kind: 'packet', from: peer, carrier: 'datagram', message: { kind: 'echo', from: nodeId('n2'), seq: 7, payload } }, 0)
    expect(effects).toEqual([{ kind: 'send', to: peer, carrier: 'datagram', message: { kind: 'echo-reply', from: 'n1', seq: 7, payload } }])
  })

  it('answers an echo call with exactly one respond effect for that call', () => {
    const effects = makeNode().step({ kind: 'call', from: peer, callId: callId(3), message: { kind: 'echo', from: nodeId('n2'), seq: 1, payload } }, 0)
    expect(effects).toEqual([{ kind: 'respond', to: peer, callId: 3, message: { kind: 'echo-reply', from: 'n1', seq: 1, payload } }])
  })

  it('answers a health request', () => {
    const effects = makeNode().step({ kind: 'client-request', requestId: requestId(1), request: { kind: 'health' } }, 5)
    expect(effects).toEqual([{ kind: 'reply', requestId: 1, response: { kind: 'health', id: 'n1', status: 'ok' } }])
  })

  it('lists itself as the only alive member, and leader, before joining anyone', () => {
    const [effect] = makeNode().step({ kind: 'client-request', requestId: requestId(2), request: { kind: 'members' } }, 1)
    expect(effect).toMatchObject({ kind: 'reply', response: { kind: 'members', leader: 'n1', members: [{ id: 'n1', state: 'alive', generation: 1 }] } })
  })

  it('a join request answers at once and starts contacting the seeds', () => {
    const effects = makeNode().step({ kind: 'client-request', requestId: requestId(3), request: { kind: 'join', seeds: [peer] } }, 1)
    expect(effects.at(-1)).toEqual({ kind: 'reply', requestId: 3, response: { kind: 'ok' } })
    expect(effects.some((e) => (e.kind === 'call' || e.kind === 'send') && e.to === peer)).toBe(true)
  })

  it('refuses time that runs backwards', () => {
    const node = makeNode()
    node.step({ kind: 'tick' }, 100)
    expect(() => node.step({ kind: 'tick' }, 99)).toThrow(/backwards/)
  })
})
