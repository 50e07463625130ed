/**
 * The chaos checker: a pure function of the history (history.ts) and the final r=all reads of every key on
 * every node. It knows nothing about the cluster, so its verdicts can be unit-tested with hand-made histories
 * and a saved history can be re-checked.
 *
 * Coverage. Contexts are opaque, so the checker tracks causality the way the client creates it: a put or delete
 * sent with the context of read R replaces exactly what R returned (DESIGN.md §9, invariant 2), and everything
 * those values had replaced in turn. A put is then
 *   - covered       when an acknowledged write covers it: it may be gone;
 *   - maybe-covered when only writes that failed (indeterminate) cover it: it may be gone, since they may have landed;
 *   - live          otherwise: it must be readable, as the value or a sibling, on every node (invariant 1).
 * Only acknowledged puts are required; failed puts are indeterminate and may or may not appear.
 *
 * LWW keys (`lww-*`, history.ts) have no contexts, so coverage means nothing there; they are judged by real
 * time instead. An acknowledged put P is an LWW loss when a read that began after P was acknowledged (or the
 * final state) returned a value whose put had been acknowledged before P even began: the older write won. Clock
 * skew does exactly this, and LWW promises nothing better, so these are counted apart as expected losses, not
 * violations. Values never written and disagreement between replicas stay violations in LWW keys too.
 */
import type { CompleteEvent, FaultEvent, HistoryEvent, InvokeEvent, ReadResult } from './history.ts'
import { isLwwKey } from './history.ts'

export interface FinalRead {
  readonly key: string
  readonly node: string
  /** null when the read itself failed after the heal, which is a violation on its own. */
  readonly read: ReadResult | null
}

export interface LostWrite {
  readonly id: number
  readonly key: string
  readonly value: string
  readonly missingOn: readonly string[]
}

export interface ValueFinding {
  readonly key: string
  readonly value: string
  readonly where: string
}

export interface CheckResult {
  readonly ops: number
  readonly acknowledged: number
  readonly failed: number
  /** Writes (puts and deletes) that failed or timed out: they may or may not have taken effect. */
  readonly indeterminate: number
  /** Indeterminate puts whose value was seen at some point (allowed). */
  readonly indeterminateSeen: number
  readonly siblingsSeen: number
  readonly lost: readonly LostWrite[]
  /** LWW keys only: acknowledged puts an older write beat (expected under clock skew; not a violation). */
  readonly lwwLost: readonly ValueFinding[]
  /** Acknowledged puts to LWW keys, the denominator of lwwLost. */
  readonly lwwAcknowledged: number
  readonly neverWritten: readonly ValueFinding[]
  /** Siblings where one value's write had replaced the other's: concurrency the client never created. */
  readonly falseSiblings: readonly ValueFinding[]
  /** Values back in the final state although an acknowledged write had replaced them. */
  readonly resurrected: readonly ValueFinding[]
  /** Keys whose final r=all reads differ between nodes, or could not be read. */
  readonly disagreements: readonly string[]
  readonly outsideFaults: { readonly total: number; readonly ok: number }
  readonly violations: readonly string[]
}

type Status = 'covered' | 'maybe-covered' | 'live'

interface Indexed {
  readonly invokes: Map<number, InvokeEvent>
  readonly completes: Map<number, CompleteEvent>
  readonly putByValue: Map<string, InvokeEvent>
  readonly faults: readonly FaultEvent[]
}

export function check(history: readonly HistoryEvent[], finalReads: readonly FinalRead[]): CheckResult {
  const index = indexHistory(history)
  const covers = coverSets(index)
  const status = putStatuses(index, covers)
  const reads = [...index.completes.values()].filter((event) => event.read !== undefined)
  const seenValues = new Set<string>()
  for (const read of reads) for (const value of read.read?.values ?? []) seenValues.add(value)
  for (const final of finalReads) for (const value of final.read?.values ?? []) seenValues.add(value)

  const writes = [...index.invokes.values()].filter((invoke) => invoke.op !== 'get')
  const failedWrites = writes.filter((invoke) => index.completes.get(invoke.id)?.outcome !== 'ok')
  const result = {
    ops: index.invokes.size,
    acknowledged: writes.length - failedWrites.length,
    failed: [...index.invokes.keys()].filter((id) => index.completes.get(id)?.outcome !== 'ok').length,
    indeterminate: failedWrites.length,
    indeterminateSeen: failedWrites.filter((invoke) => invoke.op === 'put' && seenValues.has(invoke.value ?? '')).length,
    siblingsSeen: reads.filter((event) => event.read?.kind === 'siblings').length,
    lost: lostWrites(index, status, finalReads),
    lwwLost: lwwLosses(index, reads, finalReads),
    lwwAcknowledged: writes.filter((invoke) => isLwwKey(invoke.key) && invoke.op === 'put' && index.completes.get(invoke.id)?.outcome === 'ok').length,
    neverWritten: neverWritten(index, reads, finalReads),
    falseSiblings: falseSiblings(index, covers, reads, finalReads),
    resurrected: resurrected(index, status, finalReads),
    disagreements: disagreements(finalReads),
    outsideFaults: outsideFaults(index),
  }
  return { ...result, violations: violationsOf(result) }
}

