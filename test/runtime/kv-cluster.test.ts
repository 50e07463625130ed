/**
 * The data path with real processes on loopback (issue 6): three `chorus start --preset test` nodes; w=all fails
 * with 503 `unavailable` while a replica is SIGKILLed and w=quorum still succeeds; a quorum read after a quorum
 * write sees it; a fourth node joining under a write load receives its partitions (ownership handoff) and nothing
 * acknowledged is lost; a node leaving with POST /cluster/leave hands its partitions off, gossips `left` and
 * exits. Every wait polls with a deadline; the harness kills the processes and removes the data directories.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChorusCluster, stateIn } from '../../scripts/lib/process-cluster.ts'
import type { ClusterNode } from '../../scripts/lib/process-cluster.ts'
import { pollUntil } from '../../scripts/lib/poll.ts'
import { request } from './node-http.ts'
import type { Answer } from './node-http.ts'

const START_DEADLINE_MS = 40_000
const SETTLE_DEADLINE_MS = 20_000
const BUCKET = 'kv-cluster'

const put = (node: ClusterNode, key: string, value: string, w: string): Promise<Answer> =>
  request(node, 'PUT', `/buckets/${BUCKET}/keys/${encodeURIComponent(key)}?w=${w}`, value)
const get = (node: ClusterNode, key: string, r: string): Promise<Answer> =>
  request(node, 'GET', `/buckets/${BUCKET}/keys/${encodeURIComponent(key)}?r=${r}`)

/** Every listed node's ownership table names exactly `ids`. */
async function tablesName(nodes: readonly ClusterNode[], ids: readonly string[]): Promise<boolean> {
  const answers = await Promise.all(nodes.map((node) => request(node, 'GET', '/cluster/partitions')))
  return answers.every((answer) => {
    if (answer.status !== 200) return false
    const owners = new Set((JSON.parse(answer.body) as { owners: string[][] }).owners.flat())
    return owners.size === ids.length && ids.every((id) => owners.has(id))
  })
}

