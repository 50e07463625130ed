/**
 * `npm run bench -- anti-entropy [--keys 100000] [--differing 10]`: two replicas of one partition holding
 * `keys` objects (100-byte values), of which `differing` differ (half missing on one side, half changed on the
 * other). Reports what one Merkle anti-entropy round moves and how long it takes to repair, against a full
 * key-by-key comparison (every key with its 8-byte digest sent over, then the same objects fetched) in the same
 * run, on the same data.
 *
 * The two replicas are the real core modules (AntiEntropy, Replica, IoContinuations) over the simulator's
 * synchronous memory disk, wired by a tiny in-process shell that delivers calls at once: the figures are the
 * protocol's cost and the core's CPU time, with no network or fsync latency. Trees are rebuilt by scanning the
 * disks first (timed separately), as on a start. Scans use 100,000-object pages because the simulated disk
 * sorts its keys on every page (a page costs O(n log n)); LevelDB pages would not.
 */
import { parseArgs } from 'node:util'
import { AntiEntropy } from '../../src/core/anti-entropy/anti-entropy.ts'
import { digest64 } from '../../src/core/anti-entropy/digest64.ts'
import type { Effect } from '../../src/core/node/effect.ts'
import { IoContinuations } from '../../src/core/node/io-continuations.ts'
import type { Out } from '../../src/core/node/io-continuations.ts'
import type { Message } from '../../src/core/node/message.ts'
import { callId, nodeId, operationId, peerAddress } from '../../src/core/primitives/ids.ts'
import type { NodeId, PeerAddress } from '../../src/core/primitives/ids.ts'
import type { ClusterView } from '../../src/core/replication/cluster-view.ts'
import { Replica } from '../../src/core/replication/replica.ts'
import { makeActor } from '../../src/core/versioning/actor.ts'
import { emptyObject, updateObject } from '../../src/core/versioning/dotted-version-vector-set.ts'
import { decodeObject, encodeObject } from '../../src/core/versioning/object-codec.ts'
import { MemorySimDisk } from '../../src/sim/sim-disk.ts'

interface Side {
  readonly id: NodeId
  readonly address: PeerAddress
  readonly disk: MemorySimDisk
  readonly io: IoContinuations
  readonly replica: Replica
  readonly antiEntropy: AntiEntropy
}

const bucket = 'bench'
let nowMs = 0

function makeSide(name: string, other: string): Side {
  const id = nodeId(name)
  const address = peerAddress(`${name}:7000`)
  let ids = 1
  const io = new IoContinuations({ nextCallId: () => callId(ids++), nextOperationId: () => operationId(ids++) })
  const actor = makeActor(id, 1)
  const replica = new Replica({
    io, actor, stamp: () => ({ physicalMs: 1, logical: 0 }), maxQueued: 1_000_000,
    limits: { siblingWarnCount: 25, maxSiblings: 100, maxObjectBytes: 1 << 20, maxContextBytes: 8_192 },
  })
  const owners = [id, nodeId(other)].sort()
  const cluster: ClusterView = {
    self: id, nowMs: () => nowMs,
    table: () => ({ partitions: 1, n: 2, version: { leaderGeneration: 1, version: 1 }, owners: [owners] }),
    members: () => owners, isLive: () => true, address: (peer) => peerAddress(`${peer}:7000`),
  }
  const antiEntropy = new AntiEntropy({ io, cluster, replica, conflictFor: () => 'siblings' }, {
    partitions: 1, intervalMs: 1, maxConcurrentRounds: 1, callTimeoutMs: 1_000, rebuildPageSize: 100_000,
  }, 0)
  return { id, address, disk: new MemorySimDisk(), io, replica, antiEntropy }
}

/** Performs effects until none are left: storage on the side's own disk, calls and answers delivered at once. */
function drain(sides: readonly Side[], side: Side, initial: Out): void {
  const queue: [Side, Effect][] = []
  const push = (at: Side, effects: Out): void => {
    at.antiEntropy.observe(effects)
    for (const effect of effects) queue.push([at, effect])
  }
  push(side, initial)
  for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
    const [at, effect] = item
    const out: Out = []
    const other = sides.find((s) => effect.kind !== 'read' && effect.kind !== 'write' && 'to' in effect && s.address === effect.to)
    if (effect.kind === 'read') at.io.storageResult(effect.operationId, at.disk.read(effect.query, nowMs), out)
    else if (effect.kind === 'write') at.io.storageResult(effect.operationId, at.disk.write(effect.mutations, effect.durability, nowMs), out)
    else if (effect.kind === 'call' && other !== undefined) {
      serve(other, at.address, effect.callId, effect.message, out)
      push(other, out.splice(0))
    } else if (effect.kind === 'respond' && other !== undefined) {
      other.io.callResult(effect.callId, { kind: 'ok', message: effect.message }, out)
      push(other, out.splice(0))
    }
    push(at, out)
  }
}

function serve(peer: Side, from: PeerAddress, id: ReturnType<typeof callId>, message: Message, out: Out): void {
  if (message.kind.startsWith('ae-')) return peer.antiEntropy.receiveCall(from, id, message as Parameters<AntiEntropy['receiveCall']>[2], out)
  if (message.kind !== 'replica-merge') throw new Error(`unexpected call ${message.kind}`)
  const decoded = decodeObject(message.object)
  if (decoded.kind !== 'decoded') throw new Error('bad object')
  peer.replica.merge(message, 'siblings', decoded.object, null, out, (outcome, next) => {
    next.push({ kind: 'respond', to: from, callId: id, message: { kind: 'replica-merge-reply', from: peer.id, outcome } })
  })
}

