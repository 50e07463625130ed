/**
 * A key-value workload for the simulator: a few concurrent clients on a few keys of one `siblings` bucket, each in
 * a closed loop (one request at a time, a seeded think time between them), against random nodes:
 *
 *   read-modify-write  read, then put a new value (or delete) with the read's context: must replace exactly that
 *   blind write        put with no context: concurrent with everything, makes siblings
 *   read               a read at a random r (and sometimes pr)
 *
 * Writes carry X-Request-Id, and a failed write is sometimes retried with the same id (idempotency). Quorums vary
 * per request. After `endMs` the clients stop; `finalReadAtMs` every node reads every key at r=all, which is what
 * the checker compares (invariants 1 and 2 of DESIGN.md section 9; kv-checker.ts).
 *
 * Requests go through the cluster like HTTP would: a down node fails the request at once.
 */
import { assert } from '../core/primitives/assert.ts'
import type { QuorumSetting } from '../core/node/node-config.ts'
import { resolveQuorum } from '../core/node/node-config.ts'
import type { Millis, RequestId } from '../core/primitives/ids.ts'
import type { Random } from '../core/primitives/random.ts'
import { decodeCausalContext } from '../core/versioning/causal-context.ts'
import type { VersionVector } from '../core/versioning/version-vector.ts'
import { KvHistory } from './kv-history.ts'
import type { KvRead } from './kv-history.ts'
import type { ClientOutcome, SimNode } from './sim-node.ts'
import type { World } from './world.ts'

export interface KvWorkloadOptions {
  readonly bucket: string
  readonly clients: number
  readonly keys: number
  readonly startMs: Millis
  /** No new request starts after this. */
  readonly endMs: Millis
  readonly finalReadAtMs: Millis
  /** A failed final read is retried this often until the deadline. */
  readonly finalRetryMs: Millis
  readonly finalDeadlineMs: Millis
  readonly minThinkMs: Millis
  readonly maxThinkMs: Millis
  /** Bucket n: quorums resolve against it. */
  readonly n: number
  /** Chance that a failed write is sent again with the same request id. */
  readonly retryProbability: number
  /** Nodes that make no final reads (a node that left the cluster and exited). */
  readonly noFinalReads?: readonly string[]
  /**
   * Keys `p0..` written once each (a blind put) at `preloadAtMs` and never again, then only read: unlike the hot
   * keys, nothing later covers them, so an acknowledged value that moves between owners must survive the move.
   */
  readonly preloadKeys?: number
  readonly preloadAtMs?: Millis
}

export const defaultKvWorkloadOptions: KvWorkloadOptions = {
  bucket: 'kv',
  clients: 4,
  keys: 3,
  startMs: 1_500,
  endMs: 7_000,
  finalReadAtMs: 10_000,
  finalRetryMs: 200,
  finalDeadlineMs: 14_000,
  minThinkMs: 5,
  maxThinkMs: 80,
  n: 3,
  retryProbability: 0.3,
}

const quorums: readonly QuorumSetting[] = ['quorum', 'quorum', 'quorum', 'one', 'all']
const encoder = new TextEncoder()
const decoder = new TextDecoder()

export class KvWorkload {
  readonly history = new KvHistory()
  private readonly waiting = new Map<RequestId, (outcome: ClientOutcome) => void>()
  private nextSeq = 1
  readonly stats = { reads: 0, writes: 0, retries: 0, okWrites: 0, failedWrites: 0 }

  constructor(private readonly world: World, private readonly random: Random, readonly options: KvWorkloadOptions = defaultKvWorkloadOptions) {
    assert(options.clients > 0 && options.keys > 0, 'the kv workload needs clients and keys')
    world.cluster.addObserver({
      onClientOutcome: (_node, requestId, outcome) => {
        const handler = this.waiting.get(requestId)
        if (handler === undefined) return
        this.waiting.delete(requestId)
        handler(outcome)
      },
    })
  }

  /** Schedules every client's loop and the final reads. */
  schedule(): void {
    for (let client = 0; client < this.options.clients; client++) {
      this.world.scheduler.at(this.options.startMs + this.random.nextInt(50), () => this.next(client))
    }
    this.world.scheduler.at(this.options.finalReadAtMs, () => this.finalReads())
    const preload = this.options.preloadKeys ?? 0
    if (preload > 0) this.world.scheduler.at(this.options.preloadAtMs ?? this.options.startMs, () => this.preload(preload))
  }

  private preload(count: number): void {
    for (let i = 0; i < count; i++) this.write(-2, `p${i}`, 'put', null, new Set(), () => {})
  }

  /** Every request answered (or failed): the final reads have all completed once this is true after them. */
  get idle(): boolean {
    return this.waiting.size === 0
  }

  private next(client: number): void {
    if (this.world.nowMs >= this.options.endMs) return
    const key = `k${this.random.nextInt(this.options.keys)}`
    const dice = this.random.nextFloat()
    const done = (): void => this.world.schedule(this.think(), () => this.next(client))
    if (dice < 0.45) this.readModifyWrite(client, key, done)
    else if (dice < 0.7) this.write(client, key, 'put', null, new Set(), done)
    else this.read(client, this.maybePreloaded(key), false, this.node(), 'quorum', () => done())
  }

  /** Half the plain reads go to a preloaded key, when there are any (no random draw otherwise: seeds stay as they were). */
  private maybePreloaded(key: string): string {
    const preload = this.options.preloadKeys ?? 0
    if (preload === 0 || this.random.nextFloat() < 0.5) return key
    return `p${this.random.nextInt(preload)}`
  }

