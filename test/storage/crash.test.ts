/**
 * Crash test with real processes: a child writes objects through the engine from 64 concurrent callers and
 * reports every acknowledged key; we SIGKILL it at a seeded random moment, reopen the directory, and every
 * acknowledged write must be there: object, change-log entry and request-id record (they share one batch).
 * Replay one run with CHORUS_STORAGE_CRASH_SEED=<seed printed on failure>.
 */
import { rmSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { SeededRandom } from '../../src/core/primitives/random.ts'
import { LevelStore } from '../../src/storage/level-store.ts'
import type { StorageEngine } from '../../src/storage/storage-engine.ts'
import { crashWriterPath, spawnWriter } from './fixtures/child-writer.ts'
import { openEngine } from './fixtures/engine.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'
import { temporaryDirectory, text } from './fixtures/stores.ts'

const seed = Number(process.env.CHORUS_STORAGE_CRASH_SEED ?? 20_261_128)
const repetitions = 20

async function verifyAcknowledged(engine: StorageEngine, acked: readonly { key: string; seq: number }[]): Promise<void> {
  for (const { key, seq } of acked) {
    const partition = Number(key.slice(1, key.indexOf('-'))) % 8
    const object = await engine.read({ kind: 'get-object', partition, bucket: 'crash', key })
    expect(object.kind === 'object' && object.object !== null && [text(object.object.value), object.object.seq], key).toEqual([`value-${key}`, seq])
    const record = await engine.read({ kind: 'get-request-record', requestId: key })
    expect(record, key).toMatchObject({ record: { partition, seq } })
    const log = await engine.read({ kind: 'read-change-log', partition, afterSeq: seq - 1, limit: 1 })
    expect(log.kind === 'change-log' && log.entries[0]?.key, key).toBe(key)
  }
}

/** One kill-and-verify run in its own directory. */
async function crashOnce(run: number, killAfterAcks: number): Promise<void> {
  const directory = temporaryDirectory('crash')
  try {
    const writer = spawnWriter(process.execPath, ['--import', 'tsx', crashWriterPath, directory, 'engine', 'durable', '0'])
    await writer.waitFor((lines) => lines.filter((line) => line.startsWith('A ')).length >= killAfterAcks, 30_000)
    writer.child.kill('SIGKILL')
    const exit = await writer.exited
    expect(exit.signal).toBe('SIGKILL')
    // Only lines read before the kill count: a line is written after its ack, never before.
    const acked = writer.lines
      .filter((line) => line.startsWith('A '))
      .map((line) => {
        const [, key = '', seq = ''] = line.split(' ')
        return { key, seq: Number(seq) }
      })
    expect(acked.length).toBeGreaterThanOrEqual(killAfterAcks)
    const engine = await openEngine(new LevelStore(directory), undefined, { nodeId: nodeId('crash-writer') })
    try {
      await verifyAcknowledged(engine, acked)
      expect(engine.identity.previousGeneration).not.toBeNull()
    } finally {
      await engine.close()
    }
  } catch (error) {
    throw new Error(`crash run ${run} (kill after ${killAfterAcks} acks) failed; replay: CHORUS_STORAGE_CRASH_SEED=${seed} npx vitest run test/storage/crash.test.ts`, { cause: error })
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

describe('crash with real processes', () => {
  it(`every acknowledged write survives SIGKILL, ${repetitions} seeded kill points (seed ${seed})`, async () => {
    const random = new SeededRandom(seed)
    const killPoints = Array.from({ length: repetitions }, () => 1 + random.nextInt(1_500))
    // Two at a time: child start-up (tsx, LevelDB open) dominates, and the machine has two cores.
    for (let run = 0; run < repetitions; run += 2) {
      await Promise.all(killPoints.slice(run, run + 2).map((killAfterAcks, i) => crashOnce(run + i, killAfterAcks)))
    }
  }, 90_000)
})
