/**
 * `npm run bench -- cluster [--quick] [--seconds 10] [--warmup-seconds 15] [--connections 32]
 *   [--systems bare,etcd,chorus] [--rounds 1] [--profile FILE] [--chorus-flags='--no-sync-writes'] [--node-flags='--perf-basic-prof'] [--load-on all|first]
 *   [--nodes 3]`
 *
 * Throughput and latency of a 3-node Chorus cluster on loopback (issue 6): PUT at w=quorum with a fresh key per
 * request and GET at r=quorum of keys acknowledged before, 100-byte values, 32 connections from autocannon. Two
 * baselines in the same run, because this machine is shared and only ratios travel: (1) a bare Node `http`
 * server storing into a Map (bare-kv-server.ts), the most a Node HTTP service can do here; (2) a 3-member etcd
 * loaded through its HTTP/JSON gateway, the replicated store a LAN user would otherwise pick.
 *
 * Load is spread by one autocannon instance given every node's URL: connection i goes to node i mod 3 (32
 * connections = 11/11/10), so one histogram covers all nodes. The bare server is one process, so all its
 * connections go to it. Every system is started first, and all stay up; then, for PUT and then GET, each system
 * gets an unmeasured warm-up (JIT, connection set-up, LevelDB caches) and the measured slices follow, the systems
 * taking turns: with `--rounds N`, N slices per system and operation, each round starting with the next system. A
 * Chorus cluster is loaded only once its start-up change-log catch-up has settled (LoopbackChorusCluster.waitForCatchUp),
 * so the slices measure the steady state. Why turns: this machine's speed drifts by tens of percent from one
 * minute to the next (the same system's CPU per request has differed by 40% between neighbouring minutes, and the
 * bare server alone has ranged from 14k to 26k requests/s), and a ratio of two systems measured a few seconds apart
 * survives that far better than one measured minutes apart, as whole systems run one after another did. The idle
 * systems still cost a little CPU during another's slice (Chorus's three nodes ~5–8% of a core, their ticks and
 * gossip); each slice prints how much. The ratios are the median of the per-round ratios. Goals
 * (issue 6): Chorus PUT ≥ 0.15 and GET ≥ 0.25 of bare, and both ≥ 2 × etcd. Besides requests/s and p50/p99 (of
 * 2xx answers, autocannon's millisecond resolution), each slice reports the CPU time all of the system's server
 * processes spent per successful request, and how much of it ran on their main threads, which other jobs on a
 * shared machine distort less.
 *
 * Diagnosis (never the headline figures): each phase also prints every server process's CPU per successful request.
 * `--load-on first` sends every request to the first node, so the other nodes do nothing but replica work and
 * their CPU per request is the cost of one replica write or read. `--nodes N` runs N-node Chorus and etcd clusters
 * (with `--chorus-flags='--n=1 --r=1 --w=1'` and `--nodes 1`, the cost of a request without replication).
 *
 * Everything runs on 127.0.0.1; every process and temp directory is registered with the cleanup registry and
 * goes away on return, on error and on Ctrl-C. `--profile FILE` runs node-1 under --cpu-prof, writes the profile
 * to FILE and prints its top costs (the profiler slows that node, so its figures are not the headline ones).
 */
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { registerCleanup } from '../lib/cleanup-registry.ts'
import { monotonicNowUs, summarizeCpuProfile } from '../lib/cpu-profile-summary.ts'
import type { MonotonicWindow } from '../lib/cpu-profile-summary.ts'
import { EtcdCluster } from '../lib/etcd-cluster.ts'
import { KeyBook, chorusProtocol, etcdProtocol, runPhase } from '../lib/http-load.ts'
import type { KvProtocol, Operation, PhaseResult } from '../lib/http-load.ts'
import { LoopbackChorusCluster } from '../lib/loopback-chorus-cluster.ts'
import { ManagedProcess } from '../lib/managed-process.ts'
import { pollUntil } from '../lib/poll.ts'
import { cpuSeconds, mainThreadCpuSeconds } from '../lib/process-cpu.ts'
import { median } from '../lib/median.ts'

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const bareServerScript = join(repoRoot, 'scripts/lib/bare-kv-server.ts')
/** The loader the chorus nodes run under (bin/chorus.js), so that both sides pay the same for their TypeScript. */
const registerTypescript = join(repoRoot, 'bin/register-typescript.js')

