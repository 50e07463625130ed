/**
 * `npm run bench -- staleness [--trials 2000] [--seed 1] [--mean-leg-ms 10]`: a PBS staleness table (Bailis et
 * al., "Probabilistically Bounded Staleness for Practical Partial Quorums", VLDB 2012) for Chorus itself.
 *
 * For N = 3 and (R, W) = (1,1), (1,2), (2,2): the probability that a read issued t ms after a write was
 * acknowledged returns that write, for t = 0, 1, 5, 10, 50, 100 ms. It runs in the deterministic simulator
 * (src/sim), so the request path is the real core (coordinator, forward to the first primary, replicas, quorum
 * accumulators) and t = 0 means the same virtual instant as the acknowledgement, exactly.
 *
 * Setup, and why:
 * - 4 nodes, N = 3. Every trial uses a fresh key and the one node that is not a replica of it as coordinator for
 *   both the write and the read, so no leg is a free local call: each message leg crosses the network.
 * - Every message leg (datagram or stream frame, every node pair) takes an exponential latency with mean
 *   `--mean-leg-ms` (10 ms), drawn from its own seeded stream. The simulator's own model is uniform, so this
 *   script replaces its sampler; streams keep TCP's per-connection order (a frame never overtakes the one ahead).
 * - Read repair and anti-entropy are off, and each key is written once and read once: nothing but the write's own
 *   replication can bring a replica up to date, so neither masks the measurement.
 * - Trials run one after another with a 50 ms gap, so one trial's stragglers rarely queue ahead of the next one's
 *   messages on a stream. Cells are interleaved (trial i of every cell, then trial i + 1).
 *
 * Sanity anchors printed beside the figures: while the write has reached only the W replicas that acknowledged
 * it, a read of R replicas chosen at random misses it with probability C(N−W, R)/C(N, R) (2/3 for R = W = 1), an
 * upper bound at t = 0 because the other replicas' copies are already in flight; and R + W > N never reads stale.
 */
import { presets } from '../../src/core/node/node-config.ts'
import type { NodeConfig } from '../../src/core/node/node-config.ts'
import type { ClientRequest } from '../../src/core/node/client.ts'
import { partitionOf } from '../../src/core/partitioning/key-hash.ts'
import { primaries } from '../../src/core/partitioning/preference-list.ts'
import type { NodeId, RequestId } from '../../src/core/primitives/ids.ts'
import { SeededRandom } from '../../src/core/primitives/random.ts'
import type { ClientOutcome } from '../../src/sim/sim-node.ts'
import { World } from '../../src/sim/world.ts'

export interface StalenessOptions {
  readonly trials: number
  readonly seed: number
  readonly meanLegMs: number
  readonly quorums?: readonly QuorumPair[]
  readonly delaysMs?: readonly number[]
}

export interface QuorumPair {
  readonly r: number
  readonly w: number
}

export interface StalenessCell {
  readonly r: number
  readonly w: number
  readonly delayMs: number
  readonly trials: number
  /** Reads that did not return the acknowledged write. */
  readonly stale: number
  /** Writes or reads that failed (timeout, unavailable): not counted either way; should be 0. */
  readonly failed: number
}

export interface StalenessTable {
  readonly n: number
  readonly cells: readonly StalenessCell[]
  readonly virtualMs: number
}

export const N = 3
export const defaultQuorums: readonly QuorumPair[] = [{ r: 1, w: 1 }, { r: 1, w: 2 }, { r: 2, w: 2 }]
export const defaultDelaysMs: readonly number[] = [0, 1, 5, 10, 50, 100]
const NODES = 4
const BUCKET = 'pbs'
const WARM_UP_MS = 5_000
const TRIAL_GAP_MS = 50
/** A bound on virtual time per trial: a trial still unanswered by then is a bug in this script, not a figure. */
const MAX_TRIAL_MS = 10_000

/**
 * The test preset with small tables, failure detection slow enough that exponential latency never suspects a
 * live node (a probe round trip of two 10 ms legs rarely nears 500 ms), and read repair and anti-entropy off.
 * Reads ask exactly R replicas (a random choice, the coordinator not being one of them) and never speculate on
 * the others, which is PBS's model; a speculating read would take the first R of all N answers instead.
 */
const stalenessConfig: NodeConfig = {
  ...presets.test,
  partitions: 16,
  probeIntervalMs: 1_000,
  probeTimeoutMs: 500,
  readRepair: false,
  antiEntropyIntervalMs: 24 * 60 * 60 * 1_000,
  readSpeculationMs: MAX_TRIAL_MS,
}

/** C(n, k); 0 when k > n. */
export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0
  let result = 1
  for (let i = 1; i <= k; i++) result = (result * (n - k + i)) / i
  return Math.round(result)
}

/** PBS's bound on P(stale) at t = 0: a read of R random replicas misses all W that hold the write. */
export function staleBound(n: number, r: number, w: number): number {
  return binomial(n - w, r) / binomial(n, r)
}

