/**
 * The context a PUT hands back must cover what the writer saw plus its own new write, and never a value some
 * other client wrote concurrently: reusing it would silently supersede a write nobody read.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { makeActor } from '../../../src/core/versioning/actor.ts'
import { emptyObject, readObject, updateObject } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import type { DottedVersionVectorSet } from '../../../src/core/versioning/dotted-version-vector-set.ts'
import type { VersionVector } from '../../../src/core/versioning/version-vector.ts'
import { coversDot } from '../../../src/core/versioning/version-vector.ts'
import { contextAfterWrite } from '../../../src/core/versioning/write-context.ts'
import { nodeId } from '../../../src/core/primitives/ids.ts'

const primary = makeActor(nodeId('primary'), 1)
const otherPrimary = makeActor(nodeId('other'), 1)
let clockMs = 0

/** One write through `actor`; returns the new object, the writer's returned context and its value's text. */
function put(object: DottedVersionVectorSet, context: VersionVector | null, text: string, actor = primary) {
  clockMs += 1
  const outcome = updateObject(object, {
    context, actor, timestamp: { physicalMs: clockMs, logical: 0 },
    content: { kind: 'value', value: new TextEncoder().encode(text), contentType: 'text/plain' },
  })
  if (outcome.kind !== 'updated') throw new Error(outcome.kind)
  return { object: outcome.object, dot: outcome.dot, returned: contextAfterWrite(outcome.object, context, outcome.dot) }
}

const texts = (object: DottedVersionVectorSet): string[] => {
  const read = readObject(object)
  return read.kind === 'found' ? read.values.map((v) => new TextDecoder().decode(v.value)).sort() : []
}

describe('contextAfterWrite', () => {
  it('a writer reusing its PUT context replaces its own value and keeps a concurrent one', () => {
    const a = put(emptyObject, null, 'a')
    const b = put(a.object, null, 'b')
    expect(texts(b.object)).toEqual(['a', 'b'])
    const again = put(b.object, a.returned, 'a2')
    expect(texts(again.object)).toEqual(['a2', 'b'])
  })

  it('never covers an earlier concurrent value of the same actor that the writer did not see', () => {
    const b = put(emptyObject, null, 'b')
    const a = put(b.object, null, 'a')
    expect(texts(a.object)).toEqual(['a', 'b'])
    const again = put(a.object, a.returned, 'a2')
    // 'b' was never read by the writer of 'a', so it must survive; the writer's own 'a' may remain as a sibling.
    expect(texts(again.object)).toContain('b')
    expect(texts(again.object)).toContain('a2')
  })

  it('for any history, the returned context covers the new write (or falls back to what was seen) and no value the writer had not seen', () => {
    type Step = { readonly useReturned: boolean; readonly byOther: boolean }
    const stepArb = fc.record({ useReturned: fc.boolean(), byOther: fc.boolean() })
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 30 }), (steps: Step[]) => {
        let object = emptyObject
        let lastReturned: VersionVector | null = null
        steps.forEach((step, index) => {
          const seen: VersionVector | null = step.useReturned ? lastReturned : null
          const result = put(object, seen, `v${index}`, step.byOther ? otherPrimary : primary)
          object = result.object
          lastReturned = result.returned
          // Either the new write is covered, or the answer fell back to exactly what the writer had seen.
          if (!coversDot(result.returned, result.dot)) expect(result.returned).toEqual(seen ?? [])
          for (const sibling of object.siblings) {
            const isNew = sibling.dot.node === result.dot.node && sibling.dot.counter === result.dot.counter
            if (!isNew && sibling.content.kind === 'value' && !coversDot(seen ?? [], sibling.dot)) {
              expect(coversDot(result.returned, sibling.dot)).toBe(false)
            }
          }
        })
      }),
      { seed: 9, numRuns: 300 },
    )
  })
})
