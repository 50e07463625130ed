/**
 * `npx tsx scripts/chaos.ts --nodes 5 --duration 60 --nemesis kill,pause,partition [--preset test|local]
 *   [--clients 6] [--out DIR] [--drop-acked N] [--loopback]`
 *
 * Real `chorus start` processes under a nemesis (DESIGN.md §9, issue 9). As root on Linux every node gets its
 * own network namespace (scripts/lib/netns.ts), so partitions and loss are real packet drops; otherwise the
 * nodes share loopback and only kill and pause are possible (said at start). Concurrent clients write and read
 * a siblings bucket at quorum while faults come and go; every operation goes to a JSON-lines history. After the
 * last fault is healed the script reads every key at r=all on every node until they agree, runs the checker
 * (scripts/chaos/checker.ts) and the membership analysis, prints a report and exits 1 on any violation.
 * `--drop-acked N` deletes N keys' acknowledged values behind the checker's back, to prove it reports loss.
 * Processes, directories, namespaces and rules are removed however the run ends (cleanup-registry.ts).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { ChorusClient } from '../src/api/client.ts'
import { check } from './chaos/checker.ts'
import type { CheckResult } from './chaos/checker.ts'
import { awaitAgreement, dropAcknowledged } from './chaos/final-state.ts'
import { HistoryRecorder } from './chaos/history.ts'
import { analyseMembership, MembershipWatch } from './chaos/membership.ts'
import type { MembershipVerdict } from './chaos/membership.ts'
import { Nemesis } from './chaos/nemesis.ts'
import type { NemesisKind } from './chaos/nemesis.ts'
import { allKeys, BUCKET, Workload } from './chaos/workload.ts'
import { cleanupAll } from './lib/cleanup-registry.ts'
import { namespacesAvailable, NamespaceNetwork } from './lib/netns.ts'
import { delay } from './lib/poll.ts'
import { ChorusCluster } from './lib/process-cluster.ts'

interface Settings {
  readonly nodes: number
  readonly durationS: number
  readonly kinds: NemesisKind[]
  readonly preset: 'test' | 'local'
  readonly clients: number
  readonly outDir: string
  readonly dropAcked: number
  readonly loopback: boolean
}

/** The brief's bound for agreement after the final heal. */
const CONVERGE_DEADLINE_MS = 30_000
/** Enough keys that blind writes do not pile up siblings, few enough to read them all at r=all each round. */
const BLIND_KEYS = 12
const UPDATE_KEYS = 12
const REQUIRED_OUTSIDE_SUCCESS = 0.95
const MEDIAN_DETECTION_BOUND_MS = 3_000

function parseSettings(): Settings {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '5' },
      duration: { type: 'string', default: '60' },
      nemesis: { type: 'string', default: 'kill,pause,partition' },
      preset: { type: 'string', default: 'test' },
      clients: { type: 'string', default: '6' },
      out: { type: 'string' },
      'drop-acked': { type: 'string', default: '0' },
      loopback: { type: 'boolean', default: false },
    },
  })
  const kinds = values.nemesis.split(',').filter((kind) => kind !== '')
  const known: NemesisKind[] = ['kill', 'pause', 'partition', 'loss']
  for (const kind of kinds) if (!known.includes(kind as NemesisKind)) throw new Error(`unknown nemesis ${kind}; known: ${known.join(', ')}`)
  if (values.preset !== 'test' && values.preset !== 'local') throw new Error('--preset must be test or local')
  const nodes = Number(values.nodes)
  if (!Number.isInteger(nodes) || nodes < 3) throw new Error('--nodes must be an integer of at least 3 (N = 3 replicas)')
  const outDir = values.out === undefined ? mkdtempSync(join(tmpdir(), 'chorus-chaos-')) : resolve(values.out)
  mkdirSync(outDir, { recursive: true })
  return {
    nodes,
    durationS: Number(values.duration),
    kinds: kinds as NemesisKind[],
    preset: values.preset,
    clients: Number(values.clients),
    outDir,
    dropAcked: Number(values['drop-acked']),
    loopback: values.loopback,
  }
}

/** Namespaces when we can; otherwise loopback, without the faults that need them, and say so. */
function createNetwork(settings: Settings): { network: NamespaceNetwork | null; kinds: NemesisKind[] } {
  if (!settings.loopback && namespacesAvailable()) {
    log(`network: one namespace per node on a private bridge (real partitions and loss)`)
    return { network: NamespaceNetwork.create(settings.nodes), kinds: settings.kinds }
  }
  const kinds: NemesisKind[] = settings.kinds.filter((kind) => kind === 'kill' || kind === 'pause')
  const dropped = settings.kinds.filter((kind) => !kinds.includes(kind))
  log(`network: loopback 127.x.y.z (not root on Linux, or --loopback): kill and pause only${dropped.length > 0 ? `; skipping ${dropped.join(', ')}` : ''}`)
  return { network: null, kinds }
}

