/**
 * `npm run bench -- storage [--seconds S] [--rounds R]`: durable writes per second through the commit queue with 64
 * concurrent writers, against three raw classic-level baselines measured in the same run on the same disk:
 * (a) `put` with sync: true one at a time, (b) `db.batch([...100 puts])` with sync: true, (b') the same batch in
 * classic-level's cheaper chained form, (c) `put` with sync: false.
 * Also the full engine path (object + change-log entry + request-id record per write) for reference.
 * Goals (issue 4): queue ≥ 0.8 × (b) and ≥ 20 × (a). Each phase is bounded in time and count; data lives in a
 * temporary directory under os.tmpdir() that is removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import type { AbstractChainedBatchWriteOptions } from 'abstract-level'
import { ClassicLevel } from 'classic-level'
import { nodeId } from '../../src/core/primitives/ids.ts'
import { SystemClock } from '../../src/runtime/system-clock.ts'
import { CommitQueue, defaultCommitQueueOptions } from '../../src/storage/commit-queue.ts'
import { LevelStore } from '../../src/storage/level-store.ts'
import { StorageEngine, defaultStorageEngineOptions } from '../../src/storage/storage-engine.ts'

const writers = 64
const valueBytes = 100
const maxWritesPerPhase = 2_000_000

interface Phase {
  readonly name: string
  readonly writesPerSecond: number
  readonly writes: number
}

const encoder = new TextEncoder()
const value = new Uint8Array(valueBytes).fill(0x61)
const keyOf = (i: number): Uint8Array => encoder.encode(`key-${String(i).padStart(10, '0')}`)

/** Runs `step` (which performs `writesPerStep` writes) until the time budget or the write cap is spent. */
async function measure(name: string, seconds: number, writesPerStep: number, step: (i: number) => Promise<void>): Promise<Phase> {
  const deadline = performance.now() + seconds * 1_000
  const started = performance.now()
  let writes = 0
  while (performance.now() < deadline && writes < maxWritesPerPhase) {
    await step(writes)
    writes += writesPerStep
  }
  const elapsedS = (performance.now() - started) / 1_000
  return { name, writes, writesPerSecond: writes / elapsedS }
}

async function withLevel<T>(root: string, name: string, use: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(root, name), { keyEncoding: 'view', valueEncoding: 'view' })
  await db.open()
  try {
    return await use(db)
  } finally {
    await db.close()
  }
}

async function rawPhases(root: string, seconds: number): Promise<[Phase, Phase, Phase, Phase]> {
  const a = await withLevel(root, 'a', (db) => measure('(a) raw put, sync: true, one at a time', seconds, 1, (i) => db.put(keyOf(i), value, { sync: true })))
  const b = await withLevel(root, 'b', (db) =>
    measure('(b) raw db.batch(array of 100), sync: true', seconds, 100, (i) =>
      db.batch(Array.from({ length: 100 }, (_, j) => ({ type: 'put' as const, key: keyOf(i + j), value })), { sync: true }),
    ),
  )
  // (b') the chained form of the same batch, which the queue itself uses: it skips abstract-level's per-operation
  // cloning and is several times cheaper in CPU, so it is the stricter baseline.
  const bChained = await withLevel(root, 'b-chained', (db) =>
    measure("(b') raw chained batch of 100, sync: true", seconds, 100, async (i) => {
      const batch = db.batch()
      for (let j = 0; j < 100; j++) batch.put(keyOf(i + j), value)
      await batch.write({ sync: true } as AbstractChainedBatchWriteOptions)
    }),
  )
  const c = await withLevel(root, 'c', (db) => measure('(c) raw put, sync: false', seconds, 1, (i) => db.put(keyOf(i), value, { sync: false })))
  return [a, b, bChained, c]
}

/** 64 writers, each awaiting its own durable write before the next: the way replicas use the queue. */
async function concurrentWriters(name: string, seconds: number, write: (i: number) => Promise<void>): Promise<Phase> {
  const deadline = performance.now() + seconds * 1_000
  const started = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < deadline && next < maxWritesPerPhase) await write(next++)
    }),
  )
  return { name, writes: next, writesPerSecond: next / ((performance.now() - started) / 1_000) }
}

