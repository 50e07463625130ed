/**
 * Membership scenarios: the simulation must-shows of issue 3 as named, seeded runs of the whole World (every
 * message through the real wire codec), each one checked by the MembershipChecker against a bound derived from
 * the node config. The tests in test/sim/membership-*.test.ts and `npm run sim -- --scenario membership-…` run
 * these same functions, so a seed that fails in a test replays byte for byte in the script.
 *
 * Every bound below is computed from the config, not tuned to the measurements, and each says why it holds.
 * T is the protocol period (probeIntervalMs), g the gossip interval, f the gossip fan-out.
 */
import type { NodeConfig } from '../core/node/node-config.ts'
import { presets } from '../core/node/node-config.ts'
import { retransmitLimit } from '../core/membership/dissemination-queue.ts'
import { DATAGRAM_ENVELOPE_RESERVE_BYTES, estimateEncodedBytes } from '../core/membership/membership-messages.ts'
import type { MemberUpdate } from '../core/membership/membership-messages.ts'
import { suspicionTimeoutMinMs } from '../core/membership/suspicion.ts'
import type { Millis, NodeId, PeerAddress } from '../core/primitives/ids.ts'
import { nodeId, peerAddress } from '../core/primitives/ids.ts'
import { MembershipChecker, distribution, runUntilTrue } from './membership-checker.ts'
import { replayLine } from './replay.ts'
import { simAddress } from './sim-cluster.ts'
import { defaultSchedulerOptions } from './sim-scheduler.ts'
import type { RunResult } from './sim-scheduler.ts'
import { World } from './world.ts'
import type { WorldOptions } from './world.ts'

export const membershipScenarioNames = [
  'membership-converge',
  'membership-converge-ring',
  'membership-crash',
  'membership-loss',
  'membership-partition',
  'membership-partition-long',
  'membership-restart',
  'membership-leader',
  'membership-mass-restart',
] as const
export type MembershipScenarioName = (typeof membershipScenarioNames)[number]

export function isMembershipScenarioName(name: string): name is MembershipScenarioName {
  return (membershipScenarioNames as readonly string[]).includes(name)
}

export interface MembershipScenarioOptions {
  readonly seed: number
  readonly nodes: number
  /** Total virtual time the scenario runs at least; `membership-loss` runs exactly this long. */
  readonly durationMs: Millis
  readonly maxKeptTraceLines?: number
}

/** Each scenario's shape when the command line does not say: what the tests run and the replay line prints. */
export const membershipScenarioDefaults: Readonly<Record<MembershipScenarioName, { nodes: number; durationMs: Millis }>> = {
  'membership-converge': { nodes: 50, durationMs: 10_000 },
  'membership-converge-ring': { nodes: 50, durationMs: 10_000 },
  'membership-crash': { nodes: 10, durationMs: 20_000 },
  // The issue's figure: two hours of virtual time under 5% loss. About a minute of wall time for 10 nodes, so the
  // test suite runs a ten-minute slice of several seeds and the full two hours lives here.
  'membership-loss': { nodes: 10, durationMs: 2 * 60 * 60 * 1_000 },
  'membership-partition': { nodes: 10, durationMs: 30_000 },
  'membership-partition-long': { nodes: 10, durationMs: 90_000 },
  'membership-restart': { nodes: 10, durationMs: 10_000 },
  'membership-leader': { nodes: 10, durationMs: 15_000 },
  'membership-mass-restart': { nodes: 10, durationMs: 30_000 },
}

export interface MembershipScenarioResult {
  readonly scenario: MembershipScenarioName
  readonly seed: number
  readonly world: World
  readonly checker: MembershipChecker
  /** How the last run slice ended; null if the scenario threw before running. */
  readonly run: RunResult | null
  /** Empty when the scenario passed. */
  readonly problems: readonly string[]
  readonly notes: readonly string[]
  /** Named samples (milliseconds or counts) for tests that aggregate over seeds. */
  readonly measurements: Readonly<Record<string, readonly number[]>>
}

/** `npm run sim` with every flag spelled out (the script's defaults are not this scenario's), and the test file. */
export function membershipReplayLine(name: MembershipScenarioName, options: MembershipScenarioOptions, testFile?: string): string {
  return replayLine(options.seed, {
    scenario: name,
    nodes: options.nodes,
    durationMs: options.durationMs,
    ...(testFile === undefined ? {} : { testFile }),
  })
}

