/**
 * Membership during the chaos run: every node's /cluster/members polled on its own loop (a paused node's poll
 * must not delay the others), keeping only state changes; then a pure analysis of those changes against the
 * nemesis's fault windows (DESIGN.md §9 invariant 4): every killed node marked dead by every peer before it
 * came back, and no node declared dead while nothing but a pause (or nothing at all) was done to it.
 */
import type { ChorusCluster, MemberRow } from '../lib/process-cluster.ts'
import { delay } from '../lib/poll.ts'
import type { FaultEvent } from './history.ts'

export interface Transition {
  readonly observer: string
  readonly target: string
  readonly from: MemberRow['state'] | 'unknown'
  readonly to: MemberRow['state']
  readonly generation: number
  readonly atMs: number
}

const POLL_INTERVAL_MS = 200

export class MembershipWatch {
  readonly transitions: Transition[] = []
  private stopped = false
  private readonly last = new Map<string, MemberRow['state']>()
  private loops: Promise<void>[] = []

  constructor(private readonly cluster: ChorusCluster) {}

  start(): void {
    this.loops = this.cluster.nodes.map((node) => this.loop(node.index, node.id))
  }

  async stop(): Promise<void> {
    this.stopped = true
    await Promise.all(this.loops)
  }

  private async loop(index: number, observer: string): Promise<void> {
    while (!this.stopped) {
      const view = await this.cluster.members(index)
      const atMs = Date.now()
      for (const row of view ?? []) this.observe(observer, row, atMs)
      await delay(POLL_INTERVAL_MS)
    }
  }

  private observe(observer: string, row: MemberRow, atMs: number): void {
    if (row.id === observer) return
    const pair = `${observer}>${row.id}`
    const from = this.last.get(pair)
    if (from === row.state) return
    this.last.set(pair, row.state)
    this.transitions.push({ observer, target: row.id, from: from ?? 'unknown', to: row.state, generation: row.generation, atMs })
  }
}

export interface KillDetection {
  readonly victim: string
  readonly startMs: number
  /** Milliseconds from the SIGKILL to each peer's first `dead` for the victim; null when it never said so. */
  readonly byObserver: Readonly<Record<string, number | null>>
}

export interface FalseDeath {
  readonly observer: string
  readonly target: string
  readonly atMs: number
  /** The pause that preceded it, if the target had just been paused. */
  readonly afterPause: string | null
}

export interface MembershipVerdict {
  readonly kills: readonly KillDetection[]
  readonly medianDetectionMs: number | null
  readonly undetected: number
  readonly falseDeaths: readonly FalseDeath[]
  readonly violations: readonly string[]
}

/** Deaths this soon after a fault ends are still that fault's doing (the poll and gossip lag behind). */
const GRACE_MS = 3_000

export function analyseMembership(transitions: readonly Transition[], faults: readonly FaultEvent[], nodeIds: readonly string[]): MembershipVerdict {
  const kills = faults.filter((fault) => fault.kind === 'kill').map((fault) => detection(transitions, fault, nodeIds))
  const times = kills.flatMap((kill) => Object.values(kill.byObserver)).filter((ms): ms is number => ms !== null)
  const undetected = kills.flatMap((kill) => Object.values(kill.byObserver)).filter((ms) => ms === null).length
  const falseDeaths = transitions.filter((t) => t.to === 'dead' && !excused(t, faults)).map((t) => ({ ...t, afterPause: pauseBefore(t, faults) }))
  const violations: string[] = []
  if (undetected > 0) violations.push(`${undetected} peer views never marked a killed node dead before its restart`)
  if (falseDeaths.length > 0) violations.push(`${falseDeaths.length} dead declarations of nodes that were not killed or cut off`)
  return { kills, medianDetectionMs: median(times), undetected, falseDeaths, violations }
}

function detection(transitions: readonly Transition[], kill: FaultEvent, nodeIds: readonly string[]): KillDetection {
  const victim = kill.nodes[0] ?? '?'
  const byObserver: Record<string, number | null> = {}
  for (const observer of nodeIds) {
    if (observer === victim) continue
    const seen = transitions.find((t) => t.observer === observer && t.target === victim && t.to === 'dead' && t.atMs >= kill.startMs && t.atMs <= kill.endMs)
    byObserver[observer] = seen === undefined ? null : seen.atMs - kill.startMs
  }
  return { victim, startMs: kill.startMs, byObserver }
}

/** A death is legitimate during (or just after) a kill of that node, or any network fault. */
function excused(transition: Transition, faults: readonly FaultEvent[]): boolean {
  return faults.some((fault) => {
    const inWindow = transition.atMs >= fault.startMs && transition.atMs <= fault.endMs + GRACE_MS
    if (!inWindow) return false
    if (fault.kind === 'kill') return fault.nodes.includes(transition.target)
    return fault.kind !== 'pause'
  })
}

function pauseBefore(transition: Transition, faults: readonly FaultEvent[]): string | null {
  const pause = faults.find((fault) => fault.kind === 'pause' && transition.atMs >= fault.startMs && transition.atMs <= fault.endMs + GRACE_MS)
  return pause === undefined ? null : `${pause.nodes.join(',')} paused ${pause.detail ?? ''}`
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? (sorted[middle] ?? null) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}