async function queuePhase(root: string, seconds: number): Promise<Phase> {
  const store = new LevelStore(join(root, 'queue'))
  await store.open()
  const queue = new CommitQueue(store, defaultCommitQueueOptions)
  try {
    const phase = await concurrentWriters('commit queue, 64 writers, durable', seconds, async (i) => {
      await queue.submit([{ kind: 'put', key: keyOf(i), value }], 'durable')
    })
    console.log(`  queue: ${queue.stats.batches} batches, ${(queue.stats.requests / Math.max(1, queue.stats.batches)).toFixed(1)} writes per batch`)
    return phase
  } finally {
    await queue.close()
    await store.close()
  }
}

async function enginePhase(root: string, seconds: number): Promise<Phase> {
  const engine = await StorageEngine.open(
    { store: new LevelStore(join(root, 'engine')), clock: new SystemClock() },
    { ...defaultStorageEngineOptions, nodeId: nodeId('bench'), requestSweepIntervalMs: null },
  )
  try {
    const phase = await concurrentWriters('engine put-object (+ log + request id), 64 writers, durable', seconds, async (i) => {
      const result = await engine.apply(
        [{ kind: 'put-object', partition: i % 256, bucket: 'bench', key: `k${i}`, value, dot: null, requestId: `r${i}` }],
        'durable',
      )
      if (result.kind !== 'written') throw new Error(`engine write failed: ${JSON.stringify(result)}`)
    })
    const commits = engine.stats.commits
    console.log(`  engine: ${commits.batches} batches, ${(commits.requests / Math.max(1, commits.batches)).toFixed(1)} writes per batch`)
    return phase
  } finally {
    await engine.close()
  }
}

function numberArg(args: readonly string[], flag: string, fallback: number, max: number): number {
  const at = args.indexOf(flag)
  const parsed = at >= 0 ? Number(args[at + 1]) : fallback
  if (!Number.isFinite(parsed) || parsed <= 0 || parsed > max) throw new Error(`${flag} must be in (0, ${max}]`)
  return parsed
}

/** All phases once, each in its own directory. */
async function round(root: string, index: number, seconds: number): Promise<Phase[]> {
  const directory = join(root, `round-${index}`)
  const raw = await rawPhases(directory, seconds)
  return [...raw, await queuePhase(directory, seconds), await enginePhase(directory, seconds)]
}

/** Per phase, the round with the median rate: the machine is shared, so one slow round must not decide. */
function medians(rounds: readonly Phase[][]): Phase[] {
  const first = rounds[0] ?? []
  return first.map((_, i) => {
    const samples = rounds.map((phases) => phases[i]).filter((phase): phase is Phase => phase !== undefined)
    samples.sort((x, y) => x.writesPerSecond - y.writesPerSecond)
    const median = samples[Math.floor(samples.length / 2)]
    if (median === undefined) throw new Error('no samples')
    return median
  })
}

export async function main(args: string[]): Promise<void> {
  const seconds = numberArg(args, '--seconds', 1, 60)
  const rounds = Math.floor(numberArg(args, '--rounds', 3, 20))
  const root = mkdtempSync(join(tmpdir(), 'chorus-bench-storage-'))
  try {
    console.log(`storage benchmark: ${valueBytes}-byte values, ${rounds} rounds of ${seconds} s per phase (median shown), data in ${root}`)
    const results: Phase[][] = []
    for (let i = 0; i < rounds; i++) results.push(await round(root, i, seconds))
    const [a, b, bChained, c, queue, engine] = medians(results)
    if (a === undefined || b === undefined || bChained === undefined || c === undefined || queue === undefined || engine === undefined) return
    for (const phase of [a, b, bChained, c, queue, engine]) {
      console.log(`${phase.name.padEnd(64)} ${phase.writesPerSecond.toFixed(0).padStart(9)} writes/s (${phase.writes} writes)`)
    }
    const ratio = (x: Phase, y: Phase): string => (x.writesPerSecond / y.writesPerSecond).toFixed(2)
    console.log(`queue / (b)  batch-100 sync    = ${ratio(queue, b)}   (goal >= 0.8)`)
    // With 64 writers each waiting for its own ack a batch holds at most 64 writes, so against a sync-bound
    // batch of 100 the ceiling is about 0.64; more writers (or several writes per caller) raise it.
    console.log(`queue / (b') chained batch-100 = ${ratio(queue, bChained)}   (ceiling about 64/100 when the sync dominates)`)
    console.log(`queue / (a)  put sync          = ${ratio(queue, a)}   (goal >= 20)`)
    console.log(`queue / (c)  put no sync       = ${ratio(queue, c)}`)
    console.log(`engine / queue                 = ${ratio(engine, queue)}   (the engine writes 4 records per write)`)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}
