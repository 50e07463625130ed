import { describe, expect, it } from 'vitest'
import type { CommitBatchInfo } from '../../src/storage/commit-queue.ts'
import { CommitQueue, defaultCommitQueueOptions } from '../../src/storage/commit-queue.ts'
import type { KvOperation, KvStore, KvWriteOptions } from '../../src/storage/kv-store.ts'
import { MemoryStore } from '../../src/storage/memory-store.ts'
import { bytes } from './fixtures/stores.ts'

/** A store whose writes complete only when the test says so, to see what the queue does meanwhile. */
class GatedStore extends MemoryStore {
  readonly writes: { operations: number; sync: boolean }[] = []
  private gates: (() => void)[] = []
  failNext = false

  override async write(operations: readonly KvOperation[], options: KvWriteOptions): Promise<void> {
    this.writes.push({ operations: operations.length, sync: options.sync })
    await new Promise<void>((resolve) => this.gates.push(resolve))
    if (this.failNext) throw new Error('disk on fire')
    await super.write(operations, options)
  }

  release(): void {
    for (const gate of this.gates.splice(0)) gate()
  }

  async releaseUntilIdle(queue: CommitQueue): Promise<void> {
    const idle = queue.idle()
    let done = false
    void idle.then(() => (done = true))
    const deadline = Date.now() + 5_000
    while (!done) {
      if (Date.now() > deadline) throw new Error('queue never became idle')
      this.release()
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
}

/** Polls (with a deadline, never a fixed sleep) until the store has been handed `count` writes. */
async function writesReached(store: GatedStore, count: number): Promise<void> {
  const deadline = Date.now() + 5_000
  while (store.writes.length < count) {
    if (Date.now() > deadline) throw new Error(`store saw ${store.writes.length} writes, expected ${count}`)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

const put = (key: string): KvOperation[] => [{ kind: 'put', key: bytes(key), value: bytes(key) }]

describe('commit queue', () => {
  it('gathers writers submitted together into one batch', async () => {
    const store = new GatedStore()
    await store.open()
    const queue = new CommitQueue(store)
    const all = Array.from({ length: 64 }, (_, i) => queue.submit(put(`g${i}`), 'durable'))
    await store.releaseUntilIdle(queue)
    expect(new Set((await Promise.all(all)).map((receipt) => receipt.batchNumber))).toEqual(new Set([1]))
    expect(store.writes).toEqual([{ operations: 64, sync: true }])
  })

  it('drains everything waiting into one synced batch and acks no one before that batch returns', async () => {
    const store = new GatedStore()
    await store.open()
    const committed: CommitBatchInfo[] = []
    const queue = new CommitQueue(store, defaultCommitQueueOptions, { batchCommitted: (info) => committed.push(info) })
    const acked: string[] = []
    const first = queue.submit(put('first'), 'durable').then(() => acked.push('first'))
    await writesReached(store, 1) // batch 1 is now "syncing"; the rest must wait for the next batch
    const rest = Array.from({ length: 63 }, (_, i) => queue.submit(put(`k${i}`), 'durable').then((receipt) => (acked.push(`k${i}`), receipt)))
    await new Promise((resolve) => setImmediate(resolve))
    expect(acked).toEqual([])
    expect(store.writes).toEqual([{ operations: 1, sync: true }])
    await store.releaseUntilIdle(queue)
    await first
    const receipts = await Promise.all(rest)
    expect(store.writes).toEqual([{ operations: 1, sync: true }, { operations: 63, sync: true }])
    expect(receipts.every((receipt) => receipt.batchNumber === 2 && receipt.synced)).toBe(true)
    expect(acked[0]).toBe('first')
    expect(acked.slice(1)).toEqual(Array.from({ length: 63 }, (_, i) => `k${i}`)) // submission order
    expect(queue.stats).toMatchObject({ batches: 2, syncedBatches: 2, requests: 64, largestBatchRequests: 63 })
    expect(committed.map((info) => info.batchNumber)).toEqual([1, 2])
  })

  it('never syncs with syncWrites off (UNSAFE), and syncs a mixed batch if any request is durable', async () => {
    const store = new GatedStore()
    await store.open()
    const unsafeQueue = new CommitQueue(store, { ...defaultCommitQueueOptions, syncWrites: false })
    const done = unsafeQueue.submit(put('a'), 'durable')
    await store.releaseUntilIdle(unsafeQueue)
    expect(await done).toEqual({ batchNumber: 1, synced: false })
    const queue = new CommitQueue(store)
    const all = [queue.submit(put('x'), 'unsafe')]
    await writesReached(store, 2)
    all.push(queue.submit(put('y'), 'unsafe'), queue.submit(put('z'), 'durable'))
    await store.releaseUntilIdle(queue)
    expect((await Promise.all(all)).map((receipt) => receipt.synced)).toEqual([false, true, true])
  })

  it('bounds the queue and the batch size', async () => {
    const store = new GatedStore()
    await store.open()
    const queue = new CommitQueue(store, { ...defaultCommitQueueOptions, maxQueuedRequests: 2, maxBatchOperations: 2 })
    const accepted = [queue.submit(put('1'), 'durable')]
    await writesReached(store, 1)
    accepted.push(queue.submit(put('2'), 'durable'), queue.submit(put('3'), 'durable'))
    await expect(queue.submit(put('4'), 'durable')).rejects.toMatchObject({ code: 'STORAGE_OVERLOADED' })
    await store.releaseUntilIdle(queue)
    await Promise.all(accepted)
    expect(store.writes.map((write) => write.operations)).toEqual([1, 2])
    expect(queue.stats.refusedOverloaded).toBe(1)
  })

  it('fails the batch and refuses everything after a failed write (no retry after a failed fsync)', async () => {
    const store = new GatedStore()
    await store.open()
    const queue = new CommitQueue(store)
    store.failNext = true
    const first = queue.submit(put('a'), 'durable')
    const second = queue.submit(put('b'), 'durable')
    const settled = Promise.allSettled([first, second])
    await store.releaseUntilIdle(queue)
    const [a, b] = await settled
    expect(a).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_FAILED' } })
    expect(b).toMatchObject({ status: 'rejected', reason: { code: 'STORAGE_FAILED' } })
    await expect(queue.submit(put('c'), 'durable')).rejects.toMatchObject({ code: 'STORAGE_FAILED' })
    expect(store.writes.length).toBe(1)
  })

  it('commits what is queued on close and refuses afterwards', async () => {
    const store: KvStore = new MemoryStore()
    await store.open()
    const queue = new CommitQueue(store)
    const pending = queue.submit(put('late'), 'durable')
    await queue.close()
    await pending
    expect(await store.get(bytes('late'))).not.toBeNull()
    await expect(queue.submit(put('after'), 'durable')).rejects.toMatchObject({ code: 'STORAGE_CLOSED' })
  })

  it('submitWith calls back in submission order once the batch returned, refuses in a later microtask, and a throwing callback does not stop the rest', async () => {
    const store = new GatedStore()
    await store.open()
    const queue = new CommitQueue(store, { ...defaultCommitQueueOptions, maxQueuedRequests: 3 })
    const calls: string[] = []
    const uncaught: unknown[] = []
    const onUncaught = (error: unknown): void => void uncaught.push(error)
    process.prependListener('uncaughtException', onUncaught)
    try {
      queue.submitWith(put('a'), 'durable', (error, receipt) => void calls.push(`a:${error?.code ?? receipt?.batchNumber}`))
      await writesReached(store, 1)
      queue.submitWith(put('b'), 'durable', () => {
        calls.push('b')
        throw new Error('a buggy caller')
      })
      queue.submitWith(put('c'), 'durable', (error, receipt) => void calls.push(`c:${error?.code ?? receipt?.batchNumber}`))
      queue.submitWith(put('d'), 'durable', (error, receipt) => void calls.push(`d:${error?.code ?? receipt?.batchNumber}`))
      queue.submitWith(put('e'), 'durable', (error) => void calls.push(`e:${error?.code}`))
      expect(calls).toEqual([]) // nothing synchronously, not even the refusal
      await Promise.resolve()
      expect(calls).toEqual(['e:STORAGE_OVERLOADED'])
      expect(store.writes).toHaveLength(1) // b, c and d wait for batch 1
      await store.releaseUntilIdle(queue)
      await new Promise((resolve) => setImmediate(resolve))
      expect(calls).toEqual(['e:STORAGE_OVERLOADED', 'a:1', 'b', 'c:2', 'd:2'])
      expect(uncaught).toMatchObject([{ message: 'a buggy caller' }])
    } finally {
      process.removeListener('uncaughtException', onUncaught)
    }
  })
})

describe('commit queue lingering under load', () => {
  /** A queue with a hand-moved clock: `commitTakes(ms)` makes the batch being written look that slow. */
  function lingeringQueue(options: { lingerMs: number; lingerUntilRequests?: number }): { store: GatedStore; queue: CommitQueue; commitTakes: (ms: number) => void } {
    const store = new GatedStore()
    let now = 0
    const queue = new CommitQueue(
      store,
      { ...defaultCommitQueueOptions, lingerMs: options.lingerMs, lingerAfterBatchOf: 8, lingerUntilRequests: options.lingerUntilRequests ?? 64 },
      {},
      () => now,
    )
    return { store, queue, commitTakes: (ms) => (now += ms) }
  }

  /** Submits `count` writes at once and waits until the store holds them as the next batch. */
  async function busyBatch(queue: CommitQueue, store: GatedStore, count: number): Promise<Promise<unknown>[]> {
    const before = store.writes.length
    const submitted = Array.from({ length: count }, (_, i) => queue.submit(put(`busy-${before}-${i}`), 'durable'))
    await writesReached(store, before + 1)
    expect(store.writes[before]?.operations).toBe(count)
    return submitted
  }

  async function until(what: string, condition: () => boolean): Promise<void> {
    const deadline = Date.now() + 5_000
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`never: ${what}`)
      await new Promise((resolve) => setImmediate(resolve))
    }
  }

  it('after a busy batch with a slow commit, waits so that later writers share the next fsync', async () => {
    const { store, queue, commitTakes } = lingeringQueue({ lingerMs: 50 })
    await store.open()
    const first = await busyBatch(queue, store, 8)
    const early = queue.submit(put('early'), 'durable') // waits behind batch 1
    commitTakes(10) // batch 1 took 10 ms: the linger may last min(50, 2 × 10) = 20 ms
    store.release()
    await Promise.all(first)
    await until('the queue lingers', () => queue.stats.lingers === 1)
    // Without the linger, `early` would already be in a batch of its own; these two join it instead.
    const late = [queue.submit(put('late-1'), 'durable'), queue.submit(put('late-2'), 'durable')]
    await writesReached(store, 2)
    expect(store.writes[1]).toEqual({ operations: 3, sync: true })
    await store.releaseUntilIdle(queue)
    const receipts = await Promise.all([early, ...late])
    expect(receipts.every((receipt) => receipt.batchNumber === 2)).toBe(true)
  })

  it('does not linger after a small batch, nor after a commit faster than half a millisecond', async () => {
    for (const [batch, commitMs] of [[7, 10], [8, 0.4]] as const) {
      const { store, queue, commitTakes } = lingeringQueue({ lingerMs: 5_000 })
      await store.open()
      const first = await busyBatch(queue, store, batch)
      const next = queue.submit(put('next'), 'durable')
      commitTakes(commitMs)
      store.release()
      await Promise.all(first)
      // The next batch goes at once: a linger would hold it for seconds and fail the 5 s deadline here.
      await writesReached(store, 2)
      expect(store.writes[1]).toEqual({ operations: 1, sync: true })
      await store.releaseUntilIdle(queue)
      await next
      expect(queue.stats.lingers).toBe(0)
    }
  })

  /**
   * After a busy batch of 8 and a commit slow enough for a minute's linger: `total − 1` writers arriving during the
   * linger leave it lingering, and the next one ends it (a 60 s timer would fail the 5 s deadline here).
   */
  async function expectLingerEndsAt(total: number, options: { lingerUntilRequests?: number }): Promise<void> {
    const { store, queue, commitTakes } = lingeringQueue({ lingerMs: 60_000, ...options })
    await store.open()
    const first = await busyBatch(queue, store, 8)
    commitTakes(60_000)
    const waiting = [queue.submit(put('w0'), 'durable')]
    store.release()
    await Promise.all(first)
    await until('the queue lingers', () => queue.stats.lingers === 1)
    for (let i = 1; i < total - 1; i++) waiting.push(queue.submit(put(`w${i}`), 'durable'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(store.writes).toHaveLength(1) // one writer short: still lingering
    waiting.push(queue.submit(put(`w${total - 1}`), 'durable'))
    await writesReached(store, 2)
    expect(store.writes[1]).toEqual({ operations: total, sync: true })
    await store.releaseUntilIdle(queue)
    await Promise.all(waiting)
  }

  it('ends a linger as soon as lingerUntilRequests writers wait', async () => {
    await expectLingerEndsAt(4, { lingerUntilRequests: 4 })
  })

  it('ends a linger once as many writers wait as the last batch carried', async () => {
    await expectLingerEndsAt(8, {})
  })

  it('close ends a linger and commits what waits', async () => {
    const { store, queue, commitTakes } = lingeringQueue({ lingerMs: 60_000 })
    await store.open()
    const first = await busyBatch(queue, store, 8)
    commitTakes(60_000)
    const last = queue.submit(put('last'), 'durable')
    store.release()
    await Promise.all(first)
    await until('the queue lingers', () => queue.stats.lingers === 1)
    const closed = queue.close()
    await writesReached(store, 2)
    await store.releaseUntilIdle(queue)
    await closed
    expect((await last).batchNumber).toBe(2)
  })
})
