/**
 * Tombstone reaping across a replica that missed the delete (issue 8, tombstone-reaper.ts). Three nodes, n = 3, so
 * every node owns every partition; hinted handoff and read repair are off, so only anti-entropy moves data.
 *
 *   writeAt     put k = v1 with w = all (retried until every replica holds it), then read it r = all for its context
 *   partitionAt the victim is cut off from the other two, both ways
 *   deleteAt    delete k with that context, w = quorum, through a node on the majority side: the victim keeps v1
 *   healAt      the network heals: the victim comes back holding only v1
 *   then        r = all reads on every node, retried until they succeed, must all be 404; anti-entropy reaps the
 *               tombstone on every replica, after which the same reads must still be 404 and no disk may hold k
 *
 * Checks along the way, so that the run proves what it claims: just before the heal the majority still holds the
 * tombstone although it is far older than mark − grace would need (an away owner freezes the mark), and the victim
 * holds the live v1; at the end every disk lacks k and every node has reaped at least one tombstone.
 * Timings are jittered by the seed, as are the key, the victim and the coordinators; 1 % of datagrams are lost.
 */
import { presets } from '../core/node/node-config.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import type { Millis } from '../core/primitives/ids.ts'
import type { ClientResponse } from '../core/node/client.ts'
import { partitionOf } from '../core/partitioning/key-hash.ts'
import { decodeCausalContext } from '../core/versioning/causal-context.ts'
import { decodeObject } from '../core/versioning/object-codec.ts'
import type { VersionVector } from '../core/versioning/version-vector.ts'
import type { SimNode } from './sim-node.ts'
import { askUntil } from './ask-until.ts'
import { World } from './world.ts'

export const tombstoneScenarioConfig: NodeConfig = {
  ...presets.test,
  partitions: 16,
  n: 3,
  antiEntropyIntervalMs: 1_000,
  tombstoneGraceMs: 1_000,
  hintedHandoff: false,
  readRepair: false,
}

export interface TombstoneScenarioOptions {
  readonly seed: number
  readonly maxKeptTraceLines?: number
  /** Stop after the first 404 reads following the heal (the "un-reaped tombstone wins" case). */
  readonly stopAfterFirstReads?: boolean
}

export interface TombstoneScenarioResult {
  readonly problems: string[]
  readonly notes: string[]
  /** When every replica had dropped the key (virtual ms), or null. */
  readonly reapedEverywhereAtMs: Millis | null
}

type Disk = 'missing' | 'tombstone' | 'live' | 'corrupt'

const bucket = 'kv'
const endMs: Millis = 40_000