export function runMembershipScenario(name: MembershipScenarioName, options: MembershipScenarioOptions): MembershipScenarioResult {
  switch (name) {
    case 'membership-converge':
      return converge(name, options, 'one')
    case 'membership-converge-ring':
      return converge(name, options, 'ring')
    case 'membership-crash':
      return crash(name, options)
    case 'membership-loss':
      return loss(name, options)
    case 'membership-partition':
      return partition(name, options, 'until-split')
    case 'membership-partition-long':
      return partition(name, options, 'beyond-reap')
    case 'membership-restart':
      return restart(name, options)
    case 'membership-leader':
      return leader(name, options)
    case 'membership-mass-restart':
      return massRestart(name, options)
  }
}

// ---- bounds ------------------------------------------------------------------------------------------------

/**
 * A typical update at its largest (long generation, high incarnation, an accuser), as the dissemination queue
 * sizes it: how many fit one datagram decides how fast a burst of news drains.
 */
function updatesPerDatagram(config: NodeConfig): number {
  const update: MemberUpdate = {
    kind: 'suspect', node: nodeId('n999'), address: peerAddress('n999:7000'), generation: 4_000_000_000, incarnation: 1_000_000,
    metadata: { httpAddress: 'n999:8000', zone: '', partitions: config.partitions, protocolVersion: 1 }, accuser: nodeId('n998'),
  }
  const ping = { kind: 'swim-gossip', from: 'n999', updates: [] }
  const budget = config.maxDatagramBytes - DATAGRAM_ENVELOPE_RESERVE_BYTES - estimateEncodedBytes(ping)
  return Math.max(1, Math.floor(budget / estimateEncodedBytes(update)))
}

export interface MembershipBounds {
  /** Every node joined through every other node: the last node to start reaches everyone within one round. */
  readonly convergeAllSeedsMs: Millis
  /** Every node joined through one seed (or a chain of seeds): gossip must carry the joins. */
  readonly convergeGossipMs: Millis
  readonly detectRefusalMs: Millis
  readonly detectSilenceMs: Millis
  readonly restartMs: Millis
  readonly healMs: Millis
}

export function membershipBounds(config: NodeConfig, nodes: number): MembershipBounds {
  const T = config.probeIntervalMs
  const gossipRoundsPerPeriod = Math.max(1, Math.floor(T / config.gossipIntervalMs))
  // Dissemination of one fresh update to everyone: the epidemic reaches n members in ⌈log_{1+f}(n)⌉ gossip
  // rounds; one more period covers a lost datagram being resent on the next round.
  const spreadMs = Math.ceil(Math.log(Math.max(2, nodes)) / Math.log(1 + config.gossipFanout)) * config.gossipIntervalMs + T
  // The first time anyone sends to a failed member. Shuffled round-robin probing reaches every member once per
  // n − 1 periods at every prober; that is the worst case of the luckiest prober as well.
  const firstProbeMs = Math.max(1, nodes - 1) * T
  // A suspicion's timeout before confirmations shrink it (Lifeguard's maximum), assuming healthy accusers.
  const minSuspicionMs = suspicionTimeoutMinMs(config.suspicionMultiplier, nodes, T)
  const maxSuspicionMs = minSuspicionMs * config.suspicionMaxTimeoutMultiplier
  // A burst of n − 1 join updates at the seed: each is sent ⌈λ·log₂(n+1)⌉ times, k per datagram, f datagrams
  // per gossip round. When the seed's queue has drained, every update has been pushed that many times to random
  // members, who re-gossip it; the chance that some member missed all of them is negligible. One period for the
  // joins themselves.
  const burstCopies = Math.max(0, nodes - 1) * retransmitLimit(config.retransmitMultiplier, nodes)
  const drainPeriods = Math.ceil(burstCopies / (updatesPerDatagram(config) * config.gossipFanout * gossipRoundsPerPeriod))
  return {
    convergeAllSeedsMs: 2 * T,
    convergeGossipMs: (1 + drainPeriods) * T + spreadMs,
    // Probe → refused → ping-req helpers refused too (one period at most) → suspicion capped at the refusal
    // timeout → dead, gossiped.
    detectRefusalMs: firstProbeMs + T + config.refusalSuspicionTimeoutMs + spreadMs,
    // Probe → no ack, no ping-req ack, no TCP fallback by the end of the period → suspicion runs to its
    // unconfirmed maximum at worst → dead, gossiped.
    detectSilenceMs: firstProbeMs + T + maxSuspicionMs + spreadMs,
    // The new life push-pulls its seeds as it starts; each seed takes the higher generation at once and gossips it.
    restartMs: 2 * T,
    // After the cut heals, some node's next push-pull (every pushPullIntervalMs) goes to a member it holds dead
    // across the cut; the call and the resulting refutations spread within a few periods.
    healMs: config.pushPullIntervalMs + 5 * T + spreadMs,
  }
}

