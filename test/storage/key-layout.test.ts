import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeObjectKey, objectKey, objectPartitionRange } from '../../src/storage/key-layout.ts'

/** The object key as the layout defines it: tag 0x?? · u32 partition · u16 len(bucket) · bucket · key (UTF-8). */
function referenceObjectKey(tag: number, partition: number, bucket: string, key: string): number[] {
  const bucketBytes = [...new TextEncoder().encode(bucket)]
  const keyBytes = [...new TextEncoder().encode(key)]
  return [tag, (partition >>> 24) & 0xff, (partition >>> 16) & 0xff, (partition >>> 8) & 0xff, partition & 0xff, bucketBytes.length >>> 8, bucketBytes.length & 0xff, ...bucketBytes, ...keyBytes]
}

describe('objectKey', () => {
  it('lays out tag, partition, length-prefixed bucket and key, and decodes back', () => {
    const tag = objectKey(0, '', '')[0] as number
    fc.assert(
      fc.property(fc.nat({ max: 0xffff_ffff }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ maxLength: 40 }), (partition, bucket, key) => {
        const bytes = objectKey(partition, bucket, key)
        expect([...bytes]).toEqual(referenceObjectKey(tag, partition, bucket, key))
        expect(decodeObjectKey(bytes)).toEqual({ partition, bucket, key })
        const range = objectPartitionRange(partition)
        expect(Buffer.compare(Buffer.from(range.gte), Buffer.from(bytes))).toBeLessThanOrEqual(0)
        expect(Buffer.compare(Buffer.from(bytes), Buffer.from(range.lt))).toBeLessThan(0)
      }),
      { seed: 7, numRuns: 500 },
    )
  })
})