const VALUE_BYTES = 100
/** The cluster size issue 6 measures; --nodes changes it for diagnosis. */
const DEFAULT_NODES = 3
/** Ports as `chorus dev` would pick them, moved to 71xx/81xx so a running `npm start` does not collide. */
const CHORUS_CLUSTER_PORT_BASE = 7101
const CHORUS_HTTP_PORT_BASE = 8101
const BARE_PORT = 8199
const ETCD_CLIENT_PORT_BASE = 12379
const ETCD_PEER_PORT_BASE = 12389
/** The sources compile on start and the leader waits for the membership to settle before the table. */
const READY_DEADLINE_MS = 90_000
/** A fresh cluster's change-log catch-up finishes in seconds when idle; the load waits for it (see waitForCatchUp). */
const CATCH_UP_DEADLINE_MS = 60_000
/** Issue 6's first goals, as fractions of the baselines. */
const GOALS = { bare: { put: 0.15, get: 0.25 }, etcd: { put: 2, get: 2 } } as const

type SystemName = 'bare' | 'etcd' | 'chorus'

interface Settings {
  readonly seconds: number
  readonly warmupSeconds: number
  readonly connections: number
  readonly systems: readonly SystemName[]
  readonly rounds: number
  readonly profileFile: string | undefined
  /** Extra Node flags for every chorus node, for diagnosis, e.g. '--perf-basic-prof' (pass it as --node-flags=...). */
  readonly nodeFlags: readonly string[]
  /** Extra `chorus start` flags for diagnosis, e.g. '--no-sync-writes' (pass it as --chorus-flags=...); the headline run uses none. */
  readonly chorusFlags: readonly string[]
  /** 'first': every request goes to the first node (diagnosis: the others then only do replica work). */
  readonly loadOn: 'all' | 'first'
  readonly nodes: number
}

/** A phase's figures plus the CPU the servers spent on it (all their processes, per successful request). */
interface Measured extends PhaseResult {
  readonly serverCpuUsPerOk: number
  /** When the measured phase ran, so a CPU profile can be cut to it. */
  readonly window: MonotonicWindow
}

type Results = Map<SystemName, Record<Operation, Measured>>

/** A system started and ready for load: how to speak to it, which processes to charge, how to stop it. */
interface RunningSystem {
  readonly name: SystemName
  readonly protocol: KvProtocol
  readonly urls: readonly string[]
  readonly pids: readonly (number | undefined)[]
  /** The keys its PUTs had acknowledged, which its GETs read back. */
  readonly keys: KeyBook
  /** Chorus only: its nodes' group-commit counters, for the per-slice diagnosis line. */
  readonly readCommits?: () => Promise<readonly CommitCounters[]>
  stop(): Promise<void>
}

