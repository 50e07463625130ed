/**
 * `npm run bench -- chorus-ab --a DIR --b DIR [--slices 8] [--slice-seconds 5] [--warmup-seconds 15]
 *   [--connections 32] [--op put|get] [--a-flags='...'] [--b-flags='...'] [--a-node-flags='...'] [--b-node-flags='...']`
 *
 * Is version B cheaper than version A? Two checkouts (a worktree of each revision, with node_modules) each run a
 * 3-node cluster on loopback, both up at once, and the load alternates between them in short slices: A, B, A, B,
 * … This machine's speed drifts by tens of percent from one minute to the next, so two figures taken a minute
 * apart cannot show a 5% change; slices seconds apart see the same machine, and the drift cancels in the ratio.
 * The idle cluster costs a little CPU during the other's slices, the same for both.
 *
 * Prints, per slice, requests/s and the cluster's CPU per successful request, then B/A of the totals and the
 * median of the per-pair ratios. Only PUT (fresh keys, w=quorum) or GET (r=quorum of keys acknowledged in the
 * warm-up) is measured, one per run. `--x-flags` are extra `chorus start` flags and `--x-node-flags` extra Node flags
 * for side x, so one checkout can be compared with itself under another setting. For diagnosis, not a headline: `cluster` is the benchmark issue 6 reads.
 */
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { KeyBook, chorusProtocol, runPhase } from '../lib/http-load.ts'
import type { Operation, PhaseResult } from '../lib/http-load.ts'
import { LoopbackChorusCluster } from '../lib/loopback-chorus-cluster.ts'
import { cpuSeconds } from '../lib/process-cpu.ts'
import { median } from '../lib/median.ts'

const VALUE_BYTES = 100
const READY_DEADLINE_MS = 90_000
const CATCH_UP_DEADLINE_MS = 60_000
const SIDES = [
  { name: 'A', clusterPortBase: 7301, httpPortBase: 8301 },
  { name: 'B', clusterPortBase: 7401, httpPortBase: 8401 },
] as const

interface Side {
  readonly name: string
  readonly cluster: LoopbackChorusCluster
  readonly urls: readonly string[]
  readonly pids: readonly (number | undefined)[]
  readonly keys: KeyBook
  readonly slices: Slice[]
}

