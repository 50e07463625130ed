/**
 * `npm run bench -- transport [--rounds 5] [--duration-ms 1000] [--payload-bytes 64] [--signed]`
 *
 * Request/response rate through one channel of UdpTcpTransport (echo call → echo-reply, msgpack, CRC32C
 * frames, waiting list, timers) at 1 and 64 calls in flight, against a plain `net` echo client and server
 * doing the least possible (a 4-byte length prefix, one socket.write per message, no checksum, no
 * encoding) measured in the same run on the same loopback. The ratio is the figure that matters on a shared
 * machine; the goal is ≥ 0.7 of plain echo at 64 in flight. `--signed` adds HMAC-SHA256 to every frame.
 *
 * Client and server of each pair share this process, as two nodes on one host would share its cores.
 * Each measurement runs for a fixed time after a short warm-up and stops early at a fixed count; the two are
 * alternated over several rounds and the medians compared, because this machine is shared and noisy.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { Message } from '../../src/core/node/message.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'
import { UdpTcpTransport } from '../../src/transport/udp-tcp-transport.ts'
import { median } from '../lib/median.ts'

interface Settings {
  readonly durationMs: number
  readonly warmupMs: number
  readonly payloadBytes: number
  readonly rounds: number
  readonly signed: boolean
  /** Stops a measurement early: the bench is bounded in count as well as time. */
  readonly maxRoundTrips: number
}

/** Runs one measurement: `start(inFlight, onDone)` issues a request and calls onDone when it is answered. */
type Driver = (onAnswered: () => void) => void

export async function main(args: string[]): Promise<void> {
  const settings = parseArgs(args)
  console.log(`transport bench: ${settings.rounds} rounds of ${settings.durationMs} ms per point, ${settings.payloadBytes}-byte payload, loopback, one channel${settings.signed ? ', HMAC on' : ''}`)
  const plain = await openPlainEcho()
  const chorus = await openChorusEcho(settings.payloadBytes, settings.signed)
  try {
    console.log('in flight   plain net echo (req/s)   UdpTcpTransport (req/s)   ratio   (median of rounds)')
    for (const inFlight of [1, 64]) {
      // Alternate the two in several short rounds so a burst of load from other processes hits both alike.
      const plainRates: number[] = []
      const chorusRates: number[] = []
      for (let round = 0; round < settings.rounds; round++) {
        plainRates.push(await measure(plain.driver(settings.payloadBytes), inFlight, settings))
        chorusRates.push(await measure(chorus.driver, inFlight, settings))
      }
      const plainRate = median(plainRates)
      const chorusRate = median(chorusRates)
      console.log(
        `${String(inFlight).padStart(9)}   ${format(plainRate).padStart(22)}   ${format(chorusRate).padStart(23)}   ${(chorusRate / plainRate).toFixed(2)}`,
      )
    }
  } finally {
    await Promise.all([plain.close(), chorus.close()])
  }
}

function parseArgs(args: string[]): Settings {
  const value = (flag: string, fallback: number): number => {
    const index = args.indexOf(flag)
    const parsed = index >= 0 ? Number(args[index + 1]) : fallback
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`${flag} needs a positive number`)
    return parsed
  }
  return {
    durationMs: value('--duration-ms', 1_000),
    rounds: value('--rounds', 5),
    signed: args.includes('--signed'),
    warmupMs: value('--warmup-ms', 300),
    payloadBytes: value('--payload-bytes', 64),
    maxRoundTrips: value('--max-round-trips', 5_000_000),
  }
}

/** Keeps `inFlight` requests outstanding; returns completed round trips per second after the warm-up. */
async function measure(driver: Driver, inFlight: number, settings: Settings): Promise<number> {
  let completed = 0
  let measuring = false
  let stopping = false
  let outstanding = 0
  const onAnswered = (): void => {
    outstanding--
    if (measuring) completed++
    if (stopping || completed >= settings.maxRoundTrips) return
    outstanding++
    driver(onAnswered)
  }
  for (let i = 0; i < inFlight; i++) {
    outstanding++
    driver(onAnswered)
  }
  await delay(settings.warmupMs)
  measuring = true
  const started = performance.now()
  await waitFor(() => completed >= settings.maxRoundTrips || performance.now() - started >= settings.durationMs)
  const elapsedMs = performance.now() - started
  const counted = completed
  stopping = true
  await waitFor(() => outstanding === 0)
  return (counted * 1_000) / elapsedMs
}

// ---- plain net echo ---------------------------------------------------------------------------------------

async function openPlainEcho(): Promise<{ driver: (payloadBytes: number) => Driver; close(): Promise<void> }> {
  const server = createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true)
    onLengthPrefixed(socket, (message) => socket.write(message))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const client = connect({ port, host: '127.0.0.1', noDelay: true })
  await new Promise<void>((resolve) => client.once('connect', () => resolve()))
  // Responses come back in order on one connection, so a FIFO of callbacks matches them.
  const waiting: (() => void)[] = []
  let head = 0
  onLengthPrefixed(client, () => {
    const callback = waiting[head++]
    if (head > 4_096) {
      waiting.splice(0, head)
      head = 0
    }
    callback?.()
  })
  return {
    driver: (payloadBytes) => {
      const request = Buffer.alloc(4 + payloadBytes, 7)
      request.writeUInt32BE(payloadBytes, 0)
      return (onAnswered) => {
        waiting.push(onAnswered)
        client.write(request)
      }
    },
    close: async () => {
      client.destroy()
      await closeServer(server)
    },
  }
}

/** Calls onMessage with each length-prefixed message (prefix included) arriving on the socket. */
function onLengthPrefixed(socket: Socket, onMessage: (message: Buffer) => void): void {
  let buffered: Buffer = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
    let offset = 0
    while (buffered.length - offset >= 4) {
      const length = buffered.readUInt32BE(offset)
      if (buffered.length - offset < 4 + length) break
      onMessage(buffered.subarray(offset, offset + 4 + length))
      offset += 4 + length
    }
    buffered = buffered.subarray(offset)
  })
  socket.on('error', () => undefined)
}

// ---- UdpTcpTransport echo ---------------------------------------------------------------------------------

async function openChorusEcho(payloadBytes: number, signed: boolean): Promise<{ driver: Driver; close(): Promise<void> }> {
  const clusterSecret = signed ? new TextEncoder().encode('benchmark cluster secret, 32 b.') : undefined
  const client = await UdpTcpTransport.open({ bind: '127.0.0.1:0', clusterSecret })
  const server = await UdpTcpTransport.open({ bind: '127.0.0.1:0', clusterSecret })
  const serverId = nodeId('bench-server')
  client.listen({ onMessage: () => undefined, onCall: () => undefined })
  server.listen({
    onMessage: () => undefined,
    onCall: (_from, message, respond) => {
      if (message.kind === 'echo') respond({ kind: 'echo-reply', from: serverId, seq: message.seq, payload: message.payload })
    },
  })
  const payload = new Uint8Array(payloadBytes).fill(7)
  let seq = 0
  return {
    driver: (onAnswered) => {
      const request: Message = { kind: 'echo', from: nodeId('bench-client'), seq: seq++, payload }
      client.call(server.localAddress, request, 10_000, (outcome) => {
        if (outcome.kind !== 'ok') throw new Error(`bench call failed: ${outcome.reason}`)
        onAnswered()
      })
    },
    close: async () => {
      await Promise.all([client.close(), server.close()])
    },
  }
}

// ---- helpers ----------------------------------------------------------------------------------------------

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await delay(5)
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

function format(rate: number): string {
  return Math.round(rate).toLocaleString('en-US')
}
