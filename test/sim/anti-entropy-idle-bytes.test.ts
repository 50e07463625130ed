/**
 * What anti-entropy costs on an idle cluster (issue 3's gossip-bytes goal): five nodes, Q = 256, n = 3, the
 * production interval of 60 s, no writes. Every encoded ae-* frame (requests and answers) is counted as it enters
 * the simulated network, between the end of the first interval (when the first rounds are due) and four virtual
 * minutes. Prints bytes per node per second and holds them under a bound, so a change that makes idle rounds chatty
 * again fails here.
 *
 * Measured (seed 1, this window): one ae-hashes exchange per partition and peer (before ae-roots) cost 699.4
 * B/node/s and 3.41 frames/node/s; one ae-roots call per peer per interval costs 58.3 B/node/s, 0.06 frames/node/s.
 */
import { describe, expect, it } from 'vitest'
import { presets } from '../../src/core/node/node-config.ts'
import type { NodeConfig } from '../../src/core/node/node-config.ts'
import type { StreamFrame } from '../../src/sim/sim-network.ts'
import type { PeerAddress } from '../../src/core/primitives/ids.ts'
import { World } from '../../src/sim/world.ts'

const config: NodeConfig = { ...presets.test, partitions: 256, n: 3, antiEntropyIntervalMs: 60_000 }
const nodes = 5
const fromMs = 60_000
const toMs = 240_000

export function measureIdleAntiEntropyBytes(seed: number): { bytesPerNodePerSecond: number; framesPerNodePerSecond: number; byKind: Record<string, number> } {
  const world = new World({ seed, nodes, config, maxKeptTraceLines: 0 })
  const byKind: Record<string, number> = {}
  let bytes = 0
  let frames = 0
  const count = (frame: StreamFrame): void => {
    const kind = frame.description.split(' ')[0] ?? ''
    if (!kind.startsWith('ae-') || world.nowMs < fromMs) return
    bytes += frame.bytes.length
    frames++
    byKind[kind] = (byKind[kind] ?? 0) + frame.bytes.length
  }
  const network = world.network
  const sendStream = network.sendStream.bind(network)
  const sendOnConnection = network.sendOnConnection.bind(network)
  network.sendStream = (from: PeerAddress, to: PeerAddress, frame: StreamFrame) => {
    count(frame)
    return sendStream(from, to, frame)
  }
  network.sendOnConnection = (connectionId: number, from: PeerAddress, to: PeerAddress, frame: StreamFrame) => {
    count(frame)
    sendOnConnection(connectionId, from, to, frame)
  }
  world.runUntil(toMs)
  const seconds = (toMs - fromMs) / 1_000
  return { bytesPerNodePerSecond: bytes / nodes / seconds, framesPerNodePerSecond: frames / nodes / seconds, byKind }
}

describe('anti-entropy on an idle cluster', () => {
  it('costs little: ae-* bytes per node per second, 5 nodes, Q = 256, 60 s interval', () => {
    const result = measureIdleAntiEntropyBytes(1)
    console.log(`idle anti-entropy: ${result.bytesPerNodePerSecond.toFixed(1)} B/node/s, ${result.framesPerNodePerSecond.toFixed(2)} frames/node/s, by kind ${JSON.stringify(result.byKind)}`)
    // About 58 today; 150 leaves room for bigger marks and owner lists, and is far below the 706 of per-partition probes.
    expect(result.bytesPerNodePerSecond).toBeLessThan(150)
    expect(Object.keys(result.byKind).sort()).toEqual(['ae-roots', 'ae-roots-reply'])
  })
})
