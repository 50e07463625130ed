/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) and says where the time went: self time per function
 * (the leaves that burn the CPU) and total time per function (self plus callees, each function counted once per
 * sample even when it recurses), as file:line so the numbers point into the source. Node's own internals and
 * dependencies are kept, because "40% in node:http" is a finding too. Percentages are of the busy samples (idle
 * left out), so a node that waited most of the run still shows where its working time went.
 */
import { readFileSync } from 'node:fs'

interface CallFrame {
  readonly functionName: string
  readonly url: string
  /** 0-based, as V8 reports it. */
  readonly lineNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly hitCount?: number
  readonly children?: readonly number[]
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly startTime: number
  readonly endTime: number
  readonly samples: readonly number[]
  /** Microseconds from the previous sample (the first from startTime). */
  readonly timeDeltas: readonly number[]
}

/**
 * A span of CLOCK_MONOTONIC in microseconds. V8 stamps profile samples with that clock, and so does
 * process.hrtime in any process on the machine, so a benchmark can say which samples fell inside its phase.
 */
export interface MonotonicWindow {
  readonly fromUs: number
  readonly toUs: number
}

export interface ProfileLine {
  readonly where: string
  readonly selfPercent: number
  readonly totalPercent: number
}

export interface ProfileSummary {
  readonly sampledMs: number
  readonly idlePercent: number
  readonly bySelf: readonly ProfileLine[]
  readonly byTotal: readonly ProfileLine[]
}

/** Now on CLOCK_MONOTONIC in microseconds, comparable with profile timestamps of other processes. */
export function monotonicNowUs(): number {
  return Number(process.hrtime.bigint() / 1_000n)
}

/** Summarises the samples inside `window` (all of them when it is undefined). */
export function summarizeCpuProfile(path: string, top: number, root: string, window?: MonotonicWindow): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parentOf = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id)

  const self = new Map<string, number>()
  const total = new Map<string, number>()
  let idle = 0
  let counted = 0
  let atUs = profile.startTime
  for (const [index, sampleId] of profile.samples.entries()) {
    atUs += profile.timeDeltas[index] ?? 0
    if (window !== undefined && (atUs < window.fromUs || atUs > window.toUs)) continue
    counted++
    const leaf = byId.get(sampleId)
    if (leaf === undefined) continue
    const leafWhere = describe(leaf.callFrame, root)
    if (leaf.callFrame.functionName === '(idle)') idle++
    self.set(leafWhere, (self.get(leafWhere) ?? 0) + 1)
    // Walk to the root once per sample; a set keeps a recursive function from counting twice.
    const seen = new Set<string>()
    for (let id: number | undefined = sampleId; id !== undefined; id = parentOf.get(id)) {
      const node = byId.get(id)
      if (node === undefined) break
      seen.add(describe(node.callFrame, root))
    }
    for (const where of seen) total.set(where, (total.get(where) ?? 0) + 1)
  }

  const samples = Math.max(1, counted - idle)
  const line = (where: string): ProfileLine => ({
    where,
    selfPercent: (100 * (self.get(where) ?? 0)) / samples,
    totalPercent: (100 * (total.get(where) ?? 0)) / samples,
  })
  const rank = (counts: Map<string, number>, skip: (where: string) => boolean): ProfileLine[] =>
    [...counts.entries()].filter(([where]) => !skip(where)).sort((a, b) => b[1] - a[1]).slice(0, top).map(([where]) => line(where))
  // Roots and the runtime's bookkeeping frames are 100% by construction and say nothing.
  const structural = (where: string): boolean => /^\((root|program|idle|garbage collector)\)/.test(where) || where.startsWith('(anonymous) ') && where.endsWith(' :0')
  return {
    sampledMs: window === undefined ? (profile.endTime - profile.startTime) / 1_000 : (window.toUs - window.fromUs) / 1_000,
    idlePercent: (100 * idle) / Math.max(1, counted),
    bySelf: rank(self, (where) => where.startsWith('(root)') || where === '(idle)'),
    byTotal: rank(total, structural),
  }
}

function describe(frame: CallFrame, root: string): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName
  if (frame.url === '') return name
  const path = frame.url.replace(/^file:\/\//, '')
  const file = path.replace(`${root}/`, '')
  // tsx compiles each .ts module onto one line, so V8's line is always 1 there; find the definition by name
  // in the source instead, marked with ~ because two functions of one name in a file would be confused.
  if (path.endsWith('.ts') && frame.lineNumber === 0) {
    const line = definitionLine(path, frame.functionName)
    return line === undefined ? `${name} ${file}` : `${name} ${file}:~${line}`
  }
  return `${name} ${file}:${frame.lineNumber + 1}`
}

const sourceCache = new Map<string, readonly string[]>()

function definitionLine(path: string, functionName: string): number | undefined {
  if (functionName === '' || !/^[\w$#]+$/.test(functionName)) return undefined
  let lines = sourceCache.get(path)
  if (lines === undefined) {
    try {
      lines = readFileSync(path, 'utf8').split('\n')
    } catch {
      lines = []
    }
    sourceCache.set(path, lines)
  }
  const name = functionName.replace(/[$]/g, '\\$&')
  const definition = new RegExp(
    `^\\s*(export\\s+)?(default\\s+)?((async|static|private|protected|public|override|readonly|get|set)\\s+)*` +
      `(function\\s*\\*?\\s*${name}\\b|${name}\\s*(<[^>]*>)?\\(|(const|let)\\s+${name}\\s*=|class\\s+${name}\\b)`,
  )
  const index = lines.findIndex((line) => definition.test(line))
  return index < 0 ? undefined : index + 1
}
