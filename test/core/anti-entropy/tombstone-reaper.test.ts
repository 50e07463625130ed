/**
 * The tombstone reaper's local decisions, against a fake storage: which objects are reapable under a mark, that a
 * key written after the round reached this node is kept, that a mark over another owner list or of a round this
 * node never saw reaps nothing, and that nothing is read while a replica job of the partition is running.
 */
import { describe, expect, it } from 'vitest'
import { TombstoneReaper, isReapable } from '../../../src/core/anti-entropy/tombstone-reaper.ts'
import type { Effect } from '../../../src/core/node/effect.ts'
import type { IoContinuations, Out, StorageContinuation } from '../../../src/core/node/io-continuations.ts'
import type { Mutation, ReadQuery, StoredObject } from '../../../src/core/node/storage-operation.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import type { Replica } from '../../../src/core/replication/replica.ts'
import { encodeObject } from '../../../src/core/versioning/object-codec.ts'
import type { DottedVersionVectorSet, Sibling } from '../../../src/core/versioning/sibling.ts'

const node = nodeId('n1')
const owners = [nodeId('n1'), nodeId('n2'), nodeId('n3')]
const ownersText = 'n1,n2,n3'

function object(siblings: readonly { tombstone: boolean; ms: number }[]): Uint8Array {
  const list: Sibling[] = siblings.map(({ tombstone, ms }, i) => ({
    dot: { node, generation: 1, counter: i + 1 },
    timestamp: { physicalMs: ms, logical: 0 },
    content: tombstone ? { kind: 'tombstone' } : { kind: 'value', value: new Uint8Array([1]), contentType: 'text/plain' },
  }))
  const dvvs: DottedVersionVectorSet = { history: list.length === 0 ? [] : [{ node, generation: 1, counter: list.length }], siblings: list }
  return encodeObject(dvvs)
}

class FakeStorage {
  objects: StoredObject[] = []
  reads: ReadQuery[] = []
  deleted: string[] = []
  busy = false
  /** When set, reads wait here until the test answers them (otherwise they are answered at once). */
  held: (() => void)[] | null = null
  readonly io = {
    read: (query: ReadQuery, out: Out, then: StorageContinuation): void => {
      this.reads.push(query)
      const partition = 'partition' in query ? query.partition : -1
      const answer = (): void => then({ kind: 'objects', objects: this.objects.filter((o) => o.partition === partition), complete: true }, out)
      if (this.held === null) answer()
      else this.held.push(answer)
    },
    write: (mutations: readonly Mutation[], _durability: string, out: Out, then: StorageContinuation): void => {
      for (const m of mutations) if (m.kind === 'delete-object') this.deleted.push(m.key)
      then({ kind: 'written', outcomes: mutations.map(() => ({ kind: 'applied' })) } as never, out)
    },
  } as unknown as IoContinuations
  readonly replica = { busyIn: () => this.busy } as unknown as Replica
  put(key: string, value: Uint8Array, partition = 0): void {
    this.objects.push({ partition, bucket: 'b', key, value, seq: 0 })
  }
}

function putEffect(key: string): Effect[] {
  return [{ kind: 'write', durability: 'durable', mutations: [{ kind: 'put-object', partition: 0, bucket: 'b', key, value: new Uint8Array(), dot: null }] } as unknown as Effect]
}

function setup(): { storage: FakeStorage; reaper: TombstoneReaper } {
  const storage = new FakeStorage()
  const reaper = new TombstoneReaper({ io: storage.io, replica: storage.replica }, { partitions: 2, graceMs: 100, pageSize: 50 })
  return { storage, reaper }
}

describe('isReapable', () => {
  it('needs every sibling a tombstone, all older than the bound', () => {
    expect(isReapable(object([{ tombstone: true, ms: 50 }]), 100)).toBe(true)
    expect(isReapable(object([{ tombstone: true, ms: 100 }]), 100)).toBe(false)
    expect(isReapable(object([{ tombstone: true, ms: 10 }, { tombstone: false, ms: 10 }]), 100)).toBe(false)
    expect(isReapable(object([{ tombstone: true, ms: 10 }, { tombstone: true, ms: 150 }]), 100)).toBe(false)
    expect(isReapable(object([{ tombstone: false, ms: 10 }]), 100)).toBe(false)
    expect(isReapable(new Uint8Array([9, 9, 9]), 100)).toBe(false)
  })
})