function indexHistory(history: readonly HistoryEvent[]): Indexed {
  const invokes = new Map<number, InvokeEvent>()
  const completes = new Map<number, CompleteEvent>()
  const putByValue = new Map<string, InvokeEvent>()
  const faults: FaultEvent[] = []
  for (const event of history) {
    // Drop events are skipped on purpose: see history.ts.
    if (event.type === 'invoke') invokes.set(event.id, event)
    if (event.type === 'complete') completes.set(event.id, event)
    if (event.type === 'fault') faults.push(event)
    if (event.type === 'invoke' && event.op === 'put' && event.value !== undefined) putByValue.set(event.value, event)
  }
  return { invokes, completes, putByValue, faults }
}

/** For every write: the ids of the puts it replaced, transitively through the values its context's read returned. */
function coverSets(index: Indexed): Map<number, Set<number>> {
  const memo = new Map<number, Set<number>>()
  const coversOf = (writeId: number): Set<number> => {
    const known = memo.get(writeId)
    if (known !== undefined) return known
    const covered = new Set<number>()
    memo.set(writeId, covered) // set before recursing: a malformed history with a cycle must not loop forever
    const from = index.invokes.get(writeId)?.contextFrom
    const values = from == null ? [] : (index.completes.get(from)?.read?.values ?? [])
    for (const value of values) {
      const put = index.putByValue.get(value)
      if (put === undefined || put.id === writeId) continue
      covered.add(put.id)
      for (const inner of coversOf(put.id)) covered.add(inner)
    }
    return covered
  }
  for (const invoke of index.invokes.values()) if (invoke.op !== 'get') coversOf(invoke.id)
  return memo
}

function putStatuses(index: Indexed, covers: Map<number, Set<number>>): Map<number, Status> {
  const status = new Map<number, Status>()
  for (const put of index.putByValue.values()) status.set(put.id, 'live')
  for (const [writeId, covered] of covers) {
    const acknowledged = index.completes.get(writeId)?.outcome === 'ok'
    for (const putId of covered) {
      if (acknowledged) status.set(putId, 'covered')
      else if (status.get(putId) === 'live') status.set(putId, 'maybe-covered')
    }
  }
  return status
}

function lostWrites(index: Indexed, status: Map<number, Status>, finalReads: readonly FinalRead[]): LostWrite[] {
  const lost: LostWrite[] = []
  for (const put of index.putByValue.values()) {
    if (isLwwKey(put.key) || index.completes.get(put.id)?.outcome !== 'ok' || status.get(put.id) !== 'live') continue
    const missingOn = finalReads
      .filter((final) => final.key === put.key && !(final.read?.values ?? []).includes(put.value ?? ''))
      .map((final) => final.node)
    const readAnywhere = finalReads.some((final) => final.key === put.key)
    if (missingOn.length > 0 || !readAnywhere) lost.push({ id: put.id, key: put.key, value: put.value ?? '', missingOn: readAnywhere ? missingOn : ['(key never read)'] })
  }
  return lost
}

/** See the header: acknowledged LWW puts that a strictly older acknowledged put beat, in a later read or at the end. */
function lwwLosses(index: Indexed, reads: readonly CompleteEvent[], finalReads: readonly FinalRead[]): ValueFinding[] {
  const observations = new Map<string, { startMs: number; values: readonly string[]; where: string }[]>()
  const observe = (key: string, startMs: number, values: readonly string[], where: string): void => {
    if (!isLwwKey(key)) return
    const list = observations.get(key) ?? []
    list.push({ startMs, values, where })
    observations.set(key, list)
  }
  for (const read of reads) {
    const invoke = index.invokes.get(read.id)
    if (invoke !== undefined) observe(invoke.key, invoke.atMs, read.read?.values ?? [], `read ${read.id}`)
  }
  for (const final of finalReads) observe(final.key, Number.POSITIVE_INFINITY, final.read?.values ?? [], `final read on ${final.node}`)
  const acknowledgedAtMs = (put: InvokeEvent): number | null => {
    const complete = index.completes.get(put.id)
    return complete?.outcome === 'ok' ? complete.atMs : null
  }
  const findings: ValueFinding[] = []
  for (const put of index.putByValue.values()) {
    const doneMs = acknowledgedAtMs(put)
    if (!isLwwKey(put.key) || doneMs === null) continue
    const beaten = (observations.get(put.key) ?? []).find((seen) =>
      seen.startMs > doneMs &&
      seen.values.some((value) => {
        const winner = index.putByValue.get(value)
        const winnerDoneMs = winner === undefined ? null : acknowledgedAtMs(winner)
        return winnerDoneMs !== null && winnerDoneMs < put.atMs
      }),
    )
    if (beaten !== undefined) findings.push({ key: put.key, value: put.value ?? '', where: `older value won in ${beaten.where}` })
  }
  return findings
}

