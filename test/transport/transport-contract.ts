/**
 * The Transport contract: what every implementation (UdpTcpTransport on real sockets, the simulator's
 * transport) must do, as one suite each implementation runs with a one-line test file (STYLE rule 3).
 *
 * The suite never waits on real time itself: it only waits through `runUntil`, which the real pair implements
 * by polling the event loop against a wall-clock deadline and the simulated pair by pumping its event queue
 * until virtual time reaches the deadline. `deadlineMs` is a duration from now, in the pair's own time.
 */
import { describe, expect, it } from 'vitest'
import type { CallFailure, CallOutcome, Carrier } from '../../src/core/node/input.ts'
import type { Message } from '../../src/core/node/message.ts'
import { nodeId, type PeerAddress } from '../../src/core/primitives/ids.ts'
import type { Transport, TransportHandlers } from '../../src/transport/transport.ts'

export interface TransportPair {
  readonly a: Transport
  readonly b: Transport
  /** Resolves once predicate() holds; rejects if deadlineMs (from now, in the pair's time) passes first. */
  runUntil(predicate: () => boolean, deadlineMs: number): Promise<void>
  /** Closes both transports; must tolerate either having been closed already. */
  close(): Promise<void>
}

export type MakeTransportPair = () => TransportPair | Promise<TransportPair>

interface Received {
  readonly from: PeerAddress
  readonly carrier: Carrier
  readonly message: Message
}

interface HeldCall {
  readonly from: PeerAddress
  readonly message: Message
  readonly respond: (answer: Message) => void
}

/** Records everything a transport delivers. With `answer`, calls are answered at once; otherwise they are held. */
export class Recorder implements TransportHandlers {
  readonly messages: Received[] = []
  readonly calls: HeldCall[] = []
  readonly sendFailures: { to: PeerAddress; reason: CallFailure }[] = []

  constructor(private readonly answer?: (message: Message) => Message) {}

  onMessage(from: PeerAddress, carrier: Carrier, message: Message): void {
    this.messages.push({ from, carrier, message })
  }

  onCall(from: PeerAddress, message: Message, respond: (answer: Message) => void): void {
    if (this.answer === undefined) this.calls.push({ from, message, respond })
    else respond(this.answer(message))
  }

  onSendFailed(to: PeerAddress, reason: CallFailure): void {
    this.sendFailures.push({ to, reason })
  }
}

export const echo = (seq: number, payload: Uint8Array = Uint8Array.of(seq & 0xff)): Message => ({
  kind: 'echo',
  from: nodeId('contract'),
  seq,
  payload,
})

/** The echo protocol's answer: same seq and payload. Other kinds are answered with an empty echo-reply. */
export const reply = (message: Message): Message => ({
  kind: 'echo-reply',
  from: nodeId('replier'),
  seq: message.kind === 'echo' ? message.seq : 0,
  payload: message.kind === 'echo' ? message.payload : new Uint8Array(0),
})

const DEADLINE_MS = 5_000
const failureReasons: readonly CallFailure[] = ['timeout', 'refused', 'connection-lost', 'unreachable', 'overloaded']

async function withPair(makePair: MakeTransportPair, body: (pair: TransportPair) => Promise<void>): Promise<void> {
  const pair = await makePair()
  try {
    await body(pair)
  } finally {
    await pair.close()
  }
}

