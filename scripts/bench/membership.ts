/**
 * `npm run bench -- membership [--quick] [--trials 5] [--cases join-kill,pause,cpu,loss,bytes,isolate]
 *   [--systems serf,chorus] [--preset lan] [--results FILE] [--report FILE]`
 *
 * Chorus's membership against HashiCorp Serf (memberlist inside), 10 real processes each, in the same run:
 *
 *   join-kill  loopback 127.x.y.z: (1) time from spawning all nodes until every node sees every node alive;
 *              (2) time from SIGKILL of one node until every survivor holds it dead (Serf: failed)
 *   pause      loopback: one node SIGSTOPped for 2 s and 4 s (`--pauses`), then SIGCONT; false dead sightings
 *   cpu        loopback: 4 CPU-burning processes for 60 s; false dead sightings
 *   loss       namespaces: 30% packet loss (nftables, every node's inbound) for 60 s; false dead sightings
 *   bytes      namespaces: bytes each node sends to the others per second, idle cluster, from an nftables
 *              counter in each namespace's output hook, IP headers included — the same method for both. It
 *              counts everything a node sends to other nodes (UDP gossip, TCP push-pull with its handshakes,
 *              acks and keepalives, and for Chorus also placement digests and anti-entropy), not the harness's
 *              polling (the bridge address is exempt). Windows of 60 s by default (`--bytes-seconds`).
 *              `npm run bench -- membership-traffic` breaks Chorus's figure down by message kind.
 *   isolate    namespaces: whole-host loss (all traffic of one node dropped, so no refusals, only silence);
 *              time until every survivor holds it dead
 *
 * A "false dead sighting" is one (observer, target) pair in which an observer held a live node dead (Serf:
 * `EventMemberFailed`; Chorus: its /cluster/members shows `dead`, polled every 100 ms, or its log says it
 * declared it). Figures are medians over trials; ratios are chorus / serf. Each system runs alone (never both
 * at once), alternating trial by trial where clusters are per trial. Every load is bounded in time and count;
 * traffic goes only to loopback or to namespaces this script creates, and everything is removed on exit.
 *
 * A full run takes about half an hour; run it in pieces with `--cases` and `--systems`, appending to one
 * `--results FILE`, then print the combined table with `--report FILE`. `--quick` is a smoke run (2 trials,
 * short windows) of a few minutes.
 */
import { appendFileSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { cleanupAll } from '../lib/cleanup-registry.ts'
import { burnCpu } from '../lib/cpu-hogs.ts'
import { launchChorus, launchSerf } from '../lib/membership-systems.ts'
import type { DeadSighting, MembershipSystem } from '../lib/membership-systems.ts'
import { NamespaceNetwork } from '../lib/netns.ts'
import { delay, pollUntil } from '../lib/poll.ts'
import type { NodePlacement } from '../lib/process-cluster.ts'
import { median } from '../lib/median.ts'

type CaseName = 'join-kill' | 'pause' | 'cpu' | 'loss' | 'bytes' | 'isolate'
type SystemName = 'serf' | 'chorus'
const allCases: readonly CaseName[] = ['join-kill', 'pause', 'cpu', 'loss', 'bytes', 'isolate']

interface Settings {
  readonly trials: number
  readonly size: number
  readonly cases: readonly CaseName[]
  readonly systems: readonly SystemName[]
  readonly chorusPreset: 'lan' | 'local' | 'test'
  readonly serfProfile: 'lan' | 'local' | 'wan'
  readonly cpuSeconds: number
  readonly cpuHogs: number
  readonly pauseSeconds: readonly number[]
  readonly lossPercent: number
  readonly lossSeconds: number
  readonly bytesSeconds: number
  /** Quiet time after a fault ends in which late false verdicts still count. */
  readonly settleSeconds: number
  readonly chorusFlags: readonly string[]
  readonly results: string | undefined
}

/** One measured value of one trial. */
interface Sample {
  readonly metric: string
  readonly system: string
  readonly value: number
}

/** Metrics in print order, with units and how to read them. */
const metricLabels: Record<string, string> = {
  'converge-s': '(1) all see all after start, s',
  'kill-detect-s': '(2) SIGKILL → dead on all survivors, s',
  'isolate-detect-s': '    host loss (netns drop) → dead on all, s',
  'false-cpu': '(3) false dead, CPU hogs (pairs/trial)',
  'false-pause-2': '(3) false dead, paused 2 s (pairs/trial)',
  'false-pause-4': '(3) false dead, paused 4 s (pairs/trial)',
  'false-pause-6': '    false dead, paused 6 s (pairs/trial)',
  'false-loss': '(3) false dead, packet loss (pairs/trial)',
  'bytes-per-node-s': '(4) gossip bytes per node per second',
}

/** How long a cluster may take to converge: ten tsx-compiled processes on two busy cores. */
const CONVERGE_DEADLINE_MS = 120_000
/** Any detector worth measuring declares a killed node within this; beyond it the trial fails. */
const DETECT_DEADLINE_MS = 90_000
/** After joining, both systems still exchange join traffic; faults start after this quiet period. */
const AFTER_JOIN_MS = 3_000
/** Idle time before counting gossip bytes, past the join-time push-pull burst. */
const BYTES_WARMUP_MS = 10_000
/** Chorus sightings are polled this often; it is the resolution of Chorus's times. */
const POLL_INTERVAL_MS = 100

export async function main(args: string[]): Promise<void> {
  const settings = parseSettings(args)
  if (settings === 'report-only') return
  console.log(describeRun(settings))
  const samples: Sample[] = []
  const record = (sample: Sample): void => {
    samples.push(sample)
    if (settings.results !== undefined) appendFileSync(settings.results, `${JSON.stringify(sample)}\n`)
    console.log(`  ${sample.system.padEnd(14)} ${sample.metric.padEnd(18)} ${round(sample.value)}`)
  }
  try {
    for (const name of settings.cases) await runCase(name, settings, record)
  } finally {
    cleanupAll()
  }
  console.log(`\n${renderTable(samples, settings)}`)
}

async function runCase(name: CaseName, settings: Settings, record: (sample: Sample) => void): Promise<void> {
  console.log(`\n== ${name}`)
  switch (name) {
    case 'join-kill':
      return joinAndKill(settings, record, null)
    case 'isolate':
      return withNetwork(settings, (network) => joinAndKill(settings, record, network))
    case 'pause':
      return pauses(settings, record)
    case 'cpu':
      return cpuHogs(settings, record)
    case 'loss':
      return withNetwork(settings, (network) => packetLoss(settings, record, network))
    case 'bytes':
      return withNetwork(settings, (network) => gossipBytes(settings, record, network))
  }
}

// ---- systems ---------------------------------------------------------------------------------------------

function launch(system: SystemName, settings: Settings, placement: (index: number) => NodePlacement): MembershipSystem {
  if (system === 'serf') return launchSerf({ size: settings.size, profile: settings.serfProfile, placement })
  return launchChorus({ size: settings.size, preset: settings.chorusPreset, placement, extraFlags: settings.chorusFlags, pollIntervalMs: POLL_INTERVAL_MS })
}

/** A fresh random 127.A.B.0/24 block per cluster, so a restarted cluster never meets stale sockets. */
function loopbackPlacement(): (index: number) => NodePlacement {
  const a = 100 + Math.floor(Math.random() * 100)
  const b = 1 + Math.floor(Math.random() * 250)
  return (index) => ({ host: `127.${a}.${b}.${index + 1}` })
}

/** Launches and waits until every node sees every node; returns the system and the time that took. */
async function launchConverged(system: SystemName, settings: Settings, placement: (index: number) => NodePlacement): Promise<{ cluster: MembershipSystem; convergeMs: number }> {
  const startedMs = Date.now()
  const cluster = launch(system, settings, placement)
  try {
    await pollUntil(async () => ((await cluster.allSeeAll()) ? true : undefined), { deadlineMs: CONVERGE_DEADLINE_MS, intervalMs: 50, what: `${cluster.label} to converge` })
    return { cluster, convergeMs: Date.now() - startedMs }
  } catch (error) {
    await cluster.close()
    throw error
  }
}

/** Runs `body` with each system's converged cluster in turn, closing it afterwards. */
async function eachSystem(settings: Settings, placement: () => (index: number) => NodePlacement, body: (cluster: MembershipSystem) => Promise<void>): Promise<void> {
  for (const system of settings.systems) {
    const { cluster } = await launchConverged(system, settings, placement())
    try {
      await delay(AFTER_JOIN_MS)
      await body(cluster)
    } finally {
      await cluster.close()
    }
  }
}

async function withNetwork(settings: Settings, body: (network: NamespaceNetwork) => Promise<void>): Promise<void> {
  const network = NamespaceNetwork.create(settings.size)
  try {
    await body(network)
  } finally {
    network.destroy()
  }
}

// ---- (1), (2): convergence and detection of a killed or cut-off node --------------------------------------

async function joinAndKill(settings: Settings, record: (sample: Sample) => void, network: NamespaceNetwork | null): Promise<void> {
  for (let trial = 0; trial < settings.trials; trial++) {
    // Alternate which system goes first, so drift in machine load does not favour one.
    const order = trial % 2 === 0 ? settings.systems : [...settings.systems].reverse()
    for (const system of order) {
      const placement = network === null ? loopbackPlacement() : (index: number) => network.placement(index)
      const { cluster, convergeMs } = await launchConverged(system, settings, placement)
      try {
        if (network === null) record({ metric: 'converge-s', system: cluster.label, value: convergeMs / 1_000 })
        await delay(AFTER_JOIN_MS)
        const victim = randomVictim(settings.size)
        const detectMs = await failAndTime(cluster, victim, network)
        record({ metric: network === null ? 'kill-detect-s' : 'isolate-detect-s', system: cluster.label, value: detectMs / 1_000 })
      } finally {
        await cluster.close()
        network?.clearAllFaults()
      }
    }
  }
}

/** SIGKILL (loopback) or cut off (namespace) one node; ms until every other running node holds it dead. */
async function failAndTime(cluster: MembershipSystem, victim: number, network: NamespaceNetwork | null): Promise<number> {
  const target = cluster.nodeName(victim)
  const failedAtMs = Date.now()
  if (network === null) await cluster.kill(victim)
  else network.setFaults(victim, [{ kind: 'isolate' }])
  const observers = Array.from({ length: cluster.size }, (_, index) => index).filter((index) => index !== victim).map((index) => cluster.nodeName(index))
  const firstSightings = await pollUntil(
    () => {
      const seen = firstSightingPerObserver(cluster.deadSightings(), target, failedAtMs)
      return observers.every((observer) => seen.has(observer)) ? seen : undefined
    },
    { deadlineMs: DETECT_DEADLINE_MS, intervalMs: 50, what: `${cluster.label}: every survivor to hold ${target} dead` },
  )
  return Math.max(...observers.map((observer) => (firstSightings.get(observer) as number) - failedAtMs))
}

function firstSightingPerObserver(sightings: readonly DeadSighting[], target: string, sinceMs: number): Map<string, number> {
  const first = new Map<string, number>()
  for (const sighting of sightings) {
    if (sighting.target !== target || sighting.atMs < sinceMs) continue
    first.set(sighting.observer, Math.min(sighting.atMs, first.get(sighting.observer) ?? Infinity))
  }
  return first
}

/** Never a seed (the first two nodes), so joins and rejoins stay unaffected. */
function randomVictim(size: number): number {
  return 2 + Math.floor(Math.random() * (size - 2))
}

// ---- (3): false dead verdicts under pauses, CPU load and packet loss -------------------------------------

/** Distinct (observer, target) pairs held dead during [fromMs, toMs]. Nobody is killed, so all are false. */
function falseDeadPairs(cluster: MembershipSystem, fromMs: number, toMs: number): number {
  const pairs = new Set(cluster.deadSightings().filter((s) => s.atMs >= fromMs && s.atMs <= toMs).map((s) => `${s.observer}→${s.target}`))
  return pairs.size
}

/** Before each trial everyone must see everyone again, so one trial's verdict cannot leak into the next. */
async function awaitHealed(cluster: MembershipSystem): Promise<void> {
  await pollUntil(async () => ((await cluster.allSeeAll()) ? true : undefined), { deadlineMs: CONVERGE_DEADLINE_MS, intervalMs: 200, what: `${cluster.label} to heal` })
}

async function pauses(settings: Settings, record: (sample: Sample) => void): Promise<void> {
  await eachSystem(settings, loopbackPlacement, async (cluster) => {
    for (const seconds of settings.pauseSeconds) {
      for (let trial = 0; trial < settings.trials; trial++) {
        await awaitHealed(cluster)
        const victim = randomVictim(settings.size)
        const fromMs = Date.now()
        cluster.pause(victim)
        await delay(seconds * 1_000)
        cluster.resume(victim)
        await delay(settings.settleSeconds * 1_000)
        record({ metric: `false-pause-${seconds}`, system: cluster.label, value: falseDeadPairs(cluster, fromMs, Date.now()) })
      }
    }
  })
}

async function cpuHogs(settings: Settings, record: (sample: Sample) => void): Promise<void> {
  await eachSystem(settings, loopbackPlacement, async (cluster) => {
    for (let trial = 0; trial < settings.trials; trial++) {
      await awaitHealed(cluster)
      const fromMs = Date.now()
      await burnCpu(settings.cpuHogs, settings.cpuSeconds * 1_000)
      await delay(settings.settleSeconds * 1_000)
      record({ metric: 'false-cpu', system: cluster.label, value: falseDeadPairs(cluster, fromMs, Date.now()) })
    }
  })
}

async function packetLoss(settings: Settings, record: (sample: Sample) => void, network: NamespaceNetwork): Promise<void> {
  await eachSystem(settings, () => (index) => network.placement(index), async (cluster) => {
    for (let trial = 0; trial < settings.trials; trial++) {
      await awaitHealed(cluster)
      const fromMs = Date.now()
      for (let index = 0; index < settings.size; index++) network.setFaults(index, [{ kind: 'loss', percent: settings.lossPercent }])
      try {
        await delay(settings.lossSeconds * 1_000)
      } finally {
        network.clearAllFaults()
      }
      await delay(settings.settleSeconds * 1_000)
      record({ metric: 'false-loss', system: cluster.label, value: falseDeadPairs(cluster, fromMs, Date.now()) })
    }
  })
}

// ---- (4): gossip bytes -----------------------------------------------------------------------------------

async function gossipBytes(settings: Settings, record: (sample: Sample) => void, network: NamespaceNetwork): Promise<void> {
  await eachSystem(settings, () => (index) => network.placement(index), async (cluster) => {
    // Joining costs both systems a burst of push-pulls; the figure is the steady state after it.
    await delay(BYTES_WARMUP_MS)
    for (let trial = 0; trial < settings.trials; trial++) {
      const before = network.hosts.map((_, index) => network.bytesSent(index))
      const fromMs = Date.now()
      await delay(settings.bytesSeconds * 1_000)
      const seconds = (Date.now() - fromMs) / 1_000
      const perNode = network.hosts.map((_, index) => (network.bytesSent(index) - (before[index] as number)) / seconds)
      record({ metric: 'bytes-per-node-s', system: cluster.label, value: perNode.reduce((sum, value) => sum + value, 0) / perNode.length })
    }
  })
}

// ---- output ----------------------------------------------------------------------------------------------

function round(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2)
}