export async function main(args: string[]): Promise<void> {
  const settings = parse(args)
  if (settings.chorusFlags.length > 0) console.log(`chorus nodes run with extra flags: ${settings.chorusFlags.join(' ')} (diagnostic run)`)
  console.log(
    `cluster bench: ${settings.systems.join(', ')}; ${settings.connections} connections, ${VALUE_BYTES}-byte values, ` +
      `${settings.warmupSeconds} s warm-up per system and operation, then ${settings.rounds} round(s) of ${settings.seconds} s slices, ` +
      `the systems taking turns; ${settings.loadOn === 'first' ? 'all load on node 1 (diagnostic run)' : `load spread as connection i → node i mod ${settings.nodes}`}`,
  )
  const profileDir = settings.profileFile === undefined ? undefined : mkdtempSync(join(tmpdir(), 'chorus-bench-prof-'))
  const dropProfileDir = profileDir === undefined ? () => {} : registerCleanup(`directory ${profileDir}`, () => rmSync(profileDir, { recursive: true, force: true }))
  const running: RunningSystem[] = []
  const slices = new Map<string, Measured>()
  try {
    for (const name of settings.systems) {
      const started = Date.now()
      running.push(await startSystem(name, settings, profileDir))
      console.log(`  ${name} up in ${((Date.now() - started) / 1_000).toFixed(1)} s`)
    }
    for (const operation of ['put', 'get'] as const) {
      for (const system of running) {
        if (settings.warmupSeconds > 0) await loadPhase(system, operation, settings.warmupSeconds, settings)
      }
      for (let round = 0; round < settings.rounds; round++) {
        if (settings.rounds > 1) console.log(`${operation} round ${round + 1} of ${settings.rounds}`)
        // Each round starts with the next system, so that no system always runs right after the same other one.
        const order = running.map((_, index) => running[(index + round) % running.length] as RunningSystem)
        for (const system of order) slices.set(`${round}/${system.name}/${operation}`, await measureSlice(system, operation, settings, running))
      }
    }
  } finally {
    // Chorus stops gracefully, so that a profiled node writes its profile on the way out.
    for (const system of running.reverse()) await system.stop()
  }
  const rounds: Results[] = Array.from({ length: settings.rounds }, (_, round) => {
    const results: Results = new Map()
    for (const name of settings.systems) {
      results.set(name, { put: slices.get(`${round}/${name}/put`) as Measured, get: slices.get(`${round}/${name}/get`) as Measured })
    }
    return results
  })
  const chorus = rounds[0]?.get('chorus')
  if (profileDir !== undefined && settings.profileFile !== undefined && chorus !== undefined) reportProfile(profileDir, settings.profileFile, chorus)
  dropProfileDir()
  printTable(rounds)
  printRatios(rounds)
}

function parse(args: string[]): Settings {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      seconds: { type: 'string' },
      'warmup-seconds': { type: 'string' },
      connections: { type: 'string', default: '32' },
      systems: { type: 'string', default: 'bare,etcd,chorus' },
      rounds: { type: 'string', default: '1' },
      profile: { type: 'string' },
      'chorus-flags': { type: 'string', default: '' },
      'node-flags': { type: 'string', default: '' },
      'load-on': { type: 'string', default: 'all' },
      nodes: { type: 'string', default: String(DEFAULT_NODES) },
    },
    strict: true,
  })
  const seconds = Number(values.seconds ?? (values.quick ? 3 : 10))
  // 15 s: V8 is still optimising (and re-optimising) the request path long after the first requests. With
  // --trace-opt --trace-deopt on a node, the 5 s after a 5 s PUT warm-up held ~280 compile and deopt events, the
  // next 5 s ~80, and ~30 per 5 s from 15 s on; perf put TurboFan at 8.5% of the nodes' CPU in that early
  // window. Steady state is what a store runs in, so that is what the phases measure, for every system alike.
  const warmupSeconds = Number(values['warmup-seconds'] ?? (values.quick ? 1 : 15))
  const connections = Number(values.connections)
  const rounds = Number(values.rounds)
  const systems = values.systems.split(',').map((name) => name.trim())
  for (const system of systems) {
    if (system !== 'bare' && system !== 'etcd' && system !== 'chorus') throw new Error(`unknown system ${system}; pick from bare, etcd, chorus`)
  }
  const loadOn = values['load-on']
  if (loadOn !== 'all' && loadOn !== 'first') throw new Error(`--load-on must be all or first, not ${loadOn}`)
  const nodes = Number(values.nodes)
  if (!(Number.isInteger(nodes) && nodes >= 1 && nodes <= 9)) throw new Error('--nodes must be an integer in 1..9')
  if (!(seconds > 0 && warmupSeconds >= 0 && Number.isInteger(connections) && connections > 0 && Number.isInteger(rounds) && rounds > 0)) {
    throw new Error('--seconds must be > 0, --warmup-seconds ≥ 0, --connections and --rounds positive integers')
  }
  return {
    seconds,
    warmupSeconds,
    connections,
    systems: systems as SystemName[],
    rounds,
    profileFile: values.profile === undefined ? undefined : resolve(values.profile),
    chorusFlags: values['chorus-flags'].split(' ').filter((flag) => flag !== ''),
    nodeFlags: values['node-flags'].split(' ').filter((flag) => flag !== ''),
    loadOn,
    nodes,
  }
}

