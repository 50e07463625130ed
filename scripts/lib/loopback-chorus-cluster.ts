/**
 * A small cluster of `chorus start` processes on 127.0.0.1 with consecutive ports (cluster traffic on
 * clusterPortBase+i, HTTP on httpPortBase+i), for benchmarks that should look like `chorus dev`. process-cluster.ts
 * gives each node its own 127.x.y.z host and one shared port instead; this file reuses its building blocks
 * (ManagedProcess, the cleanup registry, pollUntil) but not its addressing.
 *
 * Ready means more than healthy: every node answers /cluster/partitions, sees every node alive, and holds the
 * same ownership table in which each partition has N distinct owners. Before that, a benchmark would measure
 * join-time forwarding and fallbacks rather than the steady data path.
 */
import type { Member } from '../../src/api/client.ts'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { registerCleanup } from './cleanup-registry.ts'
import { ManagedProcess } from './managed-process.ts'
import { pollUntil } from './poll.ts'

const chorusBin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/chorus.js')

export interface LoopbackClusterOptions {
  readonly size: number
  readonly clusterPortBase: number
  readonly httpPortBase: number
  readonly preset: 'lan' | 'local' | 'test'
  /** Node.js flags for node i (0-based), e.g. ['--cpu-prof', '--cpu-prof-dir=DIR'] on one node to profile it. */
  readonly nodeFlags?: (index: number) => readonly string[]
  /** Further `chorus start` flags for every node, e.g. ['--sync-writes', 'false'] to see what fsync costs. */
  readonly extraFlags?: readonly string[]
  /** Every node must be ready within this long of the spawn. */
  readonly readyDeadlineMs: number
  /** The `bin/chorus.js` to run: another checkout's, to compare two versions (chorus-ab.ts). Default: this one's. */
  readonly chorusBin?: string
}

export interface LoopbackNode {
  readonly id: string
  readonly http: string
  readonly process: ManagedProcess
}


interface PartitionsView {
  readonly partitions: number
  readonly version: unknown
  readonly owners: readonly (readonly string[])[]
}

/** A poll of one node gives up after this, so one slow node cannot stall a round for long. */
const POLL_TIMEOUT_MS = 1_000

export class LoopbackChorusCluster {
  readonly nodes: LoopbackNode[] = []
  readonly rootDir: string
  private readonly dropRootDir: () => void

  private constructor(private readonly options: LoopbackClusterOptions) {
    this.rootDir = mkdtempSync(join(tmpdir(), 'chorus-bench-'))
    const root = this.rootDir
    this.dropRootDir = registerCleanup(`directory ${root}`, () => rmSync(root, { recursive: true, force: true }))
  }

  static async start(options: LoopbackClusterOptions): Promise<LoopbackChorusCluster> {
    const cluster = new LoopbackChorusCluster(options)
    try {
      for (let index = 0; index < options.size; index++) cluster.nodes.push(cluster.spawn(index))
      await cluster.waitReady()
      return cluster
    } catch (error) {
      await cluster.close()
      throw error
    }
  }

