import { afterEach, describe, expect, it } from 'vitest'
import type { StorageResult } from '../../src/core/node/storage-operation.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'
import type { StorageEngine } from '../../src/storage/storage-engine.ts'
import { StorageEngine as Engine } from '../../src/storage/storage-engine.ts'
import { MemoryStore } from '../../src/storage/memory-store.ts'
import { SimDiskStore } from '../../src/storage/sim-disk-store.ts'
import { engineOptions, onlyOutcome, openEngine, putObject, testNodeId } from './fixtures/engine.ts'
import { ManualClock, bytes, levelStoreFactory, text } from './fixtures/stores.ts'

let cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
  cleanups = []
})

function track(engine: StorageEngine): StorageEngine {
  cleanups.push(() => engine.close())
  return engine
}

function objectOf(result: StorageResult) {
  if (result.kind !== 'object') throw new Error(`expected object, got ${result.kind}`)
  return result.object
}

describe('node metadata', () => {
  it('raises the generation on every open to max(stored + 1, unix seconds) and persists it first', async () => {
    const store = new MemoryStore()
    const clock = new ManualClock(0, 1_700_000_000_000)
    const first = await openEngine(store, clock)
    expect(first.identity).toEqual({ nodeId: testNodeId, generation: 1_700_000_000, previousGeneration: null })
    await first.close()
    const second = await openEngine(store, clock) // same second: stored + 1 wins
    expect(second.identity.generation).toBe(1_700_000_001)
    await second.close()
    clock.setWallClock(1_600_000_000_000) // the clock stepped back: still never repeats
    const third = track(await openEngine(store, clock))
    expect(third.identity).toMatchObject({ generation: 1_700_000_002, previousGeneration: 1_700_000_001 })
  })

  it('refuses a data directory that belongs to another node', async () => {
    const store = new MemoryStore()
    await (await openEngine(store)).close()
    await expect(Engine.open({ store, clock: new ManualClock() }, engineOptions({ nodeId: nodeId('node-b') }))).rejects.toMatchObject({ code: 'WRONG_DATA_DIRECTORY' })
  })
})

