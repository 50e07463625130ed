import { LoopbackChorusCluster } from './lib/loopback-chorus-cluster.ts'
import { KeyBook, chorusProtocol, runPhase } from './lib/http-load.ts'
const cluster = await LoopbackChorusCluster.start({ size: 3, clusterPortBase: 7301, httpPortBase: 8301, preset: 'local', readyDeadlineMs: 90_000, extraFlags: (process.env.XF ?? '').split(' ').filter(Boolean) })
const urls = cluster.nodes.map((n) => `http://${n.http}`)
const keys = new KeyBook('t')
const value = Buffer.alloc(100, 0x61)
const metrics = async () => {
  const text = await (await fetch(`${urls[0]}/metrics`)).text()
  return text.split('\n').filter((l) => /chorus_coordinator\{counter="(reads|writes|speculativeReads|replicaReads|readRepairs)"|chorus_storage\{counter="(inline|pooled|budget)/.test(l) && !l.startsWith('#'))
}
for (const op of ['put', 'put', 'get', 'get'] as const) {
  const before = await metrics()
  const r = await runPhase(chorusProtocol('chorus', 'bench'), op, keys, value, { urls, connections: 32, durationS: 5 })
  console.log(op, r.okPerS.toFixed(0), 'p50', r.p50Ms, 'p99', r.p99Ms)
  console.log(' before', before.join(' | '))
  console.log(' after ', (await metrics()).join(' | '))
}
await cluster.close()
