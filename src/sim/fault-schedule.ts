/**
 * A seeded schedule of faults over virtual time: crashes and restarts, partitions (two-way and one-way) and
 * heals, bursts of datagram loss. It is generated up front as a plain list, from its own random stream, so it
 * can be printed before the run and does not shift when the system under test consumes randomness differently.
 *
 * The generator walks time forward and keeps the faults sensible: at most `maxCrashed` nodes down at once (a
 * minority by default, because the invariants promise nothing beyond that), one partition at a time, one loss
 * burst at a time. At `endMs` every fault is undone (heal, loss back to normal, every crashed node restarted),
 * so that a workload can check that the system recovers once the weather clears (VOPR's "liveness mode").
 */
import { assert } from '../core/primitives/assert.ts'
import type { Millis, NodeId } from '../core/primitives/ids.ts'
import type { Random } from '../core/primitives/random.ts'
import { shuffled } from '../core/primitives/random.ts'
import type { PartitionDirection } from './sim-network.ts'

export type Fault =
  | { readonly kind: 'crash'; readonly node: NodeId }
  | { readonly kind: 'restart'; readonly node: NodeId }
  | { readonly kind: 'partition'; readonly sideA: readonly NodeId[]; readonly sideB: readonly NodeId[]; readonly direction: PartitionDirection }
  | { readonly kind: 'heal' }
  | { readonly kind: 'loss-burst'; readonly lossProbability: number }
  | { readonly kind: 'loss-end' }

export type FaultKind = Fault['kind']

export interface ScheduledFault {
  readonly atMs: Millis
  readonly fault: Fault
}

export interface FaultScheduleOptions {
  /** No fault before this: let the cluster form first. */
  readonly startMs: Millis
  /** No new fault after this; everything is undone at this instant. */
  readonly endMs: Millis
  /** Faults arrive every meanIntervalMs on average (uniform in [0.5, 1.5] times it). */
  readonly meanIntervalMs: Millis
  /** Most nodes down at once; defaults to a minority, ⌊(n − 1) / 2⌋. */
  readonly maxCrashed?: number
  /** Relative weights of the fault kinds; a kind that is not possible at that moment is skipped. */
  readonly weights: Readonly<Record<'crash' | 'restart' | 'partition' | 'heal' | 'lossBurst' | 'lossEnd', number>>
  /** Datagram loss during a burst. */
  readonly burstLossProbability: number
  /** Chance that a partition is one-way (A cannot reach B, B still reaches A). */
  readonly oneWayProbability: number
}

export const defaultFaultScheduleOptions: FaultScheduleOptions = {
  startMs: 1_000,
  endMs: 20_000,
  meanIntervalMs: 1_500,
  weights: { crash: 2, restart: 3, partition: 2, heal: 3, lossBurst: 1, lossEnd: 2 },
  burstLossProbability: 0.5,
  oneWayProbability: 0.3,
}

interface GeneratorState {
  readonly crashed: Set<NodeId>
  partitioned: boolean
  lossy: boolean
}

export class FaultSchedule {
  private constructor(readonly faults: readonly ScheduledFault[]) {}

  static none(): FaultSchedule {
    return new FaultSchedule([])
  }

  static of(faults: readonly ScheduledFault[]): FaultSchedule {
    for (let i = 1; i < faults.length; i++) {
      assert((faults[i]?.atMs ?? 0) >= (faults[i - 1]?.atMs ?? 0), 'faults must be in time order')
    }
    return new FaultSchedule(faults)
  }

  /** A random schedule over [startMs, endMs] for these nodes, ending with every fault undone. */
  static generate(random: Random, nodeIds: readonly NodeId[], options: FaultScheduleOptions = defaultFaultScheduleOptions): FaultSchedule {
    assert(options.endMs >= options.startMs, 'endMs must not precede startMs')
    assert(options.meanIntervalMs > 0, 'meanIntervalMs must be positive')
    const maxCrashed = options.maxCrashed ?? Math.floor((nodeIds.length - 1) / 2)
    const state: GeneratorState = { crashed: new Set(), partitioned: false, lossy: false }
    const faults: ScheduledFault[] = []
    let atMs = options.startMs
    for (;;) {
      atMs += Math.round(options.meanIntervalMs * (0.5 + random.nextFloat()))
      if (atMs >= options.endMs) break
      const fault = nextFault(random, nodeIds, options, maxCrashed, state)
      if (fault !== null) faults.push({ atMs, fault })
    }
    for (const fault of undoAll(nodeIds, state)) faults.push({ atMs: options.endMs, fault })
    return new FaultSchedule(faults)
  }

