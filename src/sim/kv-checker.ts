/**
 * Checks a key-value history against invariants 1 and 2 of DESIGN.md section 9, for `siblings` buckets:
 *
 *  1. No acknowledged write is lost: a put acknowledged at W ≥ 1 is returned by later reads, as the value or a
 *     sibling, until a write or delete whose context covers it. During the run that promise holds only where a
 *     read must overlap the write's replicas (pr + pw > n: both counted primaries only; sloppy quorum makes no
 *     promise for r + w > n while fallbacks hold data), so it is checked there; after the faults stop, the r=all
 *     reads of every node must return every acknowledged write that no write covered, and must all agree.
 *  2. No false concurrency: a write with the context of a read supersedes exactly what that read returned. So no
 *     read may ever return a value together with a value whose write covered it, and nothing an acknowledged
 *     write covered may survive into the final state.
 *
 * A put retried with the same X-Request-Id counts as one write: the store records the id in the sibling and
 * keeps one sibling per id (collapseRetriedWrites), so retries are held to the same rules as every other write.
 *
 * "Covered": a write's context came from a read; it covers the values that read returned. A write that some
 * write covers is excused from later reads once that covering write was invoked (it may have been applied even
 * if it failed). Failed or timed-out writes are indeterminate: they may appear or not, and are never counted as
 * lost. Why the direct rule is enough: the first write whose context covers a put's dot got that context from a
 * read of replicas that had seen the dot and (nothing having superseded it yet) still held it, so the read
 * returned it.
 */
import type { KvHistory, KvRead, KvWrite } from './kv-history.ts'

export interface KvCheckOptions {
  /** Replicas per key, for the pr + pw > n overlap rule. */
  readonly n: number
}

export function checkKvHistory(history: KvHistory, options: KvCheckOptions): string[] {
  const problems: string[] = []
  const byValue = new Map<string, KvWrite>()
  for (const write of history.writes) if (write.value !== null) byValue.set(write.value, write)
  for (const read of history.reads) {
    if (read.outcome !== 'ok') continue
    problems.push(...phantomsAndFalseSiblings(read, byValue))
    if (!read.final) problems.push(...lostDuringRun(read, history, options))
  }
  for (const key of history.keys()) problems.push(...checkFinal(key, history, byValue))
  return problems
}

/** Values must come from invoked puts of the key, and never together with a value whose write covered them. */
function phantomsAndFalseSiblings(read: KvRead, byValue: ReadonlyMap<string, KvWrite>): string[] {
  const problems: string[] = []
  const seen = new Set<string>()
  for (const value of read.values) {
    const write = byValue.get(value)
    if (write === undefined || write.key !== read.key || write.invokedAtMs > (read.completedAtMs ?? Infinity)) {
      problems.push(`read #${read.id} of ${read.key} returned ${value}, which no put of that key wrote before it`)
      continue
    }
    if (seen.has(value)) problems.push(`read #${read.id} of ${read.key} returned ${value} twice, yet it was sent once`)
    seen.add(value)
  }
  for (const value of seen) {
    const write = byValue.get(value) as KvWrite
    for (const covered of write.covers) {
      if (seen.has(covered)) problems.push(`read #${read.id} of ${read.key} returned ${covered} beside ${value}, whose write superseded it (false sibling)`)
    }
  }
  return problems
}

/** Writes that must appear in `read`: acknowledged before it started, overlapping it, and not covered. */
function lostDuringRun(read: KvRead, history: KvHistory, options: KvCheckOptions): string[] {
  if (read.pr === 0) return []
  const problems: string[] = []
  const returned = new Set(read.values)
  for (const write of history.writes) {
    if (write.key !== read.key || write.kind !== 'put' || write.outcome !== 'ok' || write.value === null) continue
    if (write.pw === 0 || write.pw + read.pr <= options.n) continue
    if ((write.completedAtMs ?? Infinity) > read.invokedAtMs) continue
    if (isExcused(write.value, read.completedAtMs ?? Infinity, history)) continue
    if (!returned.has(write.value)) {
      problems.push(`read #${read.id} of ${read.key} at pr=${read.pr} missed ${write.value}, acknowledged at pw=${write.pw} at ${write.completedAtMs} ms (lost write)`)
    }
  }
  return problems
}

/** After the faults stop: every node's r=all read agrees, keeps every acknowledged uncovered put, and nothing superseded. */
function checkFinal(key: string, history: KvHistory, byValue: ReadonlyMap<string, KvWrite>): string[] {
  // The last final read of each node counts: earlier ones failed and were retried.
  const lastByNode = new Map<string, KvRead>()
  for (const read of history.reads) if (read.final && read.key === key) lastByNode.set(read.node, read)
  const finals = [...lastByNode.values()]
  if (finals.length === 0) return [`no final read of ${key} was made`]
  const problems: string[] = []
  const failed = finals.filter((r) => r.outcome !== 'ok')
  if (failed.length > 0) problems.push(`final r=all reads of ${key} failed on ${failed.map((r) => r.node).join(', ')}`)
  const ok = finals.filter((r) => r.outcome === 'ok')
  const first = ok[0]
  if (first === undefined) return problems
  const describe = (r: KvRead): string => `${r.deleted ? 'deleted ' : ''}[${[...r.values].sort().join(',')}]`
  for (const read of ok) {
    if (describe(read) !== describe(first) || read.context !== first.context) {
      problems.push(`final reads of ${key} disagree: ${first.node} saw ${describe(first)}, ${read.node} saw ${describe(read)}`)
    }
  }
  const final = new Set(first.values)
  for (const write of history.writes) {
    if (write.key !== key) continue
    if (write.kind === 'put' && write.outcome === 'ok' && write.value !== null && !final.has(write.value) && !isExcused(write.value, Infinity, history)) {
      problems.push(`${key}: ${write.value} was acknowledged (w=${write.w}) and never covered, yet the final state lacks it (lost write)`)
    }
    const applied = write.outcome === 'ok' || (write.value !== null && final.has(write.value))
    if (!applied) continue
    for (const covered of write.covers) {
      if (final.has(covered)) problems.push(`${key}: ${covered} survives although write #${write.id} (${write.value ?? 'delete'}) superseded it`)
    }
  }
  return problems
}

/** Some write invoked before `untilMs` carried a context that covered `value`. */
function isExcused(value: string, untilMs: number, history: KvHistory): boolean {
  return history.writes.some((w) => w.invokedAtMs <= untilMs && w.covers.has(value))
}
