/**
 * Per-kind traffic counters: every byte a transport counts as sent is attributed to exactly one (kind, carrier)
 * row, so /metrics can say where a node's cluster traffic goes. Real loopback sockets; waits poll a deadline.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { CallOutcome } from '../../src/core/node/input.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'
import type { TrafficByKind } from '../../src/transport/transport.ts'
import { TransportCounters } from '../../src/transport/transport-counters.ts'
import { makeRealPair, runUntil } from './real-transport-pair.ts'
import { echo, Recorder, reply } from './transport-contract.ts'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

const row = (traffic: TrafficByKind | undefined, carrier: string, kind: string) =>
  traffic?.find((entry) => entry.carrier === carrier && entry.kind === kind)

describe('per-kind traffic counters', () => {
  it('attributes every sent byte to one kind and carrier', async () => {
    const pair = await makeRealPair()
    cleanups.push(pair.close)
    const { a, b } = pair
    const atA = new Recorder()
    const atB = new Recorder(reply)
    a.listen(atA)
    b.listen(atB)
    a.send(b.localAddress, 'datagram', echo(1))
    a.send(b.localAddress, 'datagram', echo(2))
    a.send(b.localAddress, 'datagram', { kind: 'swim-ping', seq: 3, from: nodeId('a'), target: nodeId('b'), updates: [] })
    const outcome = await new Promise<CallOutcome>((resolve) => a.call(b.localAddress, echo(4), 2_000, resolve))
    expect(outcome.kind).toBe('ok')
    await runUntil(() => atB.messages.length === 3, 2_000)

    const sentByA = a.stats().sentByKind
    expect(row(sentByA, 'datagram', 'echo')?.messages).toBe(2)
    expect(row(sentByA, 'datagram', 'swim-ping')?.messages).toBe(1)
    expect(row(sentByA, 'stream', 'hello')?.messages).toBe(1)
    expect(row(sentByA, 'stream', 'echo')?.messages).toBe(1)
    expect(row(b.stats().sentByKind, 'stream', 'echo-reply')?.messages).toBe(1)
    for (const transport of [a, b]) {
      const stats = transport.stats()
      expect((stats.sentByKind ?? []).reduce((sum, entry) => sum + entry.bytes, 0)).toBe(stats.bytesSent)
    }
  })

  it('stays bounded when kinds are named without limit', () => {
    const counters = new TransportCounters()
    for (let index = 0; index < 1_000; index++) counters.countSentKind(`kind-${index}`, 'stream', 10)
    const traffic = counters.snapshot().sentByKind ?? []
    expect(traffic.length).toBeLessThanOrEqual(257)
    expect(traffic.reduce((sum, entry) => sum + entry.bytes, 0)).toBe(10_000)
    expect(row(traffic, 'stream', 'other')?.messages).toBe(1_000 - 256)
  })
})