  lines(): string[] {
    return this.faults.map(({ atMs, fault }) => `${atMs.toFixed(0).padStart(8)} ms  ${describeFault(fault)}`)
  }
}

function nextFault(random: Random, nodeIds: readonly NodeId[], options: FaultScheduleOptions, maxCrashed: number, state: GeneratorState): Fault | null {
  const up = nodeIds.filter((id) => !state.crashed.has(id))
  const down = nodeIds.filter((id) => state.crashed.has(id))
  const possible: [keyof FaultScheduleOptions['weights'], boolean][] = [
    ['crash', state.crashed.size < maxCrashed && up.length > 0],
    ['restart', down.length > 0],
    ['partition', !state.partitioned && nodeIds.length >= 2],
    ['heal', state.partitioned],
    ['lossBurst', !state.lossy],
    ['lossEnd', state.lossy],
  ]
  const candidates = possible.filter(([kind, ok]) => ok && options.weights[kind] > 0).map(([kind]) => kind)
  const kind = pickWeighted(random, candidates, options.weights)
  switch (kind) {
    case null:
      return null
    case 'crash':
      return pickNode(random, up, (node) => { state.crashed.add(node); return { kind: 'crash', node } })
    case 'restart':
      return pickNode(random, down, (node) => { state.crashed.delete(node); return { kind: 'restart', node } })
    case 'partition':
      state.partitioned = true
      return randomPartition(random, nodeIds, options.oneWayProbability)
    case 'heal':
      state.partitioned = false
      return { kind: 'heal' }
    case 'lossBurst':
      state.lossy = true
      return { kind: 'loss-burst', lossProbability: options.burstLossProbability }
    case 'lossEnd':
      state.lossy = false
      return { kind: 'loss-end' }
  }
}

function pickWeighted<K extends string>(random: Random, candidates: readonly K[], weights: Readonly<Record<K, number>>): K | null {
  const total = candidates.reduce((sum, kind) => sum + weights[kind], 0)
  if (total <= 0) return null
  let roll = random.nextFloat() * total
  for (const kind of candidates) {
    roll -= weights[kind]
    if (roll < 0) return kind
  }
  return candidates[candidates.length - 1] ?? null
}

function pickNode(random: Random, from: readonly NodeId[], make: (node: NodeId) => Fault): Fault | null {
  const node = from[random.nextInt(from.length)]
  return node === undefined ? null : make(node)
}

function randomPartition(random: Random, nodeIds: readonly NodeId[], oneWayProbability: number): Fault {
  const order = shuffled(random, nodeIds)
  const sizeA = 1 + random.nextInt(order.length - 1)
  const direction: PartitionDirection = random.nextFloat() < oneWayProbability ? 'one-way' : 'two-way'
  const byId = (a: NodeId, b: NodeId): number => (a < b ? -1 : a > b ? 1 : 0)
  return { kind: 'partition', sideA: order.slice(0, sizeA).sort(byId), sideB: order.slice(sizeA).sort(byId), direction }
}

function undoAll(nodeIds: readonly NodeId[], state: GeneratorState): Fault[] {
  const undo: Fault[] = []
  if (state.partitioned) undo.push({ kind: 'heal' })
  if (state.lossy) undo.push({ kind: 'loss-end' })
  for (const id of nodeIds) if (state.crashed.has(id)) undo.push({ kind: 'restart', node: id })
  return undo
}

export function describeFault(fault: Fault): string {
  switch (fault.kind) {
    case 'crash':
    case 'restart':
      return `${fault.kind} ${fault.node}`
    case 'partition':
      return `partition ${fault.direction} [${fault.sideA.join(',')}] | [${fault.sideB.join(',')}]`
    case 'heal':
    case 'loss-end':
      return fault.kind
    case 'loss-burst':
      return `loss-burst ${fault.lossProbability}`
  }
}
