/**
 * A client retry that reaches another primary mints a second dot for one write. The sibling records the client's
 * request id, and the replication merge keeps one sibling per id, so the retry never shows as a sibling: found
 * by the chaos checker as "false siblings" after coordinator timeouts under kills and partitions.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { nodeId } from '../../../src/core/primitives/ids.ts'
import { mergeFor } from '../../../src/core/replication/replica.ts'
import { makeActor } from '../../../src/core/versioning/actor.ts'
import type { Actor } from '../../../src/core/versioning/actor.ts'
import {
  collapseRetriedWrites,
  emptyObject,
  mergeObjects,
  readObject,
  updateObject,
} from '../../../src/core/versioning/dotted-version-vector-set.ts'
import type { DottedVersionVectorSet, Write } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import { decodeCausalContext, encodeCausalContext, MAX_CONTEXT_WRITE_IDS } from '../../../src/core/versioning/causal-context.ts'
import { decodeObject, encodedObjectSize, encodeObject } from '../../../src/core/versioning/object-codec.ts'
import { contextAfterWrite } from '../../../src/core/versioning/write-context.ts'
import { retiredIdOf } from '../../../src/core/versioning/sibling.ts'
import type { VersionVector } from '../../../src/core/versioning/version-vector.ts'
import { MAX_RETIRED_WRITES, RETIRED_WRITE_RETENTION_MS } from '../../../src/core/versioning/versioning-limits.ts'

const merge = mergeFor('siblings')
const actors = ['p1', 'p2', 'p3'].map((id) => makeActor(nodeId(id), 7))
const [p1, p2, p3] = actors as [Actor, Actor, Actor]

function put(object: DottedVersionVectorSet, by: Actor, atMs: number, text: string, context: VersionVector | null, writeId?: string, seenWriteIds?: readonly string[]): { object: DottedVersionVectorSet; context: VersionVector } {
  const write: Write = {
    context, actor: by, timestamp: { physicalMs: atMs, logical: 0 },
    content: { kind: 'value', value: new TextEncoder().encode(text), contentType: 'text/plain' },
    ...(writeId === undefined ? {} : { writeId }),
    ...(seenWriteIds === undefined ? {} : { seenWriteIds }),
  }
  const outcome = updateObject(object, write)
  if (outcome.kind !== 'updated') throw new Error(outcome.kind)
  return { object: outcome.object, context: contextAfterWrite(outcome.object, context, outcome.dot) }
}

function values(object: DottedVersionVectorSet): string[] {
  const read = readObject(object)
  return read.kind === 'found' ? read.values.map((v) => new TextDecoder().decode(v.value)).sort() : []
}

describe('retried writes', () => {
  it('round-trips write ids through the object codec and refuses malformed ones', () => {
    const { object } = put(emptyObject, p1, 1_000, 'v', null, 'req-1')
    const bytes = encodeObject(object)
    expect(bytes.length).toBe(encodedObjectSize(object))
    expect(decodeObject(bytes)).toEqual({ kind: 'decoded', object })
    expect(object.siblings[0]?.writeId).toBe('req-1')
    // An id the API would refuse is not recorded (the write still happens, just without retry collapsing).
    const long = put(emptyObject, p1, 1_000, 'v', null, 'x'.repeat(129)).object
    expect(long.siblings[0]?.writeId).toBeUndefined()
    // An empty id in the bytes is corruption, not a sibling without an id.
    const corrupt = Uint8Array.from(encodeObject(put(emptyObject, p1, 1_000, 'v', null, 'a').object))
    const at = corrupt.indexOf(0x61) // the id's only byte; its length byte precedes it
    corrupt[at - 1] = 0
    expect(decodeObject(corrupt).kind).toBe('corrupt')
  })

  it('keeps the retry the client was answered for, on every replica, whatever the merge order', () => {
    // Attempt 1 reached p1, which minted and replicated to p3 but answered too late; the retry went to p2.
    const base = put(emptyObject, p1, 1_000, 'base', null)
    const first = put(base.object, p1, 2_000, 'mine', base.context, 'req-9')
    const retry = put(base.object, p2, 4_000, 'mine', base.context, 'req-9')
    const atP3 = merge(first.object, emptyObject)
    const left = merge(merge(first.object, retry.object), atP3)
    const right = merge(atP3, merge(retry.object, first.object))
    expect(values(left)).toEqual(['mine'])
    expect(encodeObject(left)).toEqual(encodeObject(right))
    // The pure join still shows both: the collapse belongs to the replication merge.
    expect(values(mergeObjects(first.object, retry.object))).toEqual(['mine', 'mine'])
    // The client's next write, with the context the retry answered, replaces its write everywhere.
    const next = put(left, p2, 5_000, 'next', retry.context)
    expect(values(next.object)).toEqual(['next'])
    // A replica still holding the first attempt drops it on merge: the history has seen that dot.
    expect(values(merge(next.object, first.object))).toEqual(['next'])
  })

  it('drops the twin of a sibling a context covers, when both are still stored', () => {
    const first = put(emptyObject, p1, 2_000, 'mine', null, 'req-3')
    const retry = put(emptyObject, p2, 4_000, 'mine', null, 'req-3')
    const both = mergeObjects(first.object, retry.object)
    // A client that saw only the first attempt's dot writes over it.
    const next = put(both, p3, 5_000, 'next', first.context)
    expect(values(next.object)).toEqual(['next'])
  })

  it('leaves real concurrency alone: different ids, or no ids, stay siblings', () => {
    const a = put(emptyObject, p1, 1_000, 'a', null, 'req-a')
    const b = put(emptyObject, p2, 1_000, 'b', null, 'req-b')
    const c = put(emptyObject, p3, 1_000, 'same', null)
    const d = put(emptyObject, p1, 1_000, 'same', null)
    expect(values(merge(merge(a.object, b.object), c.object))).toEqual(['a', 'b', 'same'])
    expect(values(merge(c.object, d.object))).toEqual(['same', 'same'])
  })

  it('converges to one sibling per id under any merge order (property)', () => {
    const attemptArb = fc.record({ replica: fc.nat({ max: 2 }), id: fc.nat({ max: 3 }), atMs: fc.integer({ min: 1, max: 50 }) })
    const orderArb = fc.array(fc.tuple(fc.nat({ max: 2 }), fc.nat({ max: 2 })), { maxLength: 30 })
    fc.assert(
      fc.property(fc.array(attemptArb, { minLength: 1, maxLength: 12 }), orderArb, orderArb, (attempts, order1, order2) => {
        const run = (order: readonly [number, number][]): DottedVersionVectorSet[] => {
          const replicas: DottedVersionVectorSet[] = [emptyObject, emptyObject, emptyObject]
          attempts.forEach(({ replica, id, atMs }, i) => {
            // Retries of one id carry the same value; blind, so ids differ only by real concurrency.
            replicas[replica] = put(replicas[replica] as DottedVersionVectorSet, actors[replica] as Actor, atMs * 10 + i, `v${id}`, null, `req-${id}`).object
            const [from, to] = order[i % Math.max(order.length, 1)] ?? [0, 0]
            replicas[to] = merge(replicas[to] as DottedVersionVectorSet, replicas[from] as DottedVersionVectorSet)
          })
          return replicas
        }
        const all1 = run(order1).reduce(merge, emptyObject)
        const all2 = run(order2).reduce(merge, emptyObject)
        const ids = all1.siblings.map((s) => s.writeId)
        expect(new Set(ids).size).toBe(ids.length)
        expect(collapseRetriedWrites(all1)).toBe(all1)
        // One value per distinct id that still stands; the two orders agree on the values.
        expect(values(all1)).toEqual(values(all2))
      }),
      { seed: 0x7e_791, numRuns: 300 },
    )
  })

  it('supersedes by the ids a context names a retry the writing replica never held (found by sim seed 17)', () => {
    // Attempt 1 (p1) and the retry (p2) both landed; a reader saw only attempt 1, on p1 and p3.
    const first = put(emptyObject, p1, 2_000, 'mine', null, 'req-5')
    const retry = put(emptyObject, p2, 4_000, 'mine', null, 'req-5')
    // The reader's context names the write by id; the write lands on p3, which has neither attempt.
    const next = put(emptyObject, p3, 5_000, 'next', first.context, undefined, ['req-5'])
    expect(next.object.retired?.map((r) => r.idHash)).toEqual([retiredIdOf('req-5')])
    // The retry's copy arrives later: its dot is not covered, but its id is retired.
    expect(values(merge(next.object, retry.object))).toEqual(['next'])
    expect(values(merge(retry.object, merge(first.object, next.object)))).toEqual(['next'])
    // And a retry still in flight is not minted again on top of the newer write.
    const encoded = encodeObject(merge(next.object, retry.object))
    expect(decodeObject(encoded)).toEqual({ kind: 'decoded', object: merge(next.object, retry.object) })
  })

  it('keeps retirements newest first, bounded by count and by age, in one canonical order whatever the merge order', () => {
    let object = put(emptyObject, p1, 1_000, 'v0', null, 'id-0').object
    const histories: DottedVersionVectorSet[] = []
    for (let i = 1; i <= MAX_RETIRED_WRITES + 6; i++) {
      object = put(object, actors[i % 3] as Actor, 1_000 + i * 10, `v${i}`, object.history, `id-${i}`).object
      histories.push(object)
    }
    const newest = MAX_RETIRED_WRITES + 5
    expect(object.retired?.map((r) => r.idHash)).toEqual(Array.from({ length: MAX_RETIRED_WRITES }, (_, i) => retiredIdOf(`id-${newest - i}`)))
    const shuffled = [histories[3], histories[0], histories[20], histories[1]] as DottedVersionVectorSet[]
    expect(encodeObject(shuffled.reduce(merge, emptyObject))).toEqual(encodeObject([...shuffled].reverse().reduce(merge, emptyObject)))
    // A write a retention later leaves only its own retirement.
    const later = put(object, p1, 1_000 + RETIRED_WRITE_RETENTION_MS + 1_000, 'late', object.history, 'id-late').object
    expect(later.retired?.map((r) => r.idHash)).toEqual([retiredIdOf(`id-${newest + 1}`)])
  })

  it('carries write ids in contexts canonically, and refuses malformed ones', () => {
    const vector = put(emptyObject, p1, 1_000, 'v', null).context
    expect(encodeCausalContext(vector, [])).toBe(encodeCausalContext(vector))
    const text = encodeCausalContext(vector, ['b', 'a', 'b'])
    expect(decodeCausalContext(text)).toEqual({ kind: 'decoded', context: vector, writeIds: ['a', 'b'] })
    const many = Array.from({ length: MAX_CONTEXT_WRITE_IDS + 5 }, (_, i) => `id-${String(i).padStart(2, '0')}`)
    const decoded = decodeCausalContext(encodeCausalContext(vector, many))
    expect(decoded.kind === 'decoded' ? decoded.writeIds.length : -1).toBe(MAX_CONTEXT_WRITE_IDS)
    // Hand-made version 2 contexts: zero ids (a second encoding of a version 1 context), unsorted ids.
    const v1 = [...Buffer.from(text, 'base64url')]
    const vectorBytes = v1.slice(1, v1.length - 5) // the ids are [2, 1, 'a', 1, 'b'] at the end
    const forged = (tail: number[]): string => Buffer.from([2, ...vectorBytes, ...tail]).toString('base64url')
    expect(decodeCausalContext(forged([2, 1, 0x61, 1, 0x62])).kind).toBe('decoded')
    expect(decodeCausalContext(forged([0])).kind).toBe('malformed')
    expect(decodeCausalContext(forged([2, 1, 0x62, 1, 0x61])).kind).toBe('malformed')
    expect(decodeCausalContext(forged([1, 0])).kind).toBe('malformed')
  })
})