function neverWritten(index: Indexed, reads: readonly CompleteEvent[], finalReads: readonly FinalRead[]): ValueFinding[] {
  const findings: ValueFinding[] = []
  for (const read of reads) {
    const key = index.invokes.get(read.id)?.key ?? '?'
    for (const value of read.read?.values ?? []) if (!index.putByValue.has(value)) findings.push({ key, value, where: `read ${read.id}` })
  }
  for (const final of finalReads) {
    for (const value of final.read?.values ?? []) if (!index.putByValue.has(value)) findings.push({ key: final.key, value, where: `final read on ${final.node}` })
  }
  return findings
}

function falseSiblings(index: Indexed, covers: Map<number, Set<number>>, reads: readonly CompleteEvent[], finalReads: readonly FinalRead[]): ValueFinding[] {
  const findings: ValueFinding[] = []
  const inspect = (key: string, read: ReadResult | undefined | null, where: string): void => {
    if (read?.kind !== 'siblings') return
    const ids = read.values.map((value) => index.putByValue.get(value)?.id).filter((id): id is number => id !== undefined)
    for (const a of ids) {
      for (const b of ids) {
        if (a !== b && covers.get(a)?.has(b) === true) findings.push({ key, value: index.invokes.get(b)?.value ?? '?', where: `${where}: beside write ${a}, which replaced it` })
      }
    }
  }
  for (const read of reads) inspect(index.invokes.get(read.id)?.key ?? '?', read.read, `read ${read.id}`)
  for (const final of finalReads) inspect(final.key, final.read, `final read on ${final.node}`)
  return findings
}

function resurrected(index: Indexed, status: Map<number, Status>, finalReads: readonly FinalRead[]): ValueFinding[] {
  const findings: ValueFinding[] = []
  for (const final of finalReads) {
    for (const value of final.read?.values ?? []) {
      const put = index.putByValue.get(value)
      if (put !== undefined && status.get(put.id) === 'covered') findings.push({ key: final.key, value, where: `final read on ${final.node}` })
    }
  }
  return findings
}

/** Keys whose final reads are not the same set of values on every node (or failed on some node). */
function disagreements(finalReads: readonly FinalRead[]): string[] {
  const byKey = new Map<string, Set<string>>()
  for (const final of finalReads) {
    const rendering = final.read === null ? '(read failed)' : [...final.read.values].sort().join('\u0000')
    const set = byKey.get(final.key) ?? new Set<string>()
    set.add(rendering)
    byKey.set(final.key, set)
  }
  return [...byKey].filter(([, renderings]) => renderings.size > 1 || renderings.has('(read failed)')).map(([key]) => key)
}

/** Operations whose whole span lay outside every fault window, and how many of them succeeded. */
function outsideFaults(index: Indexed): { total: number; ok: number } {
  let total = 0
  let ok = 0
  for (const invoke of index.invokes.values()) {
    const complete = index.completes.get(invoke.id)
    const endMs = complete?.atMs ?? Number.POSITIVE_INFINITY
    if (index.faults.some((fault) => invoke.atMs <= fault.endMs && endMs >= fault.startMs)) continue
    total++
    if (complete?.outcome === 'ok') ok++
  }
  return { total, ok }
}

function violationsOf(result: Omit<CheckResult, 'violations'>): string[] {
  const violations: string[] = []
  if (result.lost.length > 0) violations.push(`${result.lost.length} acknowledged writes lost`)
  if (result.neverWritten.length > 0) violations.push(`${result.neverWritten.length} reads returned values never written`)
  if (result.falseSiblings.length > 0) violations.push(`${result.falseSiblings.length} false siblings`)
  if (result.resurrected.length > 0) violations.push(`${result.resurrected.length} replaced values resurrected`)
  if (result.disagreements.length > 0) violations.push(`${result.disagreements.length} keys disagree between nodes at r=all`)
  return violations
}
