/**
 * Every tunable of a Chorus node, with its default and the reason for it. DESIGN.md section 8 lists the
 * user-facing defaults; `chorus start` exposes each field as a kebab-case flag with its unit last
 * (`probeIntervalMs` → `--probe-interval-ms`). Presets follow memberlist: `lan` is the production default,
 * `local` is for processes on one machine (loopback has no real latency, so timeouts shrink), and `test` is
 * for simulations and cluster tests that need failures detected within seconds.
 */
import type { Millis } from '../primitives/ids.ts'
import { assert } from '../primitives/assert.ts'

export interface NodeConfig {
  // ---- placement and replication -------------------------------------------------------------------------
  /** Q, the number of fixed partitions. 256 spreads load evenly across up to ~64 nodes; never changes. */
  readonly partitions: number
  /** N, replicas per key. 3 survives one failure with a majority quorum left. */
  readonly n: number
  /** Default read quorum; `quorum` is ⌊N/2⌋+1 so that reads overlap writes at W = quorum. */
  readonly r: QuorumSetting
  /** Default write quorum. */
  readonly w: QuorumSetting
  /** How long a coordinator waits for a quorum before answering `timeout`. */
  readonly requestTimeoutMs: Millis
  /**
   * The leader recomputes the ownership table only after the set of members has not changed for this long, so
   * that a rolling start or a flapping member costs one table change rather than one per event.
   */
  readonly placementSettleMs: Millis
  /** Every this often a node sends its table version and bucket-props digest to one random member. */
  readonly placementGossipIntervalMs: Millis
  /** Hints for live targets are looked for and replayed this often (and at once when a target comes back). */
  readonly hintReplayIntervalMs: Millis
  /** Hints replayed per page; each is one object in flight, so this bounds the replay's memory. */
  readonly hintReplayBatch: number
  /** Client requests a node coordinates at once; beyond it new ones get `overloaded` instead of queueing. */
  readonly maxPendingRequests: number
  /** Replica operations (read-merge-write cycles) queued on one node; beyond it replicas refuse with a nack. */
  readonly maxQueuedReplicaOperations: number
  /** Objects per scan page when listing keys; keeps one storage answer small. */
  readonly listKeysPageSize: number
  /** Most keys one list-keys request returns (an admin tool, not a query engine). */
  readonly maxListedKeys: number
  /** Objects per ownership-handoff page: one storage answer and one call in flight per stream stay small. */
  readonly handoffPageKeys: number
  /** Partitions one node streams at once after a table change; the rest wait, so a join cannot flood a node. */
  readonly handoffMaxPartitionsInFlight: number
  /** A handoff page that failed (target down, timeout) is sent again after this long. */
  readonly handoffRetryIntervalMs: Millis
  /**
   * An old owner keeps its copy this long after every new owner confirmed, so coordinators that have not yet
   * adopted the new table still find the data; a few placement gossip intervals.
   */
  readonly handoffDropDelayMs: Millis

  // ---- membership (SWIM + Lifeguard + phi accrual) -------------------------------------------------------
  /** One protocol period: probe one member each period. 1 s is memberlist's LAN default. */
  readonly probeIntervalMs: Millis
  /** Wait this long for a direct ack before asking k helpers. Half the period leaves time for ping-req. */
  readonly probeTimeoutMs: Millis
  /** k, members asked to ping-req a silent member. 3 keeps the false-positive rate low at small cost. */
  readonly indirectProbes: number
  /** λ in the retransmit limit ⌈λ·log₂(n+1)⌉ of each gossiped update. 4 reaches everyone with high probability. */
  readonly retransmitMultiplier: number
  /** φ above which a member is suspected even if a probe got lucky. 8 is Cassandra's default. */
  readonly phiThreshold: number
  /** Intervals kept per peer for φ. Bounded so a long-lived peer costs constant memory. */
  readonly phiWindowSize: number
  /** Floor on the standard deviation of the φ window, so one late packet from a very regular peer is not fatal. */
  readonly phiMinStdDevMs: Millis
  /** Suspicion timeout = multiplier · log₁₀(n) · probe interval, before independent confirmations shrink it. */
  readonly suspicionMultiplier: number
  /** The upper suspicion timeout is this many times the lower one (Lifeguard's dynamic suspicion). */
  readonly suspicionMaxTimeoutMultiplier: number
  /** Lifeguard's local-health ceiling: a node in bad health stretches its timeouts up to (1 + this) times. */
  readonly awarenessMaxMultiplier: number
  /** Full state exchange over TCP with one random member this often; heals partitions and large views. */
  readonly pushPullIntervalMs: Millis
  /** Dead or left members are forgotten after this long, so a table does not grow without bound. */
  readonly deadMemberReapMs: Millis
  /** A gossip datagram never exceeds this, so it fits one Ethernet frame with IP and UDP headers. */
  readonly maxDatagramBytes: number
  /**
   * Queued gossip is also pushed to a few random members this often, besides riding on pings and acks: piggyback
   * alone spreads an update only once per protocol period, too slow for a `dead` to reach everyone quickly.
   */
  readonly gossipIntervalMs: Millis
  /** Members each gossip round sends to (memberlist's GossipNodes). 3 spreads in O(log n) rounds. */
  readonly gossipFanout: number
  /**
   * Suspicion timeout when the evidence is strong: our send was refused (the peer's port is closed) and a
   * ping-req helper was refused too. A closed port cannot refute, so one protocol period is enough.
   */
  readonly refusalSuspicionTimeoutMs: Millis