// ---- worlds ------------------------------------------------------------------------------------------------

type SeedTopology = 'all' | 'one' | 'ring'

function seedsFor(topology: SeedTopology, nodes: number): WorldOptions['seedsFor'] {
  switch (topology) {
    case 'all':
      return undefined
    case 'one':
      // Everyone joins through n1; n1 through n2, so that a restarted n1 finds the cluster again.
      return (id) => [simAddress(nodeId(id === 'n1' ? 'n2' : 'n1'))]
    case 'ring':
      // Each node knows only the next one: the seed graph is connected but nobody's seed is up first.
      return (id) => [simAddress(nodeId(`n${(Number(id.slice(1)) % nodes) + 1}`)) as PeerAddress]
  }
}

interface Context {
  readonly name: MembershipScenarioName
  readonly options: MembershipScenarioOptions
  readonly world: World
  readonly checker: MembershipChecker
  readonly config: NodeConfig
  readonly bounds: MembershipBounds
  readonly problems: string[]
  readonly notes: string[]
  readonly measurements: Record<string, number[]>
}

function context(
  name: MembershipScenarioName,
  options: MembershipScenarioOptions,
  extra: { topology?: SeedTopology; lossProbability?: number } = {},
): Context {
  const config = presets.test
  const topology = extra.topology ?? 'all'
  const seeds = seedsFor(topology, options.nodes)
  const world = new World({
    seed: options.seed,
    nodes: options.nodes,
    config,
    // The event cap guards against livelock, so it scales with the run: ticks alone are 100 per node-second,
    // and membership traffic adds about as many again. Two hours of ten nodes is some 15 million events.
    maxEvents: Math.max(defaultSchedulerOptions.maxEvents, Math.ceil(options.nodes * options.durationMs * 0.5)),
    ...(extra.lossProbability === undefined ? {} : { network: { lossProbability: extra.lossProbability } }),
    ...(seeds === undefined ? {} : { seedsFor: seeds }),
    ...(options.maxKeptTraceLines === undefined ? {} : { maxKeptTraceLines: options.maxKeptTraceLines }),
  })
  return {
    name, options, world, config, checker: new MembershipChecker(world), bounds: membershipBounds(config, options.nodes),
    problems: [], notes: [], measurements: {},
  }
}

function measure(ctx: Context, key: string, ...values: number[]): void {
  ctx.measurements[key] = [...(ctx.measurements[key] ?? []), ...values]
}