async function main(): Promise<number> {
  const settings = parseSettings()
  const { network, kinds } = createNetwork(settings)
  const placement = network === null ? undefined : (index: number) => network.placement(index)
  log(`starting ${settings.nodes} nodes (preset ${settings.preset})…`)
  const cluster = await ChorusCluster.start({ size: settings.nodes, preset: settings.preset, ...(placement === undefined ? {} : { placement }) })
  try {
    await waitAllAlive(cluster)
    const props = await new ChorusClient(`http://${cluster.node(0).httpAddress}`).getProps(BUCKET)
    if (props.conflict !== 'siblings') throw new Error(`bucket ${BUCKET} is ${props.conflict}, expected siblings`)
    return await runChaos(settings, cluster, network, kinds)
  } finally {
    await cluster.close()
    network?.destroy()
  }
}

async function runChaos(settings: Settings, cluster: ChorusCluster, network: NamespaceNetwork | null, kinds: NemesisKind[]): Promise<number> {
  const history = new HistoryRecorder(join(settings.outDir, 'history.jsonl'))
  const endpoints = (): { id: string; http: string }[] => cluster.nodes.map((node) => ({ id: node.id, http: node.httpAddress }))
  const workload = new Workload({ clients: settings.clients, blindKeys: BLIND_KEYS, updateKeys: UPDATE_KEYS, endpoints, history, timeoutMs: 3_000 })
  const watch = new MembershipWatch(cluster)
  const nemesis = new Nemesis({ kinds, cluster, network, history, onFault: (fault) => log(`fault ${fault.kind} ${fault.detail ?? fault.nodes.join(',')} (${fault.endMs - fault.startMs} ms)`) })
  const startMs = Date.now()
  log(`running ${settings.durationS} s: ${settings.clients} clients, nemesis ${kinds.join(',') || '(none)'}; history ${history.path}`)
  watch.start()
  const progress = setInterval(() => log(progressLine(workload, startMs)), 5_000)
  const working = workload.run()
  const faulting = kinds.length === 0 ? Promise.resolve() : nemesis.run()
  await delay(settings.durationS * 1_000)
  nemesis.stop()
  await faulting
  heal(cluster, network)
  const healMs = Date.now()
  // The workload keeps going briefly after the heal: it must succeed on the healed cluster, too.
  await delay(2_000)
  workload.stop()
  await working
  clearInterval(progress)
  log(`${progressLine(workload, startMs)}; faults healed, waiting for agreement at r=all…`)
  const keys = allKeys({ blindKeys: BLIND_KEYS, updateKeys: UPDATE_KEYS })
  const converged = await awaitAgreement(cluster, keys, healMs, CONVERGE_DEADLINE_MS)
  const convergedMs = converged.convergedMs
  let reads = converged.reads
  if (settings.dropAcked > 0) {
    const dropped = await dropAcknowledged(cluster, history, reads, settings.dropAcked)
    log(`--drop-acked: deleted the acknowledged values of ${dropped} keys behind the checker's back`)
    ;({ reads } = await awaitAgreement(cluster, keys, Date.now(), CONVERGE_DEADLINE_MS))
  }
  await watch.stop()
  await history.close()
  const result = check(history.events, reads)
  const membership = analyseMembership(watch.transitions, nemesis.faults, cluster.nodes.map((node) => node.id))
  writeFileSync(join(settings.outDir, 'final-reads.json'), JSON.stringify(reads, null, 1))
  writeFileSync(join(settings.outDir, 'membership.json'), JSON.stringify({ transitions: watch.transitions, verdict: membership }, null, 1))
  // The nodes' last log lines, for diagnosing a failed run after the processes are gone.
  for (const node of cluster.nodes) writeFileSync(join(settings.outDir, `${node.id}.log`), `${node.process.recentOutput().join('\n')}\n`)
  const { text, violations } = report(settings, network !== null, kinds, result, membership, convergedMs, nemesis.faults.length)
  writeFileSync(join(settings.outDir, 'report.txt'), text)
  process.stdout.write(text)
  return violations.length === 0 ? 0 : 1
}

/** Lifts every fault that may still hold: nft rules and paused processes. */
function heal(cluster: ChorusCluster, network: NamespaceNetwork | null): void {
  network?.clearAllFaults()
  for (const node of cluster.nodes) cluster.resume(node.index)
}

async function waitAllAlive(cluster: ChorusCluster): Promise<void> {
  const ids = cluster.nodes.map((node) => node.id)
  await cluster.waitForViews(
    (views) => views.every((view) => view !== null && ids.every((id) => view.some((row) => row.id === id && row.state === 'alive'))),
    30_000,
    'every node to see every node alive',
  )
}