/** Medians per metric and system, the chorus/serf ratio, and every trial's value for transparency. */
function renderTable(samples: readonly Sample[], settings: Pick<Settings, 'systems'> | null): string {
  const systems = [...new Set(samples.map((sample) => sample.system))].sort((a, b) => (a.startsWith('serf') ? -1 : b.startsWith('serf') ? 1 : a.localeCompare(b)))
  const header = `${'metric'.padEnd(44)}${systems.map((system) => system.padStart(16)).join('')}   ratio   trials`
  const lines = [header, '-'.repeat(header.length + 10)]
  for (const metric of Object.keys(metricLabels)) {
    const values = systems.map((system) => samples.filter((s) => s.metric === metric && s.system === system).map((s) => s.value))
    if (values.every((list) => list.length === 0)) continue
    const medians = values.map((list) => (list.length === 0 ? NaN : median(list)))
    const serf = medians[0] as number
    const ratios = medians.slice(1).map((value) => (serf === 0 ? (value === 0 ? '1.00' : '∞') : (value / serf).toFixed(2)))
    const trials = values.map((list) => `[${list.map(round).join(' ')}]`).join(' vs ')
    lines.push(`${(metricLabels[metric] as string).padEnd(44)}${medians.map((value) => round(value).padStart(16)).join('')}   ${ratios.join(' ').padStart(5)}   ${trials}`)
  }
  void settings
  return lines.join('\n')
}