describe('TombstoneReaper', () => {
  it('reaps old tombstones under its own covering round and keeps live values and young tombstones', () => {
    const { storage, reaper } = setup()
    storage.put('old', object([{ tombstone: true, ms: 500 }]))
    storage.put('young', object([{ tombstone: true, ms: 950 }]))
    storage.put('live', object([{ tombstone: false, ms: 10 }]))
    reaper.visited(0, 1_000)
    reaper.advance(0, owners, 1_000, ownersText, [])
    expect(storage.deleted).toEqual(['old'])
    expect(reaper.counters.tombstonesReaped).toBe(1)
    expect(reaper.markFor(0, owners)).toBe(1_000)
  })

  it('keeps a tombstone this node stored after the round reached it, until a later round', () => {
    const { storage, reaper } = setup()
    storage.put('late', object([{ tombstone: true, ms: 500 }]))
    reaper.visited(0, 1_000)
    reaper.observe(putEffect('late'))
    reaper.advance(0, owners, 1_000, ownersText, [])
    expect(storage.deleted).toEqual([])
    reaper.visited(0, 2_000)
    reaper.advance(0, owners, 2_000, ownersText, [])
    expect(storage.deleted).toEqual(['late'])
  })

  it('ignores a mark over another owner list, and reaps nothing on a round it never saw', () => {
    const { storage, reaper } = setup()
    storage.put('old', object([{ tombstone: true, ms: 500 }]))
    reaper.visited(0, 1_000)
    reaper.advance(0, owners, 1_000, 'n1,n2,n4', [])
    expect(reaper.markFor(0, owners)).toBeNull()
    reaper.advance(0, owners, 1_500, ownersText, [])
    expect(reaper.markFor(0, owners)).toBe(1_500)
    expect(storage.reads).toEqual([])
    expect(storage.deleted).toEqual([])
  })

  it('scans one partition at a time: marks that advance together queue their scans', () => {
    const { storage, reaper } = setup()
    storage.put('old-0', object([{ tombstone: true, ms: 500 }]), 0)
    storage.put('old-1', object([{ tombstone: true, ms: 500 }]), 1)
    storage.held = []
    for (const partition of [0, 1]) {
      reaper.visited(partition, 1_000)
      reaper.advance(partition, owners, 1_000, ownersText, [])
    }
    expect(storage.reads.map((read) => ('partition' in read ? read.partition : null))).toEqual([0])
    storage.held.shift()?.()
    expect(storage.deleted).toEqual(['old-0'])
    expect(storage.reads.map((read) => ('partition' in read ? read.partition : null))).toEqual([0, 1])
    storage.held.shift()?.()
    expect(storage.deleted).toEqual(['old-0', 'old-1'])
    expect(reaper.counters.reapScans).toBe(2)
  })

  it('moves on to the next waiting scan when a waiting one has become too old to run', () => {
    const storage = new FakeStorage()
    const reaper = new TombstoneReaper({ io: storage.io, replica: storage.replica }, { partitions: 3, graceMs: 100, pageSize: 50, maxTrackedKeys: 1 })
    storage.put('old-2', object([{ tombstone: true, ms: 500 }]), 2)
    storage.held = []
    for (const partition of [0, 1, 2]) {
      reaper.visited(partition, 1_000)
      reaper.advance(partition, owners, 1_000, ownersText, [])
    }
    // Partition 1 overflows its tracked keys while it waits: its job can no longer tell which keys were written.
    const tombstoneWrite = (key: string): Effect[] => [{ kind: 'write', durability: 'durable', mutations: [{ kind: 'put-object', partition: 1, bucket: 'b', key, value: new Uint8Array(), dot: null, tombstonesOnly: true }] } as unknown as Effect]
    reaper.observe(tombstoneWrite('x'))
    reaper.observe(tombstoneWrite('y'))
    storage.held.shift()?.()
    expect(storage.reads.map((read) => ('partition' in read ? read.partition : null))).toEqual([0, 2])
    storage.held.shift()?.()
    expect(storage.deleted).toEqual(['old-2'])
    expect(reaper.counters.reapPagesDeferred).toBe(1)
  })

  it('does not read while a replica job of the partition runs', () => {
    const { storage, reaper } = setup()
    storage.put('old', object([{ tombstone: true, ms: 500 }]))
    storage.busy = true
    reaper.visited(0, 1_000)
    reaper.advance(0, owners, 1_000, ownersText, [])
    expect(storage.reads).toEqual([])
    expect(reaper.counters.reapPagesDeferred).toBe(1)
  })

  /** A mark of the partition one round after `ms`, as a covering round brings it; returns the reads it caused. */
  function nextMark(storage: FakeStorage, reaper: TombstoneReaper, ms: number): number {
    const before = storage.reads.length
    reaper.visited(0, ms)
    reaper.advance(0, owners, ms, ownersText, [])
    return storage.reads.length - before
  }
  const tombstonePut = (key: string, operationId: number): Effect[] =>
    [{ kind: 'write', operationId, durability: 'durable', mutations: [{ kind: 'put-object', partition: 0, bucket: 'b', key, value: new Uint8Array(), dot: null, tombstonesOnly: true }] } as unknown as Effect]
  const livePut = (key: string, operationId: number): Effect[] =>
    [{ kind: 'write', operationId, durability: 'durable', mutations: [{ kind: 'put-object', partition: 0, bucket: 'b', key, value: new Uint8Array(), dot: null, tombstonesOnly: false }] } as unknown as Effect]

  it('skips the scans of a partition a whole scan found without tombstones, until a put that may leave one', () => {
    const { storage, reaper } = setup()
    storage.put('live', object([{ tombstone: false, ms: 10 }]))
    expect(nextMark(storage, reaper, 1_000)).toBe(1)
    expect(nextMark(storage, reaper, 2_000)).toBe(0)
    reaper.observe(livePut('live', 1))
    reaper.settled(1 as never)
    expect(nextMark(storage, reaper, 3_000)).toBe(0)
    expect(reaper.counters.reapScansSkipped).toBe(2)
    reaper.observe(tombstonePut('gone', 2))
    storage.put('gone', object([{ tombstone: true, ms: 500 }]))
    reaper.settled(2 as never)
    expect(nextMark(storage, reaper, 4_000)).toBe(1)
    expect(storage.deleted).toEqual(['gone'])
    // Everything tombstone-only was reaped: the partition is known clean again.
    expect(nextMark(storage, reaper, 5_000)).toBe(0)
    expect(reaper.counters.reapScans).toBe(2)
  })

  it('keeps scanning a partition while a tombstone there is too young to reap', () => {
    const { storage, reaper } = setup()
    storage.put('young', object([{ tombstone: true, ms: 950 }]))
    expect(nextMark(storage, reaper, 1_000)).toBe(1)
    expect(storage.deleted).toEqual([])
    expect(nextMark(storage, reaper, 2_000)).toBe(1)
    expect(storage.deleted).toEqual(['young'])
    expect(nextMark(storage, reaper, 3_000)).toBe(0)
  })

  it('does not trust a scan that started while a tombstone write was uncommitted, or that stopped early', () => {
    const { storage, reaper } = setup()
    reaper.observe(tombstonePut('pending', 7))
    // The write has not landed: the scan sees nothing, yet the tombstone may land behind a page it already read.
    expect(nextMark(storage, reaper, 1_000)).toBe(1)
    expect(nextMark(storage, reaper, 2_000)).toBe(1)
    reaper.settled(7 as never)
    storage.busy = true
    expect(nextMark(storage, reaper, 3_000)).toBe(0)
    expect(reaper.counters.reapPagesDeferred).toBe(1)
    storage.busy = false
    expect(nextMark(storage, reaper, 4_000)).toBe(1)
    expect(nextMark(storage, reaper, 5_000)).toBe(0)
  })

  it('never reaps without a grace (anti-entropy built without tombstoneGraceMs)', () => {
    const storage = new FakeStorage()
    const reaper = new TombstoneReaper({ io: storage.io, replica: storage.replica }, { partitions: 1, graceMs: Infinity, pageSize: 50 })
    storage.put('old', object([{ tombstone: true, ms: 0 }]))
    reaper.visited(0, 1_000_000)
    reaper.advance(0, owners, 1_000_000, ownersText, [])
    expect(storage.deleted).toEqual([])
  })
})