  // ---- anti-entropy --------------------------------------------------------------------------------------
  /** Each partition is compared with its replicas this often. */
  readonly antiEntropyIntervalMs: Millis
  /**
   * Anti-entropy rounds one node runs at once. Each round holds a few pages of keys and objects in flight, so this
   * bounds repair traffic and memory; rounds that are due wait for a slot.
   */
  readonly antiEntropyMaxConcurrentRounds: number
  /**
   * Safety margin of tombstone reaping (tombstone-reaper.ts): a tombstone is removed once it is older than the
   * partition's low-water mark minus this. It absorbs clock skew between the node that stamped the delete and
   * the node that stamped the mark, and writes still in flight.
   */
  readonly tombstoneGraceMs: Millis
  /**
   * Sloppy quorum with hinted handoff: a fallback stands in for a down primary and keeps a hint. `false` sends
   * requests to live primaries only (no fallbacks, no hints); used by the anti-entropy simulation to prove that
   * anti-entropy alone makes replicas converge.
   */
  readonly hintedHandoff: boolean
  /** A read that finds stale primaries sends them the merged object. `false` only for tests of anti-entropy. */
  readonly readRepair: boolean
  /**
   * A read first asks only the replicas it needs for r and pr (each replica read costs a storage read, two frames
   * and a decode) and asks the rest if the quorum is still pending after this long: about a few replica round
   * trips, so a slow or overloaded replica costs one short delay rather than the request timeout. A failed replica
   * is replaced at once regardless. 0 asks every replica at once (the pre-issue-6 behaviour). The core checks it
   * on tick, so the delay is rounded up to the tick interval (10 ms).
   */
  readonly readSpeculationMs: Millis

  // ---- limits --------------------------------------------------------------------------------------------
  /** Largest value a client may store; bigger bodies get 413 before any work. */
  readonly maxValueBytes: number
  /** Longest key in bytes of UTF-8. */
  readonly maxKeyBytes: number
  /** Longest bucket name in bytes of UTF-8. */
  readonly maxBucketBytes: number
  /** Largest frame on the TCP channel: a max value plus its causal context and envelope. */
  readonly maxFrameBytes: number
  /** Requests in flight on one channel before callers wait: back-pressure instead of an unbounded queue. */
  readonly maxInFlightPerChannel: number
  /** Siblings on one object before a warning metric fires (Riak's default). */
  readonly siblingWarnCount: number
  /** Siblings on one object before a write is refused (Riak's default). */
  readonly maxSiblings: number

  // ---- storage -------------------------------------------------------------------------------------------
  /** `false` turns off fsync: faster, and an acknowledged write can be lost on power failure. Benchmarks only. */
  readonly syncWrites: boolean
  /**
   * The longest a busy node delays a commit to gather more writes into one fdatasync (commit-queue.ts): it
   * lingers only after a batch of 8 or more writes, so a lightly loaded node never waits. 0 turns it off.
   */
  readonly commitLingerMs: Millis
  /** How long a request id is remembered for idempotent retries. */
  readonly requestIdTtlMs: Millis

  // ---- fault injection (chaos tests only; every default is 0 or false = off) -------------------------------
  /**
   * Added to this node's wall clock (HLC timestamps, the generation floor), never to the monotonic clock: the
   * chaos `clock` nemesis skews LWW buckets with it when `faketime` is unavailable. 0 in production.
   */
  readonly clockOffsetMs: Millis
  /**
   * Fixed delay the fault-injecting transport (src/transport/fault-injecting-transport.ts) adds to every message
   * this node sends and to every answer to its calls. Any non-zero fault field wraps the transport; 0 is off.
   */
  readonly faultDelayMs: Millis
  /** Mean of an exponential extra delay on top of faultDelayMs; datagrams reorder as a consequence. 0 is off. */
  readonly faultDelayJitterMs: Millis
  /** Probability in [0, 1] that an outgoing datagram is sent twice (each copy delayed independently). 0 is off. */
  readonly faultDuplicateRate: number
  /**
   * Lets an operator change the three fault fields at run time: on SIGUSR2 the node re-reads `faults.json` in
   * its data directory (DESIGN.md §9 chaos runs). `false` installs no handler and never wraps the transport.
   */
  readonly faultInjection: boolean
}

