/**
 * Change-log catch-up (issue 8, change-log-catch-up.ts) on its own: hinted handoff and read repair are off and the
 * Merkle interval is an hour, so no scheduled round runs; only catch-up (and its fallback exchange) can repair.
 *
 *   0 ─ form and place ─ writeStartMs: puts through any node ─ outageAtMs: the victim is cut off (`partition`)
 *   or killed (`crash`); puts continue through the others ─ outageEndMs: heal or restart; puts stop
 *   ─ checkAtMs: every owner of every partition holds byte-identical objects, read from the disks
 *
 * With `outages: 2` the victim goes away again 5 s after its first return, and comes back a second time.
 *
 * The outage outlasts failure detection on both sides, so membership reports member-up for the victim on the
 * majority and for the majority on the victim when it ends: that is what queues the catch-up jobs.
 *
 * With `truncate`, every other node's change log is truncated past everything it holds just before the outage
 * ends (segments of one entry, so the truncation is exact): the victim's marks no longer reach, and it must fall
 * back to the Merkle exchange. Checks along the way prove the run shows what it claims: just before the outage
 * ends the replicas differ (the victim did miss writes); at the end catch-up fetched objects, no scheduled Merkle
 * round ran, and fallbacks happened exactly when the logs were truncated.
 */
import { presets } from '../core/node/node-config.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import type { Millis } from '../core/primitives/ids.ts'
import type { AntiEntropyCounters } from '../core/anti-entropy/anti-entropy.ts'
import { catchUpMarksMetaName, decodeMarks } from '../core/anti-entropy/catch-up-marks.ts'
import { replicaDivergence } from './anti-entropy-scenario.ts'
import { MemorySimDisk, defaultMemorySimDiskOptions } from './sim-disk.ts'
import type { SimNode } from './sim-node.ts'
import { World } from './world.ts'

export type CatchUpOutage = 'partition' | 'crash'

export interface CatchUpScenarioOptions {
  readonly seed: number
  readonly nodes: number
  readonly outage: CatchUpOutage
  /** Truncate the other nodes' change logs before the victim returns, forcing the Merkle fallback. */
  readonly truncate?: boolean
  /**
   * Send the victim away twice (default once). The second return must start from the high-water marks the first
   * catch-up left (persisted on disk, for a crash), not from the start of the peers' logs.
   */
  readonly outages?: 1 | 2
  readonly maxKeptTraceLines?: number
}

export interface CatchUpScenarioResult {
  readonly problems: string[]
  readonly notes: string[]
  /** Summed over the nodes up at the end. */
  readonly totals: Pick<AntiEntropyCounters, 'catchUpJobs' | 'catchUpEntries' | 'catchUpObjectsFetched' | 'catchUpFallbacks' | 'roundsStarted'>
  /** Problems replicaDivergence reported just before the outage ended (must be some: the victim missed writes). */
  readonly divergedBeforeReturn: number
  /** Non-zero high-water marks the victim has persisted by the end (its marks survive a crash). */
  readonly victimPersistedMarks: number
  /** Catch-up jobs the victim's current life started from a non-zero mark. */
  readonly victimJobsFromMark: number
  readonly world: World
}

export const catchUpScenarioConfig: NodeConfig = {
  ...presets.test,
  partitions: 16,
  n: 3,
  // No scheduled Merkle round within the run: the first is due one interval after each start.
  antiEntropyIntervalMs: 3_600_000,
  hintedHandoff: false,
  readRepair: false,
}

const bucket = 'kv'
const writeStartMs: Millis = 1_500
const writeIntervalMs: Millis = 20