function progressLine(workload: Workload, startMs: number): string {
  const { ops, acknowledged, failed, siblingsSeen } = workload.stats
  return `[${Math.round((Date.now() - startMs) / 1000)} s] ops ${ops}, acknowledged writes ${acknowledged}, failed ${failed}, sibling reads ${siblingsSeen}`
}

function report(
  settings: Settings,
  namespaces: boolean,
  kinds: readonly NemesisKind[],
  result: CheckResult,
  membership: MembershipVerdict,
  convergedMs: number | null,
  faultCount: number,
): { text: string; violations: string[] } {
  const outsideRate = result.outsideFaults.total === 0 ? 1 : result.outsideFaults.ok / result.outsideFaults.total
  const violations = [...result.violations, ...membership.violations]
  if (convergedMs === null) violations.push(`nodes did not agree at r=all within ${CONVERGE_DEADLINE_MS / 1000} s of the heal`)
  if (outsideRate < REQUIRED_OUTSIDE_SUCCESS) violations.push(`only ${(outsideRate * 100).toFixed(1)}% of operations outside faults succeeded`)
  if (membership.medianDetectionMs !== null && membership.medianDetectionMs > MEDIAN_DETECTION_BOUND_MS) violations.push(`median kill detection ${membership.medianDetectionMs} ms > ${MEDIAN_DETECTION_BOUND_MS} ms`)
  const detections = membership.kills.map((kill) => `${kill.victim}: ${Object.entries(kill.byObserver).map(([observer, ms]) => `${observer} ${ms === null ? 'never' : `${(ms / 1000).toFixed(1)}s`}`).join(', ')}`)
  const lines = [
    '',
    `chaos report — ${settings.nodes} nodes on ${namespaces ? 'network namespaces' : 'loopback'}, preset ${settings.preset}, ${settings.durationS} s, nemesis ${kinds.join(',')}, ${faultCount} faults, ${settings.clients} clients`,
    `  operations              ${result.ops}`,
    `  acknowledged writes     ${result.acknowledged}`,
    `  failed operations       ${result.failed}`,
    `  indeterminate writes    ${result.indeterminate} (${result.indeterminateSeen} of their values seen)`,
    `  lost (must be 0)        ${result.lost.length}${sample(result.lost.map((lost) => `${lost.key}=${lost.value} missing on ${lost.missingOn.join(',')}`))}`,
    `  never written (0)       ${result.neverWritten.length}${sample(result.neverWritten.map((f) => `${f.key}=${f.value} in ${f.where}`))}`,
    `  false siblings (0)      ${result.falseSiblings.length}${sample(result.falseSiblings.map((f) => `${f.key}=${f.value} ${f.where}`))}`,
    `  resurrected (0)         ${result.resurrected.length}${sample(result.resurrected.map((f) => `${f.key}=${f.value} ${f.where}`))}`,
    `  sibling reads           ${result.siblingsSeen}`,
    `  convergence after heal  ${convergedMs === null ? `not within ${CONVERGE_DEADLINE_MS / 1000} s` : `${(convergedMs / 1000).toFixed(1)} s`} (keys disagreeing at the end: ${result.disagreements.length})`,
    `  kill detection          median ${membership.medianDetectionMs === null ? 'n/a' : `${(membership.medianDetectionMs / 1000).toFixed(2)} s`}, undetected ${membership.undetected}`,
    ...detections.map((line) => `    ${line}`),
    `  false deaths (0)        ${membership.falseDeaths.length}${sample(membership.falseDeaths.map((d) => `${d.observer} said ${d.target} dead${d.afterPause === null ? '' : ` after ${d.afterPause}`}`))}`,
    `  ok outside faults       ${(outsideRate * 100).toFixed(1)}% (${result.outsideFaults.ok}/${result.outsideFaults.total}, need ≥ ${REQUIRED_OUTSIDE_SUCCESS * 100}%)`,
    `  files                   ${settings.outDir}/{history.jsonl,final-reads.json,membership.json,report.txt}`,
    violations.length === 0 ? 'PASS' : `FAIL:\n${violations.map((v) => `  - ${v}`).join('\n')}`,
    '',
  ]
  return { text: lines.join('\n'), violations }
}

function sample(items: readonly string[]): string {
  return items.length === 0 ? '' : `  e.g. ${items.slice(0, 3).join('; ')}`
}

function log(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`)
}

main().then(
  (code) => {
    cleanupAll()
    process.exit(code)
  },
  (error: unknown) => {
    process.stderr.write(`chaos failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    cleanupAll()
    process.exit(2)
  },
)