async function startSystem(name: SystemName, settings: Settings, profileDir: string | undefined): Promise<RunningSystem> {
  switch (name) {
    case 'bare':
      return startBare()
    case 'etcd':
      return startEtcd(settings)
    case 'chorus':
      return startChorus(settings, profileDir)
    default:
      return unreachable(name)
  }
}

async function startBare(): Promise<RunningSystem> {
  const server = new ManagedProcess({ label: 'bare-kv-server', command: process.execPath, args: ['--import', registerTypescript, bareServerScript, '127.0.0.1', String(BARE_PORT)] })
  const url = `http://127.0.0.1:${BARE_PORT}`
  try {
    await pollUntil(
      async () => {
        if (server.state === 'exited') throw new Error(`bare server exited:\n${server.recentOutput().join('\n')}`)
        return (await fetch(`${url}/buckets/x/keys/probe`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.status === 404, () => false)) ? true : undefined
      },
      { deadlineMs: 30_000, intervalMs: 100, what: 'bare server listening' },
    )
  } catch (error) {
    await server.kill()
    throw error
  }
  return { name: 'bare', protocol: chorusProtocol('bare', 'bench'), urls: [url], pids: [server.pid], keys: newKeyBook('bare'), stop: () => server.kill() }
}

async function startEtcd(settings: Settings): Promise<RunningSystem> {
  const etcd = await EtcdCluster.start({ size: settings.nodes, clientPortBase: ETCD_CLIENT_PORT_BASE, peerPortBase: ETCD_PEER_PORT_BASE, readyDeadlineMs: READY_DEADLINE_MS })
  return {
    name: 'etcd',
    protocol: etcdProtocol(),
    urls: loadTargets(etcd.clientUrls, settings),
    pids: etcd.members.map((member) => member.pid),
    keys: newKeyBook('etcd'),
    stop: () => etcd.close(),
  }
}

