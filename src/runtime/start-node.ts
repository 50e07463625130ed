/**
 * Assembles one production node: configuration, the LevelDB storage engine (which raises and persists the
 * generation before anything else happens), the UDP/TCP transport, the deterministic Node, the runtime shell
 * that drives it, and the HTTP API. Also owns graceful shutdown:
 *
 *   SIGTERM/SIGINT ─► leave (gossip `left` until disseminated, bounded) ─► stop HTTP (finish in-flight)
 *                  ─► stop the runtime and transport ─► flush and close storage ─► exit 0
 *
 * A second signal during shutdown exits at once.
 *
 * Fault injection (chaos tests only, off unless configured): any non-zero `faultDelayMs`, `faultDelayJitterMs`
 * or `faultDuplicateRate`, or `faultInjection: true`, wraps the transport in a FaultInjectingTransport. With
 * `--fault-injection` the node also re-reads `<data>/faults.json` on SIGUSR2, e.g.
 * `{"delayMs":20,"delayJitterMs":30,"duplicateRate":0.05}`; a missing file restores the configured settings.
 */
import { readFile } from 'node:fs/promises'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Node, restoredMetaNames } from '../core/node/node.ts'
import type { PresetName } from '../core/node/node-config.ts'
import { nodeId, parseHostPort, peerAddress } from '../core/primitives/ids.ts'
import type { LogLevel } from '../core/node/effect.ts'
import { ApiServer } from '../api/http-server.ts'
import { NodeMetrics } from '../api/metrics.ts'
import { apiOptionsFromConfig } from '../api/api-options.ts'
import { LevelStore } from '../storage/level-store.ts'
import { StorageEngine, defaultStorageEngineOptions } from '../storage/storage-engine.ts'
import { UdpTcpTransport, transportOptionsFromConfig } from '../transport/udp-tcp-transport.ts'
import type { Transport } from '../transport/transport.ts'
import { FaultInjectingTransport, faultsActive, validateFaultSettings } from '../transport/fault-injecting-transport.ts'
import type { FaultSettings } from '../transport/fault-injecting-transport.ts'
import type { NodeConfig } from '../core/node/node-config.ts'
import { buildConfig } from './config-flags.ts'
import { JsonLogger } from './logger.ts'
import { NodeRuntime } from './node-runtime.ts'
import { SystemClock } from './system-clock.ts'
import { osSeed, systemRandom } from './system-random.ts'

export interface StartNodeOptions {
  readonly dataDir: string
  readonly bind: string
  readonly http: string
  readonly seeds: readonly string[]
  readonly id?: string
  readonly zone?: string
  readonly preset: PresetName
  /** Raw flag values; NodeConfig fields are picked out of them by name. */
  readonly flags: Readonly<Record<string, unknown>>
  readonly clockOffsetMs: number
  readonly logLevel: LogLevel
  readonly clusterSecretFile?: string
  /** Install SIGTERM/SIGINT handlers (the CLI does; tests that embed a node do not). */
  readonly handleSignals?: boolean
}

export interface RunningNode {
  readonly id: string
  readonly generation: number
  readonly clusterAddress: string
  readonly httpAddress: string
  /** Resolves once the node has shut down. */
  readonly stopped: Promise<void>
  stop(): Promise<void>
}

/** How long a leaving node keeps gossiping `left` before it exits anyway. */
const LEAVE_DEADLINE_MS = 3_000
/** How often the shell checks whether a graceful leave has finished (its `left` disseminated). */
const LEAVE_POLL_MS = 100
/** The core gets a tick this often; 10 ms is well below the smallest probe timeout of any preset. */
const TICK_INTERVAL_MS = 10