export type QuorumSetting = 'one' | 'quorum' | 'all' | number

/** The production defaults: a LAN with sub-millisecond latency and the occasional GC pause. */
export const lan: NodeConfig = {
  partitions: 256,
  n: 3,
  r: 'quorum',
  w: 'quorum',
  requestTimeoutMs: 5_000,
  placementSettleMs: 5_000, // several protocol periods: a rolling start settles before the first table
  placementGossipIntervalMs: 2_000, // a new table reaches every node in O(log n) rounds even if a push is lost
  hintReplayIntervalMs: 10_000, // member-up triggers replay at once; this only retries failures
  hintReplayBatch: 64,
  maxPendingRequests: 10_000, // far above 32 HTTP connections with pipelining, far below memory trouble
  maxQueuedReplicaOperations: 10_000,
  listKeysPageSize: 1_000,
  maxListedKeys: 100_000,
  handoffPageKeys: 100, // 100 objects of up to a few KiB: well under one frame, many round trips per second
  handoffMaxPartitionsInFlight: 4, // a joining node takes ~Q·N/M partitions; 4 at once keeps foreground latency
  handoffRetryIntervalMs: 1_000,
  handoffDropDelayMs: 10_000, // five placement gossip intervals: every node has adopted the new table by then

  probeIntervalMs: 1_000,
  probeTimeoutMs: 500,
  indirectProbes: 3,
  retransmitMultiplier: 4,
  phiThreshold: 8,
  phiWindowSize: 100,
  phiMinStdDevMs: 250,
  suspicionMultiplier: 4,
  suspicionMaxTimeoutMultiplier: 6,
  awarenessMaxMultiplier: 8,
  pushPullIntervalMs: 30_000,
  deadMemberReapMs: 24 * 60 * 60 * 1_000,
  maxDatagramBytes: 1_400,
  gossipIntervalMs: 200, // memberlist's LAN GossipInterval
  gossipFanout: 3, // memberlist's GossipNodes
  refusalSuspicionTimeoutMs: 1_000, // one protocol period

  antiEntropyIntervalMs: 60_000,
  antiEntropyMaxConcurrentRounds: 2, // 256 partitions per minute need ~4 rounds a second; 2 at once keeps up
  tombstoneGraceMs: 60 * 60 * 1_000, // far above HLC skew (maxForwardDriftMs 60 s) and any request timeout
  hintedHandoff: true,
  readRepair: true,
  readSpeculationMs: 20, // a LAN replica read (round trip + LevelDB) takes ~1 ms: 20 ms is deep in its tail, tiny beside the 5 s timeout

  maxValueBytes: 4 * 1024 * 1024,
  maxKeyBytes: 1_024,
  maxBucketBytes: 256,
  maxFrameBytes: 4 * 1024 * 1024 + 64 * 1024,
  maxInFlightPerChannel: 256,
  siblingWarnCount: 25,
  maxSiblings: 100,

  syncWrites: true,
  commitLingerMs: 4,
  requestIdTtlMs: 10 * 60 * 1_000,

  clockOffsetMs: 0, // a production node trusts NTP; skew is for chaos tests only
  faultDelayMs: 0, // no injected delay: the real network's is enough
  faultDelayJitterMs: 0,
  faultDuplicateRate: 0,
  faultInjection: false, // no SIGUSR2 handler, no fault file, the bare transport
}

/** Several processes on one machine: loopback round trips are microseconds, so probes can be tighter. */
export const local: NodeConfig = {
  ...lan,
  placementSettleMs: 2_000, // loopback processes start within a second of each other
  placementGossipIntervalMs: 1_000,
  hintReplayIntervalMs: 2_000,
  probeIntervalMs: 500,
  probeTimeoutMs: 200,
  suspicionMultiplier: 3,
  pushPullIntervalMs: 15_000,
  deadMemberReapMs: 60 * 60 * 1_000,
  gossipIntervalMs: 100, // memberlist's local GossipInterval
  gossipFanout: 3,
  refusalSuspicionTimeoutMs: 500, // one protocol period
  readSpeculationMs: 10, // loopback round trips are microseconds; one node tick
  // Fault injection stays off, as in lan: chaos scripts turn it on with flags (--fault-injection, ...).
  clockOffsetMs: 0,
  faultDelayMs: 0,
  faultDelayJitterMs: 0,
  faultDuplicateRate: 0,
  faultInjection: false,
}