  /** SIGTERM first so a node under --cpu-prof can write its profile, then SIGKILL after the grace period. */
  async close(graceMs = 5_000): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.terminate(graceMs)))
    this.dropRootDir()
  }

  private spawn(index: number): LoopbackNode {
    const id = `node-${index + 1}`
    const http = `127.0.0.1:${this.options.httpPortBase + index}`
    // Every node but the first joins through the first; the first is told about the second so that it does
    // not sit alone if it comes up last.
    const seeds = [0, 1].filter((seed) => seed !== index && seed < this.options.size).map((seed) => `127.0.0.1:${this.options.clusterPortBase + seed}`)
    const args = [
      ...(this.options.nodeFlags?.(index) ?? []),
      this.options.chorusBin ?? chorusBin, 'start', '--id', id,
      '--data', join(this.rootDir, id),
      '--bind', `127.0.0.1:${this.options.clusterPortBase + index}`,
      '--http', http,
      '--preset', this.options.preset,
      '--log-level', 'warn',
      ...(seeds.length === 0 ? [] : ['--seeds', seeds.join(',')]),
      ...(this.options.extraFlags ?? []),
    ]
    const child = new ManagedProcess({ label: id, command: process.execPath, args, keepLines: 100 })
    return { id, http, process: child }
  }

  private async waitReady(): Promise<void> {
    let last = 'nothing yet'
    await pollUntil(
      async () => {
        for (const node of this.nodes) {
          if (node.process.state === 'exited') {
            throw new Error(`${node.id} exited before the cluster was ready:\n${node.process.recentOutput().slice(-10).join('\n')}`)
          }
        }
        const verdicts = await Promise.all(this.nodes.map((node) => this.nodeReady(node)))
        last = verdicts.join('; ')
        const tables = new Set(verdicts)
        return verdicts.every((verdict) => verdict.startsWith('ready')) && tables.size === 1 ? true : undefined
      },
      { deadlineMs: this.options.readyDeadlineMs, intervalMs: 250, what: 'every node ready (partitions 200, all alive, one full table)' },
      () => last,
    )
  }

  /**
   * Waits until start-up catch-up has settled on every node: a fresh node queues a change-log catch-up job per
   * peer and shared partition as it sees each peer come up (change-log-catch-up.ts), and a benchmark that starts
   * its load while those run measures start-up work, not the steady state. Jobs are queued as partitions become
   * ready, so "none pending" alone is not enough: settled = every node has queued at least one job per peer and
   * partition the two share in the ownership table, and none is pending, twice in a row. Returns false when the
   * deadline passes first (the caller says so).
   */
  async waitForCatchUp(deadlineMs: number): Promise<boolean> {
    let settledPolls = 0
    const giveUpAt = Date.now() + deadlineMs
    while (Date.now() < giveUpAt) {
      const table = await getJson<PartitionsView>(`http://${this.nodes[0]?.http ?? ''}/cluster/partitions`)
      const states = await Promise.all(this.nodes.map((node) => catchUpState(node)))
      const settled =
        table !== undefined &&
        states.every((state, index) => state !== undefined && state.pending === 0 && state.jobs >= sharedPartitions(table, this.nodes[index]?.id ?? ''))
      settledPolls = settled ? settledPolls + 1 : 0
      if (settledPolls >= 2) return true
      await new Promise((wake) => setTimeout(wake, 250))
    }
    return false
  }

  /** 'ready v=…' when this node sees every member alive and a full table, otherwise why not. */
  private async nodeReady(node: LoopbackNode): Promise<string> {
    const partitions = await getJson<PartitionsView>(`http://${node.http}/cluster/partitions`)
    if (partitions === undefined) return `${node.id}: no /cluster/partitions`
    const members = await getJson<Member[]>(`http://${node.http}/cluster/members`)
    if (members === undefined) return `${node.id}: no /cluster/members`
    const alive = members.filter((member) => member.state === 'alive').length
    if (alive !== this.options.size) return `${node.id}: ${alive} alive`
    const replicas = Math.min(3, this.options.size)
    const full = partitions.owners.length === partitions.partitions && partitions.owners.every((owners) => new Set(owners).size >= replicas)
    return full ? `ready v=${JSON.stringify(partitions.version)}` : `${node.id}: table v=${JSON.stringify(partitions.version)} not full`
  }
}

/** Over every peer, the partitions that `id` and the peer both own: one catch-up job each when the peer comes up. */
function sharedPartitions(table: PartitionsView, id: string): number {
  let shared = 0
  for (const owners of table.owners) if (owners.includes(id)) shared += new Set(owners).size - 1
  return shared
}

/** Catch-up jobs queued and not yet finished on a node, from its /metrics; undefined if it did not answer. */
async function catchUpState(node: LoopbackNode): Promise<{ jobs: number; pending: number } | undefined> {
  try {
    const response = await fetch(`http://${node.http}/metrics`, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) })
    if (!response.ok) return undefined
    const text = await response.text()
    const counter = (name: string): number => Number(new RegExp(`chorus_anti_entropy\\{counter="${name}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? NaN)
    const jobs = counter('catchUpJobs')
    const pending = jobs - counter('catchUpJobsCompleted') - counter('catchUpJobsFailed')
    return Number.isNaN(pending) ? undefined : { jobs, pending }
  } catch {
    return undefined
  }
}

async function getJson<T>(url: string): Promise<T | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) })
    return response.ok ? ((await response.json()) as T) : undefined
  } catch {
    return undefined
  }
}