describe('objects and meta', () => {
  it('stores object bytes as given, with the seq of its log entry, and pages a partition', async () => {
    const engine = track(await openEngine(new MemoryStore()))
    const value = new Uint8Array([9, 0, 255])
    const outcome = onlyOutcome(await engine.apply([{ kind: 'put-object', partition: 3, bucket: 'b', key: 'k', value, dot: null }], 'durable'))
    expect(outcome).toEqual({ kind: 'object-written', partition: 3, seq: 1 })
    const object = objectOf(await engine.read({ kind: 'get-object', partition: 3, bucket: 'b', key: 'k' }))
    expect(object).toEqual({ partition: 3, bucket: 'b', key: 'k', value, seq: 1 })
    for (const key of ['a', 'c', 'd']) await engine.apply([putObject(3, key, key)], 'durable')
    await engine.apply([putObject(4, 'other', 'x')], 'durable')
    const page1 = await engine.read({ kind: 'scan-partition', partition: 3, after: null, limit: 2 })
    const page2 = await engine.read({ kind: 'scan-partition', partition: 3, after: { bucket: 'b', key: 'c' }, limit: 2 })
    expect(page1.kind === 'objects' && page1.objects.map((o) => o.key)).toEqual(['a', 'c'])
    expect(page2.kind === 'objects' && [page2.objects.map((o) => o.key), page2.complete]).toEqual([['d', 'k'], false])
    await engine.apply([{ kind: 'delete-object', partition: 3, bucket: 'b', key: 'k' }], 'durable')
    expect(objectOf(await engine.read({ kind: 'get-object', partition: 3, bucket: 'b', key: 'k' }))).toBeNull()
  })

  it('applyWith answers as apply does, never synchronously: plain writes, a repeat of a request id in flight, and a closed engine', async () => {
    const engine = await openEngine(new MemoryStore())
    /** applyWith as a promise that also checks the callback came after applyWith returned. */
    const applyWith = async (mutations: Parameters<StorageEngine['apply']>[0]): Promise<StorageResult> => {
      let returned = false
      let calledBeforeReturn = false
      const result = new Promise<StorageResult>((resolve, reject) => engine.applyWith(mutations, 'durable', (answer) => {
        calledBeforeReturn ||= !returned
        resolve(answer)
      }, reject))
      returned = true
      const answer = await result
      expect(calledBeforeReturn).toBe(false)
      return answer
    }
    const first = applyWith([putObject(1, 'a', 'x', 'req-1')])
    const repeat = applyWith([putObject(1, 'a', 'x', 'req-1')]) // planned while the first is still in flight
    const other = applyWith([putObject(1, 'b', 'y'), putObject(2, 'c', 'z')])
    expect(onlyOutcome(await first)).toEqual({ kind: 'object-written', partition: 1, seq: 1 })
    expect(onlyOutcome(await repeat)).toEqual({ kind: 'duplicate', requestId: 'req-1', partition: 1, seq: 1 })
    expect(await other).toEqual({ kind: 'written', outcomes: [{ kind: 'object-written', partition: 1, seq: 2 }, { kind: 'object-written', partition: 2, seq: 1 }] })
    await engine.close()
    expect(await applyWith([putObject(1, 'd', 'w')])).toMatchObject({ kind: 'failed', code: 'STORAGE_CLOSED' })
  })

  it('applyWith answers exactly once: a done callback that throws is not answered again through fail', async () => {
    const engine = track(await openEngine(new MemoryStore()))
    const calls: string[] = []
    const uncaught: unknown[] = []
    const onUncaught = (error: unknown): void => void uncaught.push(error)
    process.prependListener('uncaughtException', onUncaught)
    try {
      engine.applyWith([putObject(1, 'a', 'x')], 'durable', () => {
        calls.push('done')
        throw new Error('a buggy caller')
      }, () => calls.push('fail'))
      const deadline = Date.now() + 5_000
      while (uncaught.length === 0 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve))
      expect(calls).toEqual(['done'])
      expect(uncaught).toMatchObject([{ message: 'a buggy caller' }])
    } finally {
      process.removeListener('uncaughtException', onUncaught)
    }
  })

  it('answers an object read now when the store reads inline, the same as read does, and never for other queries', async () => {
    const engine = track(await openEngine(new MemoryStore()))
    await engine.apply([putObject(2, 'k', 'v')], 'durable')
    const present = { kind: 'get-object', partition: 2, bucket: 'b', key: 'k' } as const
    const absent = { ...present, key: 'missing' }
    expect(engine.readNow(present)).toEqual(await engine.read(present))
    expect(engine.readNow(absent)).toEqual(await engine.read(absent))
    expect(objectOf(engine.readNow(present) as StorageResult)?.seq).toBe(1)
    expect(engine.readNow({ kind: 'get-meta', name: 'x' })).toBeUndefined()
    // The simulator's disk has no inline read: every read goes through the asynchronous path there.
    const simulated = track(await openEngine(new SimDiskStore()))
    expect(simulated.readNow(present)).toBeUndefined()
    await engine.close()
    expect(engine.readNow(present)).toMatchObject({ kind: 'failed', code: 'STORAGE_CLOSED' })
  })

  it('round-trips meta and refuses reserved names', async () => {
    const engine = track(await openEngine(new MemoryStore()))
    await engine.apply([{ kind: 'put-meta', name: 'ownership', value: bytes('table') }], 'durable')
    const meta = await engine.read({ kind: 'get-meta', name: 'ownership' })
    expect(meta.kind === 'meta' && meta.value !== null && text(meta.value)).toBe('table')
    const refused = await engine.apply([{ kind: 'put-meta', name: 'chorus.generation', value: bytes('0') }], 'durable')
    expect(refused).toMatchObject({ kind: 'failed', code: 'INVALID_ARGUMENT' })
  })
})