export function describeTransportContract(name: string, makePair: MakeTransportPair): void {
  describe(`Transport contract: ${name}`, () => {
    it('delivers a datagram with the sender address and carrier', async () => {
      await withPair(makePair, async ({ a, b, runUntil }) => {
        const atB = new Recorder()
        a.listen(new Recorder())
        b.listen(atB)
        a.send(b.localAddress, 'datagram', echo(1))
        await runUntil(() => atB.messages.length === 1, DEADLINE_MS)
        expect(atB.messages[0]).toEqual({ from: a.localAddress, carrier: 'datagram', message: echo(1) })
        expect(a.stats().datagramsSent).toBeGreaterThanOrEqual(1)
        expect(b.stats().datagramsReceived).toBeGreaterThanOrEqual(1)
      })
    })

    it('delivers stream sends in order, from the sender address', async () => {
      await withPair(makePair, async ({ a, b, runUntil }) => {
        const atB = new Recorder()
        a.listen(new Recorder())
        b.listen(atB)
        for (let seq = 0; seq < 50; seq++) a.send(b.localAddress, 'stream', echo(seq))
        await runUntil(() => atB.messages.length === 50, DEADLINE_MS)
        expect(atB.messages.map((received) => received.message)).toEqual(Array.from({ length: 50 }, (_, seq) => echo(seq)))
        expect(atB.messages.every((received) => received.from === a.localAddress && received.carrier === 'stream')).toBe(true)
        expect(a.stats().framesSent).toBeGreaterThanOrEqual(50)
        expect(b.stats().framesReceived).toBeGreaterThanOrEqual(50)
      })
    })

    it('answers a call, tells the callee who called, and never calls back synchronously', async () => {
      await withPair(makePair, async ({ a, b, runUntil }) => {
        const atB = new Recorder()
        a.listen(new Recorder())
        b.listen(atB)
        const outcomes: CallOutcome[] = []
        a.call(b.localAddress, echo(7), DEADLINE_MS, (outcome) => outcomes.push(outcome))
        expect(outcomes).toEqual([])
        await runUntil(() => atB.calls.length === 1, DEADLINE_MS)
        expect(atB.calls[0]?.from).toBe(a.localAddress)
        atB.calls[0]?.respond(reply(echo(7)))
        atB.calls[0]?.respond(reply(echo(8)))
        await runUntil(() => outcomes.length === 1, DEADLINE_MS)
        expect(outcomes[0]).toEqual({ kind: 'ok', message: reply(echo(7)) })
      })
    })

    it('matches pipelined calls answered out of order to their callers', async () => {
      await withPair(makePair, async ({ a, b, runUntil }) => {
        const atB = new Recorder()
        a.listen(new Recorder())
        b.listen(atB)
        const outcomes = new Map<number, CallOutcome>()
        const count = 100
        for (let seq = 0; seq < count; seq++) a.call(b.localAddress, echo(seq), DEADLINE_MS, (outcome) => outcomes.set(seq, outcome))
        await runUntil(() => atB.calls.length === count, DEADLINE_MS)
        for (const held of [...atB.calls].reverse()) held.respond(reply(held.message))
        await runUntil(() => outcomes.size === count, DEADLINE_MS)
        for (let seq = 0; seq < count; seq++) expect(outcomes.get(seq)).toEqual({ kind: 'ok', message: reply(echo(seq)) })
      })
    })

    it('carries a large message over the stream', async () => {
      await withPair(makePair, async ({ a, b, runUntil }) => {
        a.listen(new Recorder())
        b.listen(new Recorder(reply))
        const payload = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 31) & 0xff)
        let outcome: CallOutcome | undefined
        a.call(b.localAddress, echo(1, payload), DEADLINE_MS, (result) => (outcome = result))
        await runUntil(() => outcome !== undefined, DEADLINE_MS)
        // Compared by hand: a deep toEqual over 200,000 array elements takes seconds.
        const message = outcome?.kind === 'ok' ? outcome.message : undefined
        expect(message?.kind).toBe('echo-reply')
        const echoed = message !== undefined && 'payload' in message ? message.payload : new Uint8Array(0)
        expect(echoed.length).toBe(payload.length)
        expect(echoed.every((byte, i) => byte === payload[i])).toBe(true)
      })
    })

    it('times out a call that is never answered, exactly once', async () => {
      await withPair(makePair, async ({ a, b, runUntil }) => {
        const atB = new Recorder()
        a.listen(new Recorder())
        b.listen(atB)
        const outcomes: CallOutcome[] = []
        a.call(b.localAddress, echo(1), 200, (outcome) => outcomes.push(outcome))
        await runUntil(() => outcomes.length === 1, DEADLINE_MS)
        expect(outcomes).toEqual([{ kind: 'failed', reason: 'timeout' }])
        // A late answer must not produce a second callback.
        await runUntil(() => atB.calls.length === 1, DEADLINE_MS)
        atB.calls[0]?.respond(reply(echo(1)))
        let probe: CallOutcome | undefined
        a.call(b.localAddress, echo(2), DEADLINE_MS, (outcome) => (probe = outcome))
        await runUntil(() => atB.calls.length === 2, DEADLINE_MS)
        atB.calls[1]?.respond(reply(echo(2)))
        await runUntil(() => probe !== undefined, DEADLINE_MS)
        expect(outcomes).toHaveLength(1)
      })
    })

    it('fails pending calls with connection-lost when the caller closes', async () => {
      await withPair(makePair, async ({ a, b, runUntil }) => {
        const atB = new Recorder()
        a.listen(new Recorder())
        b.listen(atB)
        const outcomes: CallOutcome[] = []
        for (let seq = 0; seq < 3; seq++) a.call(b.localAddress, echo(seq), DEADLINE_MS, (outcome) => outcomes.push(outcome))
        await runUntil(() => atB.calls.length === 3, DEADLINE_MS)
        await a.close()
        await runUntil(() => outcomes.length === 3, DEADLINE_MS)
        expect(outcomes).toEqual(Array.from({ length: 3 }, () => ({ kind: 'failed', reason: 'connection-lost' })))
      })
    })

    it('fails a call to a peer that has closed, without hanging', async () => {
      await withPair(makePair, async ({ a, b, runUntil }) => {
        a.listen(new Recorder())
        b.listen(new Recorder(reply))
        let first: CallOutcome | undefined
        a.call(b.localAddress, echo(1), DEADLINE_MS, (outcome) => (first = outcome))
        await runUntil(() => first !== undefined, DEADLINE_MS)
        expect(first?.kind).toBe('ok')
        await b.close()
        let second: CallOutcome | undefined
        a.call(b.localAddress, echo(2), 1_000, (outcome) => (second = outcome))
        await runUntil(() => second !== undefined, DEADLINE_MS)
        expect(second?.kind).toBe('failed')
        if (second?.kind === 'failed') expect(failureReasons).toContain(second.reason)
      })
    })

    it('throws on a datagram larger than the datagram limit', async () => {
      await withPair(makePair, async ({ a, b }) => {
        a.listen(new Recorder())
        b.listen(new Recorder())
        expect(() => a.send(b.localAddress, 'datagram', echo(1, new Uint8Array(2_000)))).toThrow()
      })
    })
  })
}
