/**
 * UdpTcpTransport on real loopback sockets, beyond the shared contract: volume, a peer process killed and
 * restarted mid-stream, hostile bytes on both ports, authentication and back-pressure. Every wait polls with a
 * deadline (runUntil); nothing sleeps a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { connect } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import type { CallOutcome } from '../../src/core/node/input.ts'
import type { Message } from '../../src/core/node/message.ts'
import { parseHostPort, peerAddress, type PeerAddress } from '../../src/core/primitives/ids.ts'
import { SeededRandom, shuffled } from '../../src/core/primitives/random.ts'
import { encodeFrame } from '../../src/transport/frame-codec.ts'
import type { UdpTcpTransport } from '../../src/transport/udp-tcp-transport.ts'
import { encodeMessage } from '../../src/transport/wire-codec.ts'
import { HOLD_FROM_SEQ } from './fixtures/echo-peer-protocol.ts'
import { makeRealPair, openLoopback, runUntil } from './real-transport-pair.ts'
import { echo, Recorder, reply } from './transport-contract.ts'

const here = dirname(fileURLToPath(import.meta.url))
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function pair(options: Parameters<typeof makeRealPair>[0] = {}): Promise<{ a: UdpTcpTransport; b: UdpTcpTransport }> {
  const created = await makeRealPair(options)
  cleanups.push(created.close)
  return created
}

function portOf(address: PeerAddress): number {
  return (parseHostPort(address) as { port: number }).port
}

function callOnce(transport: UdpTcpTransport, to: PeerAddress, message: Message, timeoutMs: number): Promise<CallOutcome> {
  return new Promise((resolve) => transport.call(to, message, timeoutMs, resolve))
}

describe('UdpTcpTransport on loopback', () => {
  it('delivers 10,000 pipelined calls answered out of order to their callers', async () => {
    const { a, b } = await pair({ maxQueuedCallsPerChannel: 10_000 })
    const random = new SeededRandom(10)
    let held: { message: Message; respond: (answer: Message) => void }[] = []
    let flushScheduled = false
    a.listen(new Recorder())
    b.listen({
      onMessage: () => undefined,
      onCall: (_from, message, respond) => {
        held.push({ message, respond })
        if (flushScheduled) return
        flushScheduled = true
        // Answer everything that arrived in this turn in a shuffled order: out of order within each window.
        setImmediate(() => {
          flushScheduled = false
          const batch = held
          held = []
          for (const call of shuffled(random, batch)) call.respond(reply(call.message))
        })
      },
    })
    const count = 10_000
    const outcomes: (CallOutcome | undefined)[] = new Array(count)
    let settled = 0
    for (let seq = 0; seq < count; seq++) {
      a.call(b.localAddress, echo(seq), 30_000, (outcome) => {
        if (outcomes[seq] !== undefined) throw new Error(`second callback for call ${seq}`)
        outcomes[seq] = outcome
        settled++
      })
    }
    await runUntil(() => settled === count, 30_000)
    const wrong = outcomes.filter((outcome, seq) => outcome?.kind !== 'ok' || outcome.message.kind !== 'echo-reply' || outcome.message.seq !== seq)
    expect(wrong).toEqual([])
  })

  it('fails the calls pending on a killed peer, then reconnects once it is back', async () => {
    const a = await openLoopback({ reconnectBackoffMinMs: 20, reconnectBackoffMaxMs: 200 })
    cleanups.push(() => a.close())
    a.listen(new Recorder())
    const first = await startEchoPeer(0)
    const peer = first.address
    expect(await callOnce(a, peer, echo(1), 5_000)).toMatchObject({ kind: 'ok' })

    // Calls in flight when the process dies: the peer holds these, so they are pending at the kill.
    const pending: CallOutcome[] = []
    for (let i = 0; i < 20; i++) a.call(peer, echo(HOLD_FROM_SEQ + i), 20_000, (outcome) => pending.push(outcome))
    await runUntil(() => a.stats().framesSent >= 22, 5_000)
    first.process.kill('SIGKILL')
    await runUntil(() => pending.length === 20, 5_000)
    for (const outcome of pending) {
      expect(outcome.kind).toBe('failed')
      if (outcome.kind === 'failed') expect(['connection-lost', 'timeout']).toContain(outcome.reason)
    }
    // With the process gone its port refuses: strong evidence for membership.
    await runUntil(() => first.process.exitCode !== null || first.process.signalCode !== null, 5_000)
    expect(await callOnce(a, peer, echo(2), 2_000)).toEqual({ kind: 'failed', reason: 'refused' })

    await startEchoPeer(portOf(peer))
    const outcome = await callUntilOk(a, peer, 10_000)
    expect(outcome).toMatchObject({ kind: 'ok', message: { kind: 'echo-reply' } })
    expect(a.stats().connectionsOpened).toBeGreaterThanOrEqual(2)
  })

  it('closes only the connection that sends garbage and keeps serving others', async () => {
    const { a, b } = await pair()
    a.listen(new Recorder())
    b.listen(new Recorder(reply))
    expect(await callOnce(a, b.localAddress, echo(1), 5_000)).toMatchObject({ kind: 'ok' })

    const random = new SeededRandom(11)
    const garbage = Uint8Array.from({ length: 4_096 }, () => random.nextInt(256))
    // Garbage from the first byte; a valid-looking frame before any hello; a hello followed by garbage.
    const hello = encodeFrame({ type: 'hello', callId: 0, body: new TextEncoder().encode('127.0.0.1:9') }, { maxFrameBytes: 1 << 20 })
    const callBeforeHello = encodeFrame({ type: 'call', callId: 1, body: encodeMessage(echo(1)) }, { maxFrameBytes: 1 << 20 })
    const attacks = [garbage, callBeforeHello, Uint8Array.from([...hello, ...garbage.subarray(0, 100)])]
    for (const bytes of attacks) await expectClosedByPeer(b.localAddress, bytes)

    expect(b.stats().connectionsClosedForProtocolErrors).toBe(attacks.length)
    expect(b.stats().malformedDropped).toBe(attacks.length)
    expect(await callOnce(a, b.localAddress, echo(2), 5_000)).toMatchObject({ kind: 'ok' })
  })

  it('drops and counts garbage datagrams and keeps receiving good ones', async () => {
    const { a, b } = await pair()
    const atB = new Recorder()
    a.listen(new Recorder())
    b.listen(atB)
    const socket = createSocket('udp4')
    cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())))
    const random = new SeededRandom(12)
    for (let i = 0; i < 50; i++) {
      const bytes = Uint8Array.from({ length: 1 + random.nextInt(1_400) }, () => random.nextInt(256))
      socket.send(bytes, portOf(b.localAddress), '127.0.0.1')
    }
    await runUntil(() => b.stats().malformedDropped === 50, 5_000)
    a.send(b.localAddress, 'datagram', echo(3))
    await runUntil(() => atB.messages.length === 1, 5_000)
    expect(atB.messages[0]?.message).toEqual(echo(3))
  })

  it('with a cluster secret, drops unsigned datagrams and connections', async () => {
    const secret = new TextEncoder().encode('the cluster secret, 32 bytes long')
    const { a: signedA, b: signedB } = await pair({ clusterSecret: secret })
    const unsigned = await openLoopback()
    cleanups.push(() => unsigned.close())
    const atB = new Recorder(reply)
    signedA.listen(new Recorder())
    signedB.listen(atB)
    unsigned.listen(new Recorder())

    unsigned.send(signedB.localAddress, 'datagram', echo(1))
    await runUntil(() => signedB.stats().unauthenticatedDropped === 1, 5_000)
    expect(await callOnce(unsigned, signedB.localAddress, echo(2), 5_000)).toEqual({ kind: 'failed', reason: 'connection-lost' })
    expect(signedB.stats().unauthenticatedDropped).toBe(2)
    expect(atB.messages).toEqual([])

    expect(await callOnce(signedA, signedB.localAddress, echo(3), 5_000)).toMatchObject({ kind: 'ok' })
  })

  it('reports refused for a port nobody listens on, and fails fast while backing off', async () => {
    const gone = await openLoopback()
    const address = gone.localAddress
    await gone.close()
    const a = await openLoopback({ reconnectBackoffMinMs: 5_000, reconnectBackoffMaxMs: 5_000 })
    cleanups.push(() => a.close())
    a.listen(new Recorder())
    expect(await callOnce(a, address, echo(1), 5_000)).toEqual({ kind: 'failed', reason: 'refused' })
    const started = performance.now()
    expect(await callOnce(a, address, echo(2), 5_000)).toEqual({ kind: 'failed', reason: 'refused' })
    expect(performance.now() - started).toBeLessThan(1_000)
  })

  it('bounds calls in flight and queued; beyond both a call fails with overloaded', async () => {
    const { a, b } = await pair({ maxInFlightPerChannel: 2, maxQueuedCallsPerChannel: 2 })
    const atB = new Recorder()
    a.listen(new Recorder())
    b.listen(atB)
    const outcomes = new Map<number, CallOutcome>()
    for (let seq = 0; seq < 5; seq++) a.call(b.localAddress, echo(seq), 10_000, (outcome) => outcomes.set(seq, outcome))
    await runUntil(() => outcomes.size === 1 && atB.calls.length === 2, 5_000)
    expect(outcomes.get(4)).toEqual({ kind: 'failed', reason: 'overloaded' })
    // Answering frees slots, so the queued calls go out and are answered in turn.
    await runUntil(() => {
      for (const call of atB.calls.splice(0)) call.respond(reply(call.message))
      return outcomes.size === 5
    }, 5_000)
    for (let seq = 0; seq < 4; seq++) expect(outcomes.get(seq)).toMatchObject({ kind: 'ok', message: { seq } })
  })
})

// ---- helpers ---------------------------------------------------------------------------------------------

interface EchoPeer {
  readonly process: ChildProcess
  readonly address: PeerAddress
}

/** Spawns test/transport/fixtures/echo-peer.ts and waits for its `ready HOST:PORT` line. */
async function startEchoPeer(port: number): Promise<EchoPeer> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'fixtures', 'echo-peer.ts'), String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  await runUntil(() => /ready \S+\n/.test(output) || child.exitCode !== null, 20_000)
  const match = /ready (\S+)\n/.exec(output)
  if (match?.[1] === undefined) throw new Error(`echo peer did not start: ${output}`)
  return { process: child, address: peerAddress(match[1]) }
}

/** Calls until one succeeds (calls fail fast while the channel backs off), within a deadline. */
async function callUntilOk(transport: UdpTcpTransport, to: PeerAddress, deadlineMs: number): Promise<CallOutcome> {
  const deadline = performance.now() + deadlineMs
  for (;;) {
    const outcome = await callOnce(transport, to, echo(5), 1_000)
    if (outcome.kind === 'ok' || performance.now() > deadline) return outcome
    // A poll interval, not a hopeful sleep: the loop ends on success or at the deadline.
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Opens a raw TCP connection, writes bytes, and waits for the transport to close it. */
async function expectClosedByPeer(address: PeerAddress, bytes: Uint8Array): Promise<void> {
  const socket = connect(portOf(address), '127.0.0.1')
  let closed = false
  socket.on('error', () => undefined)
  socket.on('close', () => (closed = true))
  socket.on('data', () => undefined)
  socket.write(bytes)
  await runUntil(() => closed, 5_000)
}