/** Simulations and cluster tests: failures must be detected in a few seconds of (virtual) time. */
export const test: NodeConfig = {
  ...local,
  partitions: 64,
  requestTimeoutMs: 2_000,
  placementSettleMs: 500, // a few probe periods of the test preset
  placementGossipIntervalMs: 300,
  hintReplayIntervalMs: 500,
  probeIntervalMs: 200,
  probeTimeoutMs: 100,
  suspicionMultiplier: 3,
  pushPullIntervalMs: 5_000,
  deadMemberReapMs: 60_000,
  gossipIntervalMs: 50, // a quarter of the probe interval, as in lan
  gossipFanout: 3,
  refusalSuspicionTimeoutMs: 200, // one protocol period
  antiEntropyIntervalMs: 5_000,
  tombstoneGraceMs: 30_000, // short, yet past the 10 s anti-entropy sim: there every replica's bytes are compared
  handoffRetryIntervalMs: 200,
  handoffDropDelayMs: 1_500, // five placement gossip intervals of this preset
  readSpeculationMs: 10, // one node tick: simulated legs take a few ms, so slow replicas are replaced quickly
  // Fault injection stays off, as in lan: the simulator injects its own faults; chaos scripts pass flags.
  clockOffsetMs: 0,
  faultDelayMs: 0,
  faultDelayJitterMs: 0,
  faultDuplicateRate: 0,
  faultInjection: false,
}

export const presets = { lan, local, test } as const
export type PresetName = keyof typeof presets

/** Resolves a quorum setting against N: `quorum` is ⌊N/2⌋+1. Integers must lie in 1..N. */
export function resolveQuorum(setting: QuorumSetting, n: number): number {
  switch (setting) {
    case 'one':
      return 1
    case 'quorum':
      return Math.floor(n / 2) + 1
    case 'all':
      return n
    default:
      assert(Number.isInteger(setting) && setting >= 1 && setting <= n, () => `quorum ${setting} must be in 1..${n}`)
      return setting
  }
}

/** Checks the relations between fields that a flag parser cannot see; returns the problems, empty when valid. */
export function validateConfig(config: NodeConfig): string[] {
  const problems: string[] = []
  const positiveIntegers: (keyof NodeConfig)[] = [
    'partitions', 'n', 'indirectProbes', 'phiWindowSize', 'maxValueBytes', 'maxKeyBytes', 'maxBucketBytes',
    'maxFrameBytes', 'maxInFlightPerChannel', 'maxSiblings', 'maxDatagramBytes', 'gossipFanout',
    'hintReplayBatch', 'maxPendingRequests', 'maxQueuedReplicaOperations', 'listKeysPageSize', 'maxListedKeys',
    'handoffPageKeys', 'handoffMaxPartitionsInFlight',
    'antiEntropyMaxConcurrentRounds',
  ]
  for (const field of positiveIntegers) {
    const value = config[field]
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) problems.push(`${field} must be a positive integer`)
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) problems.push('probeTimeoutMs must be below probeIntervalMs')
  if (config.maxFrameBytes <= config.maxValueBytes) problems.push('maxFrameBytes must exceed maxValueBytes')
  if (config.maxDatagramBytes > 65_507) problems.push('maxDatagramBytes must fit one UDP datagram (65507)')
  if (!Number.isFinite(config.clockOffsetMs)) problems.push('clockOffsetMs must be a finite number')
  if (!(config.readSpeculationMs >= 0) || !Number.isFinite(config.readSpeculationMs)) problems.push('readSpeculationMs must be a finite number ≥ 0')
  if (!(config.commitLingerMs >= 0 && config.commitLingerMs <= 1_000)) problems.push('commitLingerMs must be in [0, 1000]')
  if (!(config.faultDelayMs >= 0) || !(config.faultDelayJitterMs >= 0)) problems.push('faultDelayMs and faultDelayJitterMs must be ≥ 0')
  if (!(config.faultDuplicateRate >= 0 && config.faultDuplicateRate <= 1)) problems.push('faultDuplicateRate must be in [0, 1]')
  for (const [name, setting] of [['r', config.r], ['w', config.w]] as const) {
    if (typeof setting === 'number' && (!Number.isInteger(setting) || setting < 1 || setting > config.n)) {
      problems.push(`${name} must be one, quorum, all or an integer in 1..n`)
    }
  }
  return problems
}
