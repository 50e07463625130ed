/**
 * FaultInjectingTransport: it must still be a Transport (the shared contract on real loopback sockets, with a
 * delay switched on), and it must do the faults it promises: delay every leg, reorder datagrams but never
 * stream sends, duplicate datagrams at the configured rate, keep a call's deadline, and pass everything
 * straight through when the settings are all zero. Waits poll with a deadline (runUntil); nothing sleeps.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { CallOutcome, Carrier } from '../../src/core/node/input.ts'
import type { Message } from '../../src/core/node/message.ts'
import { peerAddress } from '../../src/core/primitives/ids.ts'
import type { Millis, PeerAddress } from '../../src/core/primitives/ids.ts'
import { SeededRandom } from '../../src/core/primitives/random.ts'
import { FaultInjectingTransport, noFaults } from '../../src/transport/fault-injecting-transport.ts'
import type { FaultSettings } from '../../src/transport/fault-injecting-transport.ts'
import type { Transport, TransportHandlers, TransportStats } from '../../src/transport/transport.ts'
import { makeRealPair, runUntil } from './real-transport-pair.ts'
import { describeTransportContract, echo, reply } from './transport-contract.ts'

const limits = { maxDatagramBytes: 1_400, authenticated: false }
const delayed: FaultSettings = { delayMs: 2, delayJitterMs: 3, duplicateRate: 0 }

describeTransportContract('FaultInjectingTransport (2 ms + Exp(3 ms)) over UdpTcpTransport on loopback', async () => {
  const pair = await makeRealPair()
  const random = new SeededRandom(7)
  const wrap = (inner: Transport): FaultInjectingTransport => new FaultInjectingTransport(inner, { random: () => random.nextFloat() }, limits, delayed)
  const a = wrap(pair.a)
  const b = wrap(pair.b)
  return { a, b, runUntil, close: async () => void (await Promise.all([a.close(), b.close()])) }
})

/** An inner transport that records what reaches it, with when, and answers calls as told. */
class FakeInner implements Transport {
  readonly localAddress = peerAddress('127.0.0.1:1')
  readonly sent: { to: PeerAddress; carrier: Carrier; seq: number; atMs: number }[] = []
  answerCalls: 'echo' | 'never' = 'echo'
  closed = false

  listen(_handlers: TransportHandlers): void {}

  send(to: PeerAddress, carrier: Carrier, message: Message): void {
    this.sent.push({ to, carrier, seq: message.kind === 'echo' ? message.seq : -1, atMs: Date.now() })
  }

  call(_to: PeerAddress, message: Message, timeoutMs: Millis, callback: (outcome: CallOutcome) => void): void {
    if (this.answerCalls === 'echo') setImmediate(() => callback({ kind: 'ok', message: reply(message) }))
    else setTimeout(() => callback({ kind: 'failed', reason: 'timeout' }), timeoutMs)
  }

  stats(): TransportStats {
    return { datagramsSent: 0, datagramsReceived: 0, framesSent: 0, framesReceived: 0, bytesSent: 0, bytesReceived: 0, malformedDropped: 0 }
  }

  async close(): Promise<void> {
    this.closed = true
  }
}

const peer = peerAddress('127.0.0.1:2')
const opened: FaultInjectingTransport[] = []
afterEach(async () => {
  for (const transport of opened.splice(0)) await transport.close()
})

function wrapped(settings: FaultSettings, seed = 1): { inner: FakeInner; outer: FaultInjectingTransport } {
  const inner = new FakeInner()
  const random = new SeededRandom(seed)
  const outer = new FaultInjectingTransport(inner, { random: () => random.nextFloat() }, limits, settings)
  opened.push(outer)
  return { inner, outer }
}