/** One `chorus_handoff{counter=…}` value from a node's /metrics; null when unreadable. */
async function handoffMetric(node: ClusterNode, counter: string): Promise<number | null> {
  const answer = await request(node, 'GET', '/metrics')
  const line = answer.body.split('\n').find((l) => l.startsWith('chorus_handoff{') && l.includes(`counter="${counter}"`))
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** Reads every acknowledged key at r=all through `node` and returns the ones that do not hold their value. */
async function missingAtReadAll(node: ClusterNode, acknowledged: ReadonlyMap<string, string>): Promise<string[]> {
  const missing: string[] = []
  for (const [key, value] of acknowledged) {
    // r=all may meet a member still settling; poll each key to a deadline rather than fail on one 503.
    const answer = await pollUntil(async () => {
      const read = await get(node, key, 'all')
      return read.status === 503 || read.status === 0 ? undefined : read
    }, { deadlineMs: 10_000, intervalMs: 100, what: `r=all read of ${key} through ${node.id}` })
    if (answer.status !== 200 || answer.body !== value) missing.push(`${key}: ${answer.status} ${answer.body.slice(0, 80)}`)
  }
  return missing
}

/** Writers in a closed loop on fresh keys at w=quorum through the given nodes; records what was acknowledged. */
class WriteLoad {
  readonly acknowledged = new Map<string, string>()
  private running = true
  private readonly loops: Promise<void>[]
  failures = 0

  constructor(nodes: () => readonly ClusterNode[], prefix: string, writers: number) {
    this.loops = Array.from({ length: writers }, (_, writer) => this.loop(nodes, `${prefix}-${writer}`))
  }

  private async loop(nodes: () => readonly ClusterNode[], prefix: string): Promise<void> {
    for (let i = 0; this.running; i++) {
      const targets = nodes()
      const key = `${prefix}-${i}`
      const value = `v-${key}`
      const answer = await put(targets[i % targets.length] as ClusterNode, key, value, 'quorum')
      if (answer.status === 204) this.acknowledged.set(key, value)
      else this.failures++
    }
  }

  async stop(): Promise<void> {
    this.running = false
    await Promise.all(this.loops)
  }
}

describe('replication with real processes on loopback', () => {
  let cluster: ChorusCluster

  beforeAll(async () => {
    cluster = await ChorusCluster.start({ size: 3, preset: 'test', healthDeadlineMs: START_DEADLINE_MS })
    await pollUntil(async () => ((await tablesName(cluster.nodes, ['node-1', 'node-2', 'node-3'])) ? true : undefined),
      { deadlineMs: SETTLE_DEADLINE_MS, intervalMs: 100, what: 'every node holding a table of all three' })
  }, START_DEADLINE_MS + SETTLE_DEADLINE_MS)

  afterAll(async () => {
    await cluster?.close()
  })

  it('a read at r=quorum after a write at w=quorum sees it, through any node', async () => {
    for (let i = 0; i < 10; i++) {
      const written = await put(cluster.node(i % 3), `rq-${i}`, `value-${i}`, 'quorum')
      expect(written.status).toBe(204)
      const read = await get(cluster.node((i + 1) % 3), `rq-${i}`, 'quorum')
      expect(read).toEqual({ status: 200, body: `value-${i}` })
    }
  }, 20_000)

  it('w=all fails with 503 unavailable while a replica is SIGKILLed, and w=quorum succeeds', async () => {
    const victim = cluster.node(2)
    await cluster.kill(victim.index)
    const refused = await pollUntil(async () => {
      const answer = await put(cluster.node(0), 'w-all', 'x', 'all')
      return answer.status === 503 && answer.body.includes('"unavailable"') ? answer : undefined
    }, { deadlineMs: 10_000, intervalMs: 100, what: 'a w=all PUT answered 503 unavailable' })
    const body = JSON.parse(refused.body) as { error: string; required?: number; acknowledged?: number }
    expect(body.error).toBe('unavailable')
    expect(body.required).toBe(3)
    expect(body.acknowledged).toBeLessThan(3)
    expect((await put(cluster.node(0), 'w-quorum', 'y', 'quorum')).status).toBe(204)
    expect(await get(cluster.node(1), 'w-quorum', 'quorum')).toEqual({ status: 200, body: 'y' })

    await cluster.restart(victim.index, START_DEADLINE_MS)
    await cluster.waitForViews((views) => views.every((view) => stateIn(view, victim.id)?.state === 'alive'), SETTLE_DEADLINE_MS, `${victim.id} alive again`)
  }, 10_000 + START_DEADLINE_MS + SETTLE_DEADLINE_MS)

  it('a fourth node joining under load receives its partitions, and nothing acknowledged is lost', async () => {
    const load = new WriteLoad(() => cluster.nodes.slice(0, 3), 'join', 4)
    await pollUntil(() => (load.acknowledged.size >= 40 ? true : undefined), { deadlineMs: 10_000, what: '40 writes before the join' })
    const joiner = await cluster.addNode(START_DEADLINE_MS)
    const ids = ['node-1', 'node-2', 'node-3', 'node-4']
    await pollUntil(async () => ((await tablesName(cluster.nodes, ids)) ? true : undefined),
      { deadlineMs: SETTLE_DEADLINE_MS, intervalMs: 100, what: 'every node holding a table of all four' })
    await pollUntil(async () => {
      const received = await handoffMetric(joiner, 'partitionsReceived')
      const pending = await handoffMetric(joiner, 'pendingIncoming')
      return received !== null && received > 0 && pending === 0 ? true : undefined
    }, { deadlineMs: SETTLE_DEADLINE_MS, intervalMs: 200, what: `${joiner.id} holding every partition it gained` })
    const keysReceived = await handoffMetric(joiner, 'keysReceived')
    await load.stop()
    console.log(`join: ${load.acknowledged.size} writes acknowledged (${load.failures} failed) during the join; ${joiner.id} received ${keysReceived} keys`)
    expect(keysReceived).toBeGreaterThan(0)
    expect(await missingAtReadAll(joiner, load.acknowledged)).toEqual([])
  }, START_DEADLINE_MS + 3 * SETTLE_DEADLINE_MS)

  it('a node leaving hands its partitions off, gossips left and exits', async () => {
    const leaver = cluster.node(1)
    const stay = [cluster.node(0), cluster.node(2), cluster.node(3)]
    const load = new WriteLoad(() => stay, 'leave', 2)
    await pollUntil(() => (load.acknowledged.size >= 20 ? true : undefined), { deadlineMs: 10_000, what: '20 writes before the leave' })
    expect((await request(leaver, 'POST', '/cluster/leave')).status).toBe(202)
    await pollUntil(() => (leaver.process.state === 'exited' ? true : undefined),
      { deadlineMs: SETTLE_DEADLINE_MS, intervalMs: 100, what: `${leaver.id} to hand off and exit` })
    await load.stop()
    expect(await tablesName(stay, ['node-1', 'node-3', 'node-4'])).toBe(true)
    await cluster.waitForViews((views) => views.every((view, i) => i === leaver.index || stateIn(view, leaver.id)?.state === 'left'), SETTLE_DEADLINE_MS, `${leaver.id} left everywhere`)
    const everything = new Map([...load.acknowledged, ...Array.from({ length: 10 }, (_, i): [string, string] => [`rq-${i}`, `value-${i}`])])
    expect(await missingAtReadAll(cluster.node(0), everything)).toEqual([])
  }, 10_000 + 3 * SETTLE_DEADLINE_MS)
})