export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const config = buildConfig(options.preset, options.flags)
  const bind = parseHostPort(options.bind)
  const http = parseHostPort(options.http)
  if (bind === null) throw new Error(`--bind ${options.bind} is not HOST:PORT`)
  if (http === null) throw new Error(`--http ${options.http} is not HOST:PORT`)
  for (const seed of options.seeds) if (parseHostPort(seed) === null) throw new Error(`seed ${seed} is not HOST:PORT`)
  const id = nodeId(options.id ?? options.bind)
  // --clock-offset-ms is both a start option and a NodeConfig field (config.clockOffsetMs); either skews.
  const clock = new SystemClock(config.clockOffsetMs !== 0 ? config.clockOffsetMs : options.clockOffsetMs)
  const logger = new JsonLogger(options.logLevel, { node: id })
  const secret = options.clusterSecretFile === undefined ? undefined : await readSecret(options.clusterSecretFile)

  mkdirSync(options.dataDir, { recursive: true })
  const storage = await StorageEngine.open(
    { store: new LevelStore(join(options.dataDir, 'db')), clock, onCorruptEntry: (report) => logger.log('error', 'corrupt-change-log-entry', { ...report }) },
    { ...defaultStorageEngineOptions, nodeId: id, syncWrites: config.syncWrites, commitLingerMs: config.commitLingerMs },
  )
  const generation = storage.identity.generation
  const realTransport = await UdpTcpTransport.open(
    transportOptionsFromConfig(config, options.bind, secret === undefined ? {} : { clusterSecret: secret }),
  ).catch(async (error: unknown) => {
    await storage.close()
    throw error
  })
  const faults = wrapWithFaults(realTransport, config, { dataDir: options.dataDir, authenticated: secret !== undefined }, logger)
  const transport: Transport = faults?.transport ?? realTransport
  const seed = osSeed()
  const metadata = { httpAddress: options.http, zone: options.zone ?? '', partitions: config.partitions, protocolVersion: 1 }
  const restored = await readRestoredMeta(storage)
  const node = new Node({ id, address: transport.localAddress, generation, metadata }, { random: systemRandom(seed) }, config, clock.nowMs(), restored)
  const runtime = new NodeRuntime({ node, clock, transport, storage, logger }, { tickIntervalMs: TICK_INTERVAL_MS })
  runtime.start()
  if (options.seeds.length > 0) await runtime.request({ kind: 'join', seeds: options.seeds.map(peerAddress) })

  const metrics = new NodeMetrics(id)
  const handoff = node.replication.handoff
  metrics.watchHandoff(() => ({ ...handoff.counters, pendingOutgoing: handoff.pendingOutgoing, pendingIncoming: handoff.pendingIncoming }))
  metrics.watchTransportTraffic(() => transport.stats().sentByKind)
  metrics.watchCoreCounters('chorus_anti_entropy', 'Anti-entropy: rounds, keys compared and repaired, bytes exchanged, round durations (ms)', () => ({ ...node.antiEntropy.counters }))
  metrics.watchCoreCounters('chorus_tombstones', 'Tombstone reaping: tombstones reaped, low-water marks advanced, scans, scans skipped (no tombstone there), deferred pages', () => ({ ...node.antiEntropy.reaper.counters }))
  metrics.watchCoreCounters('chorus_membership', 'Membership: dropped or stale gossip, refusal checks, suspicions and refutations', () => ({ ...node.membership.counters }))
  metrics.watchCoreCounters('chorus_coordinator', 'Coordinated reads and writes, forwards, timeouts, unavailable answers, read repairs', () => ({ ...node.replication.coordinator.counters }))
  metrics.watchCoreCounters('chorus_replica', 'Replica work: dots minted, merges, hints stored, overload refusals, corrupt objects', () => ({ ...node.replication.replica.counters }))
  metrics.watchCoreCounters('chorus_hints', 'Hinted handoff: hints replayed, failed replays, pages', () => ({ ...node.replication.hints.counters }))
  metrics.watchCoreCounters('chorus_storage', 'Storage: group commits (batches, lingers, synced batches, write requests and operations they carried), duplicate request ids, expired request ids swept, corrupt change-log entries, object reads inline and through the thread pool, inline read budget exceeded', () => ({
    commitBatches: storage.stats.commits.batches,
    commitLingers: storage.stats.commits.lingers,
    commitSyncedBatches: storage.stats.commits.syncedBatches,
    commitRequests: storage.stats.commits.requests,
    commitOperations: storage.stats.commits.operations,
    duplicateRequests: storage.stats.duplicateRequests,
    expiredRequestsSwept: storage.stats.expiredRequestsSwept,
    corruptedLogEntries: storage.stats.corruptedLogEntries,
    hintsDropped: storage.stats.hints.dropped,
    ...storage.stats.objectReads,
  }))
  const api = new ApiServer(
    {
      request: (request) => runtime.request(request),
      transportStats: () => transport.stats(),
      eventLoopLagMs: () => runtime.peekEventLoopLagMs(),
    },
    metrics,
    // The HTTP edge enforces the same limits the node was configured with (--max-value-bytes, --n, ...).
    apiOptionsFromConfig(config),
  )
  const listening = await api.listen(http.host, http.port)
  const httpAddress = `${listening.address}:${listening.port}`
  logger.log('info', 'node-started', { id, generation, cluster: transport.localAddress, http: httpAddress, seed, preset: options.preset })

  let resolveStopped: () => void = () => {}
  const stopped = new Promise<void>((resolve) => (resolveStopped = resolve))
  let stopping: Promise<void> | null = null
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      clearInterval(leaveWatch)
      faults?.dispose()
      logger.log('info', 'node-stopping', { id })
      await runtime.request({ kind: 'leave' })
      const deadline = Date.now() + LEAVE_DEADLINE_MS
      while (!node.membership.isLeaveDisseminated() && Date.now() < deadline) await new Promise((wake) => setTimeout(wake, 20))
      await api.close()
      await runtime.stop()
      await storage.close()
      logger.log('info', 'node-stopped', { id })
      resolveStopped()
    })()
    return stopping
  }
  // A graceful leave (POST /cluster/leave) gossips `left` once its partitions are handed off: then shut down.
  const leaveWatch = setInterval(() => {
    if (node.membership.isLeaveDisseminated()) void stop()
  }, LEAVE_POLL_MS)
  leaveWatch.unref()
  if (options.handleSignals !== false) installSignalHandlers(stop)
  return { id, generation, clusterAddress: transport.localAddress, httpAddress, stopped, stop }
}

