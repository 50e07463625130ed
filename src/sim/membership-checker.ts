/**
 * The membership checker: watches every node's member table in a simulated world and turns it into the facts
 * DESIGN.md invariant 4 is about: who marked whom dead and when, whether that process was in fact running,
 * whether the live nodes agree on one full view, and whom each node believes leads.
 *
 * It reads, it never steps: before a node takes each input, the checker compares that node's table with what it
 * saw before the node's previous input, and records each change as a transition dated at that previous step. A
 * table changes only inside a step, so this sees every change, even one undone a step later (a false death
 * refuted within milliseconds), without a single extra event in the world: a run with the checker has the same
 * trace digest as one without. Sampling only on ticks would be cheaper and would miss exactly those.
 *
 * "Subject up" means the subject's process of exactly that generation is running. A partitioned-away process is
 * up, so marking it dead is a false death by this definition; the partition tests filter by side and time.
 */
import type { Millis, NodeId } from '../core/primitives/ids.ts'
import type { MemberState } from '../core/membership/membership-messages.ts'
import type { RunResult } from './sim-scheduler.ts'
import type { SimNode } from './sim-node.ts'
import type { World } from './world.ts'

export type ViewState = MemberState | 'absent'

/** One change in one node's table, as the checker saw it at that node's next tick. */
export interface MemberTransition {
  readonly atMs: Millis
  readonly observer: NodeId
  /** The observer's own generation: a restarted observer's table starts afresh. */
  readonly observerGeneration: number
  readonly subject: NodeId
  readonly from: ViewState
  readonly to: ViewState
  /** Generation and incarnation of the record after the change (before it, when `to` is absent). */
  readonly generation: number
  readonly incarnation: number
  /** Whether the subject's process of `generation` was running at that moment. */
  readonly subjectUp: boolean
}

interface Snapshot {
  readonly state: MemberState
  readonly generation: number
  readonly incarnation: number
}

interface ObserverView {
  readonly generation: number
  readonly records: Map<NodeId, Snapshot>
  /** The table version last read: an unchanged table is not read again, which keeps 50-node runs cheap. */
  tableVersion: number
}

/** How long each of a set of observers took to see something, measured from one instant. */
export interface Detection {
  /** Milliseconds from `sinceMs` per observer that saw it; observers that never did are in `missing`. */
  readonly byObserver: ReadonlyMap<NodeId, Millis>
  readonly missing: readonly NodeId[]
  /** The first and the last observer's time; null when nobody (or not everybody) saw it. */
  readonly firstMs: Millis | null
  readonly lastMs: Millis | null
}

export class MembershipChecker {
  private readonly views = new Map<NodeId, ObserverView>()
  /** When each node last took an input: the step whose effect the next sample sees. */
  private readonly lastStepAtMs = new Map<NodeId, Millis>()
  private readonly log: MemberTransition[] = []
  /** Transitions kept; a long run with flapping views must not grow without bound (STYLE rule 7). */
  private readonly maxTransitions: number
  private dropped = 0

  constructor(private readonly world: World, options: { readonly maxTransitions?: number } = {}) {
    this.maxTransitions = options.maxTransitions ?? 1_000_000
    world.cluster.addObserver({
      onInput: (node) => {
        this.sample(node)
        this.lastStepAtMs.set(node.id, world.nowMs)
      },
    })
  }

  // ---- what was recorded -------------------------------------------------------------------------------

  get transitions(): readonly MemberTransition[] {
    return this.log
  }

  /** Transitions not kept because the log was full; a check that needs them must fail rather than pass. */
  get droppedTransitions(): number {
    return this.dropped
  }

  /** Every time some node marked some member dead. */
  deadMarks(): MemberTransition[] {
    return this.log.filter((t) => t.to === 'dead')
  }

  /** Dead marks of a process that was running at that moment (the quantity that must be zero on a healthy network). */
  falseDeads(): MemberTransition[] {
    return this.log.filter((t) => t.to === 'dead' && t.subjectUp)
  }

  /** Suspicions of a running process: expected under loss, harmless while they are refuted. */
  falseSuspicions(): MemberTransition[] {
    return this.log.filter((t) => t.to === 'suspect' && t.subjectUp)
  }

  /**
   * When each observer first saw `subject` in one of `states` at `generation` (or any generation above it when
   * `orNewer`), counting only transitions at or after `sinceMs` made by the observer's current life.
   */
  firstSeen(
    subject: NodeId,
    generation: number,
    states: readonly ViewState[],
    sinceMs: Millis,
    observers: readonly NodeId[],
  ): Detection {
    const byObserver = new Map<NodeId, Millis>()
    for (const t of this.log) {
      if (t.subject !== subject || t.atMs < sinceMs || t.generation !== generation) continue
      if (!states.includes(t.to) || byObserver.has(t.observer)) continue
      if (!observers.includes(t.observer)) continue
      byObserver.set(t.observer, t.atMs - sinceMs)
    }
    // A node that already held the state at sinceMs saw it at once.
    for (const observer of observers) {
      if (byObserver.has(observer)) continue
      const current = this.currentRecord(observer, subject)
      if (current !== undefined && current.generation === generation && states.includes(current.state)) {
        const last = this.lastChange(observer, subject)
        if (last === undefined || last < sinceMs) byObserver.set(observer, 0)
      }
    }
    const missing = observers.filter((observer) => !byObserver.has(observer))
    const times = [...byObserver.values()]
    return {
      byObserver,
      missing,
      firstMs: times.length === 0 ? null : Math.min(...times),
      lastMs: missing.length > 0 || times.length === 0 ? null : Math.max(...times),
    }
  }

