/**
 * A late hint must not resurrect a reaped key (tombstone-reaper.ts, "data held outside the owner list"). Four nodes,
 * n = 3, hinted handoff on, read repair off: for the chosen key, owners A, B, C and the fallback F (the one node that
 * does not own its partition).
 *
 *   writeAt      put k = v1, w = all
 *   isolateAt    C is cut off from everyone
 *   hintAt       put k = v2 (no context) w = 2 through A: A and B store it, F stores it with a hint for C
 *   returnAt     the network heals except between F and C, so F's hint replay keeps failing
 *   deleteAt     read k r = all, delete it with that context w = all: the tombstone covers v1 and v2 everywhere
 *   then         anti-entropy reaps the tombstone on A, B and C; once all three dropped k, F and C are reconnected
 *                and F replays its hint carrying v2
 *   endMs        no owner may hold k, and F's hint must be gone (C answered it)
 *
 * Without the rule in tombstone-reaper.ts, C merges v2 into nothing and anti-entropy spreads it back to A and B.
 */
import { presets } from '../core/node/node-config.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import type { Millis } from '../core/primitives/ids.ts'
import type { ClientResponse } from '../core/node/client.ts'
import { partitionOf } from '../core/partitioning/key-hash.ts'
import { decodeCausalContext } from '../core/versioning/causal-context.ts'
import type { SimNode } from './sim-node.ts'
import { askUntil } from './ask-until.ts'
import { World } from './world.ts'

export const hintResurrectionConfig: NodeConfig = {
  ...presets.test,
  partitions: 16,
  n: 3,
  antiEntropyIntervalMs: 1_000,
  tombstoneGraceMs: 1_000,
  hintedHandoff: true,
  readRepair: false,
}

export interface HintResurrectionResult {
  readonly problems: string[]
  readonly notes: string[]
  /** Copies the owners dropped as superseded by a reaped delete (the rule at work). */
  readonly supersededCopiesDropped: number
}

const bucket = 'kv'
const endMs: Millis = 45_000