export function runCatchUpScenario(options: CatchUpScenarioOptions): CatchUpScenarioResult {
  const config = catchUpScenarioConfig
  const world = new World({
    seed: options.seed, nodes: options.nodes, config, network: { lossProbability: 0.01 },
    // Segments of one entry make truncation exact, so "past everything it holds" really empties the log.
    makeDisk: () => new MemorySimDisk({ ...defaultMemorySimDiskOptions, segmentEntries: 1 }),
    ...(options.maxKeptTraceLines === undefined ? {} : { maxKeptTraceLines: options.maxKeptTraceLines }),
  })
  const random = world.workloadRandom
  const nodes = world.cluster.nodes
  const victim = nodes[random.nextInt(nodes.length)] as SimNode
  const others = nodes.filter((node) => node !== victim)
  // Each outage is long enough for the victim, whose own probes all fail and whose suspicion timeouts grow, to
  // declare the others dead.
  const firstAtMs = 3_000 + random.nextInt(500)
  const outages: { readonly atMs: Millis; readonly endMs: Millis }[] = [{ atMs: firstAtMs, endMs: firstAtMs + 8_000 + random.nextInt(1_000) }]
  if (options.outages === 2) {
    const secondAtMs = (outages[0] as { endMs: Millis }).endMs + 5_000
    outages.push({ atMs: secondAtMs, endMs: secondAtMs + 8_000 + random.nextInt(1_000) })
  }
  const last = outages[outages.length - 1] as { readonly atMs: Millis; readonly endMs: Millis }
  const checkAtMs = last.endMs + 6_000
  const away = (): boolean => outages.some(({ atMs, endMs }) => world.nowMs >= atMs && world.nowMs < endMs)
  const problems: string[] = []
  const notes: string[] = []
  let divergedBeforeReturn = 0
  let writes = 0

  const put = (): void => {
    if (world.nowMs >= last.endMs) return
    const candidates = away() ? others : nodes
    const via = candidates[random.nextInt(candidates.length)] as SimNode
    const key = `k${random.nextInt(400)}`
    const value = new TextEncoder().encode(`v${writes++}`)
    world.clientRequest(via.id, { kind: 'put', bucket, key, value, contentType: 'text/plain', context: null, returnBody: false, w: 'quorum' })
    world.schedule(writeIntervalMs, put)
  }
  world.scheduler.at(writeStartMs, put)
  for (const { atMs, endMs } of outages) {
    world.scheduler.at(atMs, () => {
      if (options.outage === 'crash') world.crash(victim.id)
      else world.partition([victim.id], others.map((node) => node.id))
    })
    world.scheduler.at(endMs - 1, () => {
      // Every request of the outage has settled by now (the request timeout is 2 s): what differs stays different.
      divergedBeforeReturn = replicaDivergence(world).filter((problem) => problem.startsWith('partition ')).length
      if (options.truncate === true) for (const node of others) truncateEverything(node, config.partitions, world.nowMs)
    })
    world.scheduler.at(endMs, () => {
      if (options.outage === 'crash') world.restart(victim.id)
      else world.heal()
    })
  }
  world.scheduler.at(checkAtMs, () => problems.push(...replicaDivergence(world)))

  const result = world.runUntil(checkAtMs + 1)
  if (result.outcome === 'event-limit') problems.push(`event limit reached after ${result.eventsRun} events`)
  const totals = { catchUpJobs: 0, catchUpEntries: 0, catchUpObjectsFetched: 0, catchUpFallbacks: 0, roundsStarted: 0 }
  for (const node of world.cluster.upNodes()) {
    const counters = node.currentNode?.antiEntropy.counters
    if (counters === undefined) continue
    for (const name of Object.keys(totals) as (keyof typeof totals)[]) totals[name] += counters[name]
  }
  const persisted = victim.disk.read({ kind: 'get-meta', name: catchUpMarksMetaName }, world.nowMs)
  const decoded = persisted.kind === 'meta' && persisted.value !== null ? decodeMarks(persisted.value) : null
  const victimPersistedMarks = [...(decoded?.values() ?? [])].reduce((sum, marks) => sum + [...marks.values()].filter((seq) => seq > 0).length, 0)
  const victimJobsFromMark = victim.currentNode?.antiEntropy.counters.catchUpJobsFromMark ?? 0
  const periods = outages.map(({ atMs, endMs }) => `${atMs}..${endMs}`).join(', ')
  notes.push(`victim ${victim.id} (${options.outage}${options.truncate === true ? ', logs truncated' : ''}) away ${periods} ms; ${writes} puts; ` +
    `${divergedBeforeReturn} differing keys before the last return; ${victimJobsFromMark} victim jobs from a mark; catch-up ${JSON.stringify(totals)}`)
  return { problems, notes, totals, divergedBeforeReturn, victimPersistedMarks, victimJobsFromMark, world }
}

/** Truncates every partition's log past its last entry, as a low-water mark far ahead of the victim would. */
function truncateEverything(node: SimNode, partitions: number, nowMs: Millis): void {
  for (let partition = 0; partition < partitions; partition++) {
    const head = node.disk.read({ kind: 'read-change-log', partition, afterSeq: 0, limit: 1 }, nowMs)
    const lastSeq = head.kind === 'change-log' ? head.highWaterSeq : 0
    if (lastSeq === 0) continue
    node.disk.write([{ kind: 'truncate-change-log', partition, lowWaterSeq: lastSeq + 1 }], 'durable', nowMs)
  }
}