describe('FaultInjectingTransport faults', () => {
  it('passes everything straight through when every setting is zero', () => {
    const { inner, outer } = wrapped(noFaults)
    outer.send(peer, 'datagram', echo(1))
    outer.send(peer, 'stream', echo(2))
    // Synchronous: no timer stands between the caller and the inner transport.
    expect(inner.sent.map((s) => s.seq)).toEqual([1, 2])
    expect(outer.counters).toEqual({ delayed: 0, duplicated: 0, reordered: 0 })
  })

  it('delays datagrams by at least the fixed delay and reorders them through the exponential jitter', async () => {
    const { inner, outer } = wrapped({ delayMs: 5, delayJitterMs: 20, duplicateRate: 0 })
    const startMs = Date.now()
    for (let seq = 0; seq < 200; seq++) outer.send(peer, 'datagram', echo(seq))
    expect(inner.sent).toHaveLength(0)
    await runUntil(() => inner.sent.length === 200, 5_000)
    // Timers may fire a millisecond early by Date's rounding; 4 ms is the fixed 5 less that slack.
    expect(Math.min(...inner.sent.map((s) => s.atMs - startMs))).toBeGreaterThanOrEqual(4)
    const order = inner.sent.map((s) => s.seq)
    expect(order).not.toEqual([...order].sort((x, y) => x - y))
    expect(outer.counters.reordered).toBeGreaterThan(0)
  })

  it('keeps stream sends in order per peer however the delays fall', async () => {
    const { inner, outer } = wrapped({ delayMs: 1, delayJitterMs: 20, duplicateRate: 0 })
    for (let seq = 0; seq < 100; seq++) outer.send(peer, 'stream', echo(seq))
    await runUntil(() => inner.sent.length === 100, 5_000)
    expect(inner.sent.map((s) => s.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it('keeps stream order across switching faults off: later frames wait behind the held ones', async () => {
    const { inner, outer } = wrapped({ delayMs: 30, delayJitterMs: 0, duplicateRate: 0 })
    outer.send(peer, 'stream', echo(1))
    outer.configure(noFaults)
    outer.send(peer, 'stream', echo(2))
    await runUntil(() => inner.sent.length === 2, 5_000)
    expect(inner.sent.map((s) => s.seq)).toEqual([1, 2])
    // Once the queue has drained, frames go straight through again.
    outer.send(peer, 'stream', echo(3))
    expect(inner.sent.map((s) => s.seq)).toEqual([1, 2, 3])
  })

  it('duplicates datagrams at about the configured rate, and never stream sends', async () => {
    const { inner, outer } = wrapped({ delayMs: 0, delayJitterMs: 1, duplicateRate: 0.3 })
    for (let seq = 0; seq < 1_000; seq++) outer.send(peer, 'datagram', echo(seq))
    for (let seq = 0; seq < 100; seq++) outer.send(peer, 'stream', echo(10_000 + seq))
    const expected = 1_000 + outer.counters.duplicated + 100
    await runUntil(() => inner.sent.length === expected, 5_000)
    // 300 expected; a seeded run, so the bounds are about 4.5 standard deviations wide rather than flaky.
    expect(outer.counters.duplicated).toBeGreaterThan(235)
    expect(outer.counters.duplicated).toBeLessThan(365)
    expect(inner.sent.filter((s) => s.carrier === 'stream')).toHaveLength(100)
  })

  it('delays both legs of a call, and answers timeout at the caller deadline exactly once', async () => {
    const { inner, outer } = wrapped({ delayMs: 15, delayJitterMs: 0, duplicateRate: 0 })
    const outcomes: { outcome: CallOutcome; elapsedMs: number }[] = []
    const startMs = Date.now()
    outer.call(peer, echo(1), 1_000, (outcome) => outcomes.push({ outcome, elapsedMs: Date.now() - startMs }))
    await runUntil(() => outcomes.length === 1, 5_000)
    expect(outcomes[0]?.outcome.kind).toBe('ok')
    expect(outcomes[0]?.elapsedMs).toBeGreaterThanOrEqual(28) // two legs of 15 ms, less timer rounding

    inner.answerCalls = 'never'
    const late: CallOutcome[] = []
    const lateStartMs = Date.now()
    outer.call(peer, echo(2), 60, (outcome) => late.push(outcome))
    await runUntil(() => late.length === 1, 5_000)
    expect(late[0]).toEqual({ kind: 'failed', reason: 'timeout' })
    expect(Date.now() - lateStartMs).toBeLessThan(1_000)
    // The inner transport's own timeout (at 15 + 60 ms) must not produce a second callback.
    await runUntil(() => Date.now() - lateStartMs > 120, 5_000)
    expect(late).toHaveLength(1)
  })

  it('can be switched on and off at run time, and close() fails calls still held back', async () => {
    const { inner, outer } = wrapped(noFaults)
    outer.configure({ delayMs: 50, delayJitterMs: 0, duplicateRate: 0 })
    outer.send(peer, 'datagram', echo(1))
    expect(inner.sent).toHaveLength(0)
    const outcomes: CallOutcome[] = []
    outer.call(peer, echo(2), 5_000, (outcome) => outcomes.push(outcome))
    outer.configure(noFaults)
    outer.send(peer, 'datagram', echo(3))
    expect(inner.sent.map((s) => s.seq)).toEqual([3])
    await outer.close()
    expect(inner.closed).toBe(true)
    expect(outcomes).toEqual([{ kind: 'failed', reason: 'connection-lost' }])
    expect(() => outer.configure({ delayMs: -1, delayJitterMs: 0, duplicateRate: 2 })).toThrow(/delayMs[\s\S]*duplicateRate/)
  })
})