interface Slice {
  readonly okPerS: number
  readonly ok: number
  readonly cpuUsPerOk: number
  readonly p50Ms: number
  readonly p99Ms: number
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      slices: { type: 'string', default: '8' },
      'slice-seconds': { type: 'string', default: '5' },
      'warmup-seconds': { type: 'string', default: '15' },
      connections: { type: 'string', default: '32' },
      op: { type: 'string', default: 'put' },
      'a-flags': { type: 'string', default: '' },
      'b-flags': { type: 'string', default: '' },
      'a-node-flags': { type: 'string', default: '' },
      'b-node-flags': { type: 'string', default: '' },
    },
    strict: true,
  })
  if (values.a === undefined || values.b === undefined) throw new Error('--a DIR and --b DIR (two checkouts with node_modules) are required')
  const slices = Number(values.slices)
  const sliceSeconds = Number(values['slice-seconds'])
  const warmupSeconds = Number(values['warmup-seconds'])
  const connections = Number(values.connections)
  const operation = values.op
  if (operation !== 'put' && operation !== 'get') throw new Error('--op must be put or get')
  if (!(Number.isInteger(slices) && slices > 0 && sliceSeconds > 0 && warmupSeconds >= 0 && Number.isInteger(connections) && connections > 0)) {
    throw new Error('--slices and --connections must be positive integers, --slice-seconds > 0, --warmup-seconds ≥ 0')
  }
  const checkouts = [resolve(values.a), resolve(values.b)]
  const words = (text: string): string[] => text.split(' ').filter((word) => word !== '')
  const flags = [values['a-flags'], values['b-flags']].map(words)
  const nodeFlags = [values['a-node-flags'], values['b-node-flags']].map(words)
  console.log(`chorus A/B: A=${checkouts[0]} B=${checkouts[1]}; ${operation}, ${connections} connections, ${slices} slices of ${sliceSeconds} s each, alternating`)

  const sides: Side[] = []
  try {
    for (const [index, side] of SIDES.entries()) {
      const cluster = await LoopbackChorusCluster.start({
        size: 3,
        clusterPortBase: side.clusterPortBase,
        httpPortBase: side.httpPortBase,
        preset: 'local',
        readyDeadlineMs: READY_DEADLINE_MS,
        chorusBin: resolve(checkouts[index] as string, 'bin/chorus.js'),
        extraFlags: flags[index] ?? [],
        nodeFlags: () => nodeFlags[index] ?? [],
      })
      sides.push({
        name: side.name,
        cluster,
        urls: cluster.nodes.map((node) => `http://${node.http}`),
        pids: cluster.nodes.map((node) => node.process.pid),
        keys: new KeyBook(`ab-${side.name}-${process.pid}`),
        slices: [],
      })
    }
    for (const side of sides) {
      if (!(await side.cluster.waitForCatchUp(CATCH_UP_DEADLINE_MS))) console.log(`  ${side.name}: start-up catch-up still running; measuring anyway`)
    }
    const value = Buffer.alloc(VALUE_BYTES, 0x61)
    const load = (side: Side, op: Operation, seconds: number): Promise<PhaseResult> =>
      runPhase(chorusProtocol(side.name, 'bench'), op, side.keys, value, { urls: side.urls, connections, durationS: seconds })
    // Warm-up: PUTs always (a GET run reads what they wrote), then the measured kind if it differs.
    for (const side of sides) {
      await load(side, 'put', warmupSeconds)
      if (operation === 'get') await load(side, 'get', warmupSeconds)
    }
    for (let slice = 0; slice < slices; slice++) {
      // Swap the order every pair, so neither side always runs right after the other's load.
      const order = slice % 2 === 0 ? sides : [...sides].reverse()
      for (const side of order) {
        const before = cpuSeconds(side.pids)
        const result = await load(side, operation, sliceSeconds)
        const cpuUsPerOk = (1e6 * (cpuSeconds(side.pids) - before)) / Math.max(1, result.ok)
        side.slices.push({ okPerS: result.okPerS, ok: result.ok, cpuUsPerOk, p50Ms: result.p50Ms, p99Ms: result.p99Ms })
        console.log(`  slice ${slice + 1} ${side.name}: ${result.okPerS.toFixed(0)} ok/s, ${cpuUsPerOk.toFixed(0)} µs CPU/ok, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, non-2xx ${result.non2xx}, errors ${result.errors}`)
      }
    }
    report(sides)
  } finally {
    await Promise.all(sides.map((side) => side.cluster.close()))
  }
}

function report(sides: readonly Side[]): void {
  const [a, b] = sides as [Side, Side]
  const total = (side: Side, pick: (slice: Slice) => number): number => side.slices.reduce((sum, slice) => sum + pick(slice), 0)
  const meanRate = (side: Side): number => total(side, (slice) => slice.okPerS) / side.slices.length
  const meanCpu = (side: Side): number => total(side, (slice) => slice.cpuUsPerOk * slice.ok) / Math.max(1, total(side, (slice) => slice.ok))
  const pairs = a.slices.map((slice, index) => (b.slices[index] as Slice).okPerS / Math.max(1e-9, slice.okPerS))
  const cpuPairs = a.slices.map((slice, index) => (b.slices[index] as Slice).cpuUsPerOk / Math.max(1e-9, slice.cpuUsPerOk))
  console.log(`\nA: ${meanRate(a).toFixed(0)} ok/s, ${meanCpu(a).toFixed(0)} µs CPU/ok`)
  console.log(`B: ${meanRate(b).toFixed(0)} ok/s, ${meanCpu(b).toFixed(0)} µs CPU/ok`)
  console.log(`B/A throughput ${(meanRate(b) / meanRate(a)).toFixed(3)} (median of pairs ${median(pairs).toFixed(3)}, range ${Math.min(...pairs).toFixed(3)}–${Math.max(...pairs).toFixed(3)})`)
  console.log(`B/A CPU per ok ${(meanCpu(b) / meanCpu(a)).toFixed(3)} (median of pairs ${median(cpuPairs).toFixed(3)}, range ${Math.min(...cpuPairs).toFixed(3)}–${Math.max(...cpuPairs).toFixed(3)})`)
}