export function measureStaleness(options: StalenessOptions): StalenessTable {
  const quorums = options.quorums ?? defaultQuorums
  const delaysMs = options.delaysMs ?? defaultDelaysMs
  const world = new World({ seed: options.seed, nodes: NODES, config: stalenessConfig, maxKeptTraceLines: 0, maxEvents: Number.MAX_SAFE_INTEGER })
  const legRandom = new SeededRandom(options.seed ^ 0x5eed)
  // Exponential per leg by inverse transform; 1 − u is in (0, 1], so the logarithm is finite.
  world.network.sampleLatencyMs = () => Math.round(-options.meanLegMs * Math.log(1 - legRandom.nextFloat()) * 1_000) / 1_000
  world.runUntil(WARM_UP_MS)
  const waiting = new Map<RequestId, (outcome: ClientOutcome) => void>()
  world.cluster.addObserver({
    onClientOutcome: (_node, id, outcome) => {
      const handler = waiting.get(id)
      waiting.delete(id)
      handler?.(outcome)
    },
  })
  const request = (node: NodeId, body: ClientRequest, then: (outcome: ClientOutcome) => void): void => {
    waiting.set(world.clientRequest(node, body), then)
  }
  const cells = quorums.flatMap(({ r, w }) => delaysMs.map((delayMs) => ({ r, w, delayMs, trials: 0, stale: 0, failed: 0 })))
  for (let trial = 0; trial < options.trials; trial++) {
    for (const [index, cell] of cells.entries()) {
      const key = `t${trial}-c${index}`
      const coordinator = nonReplica(world, key)
      const value = new TextEncoder().encode(key)
      let finished = false
      const finish = (outcome: 'fresh' | 'stale' | 'failed'): void => {
        finished = true
        cell.trials++
        if (outcome === 'stale') cell.stale++
        if (outcome === 'failed') cell.failed++
      }
      const put: ClientRequest = { kind: 'put', bucket: BUCKET, key, value, contentType: 'text/plain', context: null, returnBody: false, w: cell.w }
      request(coordinator, put, (written) => {
        if (written.kind !== 'response' || written.response.kind !== 'written') return finish('failed')
        // The read is issued exactly delayMs after the acknowledgement, in virtual time.
        world.schedule(cell.delayMs, () =>
          request(coordinator, { kind: 'get', bucket: BUCKET, key, r: cell.r }, (read) => {
            if (read.kind !== 'response' || read.response.kind !== 'object') return finish('failed')
            const found = read.response.siblings.some((sibling) => new TextDecoder().decode(sibling.value) === key)
            finish(found ? 'fresh' : 'stale')
          }),
        )
      })
      const deadlineMs = world.nowMs + MAX_TRIAL_MS
      while (!finished && world.nowMs < deadlineMs) world.runFor(1)
      if (!finished) throw new Error(`trial ${trial} of R=${cell.r} W=${cell.w} t=${cell.delayMs} ms unanswered after ${MAX_TRIAL_MS} ms`)
      world.runFor(TRIAL_GAP_MS)
    }
  }
  return { n: N, cells, virtualMs: world.nowMs }
}

/** The node that is not one of the key's N primaries, in the coordinator's own table. */
function nonReplica(world: World, key: string): NodeId {
  const any = world.cluster.nodes[0]?.currentNode
  const table = any?.placement.table
  if (table === undefined || table === null) throw new Error('no ownership table after the warm-up')
  const owners = primaries(table, partitionOf(BUCKET, key, table.owners.length))
  const outsider = world.cluster.ids().find((id) => !owners.includes(id))
  if (outsider === undefined || owners.length !== N) throw new Error(`key ${key}: expected ${N} primaries among ${NODES} nodes, got ${owners.join(',')}`)
  return outsider
}

export function formatTable(table: StalenessTable, options: StalenessOptions): string {
  const quorums = [...new Map(table.cells.map((cell) => [`${cell.r},${cell.w}`, cell])).values()]
  const delays = [...new Set(table.cells.map((cell) => cell.delayMs))]
  const pad = (text: string, width: number): string => text.padStart(width)
  const header = `  R  W  | P(stale) t=0  bound C(N−W,R)/C(N,R) | P(read returns the write) at t = ${delays.map((d) => `${d} ms`).join(', ')}`
  const lines = [
    `PBS staleness, N=${table.n} on ${NODES} simulated nodes; every message leg Exp(mean ${options.meanLegMs} ms); ${options.trials} trials per cell, fresh key each; read repair and anti-entropy off; seed ${options.seed}`,
    header,
    `  ${'-'.repeat(header.length - 2)}`,
  ]
  for (const { r, w } of quorums) {
    const row = delays.map((delayMs) => table.cells.find((cell) => cell.r === r && cell.w === w && cell.delayMs === delayMs))
    const first = row[0]
    const staleAt0 = first === undefined ? NaN : first.stale / Math.max(1, first.trials - first.failed)
    const fresh = row.map((cell) => (cell === undefined ? '   —  ' : pad((1 - cell.stale / Math.max(1, cell.trials - cell.failed)).toFixed(4), 6)))
    lines.push(`  ${r}  ${w}  |   ${staleAt0.toFixed(4)}       ${staleBound(table.n, r, w).toFixed(4)}              | ${fresh.join('  ')}`)
  }
  const failed = table.cells.reduce((sum, cell) => sum + cell.failed, 0)
  lines.push(`  failed requests (excluded): ${failed}; ${(table.virtualMs / 1_000).toFixed(0)} s of virtual time`)
  return lines.join('\n')
}

export async function main(args: string[]): Promise<void> {
  const flag = (name: string, fallback: number): number => {
    const at = args.indexOf(`--${name}`)
    const value = at === -1 ? fallback : Number(args[at + 1])
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`)
    return value
  }
  const options: StalenessOptions = { trials: flag('trials', 2_000), seed: flag('seed', 1), meanLegMs: flag('mean-leg-ms', 10) }
  const startMs = performance.now()
  const table = measureStaleness(options)
  console.log(formatTable(table, options))
  console.log(`  (${((performance.now() - startMs) / 1_000).toFixed(1)} s of wall time)`)
}