/**
 * The fault-injecting wrapper, when configured (see the header): null on a production node. With
 * `faultInjection` it also installs the SIGUSR2 handler that re-reads `<data>/faults.json`.
 */
function wrapWithFaults(
  inner: Transport,
  config: NodeConfig,
  where: { readonly dataDir: string; readonly authenticated: boolean },
  logger: JsonLogger,
): { transport: FaultInjectingTransport; dispose: () => void } | null {
  const configured: FaultSettings = { delayMs: config.faultDelayMs, delayJitterMs: config.faultDelayJitterMs, duplicateRate: config.faultDuplicateRate }
  if (!config.faultInjection && !faultsActive(configured)) return null
  // Math.random is fine here: this is the shell, and a chaos run is not meant to replay byte for byte.
  const limits = { maxDatagramBytes: config.maxDatagramBytes, authenticated: where.authenticated }
  const transport = new FaultInjectingTransport(inner, { random: Math.random }, limits, configured)
  logger.log('warn', 'fault-injection.enabled', { ...configured, signal: config.faultInjection ? 'SIGUSR2' : 'none' })
  if (!config.faultInjection) return { transport, dispose: () => {} }
  const path = join(where.dataDir, 'faults.json')
  const reload = (): void => {
    const settings = readFaultFile(path, configured)
    if (typeof settings === 'string') return logger.log('error', 'fault-injection.bad-file', { path, problem: settings })
    transport.configure(settings)
    logger.log('warn', 'fault-injection.configured', { ...settings, ...transport.counters })
  }
  process.on('SIGUSR2', reload)
  return { transport, dispose: () => process.off('SIGUSR2', reload) }
}

/** The settings in the fault file, the configured ones when it is absent, or a problem as a string. */
function readFaultFile(path: string, fallback: FaultSettings): FaultSettings | string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return fallback
  }
  try {
    const parsed = JSON.parse(text) as Partial<Record<keyof FaultSettings, unknown>>
    const settings: FaultSettings = {
      delayMs: Number(parsed.delayMs ?? 0),
      delayJitterMs: Number(parsed.delayJitterMs ?? 0),
      duplicateRate: Number(parsed.duplicateRate ?? 0),
    }
    const problems = validateFaultSettings(settings)
    return problems.length === 0 ? settings : problems.join('; ')
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  }
}

/** The metadata the core persisted (ownership table, bucket props), read before the Node is built. */
async function readRestoredMeta(storage: StorageEngine): Promise<Map<string, Uint8Array>> {
  const meta = new Map<string, Uint8Array>()
  for (const name of restoredMetaNames) {
    const result = await storage.read({ kind: 'get-meta', name })
    if (result.kind === 'meta' && result.value !== null) meta.set(name, result.value)
  }
  return meta
}

async function readSecret(path: string): Promise<Uint8Array> {
  const text = (await readFile(path, 'utf8')).trim()
  if (text.length < 16) throw new Error(`cluster secret in ${path} must be at least 16 characters`)
  return new TextEncoder().encode(text)
}

function installSignalHandlers(stop: () => Promise<void>): void {
  let signalled = false
  const onSignal = (): void => {
    if (signalled) process.exit(1)
    signalled = true
    void stop().then(() => process.exit(0))
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
}
