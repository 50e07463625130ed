/**
 * Five `chorus start --preset test` processes on loopback (issue 6): quorum writes and reads through every node;
 * with one node SIGKILLed, w=quorum writes still succeed (the two other replicas, or a fallback standing in), and
 * once the node is back it holds, in its own copy, every write it missed while down: the hints, the change-log
 * catch-up and anti-entropy brought them. Its own copy is read at r=1 through itself, which asks only this node
 * (speculation is off in this cluster, so no other replica is asked). Every wait polls with a
 * deadline; the harness kills the processes and removes the data directories.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { partitionOf } from '../../src/core/partitioning/key-hash.ts'
import { ChorusCluster, stateIn } from '../../scripts/lib/process-cluster.ts'
import type { ClusterNode } from '../../scripts/lib/process-cluster.ts'
import { pollUntil } from '../../scripts/lib/poll.ts'
import { request } from './node-http.ts'
import type { Answer } from './node-http.ts'

const SIZE = 5
const START_DEADLINE_MS = 60_000
const SETTLE_DEADLINE_MS = 30_000
const BUCKET = 'kv-five'

interface Partitions {
  readonly partitions: number
  readonly owners: readonly (readonly string[])[]
}

const put = (node: ClusterNode, key: string, value: string): Promise<Answer> =>
  request(node, 'PUT', `/buckets/${BUCKET}/keys/${encodeURIComponent(key)}?w=quorum`, value)
const get = (node: ClusterNode, key: string, r: string): Promise<Answer> =>
  request(node, 'GET', `/buckets/${BUCKET}/keys/${encodeURIComponent(key)}?r=${r}`)

async function partitionsOf(node: ClusterNode): Promise<Partitions | null> {
  const answer = await request(node, 'GET', '/cluster/partitions')
  return answer.status === 200 ? (JSON.parse(answer.body) as Partitions) : null
}

describe('replication with five real processes on loopback', () => {
  let cluster: ChorusCluster

  beforeAll(async () => {
    // Reads never speculate here, so a read at r=1 through a replica is answered by that replica's own copy alone.
    cluster = await ChorusCluster.start({ size: SIZE, preset: 'test', healthDeadlineMs: START_DEADLINE_MS, extraFlags: ['--read-speculation-ms', '600000'] })
    const ids = cluster.nodes.map((node) => node.id)
    await pollUntil(async () => {
      const tables = await Promise.all(cluster.nodes.map(partitionsOf))
      return tables.every((table) => table !== null && new Set(table.owners.flat()).size === SIZE && ids.every((id) => table.owners.flat().includes(id)))
        ? true : undefined
    }, { deadlineMs: SETTLE_DEADLINE_MS, intervalMs: 200, what: 'every node holding a table of all five' })
  }, START_DEADLINE_MS + SETTLE_DEADLINE_MS)

  afterAll(async () => {
    await cluster?.close()
  })

  it('reads at r=quorum see writes at w=quorum, through every node', async () => {
    for (let i = 0; i < 25; i++) {
      expect((await put(cluster.node(i % SIZE), `q-${i}`, `value-${i}`)).status).toBe(204)
      expect(await get(cluster.node((i + 2) % SIZE), `q-${i}`, 'quorum')).toEqual({ status: 200, body: `value-${i}` })
    }
  }, 30_000)

  it('keeps taking w=quorum writes with a node SIGKILLed, and the node holds them itself once it is back', async () => {
    const victim = cluster.node(SIZE - 1)
    const live = cluster.nodes.slice(0, SIZE - 1)
    await cluster.kill(victim.index)
    const written = new Map<string, string>()
    for (let i = 0; i < 60; i++) {
      const key = `down-${i}`
      // The first writes may still name the victim as a live primary; a failed one is retried, as a client would.
      const answer = await pollUntil(async () => {
        const attempt = await put(live[i % live.length] as ClusterNode, key, `v-${i}`)
        return attempt.status === 204 ? attempt : undefined
      }, { deadlineMs: 10_000, intervalMs: 100, what: `a w=quorum write of ${key}` })
      expect(answer.status).toBe(204)
      written.set(key, `v-${i}`)
    }

    await cluster.restart(victim.index, START_DEADLINE_MS)
    await cluster.waitForViews((views) => views.every((view) => stateIn(view, victim.id)?.state === 'alive'), SETTLE_DEADLINE_MS, `${victim.id} alive again`)
    const table = await partitionsOf(victim)
    expect(table).not.toBeNull()
    const owned = [...written].filter(([key]) => table?.owners[partitionOf(BUCKET, key, table.partitions)]?.includes(victim.id))
    expect(owned.length).toBeGreaterThan(10)
    for (const [key, value] of owned) {
      await pollUntil(async () => {
        const read = await get(victim, key, '1')
        return read.status === 200 && read.body === value ? true : undefined
      }, { deadlineMs: SETTLE_DEADLINE_MS, intervalMs: 200, what: `${victim.id}'s own copy of ${key}` })
    }
  }, 180_000)
})