function runScenarioBody(ctx: Context, body: () => void): MembershipScenarioResult {
  let run: RunResult | null = null
  try {
    body()
    // Whatever the scenario did, run out its duration and check that nobody running was ever declared dead by a
    // node that could hear it (scenarios that cut the network exclude their cut themselves).
    if (ctx.world.nowMs < ctx.options.durationMs) run = ctx.world.runUntil(ctx.options.durationMs)
    if (run?.outcome === 'event-limit') ctx.problems.push(`event limit reached after ${run.eventsRun} events (livelock?)`)
    if (ctx.checker.droppedTransitions > 0) ctx.problems.push(`checker dropped ${ctx.checker.droppedTransitions} transitions`)
  } catch (error) {
    ctx.problems.push(`exception: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  }
  return {
    scenario: ctx.name, seed: ctx.options.seed, world: ctx.world, checker: ctx.checker, run,
    problems: ctx.problems, notes: ctx.notes, measurements: ctx.measurements,
  }
}

/** Runs until every running node holds every running node alive, or fails the scenario after `boundMs`. */
function awaitFullView(ctx: Context, what: string, boundMs: Millis): Millis | null {
  const fromMs = ctx.world.nowMs
  const at = runUntilTrue(ctx.world, () => ctx.checker.isFullView(), fromMs + boundMs)
  if (at === null) {
    const problems = ctx.checker.viewProblems()
    ctx.problems.push(`${what}: no full view within ${boundMs} ms (${problems.length} gaps: ${problems.slice(0, 5).join('; ')})`)
    return null
  }
  return at - fromMs
}

/** Dead marks of running processes, optionally only those whose observer and subject are both in `among`. */
function checkNoFalseDeads(ctx: Context, sinceMs: Millis, among?: readonly NodeId[]): void {
  const marks = ctx.checker.falseDeads().filter((t) =>
    t.atMs >= sinceMs && (among === undefined || (among.includes(t.observer) && among.includes(t.subject))))
  for (const t of marks.slice(0, 5)) {
    ctx.problems.push(`false death: ${t.observer} marked ${t.subject} gen ${t.generation} dead at ${t.atMs.toFixed(3)} ms while it ran`)
  }
  if (marks.length > 5) ctx.problems.push(`… ${marks.length - 5} more false deaths`)
}

function format(valuesMs: readonly number[]): string {
  if (valuesMs.length === 0) return 'none'
  const d = distribution(valuesMs)
  return `n=${d.n} min ${d.min.toFixed(0)} p50 ${d.p50.toFixed(0)} p90 ${d.p90.toFixed(0)} max ${d.max.toFixed(0)} ms`
}

// ---- scenarios ---------------------------------------------------------------------------------------------

function converge(name: MembershipScenarioName, options: MembershipScenarioOptions, topology: 'one' | 'ring'): MembershipScenarioResult {
  const ctx = context(name, options, { topology })
  return runScenarioBody(ctx, () => {
    const boundMs = ctx.bounds.convergeGossipMs
    const tookMs = awaitFullView(ctx, `${options.nodes} nodes from ${topology === 'one' ? 'one seed' : 'a ring of seeds'}`, boundMs)
    if (tookMs !== null) {
      measure(ctx, topology === 'one' ? 'oneSeedConvergeMs' : 'ringSeedsConvergeMs', tookMs)
      ctx.notes.push(`converged in ${tookMs.toFixed(0)} ms = ${(tookMs / ctx.config.probeIntervalMs).toFixed(1)} periods (bound ${boundMs} ms)`)
    }
    checkNoFalseDeads(ctx, 0)
  })
}

/**
 * One node dies with its host still up (its port refuses), later another loses its whole host (modelled by a
 * partition: it goes silent). Each must be declared dead by every other running node within its bound.
 */
function crash(name: MembershipScenarioName, options: MembershipScenarioOptions): MembershipScenarioResult {
  const ctx = context(name, options)
  return runScenarioBody(ctx, () => {
    const { world, checker } = ctx
    if (awaitFullView(ctx, 'start', ctx.bounds.convergeAllSeedsMs) === null) return
    world.runFor(2 * ctx.config.probeIntervalMs + world.workloadRandom.nextInt(ctx.config.probeIntervalMs))
    const ids = world.cluster.ids()
    const crashed = ids[world.workloadRandom.nextInt(ids.length)] as NodeId
    const rest = ids.filter((id) => id !== crashed)
    const silent = rest[world.workloadRandom.nextInt(rest.length)] as NodeId
    const observers = rest.filter((id) => id !== silent)

    const detect = (victim: NodeId, how: 'refusal' | 'silence', boundMs: Millis, fault: () => void): void => {
      const generation = world.cluster.node(victim).generation
      const atMs = world.nowMs
      fault()
      const watchers = [...observers]
      runUntilTrue(world, () => checker.deathDetection(victim, generation, atMs, watchers).lastMs !== null, atMs + boundMs)
      const detection = checker.deathDetection(victim, generation, atMs, watchers)
      if (detection.lastMs === null) {
        ctx.problems.push(`${how}: ${victim} not declared dead within ${boundMs} ms by ${detection.missing.join(',')}`)
        return
      }
      measure(ctx, `${how}FirstMs`, detection.firstMs ?? 0)
      measure(ctx, `${how}LastMs`, detection.lastMs)
      measure(ctx, `${how}Ms`, ...detection.byObserver.values())
      ctx.notes.push(`${how}: ${victim} dead everywhere, first ${detection.firstMs?.toFixed(0)} ms, last ${detection.lastMs.toFixed(0)} ms (bound ${boundMs} ms)`)
    }

    detect(crashed, 'refusal', ctx.bounds.detectRefusalMs, () => world.crash(crashed))
    world.runFor(ctx.config.probeIntervalMs)
    detect(silent, 'silence', ctx.bounds.detectSilenceMs, () => world.partition([silent], ids.filter((id) => id !== silent)))
    // The isolated node holds everyone else dead, rightly from where it stands; among the rest, nobody may.
    checkNoFalseDeads(ctx, 0, observers)
  })
}

/** 5% of datagrams lost all the time: suspicions may come and be refuted, a death of a running node never. */
function loss(name: MembershipScenarioName, options: MembershipScenarioOptions): MembershipScenarioResult {
  const ctx = context(name, options, { lossProbability: 0.05 })
  return runScenarioBody(ctx, () => {
    if (awaitFullView(ctx, 'start', ctx.bounds.convergeGossipMs) === null) return
    ctx.world.runUntil(options.durationMs)
    checkNoFalseDeads(ctx, 0)
    const suspicions = ctx.checker.falseSuspicions()
    const swims = ctx.world.cluster.upNodes().map((node) => node.currentNode?.membership.counters)
    const sum = (key: 'refutations' | 'phiSuspicions' | 'probeSuspicions'): number =>
      swims.reduce((total, counters) => total + (counters?.[key] ?? 0), 0)
    measure(ctx, 'falseDeads', ctx.checker.falseDeads().length)
    measure(ctx, 'falseSuspicionMarks', suspicions.length)
    measure(ctx, 'refutations', sum('refutations'))
    ctx.notes.push(
      `loss 5% for ${(options.durationMs / 60_000).toFixed(0)} min: ${ctx.checker.falseDeads().length} false deaths, ` +
        `${suspicions.length} suspicion marks of live nodes (${sum('probeSuspicions')} by probe, ${sum('phiSuspicions')} by φ), ` +
        `${sum('refutations')} refutations`,
    )
    const full = ctx.checker.isFullView()
    if (!full) ctx.problems.push(`no full view at the end: ${ctx.checker.viewProblems().slice(0, 5).join('; ')}`)
  })
}

/**
 * Halves cut apart until each holds the other dead, then healed: one full view again, and one leader. The long
 * variant holds the cut past deadMemberReapMs, so that each side has forgotten the other entirely by the heal.
 */
function partition(name: MembershipScenarioName, options: MembershipScenarioOptions, hold: 'until-split' | 'beyond-reap'): MembershipScenarioResult {
  const ctx = context(name, options)
  return runScenarioBody(ctx, () => {
    const { world, checker } = ctx
    if (awaitFullView(ctx, 'start', ctx.bounds.convergeAllSeedsMs) === null) return
    world.runFor(1_000)
    const ids = world.cluster.ids()
    const half = Math.floor(ids.length / 2)
    const sideA = ids.slice(0, half)
    const sideB = ids.slice(half)
    const cutAtMs = world.nowMs
    world.partition(sideA, sideB)
    // Half the cluster fails at once, so accusers' own health suffers (their helpers across the cut never nack):
    // give the split the silence bound with Lifeguard's health multiplier at its ceiling.
    const splitBoundMs = ctx.bounds.detectSilenceMs * (1 + ctx.config.awarenessMaxMultiplier)
    const heldDead = (from: readonly NodeId[], to: readonly NodeId[]): boolean =>
      from.every((a) => to.every((b) => checker.currentRecord(a, b)?.state === 'dead'))
    const split = runUntilTrue(world, () => heldDead(sideA, sideB) && heldDead(sideB, sideA), cutAtMs + splitBoundMs)
    if (split === null) {
      ctx.problems.push(`the halves did not hold each other dead within ${splitBoundMs} ms`)
      return
    }
    measure(ctx, 'splitMs', split - cutAtMs)
    checkNoFalseDeads(ctx, 0, sideA)
    checkNoFalseDeads(ctx, 0, sideB)
    world.runFor(2 * ctx.config.probeIntervalMs)
    if (hold === 'beyond-reap') {
      world.runFor(ctx.config.deadMemberReapMs + ctx.config.pushPullIntervalMs)
      const remembered = sideA.filter((a) => sideB.some((b) => checker.currentRecord(a, b) !== undefined))
      if (remembered.length > 0) ctx.problems.push(`records across the cut not reaped by ${remembered.join(',')}: the test no longer tests forgetting`)
    }
    const healAtMs = world.nowMs
    world.heal()
    const tookMs = awaitFullView(ctx, 'after heal', ctx.bounds.healMs)
    if (tookMs === null) return
    measure(ctx, 'healMs', tookMs)
    ctx.notes.push(`split seen in ${(split - cutAtMs).toFixed(0)} ms, one full view ${tookMs.toFixed(0)} ms after the heal (bound ${ctx.bounds.healMs} ms)`)
    checkUniqueLeader(ctx, 'after heal')
    checkNoFalseDeads(ctx, healAtMs + tookMs)
  })
}

function checkUniqueLeader(ctx: Context, when: string): void {
  const leaders = ctx.checker.leaders()
  const distinct = new Set(leaders.values())
  const expected = ctx.checker.expectedLeader()
  if (distinct.size !== 1 || !distinct.has(expected)) {
    ctx.problems.push(`${when}: leaders ${[...leaders].map(([id, leader]) => `${id}→${leader}`).join(' ')}, expected ${expected} everywhere`)
  }
}

/**
 * A node restarts (a new generation) after a crash too short for anyone to declare it dead, joined through one
 * seed so that gossip must carry the news. Every node holds it alive at generation + 1 within the restart bound,
 * and nobody declares the old generation dead on the way.
 */
function restart(name: MembershipScenarioName, options: MembershipScenarioOptions): MembershipScenarioResult {
  const ctx = context(name, options, { topology: 'one' })
  return runScenarioBody(ctx, () => {
    const { world, checker } = ctx
    if (awaitFullView(ctx, 'start', ctx.bounds.convergeGossipMs) === null) return
    world.runFor(1_000)
    for (let round = 0; round < 3; round++) {
      const ids = world.cluster.ids()
      const victim = ids[world.workloadRandom.nextInt(ids.length)] as NodeId
      const oldGeneration = world.cluster.node(victim).generation
      world.crash(victim)
      world.runFor(1 + world.workloadRandom.nextInt(ctx.config.probeIntervalMs / 2))
      const restartAtMs = world.nowMs
      world.restart(victim)
      const generation = world.cluster.node(victim).generation
      if (generation !== oldGeneration + 1) ctx.problems.push(`${victim} restarted with generation ${generation}, not ${oldGeneration + 1}`)
      const others = ids.filter((id) => id !== victim)
      const seen = (): boolean => others.every((id) => {
        const record = checker.currentRecord(id, victim)
        return record?.generation === generation && record.state === 'alive'
      })
      const at = runUntilTrue(world, seen, restartAtMs + ctx.bounds.restartMs, 1)
      const everywhere = checker.firstSeen(victim, generation, ['alive'], restartAtMs, others)
      if (at === null) {
        ctx.problems.push(`${victim} gen ${generation} not alive everywhere within ${ctx.bounds.restartMs} ms (missing ${everywhere.missing.join(',')})`)
        return
      }
      measure(ctx, 'restartMs', everywhere.lastMs ?? at - restartAtMs)
      const buried = checker.deathDetection(victim, oldGeneration, restartAtMs, others)
      if (buried.byObserver.size > 0) ctx.problems.push(`${victim}'s old generation was declared dead by ${[...buried.byObserver.keys()].join(',')} after it restarted`)
      ctx.notes.push(`${victim} alive at generation ${generation} everywhere ${(everywhere.lastMs ?? 0).toFixed(0)} ms after its restart (bound ${ctx.bounds.restartMs} ms)`)
      world.runFor(2_000)
    }
    checkNoFalseDeads(ctx, 0)
  })
}