export function runHintResurrectionScenario(options: { readonly seed: number; readonly maxKeptTraceLines?: number }): HintResurrectionResult {
  const config = hintResurrectionConfig
  const world = new World({
    seed: options.seed, nodes: 4, config, network: { lossProbability: 0.01 },
    ...(options.maxKeptTraceLines === undefined ? {} : { maxKeptTraceLines: options.maxKeptTraceLines }),
  })
  const random = world.workloadRandom
  const nodes = world.cluster.nodes
  const key = `k${random.nextInt(1_000_000)}`
  const partition = partitionOf(bucket, key, config.partitions)
  const jitter = (ms: number): Millis => ms + random.nextInt(300)
  const writeAt = jitter(1_500)
  const isolateAt = jitter(3_000)
  const hintAt = isolateAt + jitter(4_000)
  const returnAt = hintAt + jitter(2_000)
  const deleteAt = returnAt + jitter(1_500)
  const problems: string[] = []
  const notes: string[] = []
  // Chosen once the ownership table exists (at writeAt).
  let cast = null as Cast | null
  let deleted = false
  let reconnectedAtMs: Millis | null = null

  const stored = (node: SimNode): 'missing' | 'present' | 'corrupt' => {
    const result = node.disk.read({ kind: 'get-object', partition, bucket, key }, world.nowMs)
    if (result.kind !== 'object') return 'corrupt'
    return result.object === null ? 'missing' : 'present'
  }
  const hintsFor = (from: SimNode, target: SimNode): number => {
    const result = from.disk.read({ kind: 'list-hints', target: target.id, afterHintId: 0, limit: 1_000 }, world.nowMs)
    return result.kind === 'hints' ? result.hints.filter((hint) => hint.bucket === bucket && hint.key === key).length : -1
  }
  const ask = (node: SimNode, request: Parameters<World['clientRequest']>[1], untilMs: Millis, accept: (r: ClientResponse) => boolean, done: (r: ClientResponse | null) => void): void =>
    askUntil(world, node, request, untilMs, accept, done)
  const put = (value: string, w: 'all' | 2): ClientRequest => ({
    kind: 'put', bucket, key, value: new TextEncoder().encode(value), contentType: 'text/plain', context: null, returnBody: false, w,
  })

  world.scheduler.at(writeAt, () => {
    const owners = world.cluster.nodes[0]?.currentNode?.placement.table?.owners[partition]
    if (owners === undefined || owners.length !== 3) return void problems.push(`no ownership table at ${world.nowMs} ms`)
    const [a, b, c] = owners.map((id) => world.cluster.node(id)) as [SimNode, SimNode, SimNode]
    const f = nodes.find((node) => !owners.includes(node.id)) as SimNode
    cast = { a, b, c, f }
    notes.push(`key ${key} (partition ${partition}): owners ${a.id} ${b.id} ${c.id}, fallback ${f.id}`)
    ask(a, put('v1', 'all'), isolateAt - 100, (r) => r.kind === 'written', (r) => {
      if (r?.kind !== 'written') problems.push(`the put of v1 failed: ${JSON.stringify(r)}`)
    })
  })
  world.scheduler.at(isolateAt, () => {
    if (cast === null) return
    world.partition([cast.c.id], [cast.a.id, cast.b.id, cast.f.id])
  })
  world.scheduler.at(hintAt, () => {
    if (cast === null) return
    const { a } = cast
    ask(a, put('v2', 2), returnAt - 100, (r) => r.kind === 'written', (r) => {
      if (r?.kind !== 'written') problems.push(`the put of v2 failed: ${JSON.stringify(r)}`)
    })
  })
  world.scheduler.at(returnAt - 1, () => {
    if (cast === null) return
    const hints = hintsFor(cast.f, cast.c)
    if (hints < 1) problems.push(`setup: ${cast.f.id} holds no hint of ${key} for ${cast.c.id} (${hints})`)
  })
  world.scheduler.at(returnAt, () => {
    if (cast === null) return
    world.heal()
    world.partition([cast.f.id], [cast.c.id])
  })
  world.scheduler.at(deleteAt, () => {
    if (cast === null) return
    const { a } = cast
    ask(a, { kind: 'get', bucket, key, r: 'all' }, deleteAt + 3_000, (r) => r.kind === 'object', (read) => {
      if (read?.kind !== 'object') return void problems.push(`the read before the delete answered ${JSON.stringify(read)}`)
      const decoded = decodeCausalContext(read.context)
      if (decoded.kind !== 'decoded') return void problems.push(`bad context ${read.context}`)
      ask(a, { kind: 'delete', bucket, key, context: decoded.context, w: 'all' }, deleteAt + 8_000, (r) => r.kind === 'written', (r) => {
        if (r?.kind === 'written') deleted = true
        else problems.push(`the delete failed: ${JSON.stringify(r)}`)
      })
    })
  })
  const watchReaping = (): void => {
    if (cast === null || reconnectedAtMs !== null || world.nowMs > endMs - 10_000) return
    const { a, b, c, f } = cast
    if (deleted && [a, b, c].every((node) => stored(node) === 'missing')) {
      if (hintsFor(f, c) < 1) problems.push(`setup: ${f.id}'s hint for ${c.id} was delivered before the reaping`)
      reconnectedAtMs = world.nowMs
      world.heal()
      return
    }
    world.scheduler.at(world.nowMs + 100, watchReaping)
  }
  world.scheduler.at(deleteAt + 500, watchReaping)

  const result = world.runUntil(endMs)
  if (result.outcome === 'event-limit') problems.push(`event limit reached after ${result.eventsRun} events`)
  let supersededCopiesDropped = 0
  if (cast !== null) {
    const { a, b, c, f } = cast
    if (!deleted) problems.push(`${key} was never deleted`)
    if (reconnectedAtMs === null) problems.push(`${key} was not reaped on every owner before ${endMs - 10_000} ms`)
    for (const node of [a, b, c]) if (stored(node) !== 'missing') problems.push(`${node.id} holds ${key} at the end: resurrected`)
    if (hintsFor(f, c) !== 0) problems.push(`${f.id} still holds its hint for ${c.id} at the end (never answered)`)
    supersededCopiesDropped = [a, b, c].reduce((sum, node) => sum + (node.currentNode?.antiEntropy.reaper.counters.supersededCopiesDropped ?? 0), 0)
    notes.push(`reconnected F and C at ${reconnectedAtMs} ms; superseded copies dropped: ${supersededCopiesDropped}`)
  }
  return { problems, notes, supersededCopiesDropped }
}

type ClientRequest = Parameters<World['clientRequest']>[1]

interface Cast {
  readonly a: SimNode
  readonly b: SimNode
  readonly c: SimNode
  readonly f: SimNode
}
