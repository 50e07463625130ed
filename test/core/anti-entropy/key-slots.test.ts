/**
 * KeySlots against a Map: after any sequence of adds and removes, every live (bucket, key) is found in its slot
 * and reads back exactly, removed ones are gone, and slots are reused. A hash with few values forces long probe
 * runs, so backward-shift deletion has to move entries; many keys force table growth and arena compaction.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KeySlots } from '../../../src/core/anti-entropy/key-slots.ts'

/** Deliberately poor: 4 values, so most keys collide. */
const poorHash = (bucket: string, key: string): number => (bucket.length * 7 + key.length) % 4

function check(slots: KeySlots, model: Map<string, { bucket: string; key: string; slot: number }>, removed: Iterable<{ bucket: string; key: string }>): void {
  expect(slots.size).toBe(model.size)
  for (const { bucket, key, slot } of model.values()) {
    expect(slots.find(bucket, key, poorHash(bucket, key))).toBe(slot)
    expect(slots.bucketOf(slot)).toBe(bucket)
    expect(slots.keyOf(slot)).toBe(key)
  }
  for (const { bucket, key } of removed) {
    if (!model.has(JSON.stringify([bucket, key]))) expect(slots.find(bucket, key, poorHash(bucket, key))).toBe(-1)
  }
}

describe('KeySlots', () => {
  it('finds exactly the live ids after any churn, with colliding hashes and reused slots', () => {
    const op = fc.record({
      bucket: fc.constantFrom('', 'b', 'bucket-two'),
      key: fc.oneof(fc.constantFrom('a', 'b', '', 'x\u0000y', 'é', '\ud800'), fc.string({ maxLength: 12, unit: 'binary' })),
      add: fc.boolean(),
    })
    fc.assert(fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const slots = new KeySlots()
      const model = new Map<string, { bucket: string; key: string; slot: number }>()
      const removed: { bucket: string; key: string }[] = []
      for (const { bucket, key, add } of ops) {
        const id = JSON.stringify([bucket, key])
        const entry = model.get(id)
        if (add && entry === undefined) {
          const slot = slots.add(bucket, key, poorHash(bucket, key))
          expect([...model.values()].some((other) => other.slot === slot)).toBe(false)
          model.set(id, { bucket, key, slot })
        } else if (!add && entry !== undefined) {
          slots.remove(entry.slot)
          model.delete(id)
          removed.push({ bucket, key })
        }
      }
      check(slots, model, removed)
      expect(slots.slotLimit).toBeLessThanOrEqual(Math.max(1, ops.length))
    }), { seed: 11, numRuns: 300 })
  })

  it('keeps 20,000 keys through growth, removal of most of them and compaction of the arena', () => {
    const slots = new KeySlots()
    const model = new Map<string, { bucket: string; key: string; slot: number }>()
    const hash = (key: string): number => [...key].reduce((h, c) => Math.imul(h ^ c.charCodeAt(0), 16777619), 2166136261) >>> 0
    for (let i = 0; i < 20_000; i++) {
      const key = `key-${i}`
      model.set(key, { bucket: 'users', key, slot: slots.add('users', key, hash(key)) })
    }
    for (let i = 0; i < 20_000; i++) {
      if (i % 5 === 0) continue
      const key = `key-${i}`
      slots.remove((model.get(key) as { slot: number }).slot)
      model.delete(key)
    }
    // New keys reuse the freed slots and, once the arena fills, compact it.
    for (let i = 0; i < 30_000; i++) {
      const key = `again-${i}`
      model.set(key, { bucket: 'users', key, slot: slots.add('users', key, hash(key)) })
    }
    expect(slots.size).toBe(model.size)
    expect(slots.slotLimit).toBe(34_000)
    for (const { key, slot } of model.values()) {
      expect(slots.find('users', key, hash(key))).toBe(slot)
      expect(slots.keyOf(slot)).toBe(key)
    }
    expect(slots.find('users', 'key-1', hash('key-1'))).toBe(-1)
    // The 16,000 removed ids are gone from the arena too: it holds the live ids plus at most half again of room.
    const liveBytes = [...model.values()].reduce((sum, { bucket, key }) => sum + bucket.length + key.length, 0)
    const everAddedBytes = 20_000 * 'users'.length + [...Array(20_000).keys()].reduce((sum, i) => sum + `key-${i}`.length, 0) + liveBytes
    expect(slots.arenaBytes).toBeLessThanOrEqual(Math.ceil(1.5 * liveBytes) + 64)
    expect(slots.arenaBytes).toBeLessThan(everAddedBytes)
  })
})