describe('hints', () => {
  it('replays a target in order, deletes on ack, survives restart, and drops (counted) when full', async () => {
    const store = new MemoryStore()
    const target = nodeId('node-z')
    let engine = await openEngine(store, new ManualClock(), { hints: { maxHints: 3, maxHintBytes: 1 << 20 } })
    const hint = (key: string) => ({ kind: 'put-hint' as const, target, partition: 1, bucket: 'b', key, value: bytes(key) })
    const stored = await engine.apply([hint('h1'), hint('h2'), { ...hint('other'), target: nodeId('node-y') }, hint('h3')], 'durable')
    expect(stored.kind === 'written' && stored.outcomes.map((o) => o.kind)).toEqual(['hint-stored', 'hint-stored', 'hint-stored', 'hint-dropped'])
    expect(engine.stats.hints).toMatchObject({ hints: 3, dropped: 1 })
    await engine.close()
    engine = track(await openEngine(store, new ManualClock(), { hints: { maxHints: 3, maxHintBytes: 1 << 20 } }))
    expect(await engine.read({ kind: 'list-hint-targets' })).toEqual({ kind: 'hint-targets', targets: [{ target: 'node-y', count: 1 }, { target: 'node-z', count: 2 }] })
    const listed = await engine.read({ kind: 'list-hints', target, afterHintId: 0, limit: 10 })
    if (listed.kind !== 'hints') throw new Error(listed.kind)
    expect(listed.hints.map((h) => h.key)).toEqual(['h1', 'h2'])
    const firstId = listed.hints[0]?.hintId ?? -1
    await engine.apply([{ kind: 'delete-hint', target, hintId: firstId }], 'durable')
    await engine.apply([{ kind: 'delete-hint', target, hintId: firstId }], 'durable') // a repeated ack is harmless
    const after = await engine.read({ kind: 'list-hints', target, afterHintId: 0, limit: 10 })
    expect(after.kind === 'hints' && after.hints.map((h) => h.key)).toEqual(['h2'])
    const more = await engine.apply([hint('h4')], 'durable')
    expect(more.kind === 'written' && more.outcomes[0]?.kind).toBe('hint-stored')
  })
})

describe('recovery after power loss on the simulated disk', () => {
  it('keeps every acknowledged durable write and loses unsynced ones', async () => {
    const disk = new SimDiskStore()
    // As the simulator runs it: no setImmediate between batches, everything on the promise queue.
    const engine = await openEngine(disk, new ManualClock(), { gatherFollowers: false })
    const acked: string[] = []
    const writes = Array.from({ length: 200 }, (_, i) =>
      engine.apply([putObject(i % 4, `k${i}`, `v${i}`)], 'durable').then((result) => {
        if (result.kind === 'written') acked.push(`k${i}`)
      }),
    )
    // Crash part-way: once some writes are acknowledged, while others are still queued.
    await writes[57]
    await disk.crash()
    await Promise.allSettled(writes)
    const unsafe = await openEngine(disk)
    await unsafe.apply([putObject(0, 'unsafe', 'lost')], 'unsafe')
    await disk.crash()
    const recovered = track(await openEngine(disk))
    expect(acked.length).toBeGreaterThanOrEqual(58)
    for (const key of acked) {
      const index = Number(key.slice(1))
      const object = objectOf(await recovered.read({ kind: 'get-object', partition: index % 4, bucket: 'b', key }))
      expect(object !== null && text(object.value)).toBe(`v${index}`)
    }
    expect(objectOf(await recovered.read({ kind: 'get-object', partition: 0, bucket: 'b', key: 'unsafe' }))).toBeNull()
    // Seqs continue after what survived, never reusing one a reader may have seen before the crash.
    const next = onlyOutcome(await recovered.apply([putObject(0, 'after', 'x')], 'durable'))
    expect(next.kind === 'object-written' && next.seq).toBeGreaterThan(0)
  })
})

describe('storage on classic-level', () => {
  it('opens, writes, closes and recovers', async () => {
    const { store, reopen, cleanup } = levelStoreFactory.create()
    cleanups.push(cleanup)
    const engine = await openEngine(store)
    await engine.apply([putObject(0, 'k', 'v')], 'durable')
    await engine.close()
    const again = track(await openEngine(reopen()))
    expect(again.identity.previousGeneration).not.toBeNull()
    expect(objectOf(await again.read({ kind: 'get-object', partition: 0, bucket: 'b', key: 'k' }))?.seq).toBe(1)
  })
})