export function runTombstoneScenario(options: TombstoneScenarioOptions): TombstoneScenarioResult {
  const config = tombstoneScenarioConfig
  const world = new World({
    seed: options.seed, nodes: 3, config, network: { lossProbability: 0.01 },
    ...(options.maxKeptTraceLines === undefined ? {} : { maxKeptTraceLines: options.maxKeptTraceLines }),
  })
  const random = world.workloadRandom
  const nodes = world.cluster.nodes
  const victim = nodes[random.nextInt(nodes.length)] as SimNode
  const majority = nodes.filter((node) => node !== victim)
  const key = `k${random.nextInt(1_000_000)}`
  const partition = partitionOf(bucket, key, config.partitions)
  const jitter = (ms: number): Millis => ms + random.nextInt(500)
  const writeAt = jitter(1_500)
  const partitionAt = writeAt + jitter(1_500)
  const deleteAt = partitionAt + jitter(1_000)
  const healAt = deleteAt + jitter(8_000)
  const problems: string[] = []
  const notes: string[] = []
  let context: VersionVector | null = null
  let deleted = false
  let firstReadsDone = false
  let reapedEverywhereAtMs: Millis | null = null

  const disk = (node: SimNode): Disk => {
    const result = node.disk.read({ kind: 'get-object', partition, bucket, key }, world.nowMs)
    if (result.kind !== 'object') return 'corrupt'
    if (result.object === null) return 'missing'
    const decoded = decodeObject(result.object.value)
    if (decoded.kind !== 'decoded') return 'corrupt'
    return decoded.object.siblings.some((s) => s.content.kind === 'value') ? 'live' : 'tombstone'
  }
  const ask = (node: SimNode, request: Parameters<World['clientRequest']>[1], untilMs: Millis, accept: (r: ClientResponse) => boolean, done: (r: ClientResponse | null) => void): void =>
    askUntil(world, node, request, untilMs, accept, done)
  const readAll = (node: SimNode, untilMs: Millis, done: (r: ClientResponse | null) => void): void =>
    ask(node, { kind: 'get', bucket, key, r: 'all' }, untilMs, (r) => r.kind === 'object', done)
  const notFound = (r: ClientResponse | null): boolean => r !== null && r.kind === 'object' && r.siblings.length === 0

  world.scheduler.at(writeAt, () => {
    const put = { kind: 'put' as const, bucket, key, value: new TextEncoder().encode('v1'), contentType: 'text/plain', context: null, returnBody: false, w: 'all' as const }
    ask(majority[0] as SimNode, put, partitionAt - 300, (r) => r.kind === 'written', (written) => {
      if (written?.kind !== 'written') return void problems.push(`the put of ${key} never reached w=all: ${JSON.stringify(written)}`)
      readAll(majority[1] as SimNode, partitionAt - 50, (read) => {
        if (read?.kind !== 'object' || read.siblings.length !== 1) return void problems.push(`the read of ${key} before the partition answered ${JSON.stringify(read)}`)
        const decoded = decodeCausalContext(read.context)
        if (decoded.kind === 'decoded') context = decoded.context
        else problems.push(`bad context ${read.context}`)
      })
    })
  })
  world.scheduler.at(partitionAt, () => world.partition([victim.id], majority.map((n) => n.id)))
  world.scheduler.at(deleteAt, () => {
    if (context === null) return
    const request = { kind: 'delete' as const, bucket, key, context, w: 'quorum' as const }
    ask(majority[random.nextInt(2)] as SimNode, request, healAt - 500, (r) => r.kind === 'written', (r) => {
      if (r?.kind === 'written') deleted = true
      else problems.push(`the delete of ${key} failed: ${JSON.stringify(r)}`)
    })
  })
  world.scheduler.at(healAt - 1, () => {
    if (!deleted) return
    const states = nodes.map((node) => `${node.id}=${disk(node)}`).join(' ')
    notes.push(`before the heal (${healAt - deleteAt} ms after the delete): ${states}`)
    if (disk(victim) !== 'live') problems.push(`the victim ${victim.id} should still hold v1 before the heal: ${states}`)
    for (const node of majority) {
      if (disk(node) !== 'tombstone') problems.push(`${node.id} should still hold the tombstone while ${victim.id} is away: ${states}`)
    }
  })
  world.scheduler.at(healAt, () => {
    world.heal()
    if (!deleted) return
    let waiting = nodes.length
    for (const node of nodes) {
      readAll(node, healAt + 8_000, (read) => {
        if (!notFound(read)) problems.push(`after the heal, an r=all read on ${node.id} answered ${JSON.stringify(read)} instead of 404`)
        if (--waiting === 0) firstReadsDone = true
      })
    }
  })
  const watchReaping = (): void => {
    if (reapedEverywhereAtMs !== null || world.nowMs > endMs) return
    if (deleted && nodes.every((node) => disk(node) === 'missing')) {
      reapedEverywhereAtMs = world.nowMs
      let waiting = nodes.length
      for (const node of nodes) {
        readAll(node, world.nowMs + 5_000, (read) => {
          if (!notFound(read)) problems.push(`after reaping, an r=all read on ${node.id} answered ${JSON.stringify(read)} instead of 404`)
          if (--waiting === 0) notes.push(`final reads done at ${world.nowMs} ms`)
        })
      }
      return
    }
    world.scheduler.at(world.nowMs + 100, watchReaping)
  }
  world.scheduler.at(healAt, watchReaping)

  const stopAt = options.stopAfterFirstReads === true ? healAt + 8_500 : endMs
  const result = world.runUntil(stopAt)
  if (result.outcome === 'event-limit') problems.push(`event limit reached after ${result.eventsRun} events`)
  if (!deleted && problems.length === 0) problems.push(`the delete of ${key} never happened`)
  if (options.stopAfterFirstReads === true) {
    if (!firstReadsDone) problems.push('the reads after the heal never finished')
    return { problems, notes, reapedEverywhereAtMs }
  }
  if (reapedEverywhereAtMs === null) {
    problems.push(`${key} was not reaped everywhere by ${endMs} ms: ${nodes.map((node) => `${node.id}=${disk(node)}`).join(' ')}`)
  }
  for (const node of nodes) {
    const reaped = node.currentNode?.antiEntropy.reaper.counters.tombstonesReaped ?? 0
    if (reaped === 0) problems.push(`${node.id} reaped no tombstone`)
    if (disk(node) !== 'missing') problems.push(`${node.id} holds ${key} (${disk(node)}) at the end`)
  }
  notes.push(`victim ${victim.id}, key ${key} (partition ${partition}), delete at ${deleteAt}, heal at ${healAt}, reaped everywhere at ${reapedEverywhereAtMs}`)
  return { problems, notes, reapedEverywhereAtMs }
}