/**
 * Once views agree there is one leader, the oldest running node. When it dies, leadership moves to the next
 * oldest everywhere; when it comes back it is the youngest and does not take leadership back.
 */
function leader(name: MembershipScenarioName, options: MembershipScenarioOptions): MembershipScenarioResult {
  const ctx = context(name, options)
  return runScenarioBody(ctx, () => {
    const { world, checker } = ctx
    if (awaitFullView(ctx, 'start', ctx.bounds.convergeAllSeedsMs) === null) return
    checkUniqueLeader(ctx, 'after start')
    for (let round = 0; round < 2; round++) {
      const old = checker.expectedLeader() as NodeId
      const atMs = world.nowMs
      world.crash(old)
      const next = checker.expectedLeader()
      const moved = runUntilTrue(world, () => {
        const distinct = new Set(checker.leaders().values())
        return distinct.size === 1 && distinct.has(next)
      }, atMs + ctx.bounds.detectRefusalMs)
      if (moved === null) {
        checkUniqueLeader(ctx, `${ctx.bounds.detectRefusalMs} ms after leader ${old} died`)
        return
      }
      measure(ctx, 'leaderMovedMs', moved - atMs)
      ctx.notes.push(`leader ${old} died; ${next} led everywhere ${(moved - atMs).toFixed(0)} ms later`)
      world.runFor(500)
      world.restart(old)
      if (awaitFullView(ctx, `${old} back`, ctx.bounds.restartMs) === null) return
      checkUniqueLeader(ctx, `after ${old} came back younger`)
      world.runFor(500)
    }
    checkNoFalseDeads(ctx, 0)
  })
}