async function startChorus(settings: Settings, profileDir: string | undefined): Promise<RunningSystem> {
  const cluster = await LoopbackChorusCluster.start({
    size: settings.nodes,
    clusterPortBase: CHORUS_CLUSTER_PORT_BASE,
    httpPortBase: CHORUS_HTTP_PORT_BASE,
    preset: 'local',
    readyDeadlineMs: READY_DEADLINE_MS,
    extraFlags: settings.chorusFlags,
    nodeFlags: (index) => [...settings.nodeFlags, ...(index === 0 && profileDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
  })
  try {
    if (!(await cluster.waitForCatchUp(CATCH_UP_DEADLINE_MS))) console.log('  start-up catch-up still running after 60 s; measuring anyway')
  } catch (error) {
    await cluster.close()
    throw error
  }
  const urls = cluster.nodes.map((node) => `http://${node.http}`)
  return {
    name: 'chorus',
    protocol: chorusProtocol('chorus', 'bench'),
    urls: loadTargets(urls, settings),
    pids: cluster.nodes.map((node) => node.process.pid),
    keys: newKeyBook('chorus'),
    readCommits: () => commitCounters(urls),
    stop: () => cluster.close(),
  }
}

function newKeyBook(system: SystemName): KeyBook {
  return new KeyBook(`bench-${system}-${process.pid}`)
}

function loadTargets(urls: readonly string[], settings: Settings): readonly string[] {
  return settings.loadOn === 'first' ? urls.slice(0, 1) : urls
}

const benchValue = Buffer.alloc(VALUE_BYTES, 0x61)

function loadPhase(system: RunningSystem, operation: Operation, seconds: number, settings: Settings): Promise<PhaseResult> {
  return runPhase(system.protocol, operation, system.keys, benchValue, { urls: system.urls, connections: settings.connections, durationS: seconds })
}

/**
 * One measured slice of load on `system`, charged with the CPU its server processes spent. The other systems sit
 * idle meanwhile; what they spent is printed, because it runs on the same two cores.
 */
async function measureSlice(system: RunningSystem, operation: Operation, settings: Settings, all: readonly RunningSystem[]): Promise<Measured> {
  const serverPids = system.pids
  const idlePids = all.filter((other) => other !== system).flatMap((other) => other.pids)
  const cpuBefore = cpuSeconds(serverPids)
  const mainCpuBefore = mainThreadCpuSeconds(serverPids)
  const idleCpuBefore = cpuSeconds(idlePids)
  const perProcessBefore = serverPids.map((pid) => ({ all: cpuSeconds([pid]), main: mainThreadCpuSeconds([pid]) }))
  const commitsBefore = await system.readCommits?.()
  const fromUs = monotonicNowUs()
  const result = await loadPhase(system, operation, settings.seconds, settings)
  const window = { fromUs, toUs: monotonicNowUs() }
  const commitsAfter = await system.readCommits?.()
  // Per successful request: shed or failed ones cost a little too, and a system should not look cheaper for them.
  const serverCpuUsPerOk = (1e6 * (cpuSeconds(serverPids) - cpuBefore)) / Math.max(1, result.ok)
  const mainThreadUsPerOk = (1e6 * (mainThreadCpuSeconds(serverPids) - mainCpuBefore)) / Math.max(1, result.ok)
  const idleShare = (cpuSeconds(idlePids) - idleCpuBefore) / ((window.toUs - window.fromUs) / 1e6)
  console.log(
    `  ${system.name} ${operation}: ${describe(result)}, server CPU ${serverCpuUsPerOk.toFixed(0)} µs/ok ` +
      `(${mainThreadUsPerOk.toFixed(0)} on main threads), load generator ${result.loadCpuUsPerRequest.toFixed(0)} µs/request` +
      (idlePids.length > 0 ? `, idle systems ${(100 * idleShare).toFixed(1)}% of a core` : ''),
  )
  if (serverPids.length > 1) {
    const perProcess = serverPids.map((pid, index) => {
      const before = perProcessBefore[index] as { all: number; main: number }
      const usPerOk = (seconds: number): string => ((1e6 * seconds) / Math.max(1, result.ok)).toFixed(0)
      return `${usPerOk(cpuSeconds([pid]) - before.all)} (${usPerOk(mainThreadCpuSeconds([pid]) - before.main)})`
    })
    console.log(`    per process, µs/ok (main threads): ${perProcess.join('  ')}`)
  }
  if (commitsBefore !== undefined && commitsAfter !== undefined) console.log(`    ${describeCommits(commitsBefore, commitsAfter, result.ok)}`)
  for (const [status, body] of Object.entries(result.failureSamples)) console.log(`    first ${status} answer: ${body}`)
  return { ...result, serverCpuUsPerOk, window }
}

/** A node's group-commit counters (chorus_storage in /metrics): how much each fdatasync carried. */
interface CommitCounters {
  readonly batches: number
  readonly requests: number
}

async function commitCounters(urls: readonly string[]): Promise<readonly CommitCounters[]> {
  return Promise.all(
    urls.map(async (url) => {
      const text = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) }).then((response) => response.text())
      const counter = (name: string): number => Number(new RegExp(`^chorus_storage\\{counter="${name}"[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
      return { batches: counter('commitSyncedBatches'), requests: counter('commitRequests') }
    }),
  )
}

/** Diagnosis: synced commits per request answered, and write requests per commit, per node. */
function describeCommits(before: readonly CommitCounters[], after: readonly CommitCounters[], ok: number): string {
  const perNode = after.map((end, index) => {
    const start = before[index] as CommitCounters
    const batches = end.batches - start.batches
    const requests = end.requests - start.requests
    return `${(batches / Math.max(1, ok)).toFixed(2)} syncs/ok, ${(requests / Math.max(1, batches)).toFixed(1)} writes/sync`
  })
  return `commits per node: ${perNode.join('  ')}`
}

function describe(result: PhaseResult): string {
  const codes = Object.entries(result.statusCodes).map(([code, count]) => `${code}×${count}`).join(' ')
  return `${result.okPerS.toFixed(0)} ok/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, statuses ${codes}, errors ${result.errors}, timeouts ${result.timeouts}, misses ${result.misses}`
}

function printTable(rounds: readonly Results[]): void {
  console.log(`\n${rounds.length > 1 ? 'round  ' : ''}system   op    ok req/s   p50 ms   p99 ms   non-2xx   errors   misses   server CPU µs/ok`)
  rounds.forEach((results, index) => {
    for (const [system, byOperation] of results) {
      for (const operation of ['put', 'get'] as const) {
        const r = byOperation[operation]
        console.log(
          `${rounds.length > 1 ? String(index + 1).padEnd(7) : ''}${system.padEnd(8)} ${operation.padEnd(4)} ${r.okPerS.toFixed(0).padStart(10)} ${String(r.p50Ms).padStart(8)} ${String(r.p99Ms).padStart(8)} ` +
            `${String(r.non2xx).padStart(9)} ${String(r.errors + r.timeouts).padStart(8)} ${String(r.misses).padStart(8)} ${r.serverCpuUsPerOk.toFixed(0).padStart(18)}`,
        )
      }
    }
  })
}

/** Chorus over each baseline, per round; with several rounds, the median and every round's ratio. */
function printRatios(rounds: readonly Results[]): void {
  console.log('')
  for (const baseline of ['bare', 'etcd'] as const) {
    for (const operation of ['put', 'get'] as const) {
      const ratios: number[] = []
      for (const results of rounds) {
        const chorus = results.get('chorus')
        const other = results.get(baseline)
        if (chorus !== undefined && other !== undefined) ratios.push(chorus[operation].okPerS / Math.max(1e-9, other[operation].okPerS))
      }
      if (ratios.length === 0) continue
      const ratio = median(ratios)
      const goal = GOALS[baseline][operation]
      const each = ratios.length > 1 ? `, median of rounds ${ratios.map((r) => r.toFixed(3)).join(' ')}` : ''
      console.log(`chorus/${baseline} ${operation}: ${ratio.toFixed(3)}  (goal ≥ ${goal}: ${ratio >= goal ? 'met' : 'NOT met'}${each})`)
    }
  }
}

function reportProfile(profileDir: string, profileFile: string, results: Record<Operation, Measured>): void {
  const written = readdirSync(profileDir).filter((file) => file.endsWith('.cpuprofile'))
  const first = written[0]
  if (first === undefined) {
    console.log('no CPU profile was written (did node-1 exit gracefully?)')
    return
  }
  copyFileSync(join(profileDir, first), profileFile)
  console.log(`\nnode-1 CPU profile written to ${profileFile}`)
  for (const operation of ['put', 'get'] as const) {
    // Only the measured phase: start-up compilation and the warm-ups would otherwise crowd the top of the list.
    const summary = summarizeCpuProfile(profileFile, 20, repoRoot, results[operation].window)
    console.log(`\n${operation} phase on node-1: ${summary.sampledMs.toFixed(0)} ms, ${summary.idlePercent.toFixed(1)}% idle; shares below are of busy time`)
    console.log('  top self time:')
    for (const line of summary.bySelf) console.log(`    ${line.selfPercent.toFixed(1).padStart(5)}%  ${line.where}`)
    console.log('  top total time (self + callees):')
    for (const line of summary.byTotal) console.log(`    ${line.totalPercent.toFixed(1).padStart(5)}%  ${line.where}`)
  }
}

function unreachable(value: never): never {
  throw new Error(`unreachable: ${String(value)}`)
}
