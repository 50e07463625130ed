/**
 * `npm run bench -- membership-traffic [--size 10] [--preset lan] [--warmup-seconds 15] [--window-seconds 30]
 *   [--chorus-flag '--placement-gossip-interval-ms 10000' ...]`
 *
 * Where an idle Chorus cluster's cluster-port bytes go, by message kind: `size` nodes started in this process
 * (each a full node: storage, transport, runtime, HTTP), joined through the first node, left idle past the
 * join-time burst, and then every node's transport counters are read at the start and end of a window. Prints,
 * per (carrier, kind), the bytes and messages per node per second, as the transport wrote them (datagram or frame
 * envelope included; IP, UDP and TCP headers and bare TCP acks not — the namespace counter of
 * `npm run bench -- membership --cases bytes` sees those too, and the figure it compares against Serf is that one).
 *
 * In one process the nodes share one event loop, which does not change what an idle cluster sends. The transports
 * are reached by wrapping UdpTcpTransport.open for this process only; nothing in the node changes.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { PresetName } from '../../src/core/node/node-config.ts'
import { startNode, type RunningNode } from '../../src/runtime/start-node.ts'
import type { TrafficByKind } from '../../src/transport/transport.ts'
import { UdpTcpTransport } from '../../src/transport/udp-tcp-transport.ts'
import { delay, pollUntil } from '../lib/poll.ts'

/** Per IP datagram: IPv4 (20) + UDP (8). Used only for the "datagrams on the wire" estimate. */
const IP_UDP_HEADER_BYTES = 28

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', default: '10' },
      preset: { type: 'string', default: 'lan' },
      'warmup-seconds': { type: 'string', default: '15' },
      'window-seconds': { type: 'string', default: '30' },
      'chorus-flag': { type: 'string', multiple: true, default: [] },
    },
  })
  const size = Number(values.size)
  const warmupMs = Number(values['warmup-seconds']) * 1_000
  const windowMs = Number(values['window-seconds']) * 1_000
  const flags = parseFlags(values['chorus-flag'].flatMap((flag) => flag.split(' ')))
  const transports: UdpTcpTransport[] = []
  const open = UdpTcpTransport.open.bind(UdpTcpTransport)
  UdpTcpTransport.open = async (options) => {
    const transport = await open(options)
    transports.push(transport)
    return transport
  }
  const root = mkdtempSync(join(tmpdir(), 'chorus-traffic-'))
  const a = 100 + Math.floor(Math.random() * 100)
  const b = 1 + Math.floor(Math.random() * 250)
  const host = (index: number): string => `127.${a}.${b}.${index + 1}`
  const nodes: RunningNode[] = []
  try {
    for (let index = 0; index < size; index++) {
      nodes.push(
        await startNode({
          dataDir: join(root, `node-${index + 1}`),
          bind: `${host(index)}:7946`,
          http: `${host(index)}:8080`,
          seeds: index === 0 ? [] : [`${host(0)}:7946`],
          id: `node-${index + 1}`,
          preset: values.preset as PresetName,
          flags,
          clockOffsetMs: 0,
          logLevel: 'warn',
          handleSignals: false,
        }),
      )
    }
    await pollUntil(async () => ((await allSeeAll(nodes)) ? true : undefined), { deadlineMs: 60_000, intervalMs: 200, what: 'all nodes to see all' })
    console.log(`${size} nodes (${values.preset}${values['chorus-flag'].length > 0 ? ` ${values['chorus-flag'].join(' ')}` : ''}) converged; idle ${warmupMs / 1_000} s, then a ${windowMs / 1_000} s window`)
    await delay(warmupMs)
    const before = transports.map((transport) => transport.stats())
    const startedMs = performance.now()
    await delay(windowMs)
    const after = transports.map((transport) => transport.stats())
    const seconds = (performance.now() - startedMs) / 1_000
    console.log(render(before.map((stats) => stats.sentByKind ?? []), after.map((stats) => stats.sentByKind ?? []), seconds))
    const total = after.reduce((sum, stats, index) => sum + stats.bytesSent - (before[index]?.bytesSent ?? 0), 0)
    const datagrams = after.reduce((sum, stats, index) => sum + stats.datagramsSent - (before[index]?.datagramsSent ?? 0), 0)
    console.log(`total ${(total / size / seconds).toFixed(1)} B/node/s as written; datagrams alone with IP/UDP headers would add ${((datagrams * IP_UDP_HEADER_BYTES) / size / seconds).toFixed(1)} B/node/s`)
  } finally {
    UdpTcpTransport.open = open
    await Promise.all(nodes.map((node) => node.stop().catch(() => undefined)))
    rmSync(root, { recursive: true, force: true })
  }
}

function render(before: readonly TrafficByKind[], after: readonly TrafficByKind[], seconds: number): string {
  const rows = new Map<string, { bytes: number; messages: number }>()
  const add = (traffic: TrafficByKind, sign: number): void => {
    for (const row of traffic) {
      const key = `${row.carrier.padEnd(9)} ${row.kind}`
      const sum = rows.get(key) ?? { bytes: 0, messages: 0 }
      sum.bytes += sign * row.bytes
      sum.messages += sign * row.messages
      rows.set(key, sum)
    }
  }
  for (const traffic of after) add(traffic, 1)
  for (const traffic of before) add(traffic, -1)
  const nodes = after.length
  const lines = ['carrier   kind                              B/node/s   msgs/node/s   B/msg']
  const sorted = [...rows.entries()].filter(([, sum]) => sum.messages > 0).sort((x, y) => y[1].bytes - x[1].bytes)
  for (const [key, sum] of sorted) {
    lines.push(`${key.padEnd(42)}${(sum.bytes / nodes / seconds).toFixed(1).padStart(9)}${(sum.messages / nodes / seconds).toFixed(2).padStart(14)}${(sum.bytes / sum.messages).toFixed(0).padStart(8)}`)
  }
  return lines.join('\n')
}

/** `--name value` pairs into the flags object startNode reads (kebab-case flag names, as `chorus start` takes them). */
function parseFlags(words: readonly string[]): Record<string, unknown> {
  const flags: Record<string, unknown> = {}
  for (let index = 0; index < words.length; index += 2) {
    const name = (words[index] ?? '').replace(/^--/, '')
    flags[name] = words[index + 1] ?? ''
  }
  return flags
}

async function allSeeAll(nodes: readonly RunningNode[]): Promise<boolean> {
  const views = await Promise.all(
    nodes.map(async (node) => {
      try {
        const response = await fetch(`http://${node.httpAddress}/cluster/members`, { signal: AbortSignal.timeout(1_000) })
        return response.ok ? ((await response.json()) as { id: string; state: string }[]) : null
      } catch {
        return null
      }
    }),
  )
  return views.every((view) => view !== null && nodes.every((node) => view.some((row) => row.id === node.id && row.state === 'alive')))
}