describe('TombstoneReaper.isSuperseded (late hints and handoffs after reaping)', () => {
  /** One sibling at `counter` of actor n1, with a history reaching `history`. */
  function single(counter: number, history: number, ms: number, tombstone = false): Uint8Array {
    const sibling: Sibling = {
      dot: { node, generation: 1, counter },
      timestamp: { physicalMs: ms, logical: 0 },
      content: tombstone ? { kind: 'tombstone' } : { kind: 'value', value: new Uint8Array([2]), contentType: 'text/plain' },
    }
    return encodeObject({ history: [{ node, generation: 1, counter: history }], siblings: [sibling] })
  }

  function reapedKey(): TombstoneReaper {
    const { storage, reaper } = setup()
    // The delete (dot 3 at 500 ms) saw the values at dots 1 and 2.
    storage.put('gone', single(3, 3, 500, true))
    reaper.visited(0, 1_000)
    reaper.advance(0, owners, 1_000, ownersText, [])
    expect(storage.deleted).toEqual(['gone'])
    return reaper
  }

  it('drops a copy whose every sibling the reaped delete saw and outlives', () => {
    const reaper = reapedKey()
    expect(reaper.isSuperseded(0, 'b', 'gone', single(2, 2, 400))).toBe(true)
    expect(reaper.isSuperseded(0, 'b', 'gone', single(3, 3, 500, true))).toBe(true)
    expect(reaper.counters.supersededCopiesDropped).toBe(2)
  })

  it('keeps what the delete did not see, writes after the reaping (reused dots), other keys and other partitions', () => {
    const reaper = reapedKey()
    expect(reaper.isSuperseded(0, 'b', 'gone', single(4, 4, 450))).toBe(false)
    // A new write to the reaped key restarts its dot counters: dot 1 looks seen, but it is newer than the delete.
    expect(reaper.isSuperseded(0, 'b', 'gone', single(1, 1, 5_000))).toBe(false)
    expect(reaper.isSuperseded(0, 'b', 'other', single(1, 1, 100))).toBe(false)
    expect(reaper.isSuperseded(1, 'b', 'gone', single(1, 1, 100))).toBe(false)
    expect(reaper.isSuperseded(0, 'b', 'gone', new Uint8Array([9, 9]))).toBe(false)
    expect(reaper.counters.supersededCopiesDropped).toBe(0)
  })
})
