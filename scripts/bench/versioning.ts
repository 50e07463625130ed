/**
 * `npm run bench -- versioning [--budget-ms N]`: microseconds per update, merge, encode and decode of dotted
 * version vector sets with 1, 5 and 50 siblings whose histories span 3 and 10 nodes (100-byte values).
 *
 * The machine is shared and noisy, so each figure comes with a baseline measured in the same run on the same
 * data: update and merge against a structuredClone of the object (the cost of copying it at all), encode against
 * JSON.stringify of an equivalent plain structure (values as base64), decode against JSON.parse of that string.
 * Each figure is the median of five rounds, the operation's rounds alternating with its baseline's, after a warm-up.
 */
import { makeActor } from '../../src/core/versioning/actor.ts'
import type { Actor } from '../../src/core/versioning/actor.ts'
import { emptyObject, mergeObjects, updateObject } from '../../src/core/versioning/dotted-version-vector-set.ts'
import type { DottedVersionVectorSet, UpdateOutcome, Write } from '../../src/core/versioning/dotted-version-vector-set.ts'
import { decodeObject, encodeObject } from '../../src/core/versioning/object-codec.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'

const VALUE_BYTES = 100
const GENERATION = 1_700_000_000
let sink = 0

function updated(outcome: UpdateOutcome): DottedVersionVectorSet {
  if (outcome.kind !== 'updated') throw new Error(`bench setup refused: ${outcome.kind}`)
  return outcome.object
}

function writeBy(actor: Actor, context: Write['context'], seq: number): Write {
  const value = new Uint8Array(VALUE_BYTES).fill(seq & 0xff)
  return { context, actor, timestamp: { physicalMs: 1_700_000_000_000 + seq, logical: 0 }, content: { kind: 'value', value, contentType: 'application/octet-stream' } }
}

/** Every node writes once with the latest context (history spans all nodes), then blind writes add siblings. */
function buildObject(nodes: number, siblings: number): { object: DottedVersionVectorSet; actors: Actor[] } {
  const actors = Array.from({ length: nodes }, (_, i) => makeActor(nodeId(`node-${i}.chorus.lan`), GENERATION + i))
  let object = emptyObject
  let seq = 0
  for (const actor of actors) object = updated(updateObject(object, writeBy(actor, object.history, seq++)))
  for (let i = 1; i < siblings; i++) object = updated(updateObject(object, writeBy(actors[i % nodes] as Actor, null, seq++)))
  if (object.siblings.length !== siblings) throw new Error('bench setup built the wrong object')
  return { object, actors }
}

function toPlain(object: DottedVersionVectorSet): unknown {
  return {
    history: object.history,
    siblings: object.siblings.map((s) => ({
      dot: s.dot,
      timestamp: s.timestamp,
      content: s.content.kind === 'value' ? { contentType: s.content.contentType, value: Buffer.from(s.content.value).toString('base64') } : null,
    })),
  }
}

/**
 * Median microseconds per call of an operation and its baseline, measured in alternating rounds so that a burst
 * of load from another process on this shared machine hits both sides of the ratio alike.
 */
function measurePair(budgetMs: number, run: () => void, baseline: () => void): [number, number] {
  const roundMs = budgetMs / 10
  for (const warm of [run, baseline]) {
    const warmUntil = performance.now() + roundMs
    while (performance.now() < warmUntil) warm()
  }
  const runs: number[] = []
  const baselines: number[] = []
  for (let round = 0; round < 5; round++) {
    runs.push(timeRound(roundMs, run))
    baselines.push(timeRound(roundMs, baseline))
  }
  return [median(runs), median(baselines)]
}

function timeRound(roundMs: number, run: () => void): number {
  let calls = 0
  const began = performance.now()
  let elapsed = 0
  while (elapsed < roundMs) {
    for (let i = 0; i < 16; i++) run()
    calls += 16
    elapsed = performance.now() - began
  }
  return (elapsed * 1_000) / calls
}

function median(values: number[]): number {
  return values.sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
}

interface Row {
  readonly case: string
  readonly op: string
  readonly us: number
  readonly baseline: string
  readonly baselineUs: number
}

function benchCase(nodes: number, siblings: number, budgetMs: number): Row[] {
  const { object, actors } = buildObject(nodes, siblings)
  const writer = actors[0] as Actor
  const resolving = writeBy(writer, object.history, 9_999)
  // A replica that took one more concurrent write: the merge has real work on both sides.
  const other = updated(updateObject(object, writeBy(actors[nodes - 1] as Actor, null, 10_000)))
  const bytes = encodeObject(object)
  const plain = toPlain(object)
  const json = JSON.stringify(plain)
  const label = `${siblings} sib × ${nodes} nodes (${bytes.length} B)`
  const clone = (): void => { sink += structuredClone(object).siblings.length }
  const row = (op: string, run: () => void, baseline: string, base: () => void): Row => {
    const [us, baselineUs] = measurePair(budgetMs, run, base)
    return { case: label, op, us, baseline, baselineUs }
  }
  return [
    row('update', () => { sink += updateObject(object, resolving).kind.length }, 'structuredClone', clone),
    row('merge', () => { sink += mergeObjects(object, other).siblings.length }, 'structuredClone', clone),
    row('encode', () => { sink += encodeObject(object).length }, 'JSON.stringify', () => { sink += JSON.stringify(plain).length }),
    row('decode', () => { sink += decodeObject(bytes).kind.length }, 'JSON.parse', () => { sink += (JSON.parse(json) as { siblings: unknown[] }).siblings.length }),
  ]
}

export async function main(args: string[]): Promise<void> {
  const flag = args.indexOf('--budget-ms')
  const budgetMs = flag >= 0 ? Number(args[flag + 1]) : 250
  if (!Number.isFinite(budgetMs) || budgetMs <= 0) throw new Error('--budget-ms must be a positive number')
  console.log(`versioning: µs per call, median of 5 alternating rounds, ${budgetMs} ms per pair; ratio = op / baseline on the same data`)
  console.log(['case'.padEnd(30), 'op'.padEnd(7), 'µs/op'.padStart(9), 'baseline'.padEnd(16), 'µs'.padStart(9), 'ratio'.padStart(7)].join(' '))
  // One discarded pass first, so the first printed row does not pay for the JIT compiling everything.
  for (const warm of [1, 50]) benchCase(3, warm, budgetMs / 5)
  for (const siblings of [1, 5, 50]) {
    for (const nodes of [3, 10]) {
      for (const row of benchCase(nodes, siblings, budgetMs)) {
        console.log([row.case.padEnd(30), row.op.padEnd(7), row.us.toFixed(2).padStart(9), row.baseline.padEnd(16), row.baselineUs.toFixed(2).padStart(9), (row.us / row.baselineUs).toFixed(2).padStart(7)].join(' '))
      }
    }
  }
  if (sink === 0.5) console.log('unreachable; keeps the optimiser from discarding the work')
  await Promise.resolve()
}