  private readModifyWrite(client: number, key: string, done: () => void): void {
    this.read(client, key, false, this.node(), this.pick(quorums), (read) => {
      if (read.outcome !== 'ok') return done()
      const decoded = decodeCausalContext(read.context)
      assert(decoded.kind === 'decoded', () => `a read answered an undecodable context: ${read.context}`)
      const kind = this.random.nextFloat() < 0.2 ? 'delete' : 'put'
      // The whole context goes back, as an HTTP client sends X-Context: its vector and the write ids it names.
      this.write(client, key, kind, decoded.context, new Set(read.values), done, decoded.writeIds)
    })
  }

  private read(client: number, key: string, final: boolean, node: SimNode, r: QuorumSetting, done: (read: KvRead) => void): void {
    // Final reads ask every primary (pr=all): r=all alone would accept a fallback for a primary that this
    // node still thinks is down, and then two nodes could legitimately read different replica sets.
    // Preloaded keys are always read at pr=quorum, so the checker holds every such read to invariant 1.
    const pr: QuorumSetting | null = final ? 'all' : this.random.nextFloat() < 0.25 || key.startsWith('p') ? 'quorum' : null
    const read = this.history.addRead({
      client, key, node: node.id, r: String(r), pr: pr === null ? 0 : resolveQuorum(pr, this.options.n), invokedAtMs: this.world.nowMs, final,
    })
    this.stats.reads++
    const request = { kind: 'get' as const, bucket: this.options.bucket, key, r, ...(pr === null ? {} : { pr }) }
    this.send(node, request, (outcome) => {
      read.completedAtMs = this.world.nowMs
      const response = outcome.kind === 'response' ? outcome.response : null
      if (response?.kind === 'object') {
        read.outcome = 'ok'
        read.values = response.siblings.map((s) => decoder.decode(s.value))
        read.deleted = response.deleted
        read.context = response.context
      } else {
        read.outcome = 'indeterminate'
      }
      done(read)
    })
  }

  private write(client: number, key: string, kind: 'put' | 'delete', context: VersionVector | null, covers: ReadonlySet<string>, done: () => void, seenWriteIds: readonly string[] = []): void {
    const seq = this.nextSeq++
    const value = kind === 'put' ? `c${client}-${seq}` : null
    const w = this.pick(quorums)
    const usePw = this.random.nextFloat() < 0.25 || key.startsWith('p')
    const write = this.history.addWrite({
      client, key, kind, value, covers, w: String(w), pw: usePw ? resolveQuorum('quorum', this.options.n) : 0, invokedAtMs: this.world.nowMs,
    })
    this.stats.writes++
    const clientRequestId = `c${client}-r${seq}`
    const base = {
      bucket: this.options.bucket, key, context, clientRequestId, w, ...(usePw ? { pw: 'quorum' as const } : {}),
      ...(seenWriteIds.length === 0 ? {} : { seenWriteIds }),
    }
    const request = kind === 'put'
      ? { kind: 'put' as const, ...base, value: encoder.encode(value ?? ''), contentType: 'text/plain', returnBody: this.random.nextFloat() < 0.2 }
      : { kind: 'delete' as const, ...base }
    const attempt = (retry: boolean): void => this.send(this.node(), request, (outcome) => {
      const ok = outcome.kind === 'response' && (outcome.response.kind === 'written' || outcome.response.kind === 'object')
      if (!ok && !retry && this.random.nextFloat() < this.options.retryProbability && this.world.nowMs < this.options.endMs) {
        write.retried = true
        this.stats.retries++
        return attempt(true)
      }
      write.completedAtMs = this.world.nowMs
      write.outcome = ok ? 'ok' : 'indeterminate'
      if (ok) this.stats.okWrites++
      else this.stats.failedWrites++
      done()
    })
    attempt(false)
  }

  /**
   * Every node reads every key at r=all, pr=all. Membership may still be settling after the last heal (a member seen as
   * suspect is not asked, so r=all is unavailable there), so a failed final read is retried every
   * `finalRetryMs` until `finalDeadlineMs`: polling with a deadline, not sleeping and hoping.
   */
  private finalReads(): void {
    for (let k = 0; k < this.options.keys; k++) {
      for (const node of this.world.cluster.nodes) {
        if (!(this.options.noFinalReads ?? []).includes(node.id)) this.finalRead(`k${k}`, node)
      }
    }
    for (let p = 0; p < (this.options.preloadKeys ?? 0); p++) {
      for (const node of this.world.cluster.nodes) {
        if (!(this.options.noFinalReads ?? []).includes(node.id)) this.finalRead(`p${p}`, node)
      }
    }
  }

  private finalRead(key: string, node: SimNode): void {
    this.read(-1, key, true, node, 'all', (read) => {
      if (read.outcome === 'ok' || this.world.nowMs + this.options.finalRetryMs > this.options.finalDeadlineMs) return
      this.world.schedule(this.options.finalRetryMs, () => this.finalRead(key, node))
    })
  }

  private send(node: SimNode, request: Parameters<World['clientRequest']>[1], done: (outcome: ClientOutcome) => void): void {
    const requestId = this.world.clientRequest(node.id, request)
    this.waiting.set(requestId, done)
  }

  private node(): SimNode {
    const nodes = this.world.cluster.nodes
    return nodes[this.random.nextInt(nodes.length)] as SimNode
  }

  private think(): Millis {
    const { minThinkMs, maxThinkMs } = this.options
    return minThinkMs + this.random.nextInt(Math.max(1, maxThinkMs - minThinkMs))
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.random.nextInt(items.length)] as T
  }
}