/**
 * memberlist issue #311: after a restart of every node at once, some stayed dead in others' views forever. Two
 * rounds: everyone but one survivor dies and is declared dead by it, then all come back at once (the survivor
 * holds a dead record of each old generation); then every node dies and all restart together.
 */
function massRestart(name: MembershipScenarioName, options: MembershipScenarioOptions): MembershipScenarioResult {
  const ctx = context(name, options, { topology: 'one' })
  return runScenarioBody(ctx, () => {
    const { world, checker } = ctx
    if (awaitFullView(ctx, 'start', ctx.bounds.convergeGossipMs) === null) return
    world.runFor(1_000)
    const ids = world.cluster.ids()
    const survivor = ids[world.workloadRandom.nextInt(ids.length)] as NodeId
    const others = ids.filter((id) => id !== survivor)
    const generations = new Map(others.map((id) => [id, world.cluster.node(id).generation]))
    for (const id of others) world.crash(id)
    const buried = runUntilTrue(world, () => others.every((id) => checker.currentRecord(survivor, id)?.state === 'dead'),
      world.nowMs + ctx.bounds.detectSilenceMs * (1 + ctx.config.awarenessMaxMultiplier))
    if (buried === null) ctx.notes.push(`${survivor} had not declared everyone dead before the restart`)
    for (const id of others) world.restart(id)
    for (const id of others) {
      if (world.cluster.node(id).generation !== (generations.get(id) ?? 0) + 1) ctx.problems.push(`${id} did not come back at generation + 1`)
    }
    const round1 = awaitFullView(ctx, 'all but the survivor restarted at once', ctx.bounds.convergeGossipMs)
    if (round1 === null) return
    measure(ctx, 'massRestartMs', round1)
    world.runFor(2_000)
    for (const id of ids) world.crash(id)
    world.runFor(ctx.config.probeIntervalMs)
    for (const id of ids) world.restart(id)
    const round2 = awaitFullView(ctx, 'every node restarted at once', ctx.bounds.convergeGossipMs)
    if (round2 === null) return
    measure(ctx, 'massRestartMs', round2)
    ctx.notes.push(`mass restart: full view ${round1.toFixed(0)} ms after all but ${survivor} came back, ${round2.toFixed(0)} ms after all did`)
    // None stuck dead later either: run on and look again.
    world.runFor(10 * ctx.config.probeIntervalMs)
    if (!checker.isFullView()) ctx.problems.push(`views regressed after the mass restart: ${checker.viewProblems().slice(0, 5).join('; ')}`)
    checkNoFalseDeads(ctx, 0)
  })
}

/** One line per scenario result, for the script's summary and the tests' logs. */
export function describeMeasurements(result: MembershipScenarioResult): string[] {
  return Object.entries(result.measurements).map(([key, values]) => `${key}: ${format(values)}`)
}