  /** How long after `sinceMs` every observer marked `subject`'s `generation` dead. */
  deathDetection(subject: NodeId, generation: number, sinceMs: Millis, observers: readonly NodeId[]): Detection {
    return this.firstSeen(subject, generation, ['dead'], sinceMs, observers)
  }

  // ---- the views now -------------------------------------------------------------------------------------

  /** The nodes running now, in id order. */
  upIds(): NodeId[] {
    return this.world.cluster.upNodes().map((node) => node.id)
  }

  /** `observer`'s record of `subject` right now, read from its table. */
  currentRecord(observer: NodeId, subject: NodeId): Snapshot | undefined {
    const record = this.world.cluster.node(observer).currentNode?.membership.member(subject)
    return record === undefined ? undefined : { state: record.state, generation: record.generation, incarnation: record.incarnation }
  }

  /**
   * What stands between the running nodes and one full view: every running node holds every running node
   * alive at its current generation. Empty when the view is full. `among` narrows both sides (one side of a
   * partition).
   */
  viewProblems(among: readonly NodeId[] = this.upIds()): string[] {
    const problems: string[] = []
    for (const observer of among) {
      for (const subject of among) {
        const expected = this.world.cluster.node(subject).generation
        const record = this.currentRecord(observer, subject)
        if (record === undefined) problems.push(`${observer} does not know ${subject}`)
        else if (record.generation !== expected || record.state !== 'alive') {
          problems.push(`${observer} holds ${subject} ${record.state} gen ${record.generation}, it is alive gen ${expected}`)
        }
      }
    }
    return problems
  }

  isFullView(among: readonly NodeId[] = this.upIds()): boolean {
    return this.viewProblems(among).length === 0
  }

  /** Each running node's leader, as it computes it from its own view. */
  leaders(among: readonly NodeId[] = this.upIds()): Map<NodeId, NodeId | null> {
    const leaders = new Map<NodeId, NodeId | null>()
    for (const id of among) leaders.set(id, this.world.cluster.node(id).currentNode?.membership.leader() ?? null)
    return leaders
  }

  /** The leader a full view implies: the running node with the lowest (generation, id). */
  expectedLeader(among: readonly NodeId[] = this.upIds()): NodeId | null {
    const nodes = among.map((id) => this.world.cluster.node(id))
    nodes.sort((a, b) => a.generation - b.generation || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return nodes[0]?.id ?? null
  }

  // ---- sampling ------------------------------------------------------------------------------------------

  private sample(node: SimNode): void {
    const swim = node.currentNode?.membership
    if (swim === undefined) return
    const atMs = this.lastStepAtMs.get(node.id) ?? this.world.nowMs
    const previous = this.views.get(node.id)
    const view: ObserverView =
      previous !== undefined && previous.generation === node.generation ? previous : { generation: node.generation, records: new Map(), tableVersion: -1 }
    this.views.set(node.id, view)
    if (view.tableVersion === swim.tableVersion) return
    view.tableVersion = swim.tableVersion
    const seen = new Set<NodeId>()
    for (const record of swim.records()) {
      seen.add(record.id)
      const before = view.records.get(record.id)
      if (before !== undefined && before.state === record.state && before.generation === record.generation && before.incarnation === record.incarnation) continue
      view.records.set(record.id, { state: record.state, generation: record.generation, incarnation: record.incarnation })
      if (before !== undefined && before.state === record.state && before.generation === record.generation) continue
      this.note(atMs, node, record.id, before?.state ?? 'absent', record.state, record.generation, record.incarnation)
    }
    for (const [subject, before] of view.records) {
      if (seen.has(subject)) continue
      view.records.delete(subject)
      this.note(atMs, node, subject, before.state, 'absent', before.generation, before.incarnation)
    }
  }

  private note(atMs: Millis, observer: SimNode, subject: NodeId, from: ViewState, to: ViewState, generation: number, incarnation: number): void {
    if (this.log.length >= this.maxTransitions) {
      this.dropped++
      return
    }
    const subjectNode = this.world.cluster.node(subject)
    this.log.push({
      atMs,
      observer: observer.id,
      observerGeneration: observer.generation,
      subject,
      from,
      to,
      generation,
      incarnation,
      subjectUp: subjectNode.isUp && subjectNode.generation === generation,
    })
  }

  private lastChange(observer: NodeId, subject: NodeId): Millis | undefined {
    for (let i = this.log.length - 1; i >= 0; i--) {
      const t = this.log[i] as MemberTransition
      if (t.observer === observer && t.subject === subject) return t.atMs
    }
    return undefined
  }
}

/**
 * Runs the world in `stepMs` slices until `done()` holds or `deadlineMs` passes (poll with a deadline, never
 * sleep and hope). Returns the virtual time at which it first held, or null.
 */
export function runUntilTrue(world: World, done: () => boolean, deadlineMs: Millis, stepMs: Millis = 10): Millis | null {
  // A world that has not started has no views at all, which would pass every "no problems" check vacuously.
  world.start()
  if (done()) return world.nowMs
  while (world.nowMs < deadlineMs) {
    const result: RunResult = world.runUntil(Math.min(deadlineMs, world.nowMs + stepMs))
    if (result.outcome === 'event-limit') return null
    if (done()) return world.nowMs
  }
  return null
}

/** Percentiles of a sample, for reports: p50, p90, max (nearest rank). */
export function distribution(valuesMs: readonly number[]): { n: number; min: number; p50: number; p90: number; max: number } {
  const sorted = [...valuesMs].sort((a, b) => a - b)
  const rank = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN
  return { n: sorted.length, min: sorted[0] ?? Number.NaN, p50: rank(0.5), p90: rank(0.9), max: sorted[sorted.length - 1] ?? Number.NaN }
}