function describeRun(settings: Settings): string {
  return [
    `membership bench: ${settings.size} nodes per system, ${settings.trials} trials, cases ${settings.cases.join(',')}, systems ${settings.systems.join(',')}`,
    `  chorus preset ${settings.chorusPreset}${settings.chorusFlags.length > 0 ? ` ${settings.chorusFlags.join(' ')}` : ''}; serf profile ${settings.serfProfile}`,
    `  cpu ${settings.cpuHogs} hogs × ${settings.cpuSeconds} s; pauses ${settings.pauseSeconds.join(',')} s; loss ${settings.lossPercent}% × ${settings.lossSeconds} s; bytes window ${settings.bytesSeconds} s; settle ${settings.settleSeconds} s`,
  ].join('\n')
}

// ---- arguments -------------------------------------------------------------------------------------------

function parseSettings(args: string[]): Settings | 'report-only' {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: 'boolean', default: false },
      trials: { type: 'string' },
      size: { type: 'string', default: '10' },
      cases: { type: 'string', default: allCases.join(',') },
      systems: { type: 'string', default: 'serf,chorus' },
      preset: { type: 'string', default: 'lan' },
      'serf-profile': { type: 'string', default: 'lan' },
      'cpu-seconds': { type: 'string' },
      'cpu-hogs': { type: 'string', default: '4' },
      pauses: { type: 'string', default: '2,4' },
      'loss-percent': { type: 'string', default: '30' },
      'loss-seconds': { type: 'string' },
      'bytes-seconds': { type: 'string' },
      'settle-seconds': { type: 'string' },
      'chorus-flag': { type: 'string', multiple: true, default: [] },
      results: { type: 'string' },
      report: { type: 'string' },
    },
  })
  if (values.report !== undefined) {
    const samples = readFileSync(values.report, 'utf8').split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as Sample)
    console.log(renderTable(samples, null))
    return 'report-only'
  }
  const quick = values.quick
  const number = (text: string | undefined, full: number, smoke: number): number => {
    const value = text === undefined ? (quick ? smoke : full) : Number(text)
    if (!Number.isFinite(value) || value < 0) throw new Error(`not a number: ${text}`)
    return value
  }
  const cases = values.cases.split(',').map((name) => name.trim()) as CaseName[]
  for (const name of cases) if (!allCases.includes(name)) throw new Error(`unknown case ${name}; cases: ${allCases.join(',')}`)
  const systems = values.systems.split(',').map((name) => name.trim()) as SystemName[]
  for (const name of systems) if (name !== 'serf' && name !== 'chorus') throw new Error(`unknown system ${name}`)
  const size = number(values.size, 10, 10)
  if (!Number.isInteger(size) || size < 3) throw new Error('--size must be an integer ≥ 3')
  return {
    trials: Math.max(1, Math.floor(number(values.trials, 5, 2))),
    size,
    cases,
    systems,
    chorusPreset: values.preset as Settings['chorusPreset'],
    serfProfile: values['serf-profile'] as Settings['serfProfile'],
    cpuSeconds: number(values['cpu-seconds'], 60, 15),
    cpuHogs: Math.floor(number(values['cpu-hogs'], 4, 4)),
    pauseSeconds: values.pauses.split(',').map((text) => number(text, 0, 0)),
    lossPercent: Math.floor(number(values['loss-percent'], 30, 30)),
    lossSeconds: number(values['loss-seconds'], 60, 15),
    // One anti-entropy interval (lan: 60 s) and two push-pull periods of both systems: a shorter window samples
    // Chorus's once-a-minute anti-entropy burst or Serf's push-pulls unevenly and the medians wander.
    bytesSeconds: number(values['bytes-seconds'], 60, 10),
    settleSeconds: number(values['settle-seconds'], 10, 8),
    chorusFlags: values['chorus-flag'].flatMap((flag) => flag.split(' ')),
    results: values.results,
  }
}