/** A one-sibling object; `writer` differs for a changed key, so the two versions are concurrent siblings. */
function object(seed: number, writer: string): Uint8Array {
  const value = new Uint8Array(100).fill(seed & 0xff)
  const outcome = updateObject(emptyObject, {
    context: null, actor: makeActor(nodeId(writer), 1), timestamp: { physicalMs: seed, logical: 0 },
    content: { kind: 'value', value, contentType: 'application/octet-stream' },
  }, { siblingWarnCount: 25, maxSiblings: 100, maxObjectBytes: 1 << 20, maxContextBytes: 8_192 })
  if (outcome.kind !== 'updated') throw new Error(outcome.kind)
  return encodeObject(outcome.object)
}

function load(side: Side, keys: number, changed: ReadonlySet<number>, missing: ReadonlySet<number>): void {
  const batch = 1_000
  for (let first = 0; first < keys; first += batch) {
    const mutations = []
    for (let i = first; i < Math.min(keys, first + batch); i++) {
      if (missing.has(i)) continue
      mutations.push({ kind: 'put-object' as const, partition: 0, bucket, key: `key-${i}`, value: changed.has(i) ? object(i + 1_000_000, 'other-writer') : object(i, 'writer'), dot: null })
    }
    side.disk.write(mutations, 'unsafe', nowMs)
  }
}

/** The baseline: one side sends every (key, digest); the other compares them all, then fetches the differing. */
function fullComparison(a: Side, b: Side): { keysSent: number; bytes: number; differing: number; ms: number } {
  const started = performance.now()
  const scan = (side: Side): Map<string, { digest: string; size: number }> => {
    const map = new Map<string, { digest: string; size: number }>()
    let after: { bucket: string; key: string } | null = null
    for (;;) {
      const page = side.disk.read({ kind: 'scan-partition', partition: 0, after, limit: 100_000 }, nowMs)
      if (page.kind !== 'objects') throw new Error(page.kind)
      for (const o of page.objects) {
        const d = digest64(o.value)
        map.set(o.key, { digest: `${d.hi}.${d.lo}`, size: o.value.length })
      }
      const last = page.objects[page.objects.length - 1]
      if (page.complete || last === undefined) return map
      after = { bucket: last.bucket, key: last.key }
    }
  }
  const ours = scan(a)
  const theirs = scan(b)
  let bytes = 0
  let differing = 0
  for (const [key, entry] of theirs) {
    bytes += bucket.length + key.length + 8
    const mine = ours.get(key)
    if (mine?.digest === entry.digest) continue
    differing++
    bytes += entry.size + (mine?.size ?? 0)
  }
  for (const [key, entry] of ours) if (!theirs.has(key)) { differing++; bytes += entry.size }
  return { keysSent: theirs.size, bytes, differing, ms: performance.now() - started }
}

export async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { keys: { type: 'string', default: '100000' }, differing: { type: 'string', default: '10' } } })
  const keys = Number(values.keys)
  const differingCount = Number(values.differing)
  const a = makeSide('a', 'b')
  const b = makeSide('b', 'a')
  const sides = [a, b]
  const changed = new Set(Array.from({ length: Math.ceil(differingCount / 2) }, (_, i) => Math.floor((i * 7919 * keys) / 10_007) % keys))
  const missing = new Set(Array.from({ length: Math.floor(differingCount / 2) }, (_, i) => (Math.floor(keys / 3) + i * 104_729) % keys))
  load(a, keys, new Set(), new Set())
  load(b, keys, changed, missing)
  const baseline = fullComparison(a, b)

  const rebuildStarted = performance.now()
  for (const side of sides) {
    const out: Out = []
    side.antiEntropy.trees.tick(out)
    drain(sides, side, out)
  }
  const rebuildMs = performance.now() - rebuildStarted
  const initiator = a.antiEntropy.trees.tree(0) === null ? null : (a.id < b.id ? a : b)
  if (initiator === null) throw new Error('trees not rebuilt')
  const started = performance.now()
  nowMs = 10
  const out: Out = []
  initiator.antiEntropy.tick(nowMs, out)
  drain(sides, initiator, out)
  const repairMs = performance.now() - started
  const c = initiator.antiEntropy.counters
  const agree = a.antiEntropy.trees.tree(0)?.root.hi === b.antiEntropy.trees.tree(0)?.root.hi && a.antiEntropy.trees.tree(0)?.root.lo === b.antiEntropy.trees.tree(0)?.root.lo
  const afterBaseline = fullComparison(a, b)
  console.log(`anti-entropy: ${keys} keys in one partition, ${differingCount} differing (${changed.size} changed, ${missing.size} missing), 100-byte values`)
  console.log(`  merkle round: ${c.keysCompared} keys compared, ${c.keysRepaired} objects moved, ${c.bytesExchanged} bytes exchanged, ${repairMs.toFixed(1)} ms (rounds completed ${c.roundsCompleted})`)
  console.log(`  full compare: ${baseline.keysSent} keys sent, ${baseline.differing} differing found, ${baseline.bytes} bytes, ${baseline.ms.toFixed(1)} ms`)
  console.log(`  ratio: merkle/full bytes = ${(c.bytesExchanged / baseline.bytes).toFixed(5)}, time = ${(repairMs / baseline.ms).toFixed(3)}`)
  console.log(`  tree rebuild by scan (both replicas, once per start): ${rebuildMs.toFixed(1)} ms`)
  console.log(`  after the round: roots ${agree ? 'agree' : 'DIFFER'}, full comparison finds ${afterBaseline.differing} differing`)
  if (!agree || afterBaseline.differing !== 0) process.exitCode = 1
}
