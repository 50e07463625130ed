/**
 * `npm run bench -- membership-under-load [--size 3] [--preset lan] [--seconds 40] [--connections 64]
 *   [--value-bytes 1024] [--trials 1] [--chorus-flag '...']`
 *
 * Issue 3: "acks must never wait behind key-value work". A Chorus cluster on loopback serves the most HTTP load
 * one autocannon instance can give it (PUTs for the first half of the window, GETs of those keys for the second
 * half, every connection kept busy, spread over all nodes), and meanwhile we count what membership got wrong:
 *
 *   false suspicions  `membership.suspect` lines logged by any node about any other (nobody is killed, so all
 *                     are false), and the nodes' own probe/φ suspicion counters from /metrics
 *   false deaths      (observer, target) pairs in which a /cluster/members poll (every 100 ms) or a node's log
 *                     showed a live node dead
 *   refutations       times a node had to refute a suspicion about itself
 *   event-loop lag    the largest `chorus_event_loop_lag_seconds` any node reported (scraped every second),
 *                     against the probe timeout that lag would have to exceed to delay an ack past it
 *   shed              requests the overload guard refused with 503, and the answered rate
 *
 * A settle period after the load still counts late verdicts. Everything is bounded in time; nodes listen on a
 * random 127.A.B.0/24 block and are removed on exit.
 */
import { parseArgs } from 'node:util'
import { cleanupAll } from '../lib/cleanup-registry.ts'
import { KeyBook, chorusProtocol, runPhase, type PhaseResult } from '../lib/http-load.ts'
import { launchChorus } from '../lib/membership-systems.ts'
import { delay, pollUntil } from '../lib/poll.ts'
import { presets, type PresetName } from '../../src/core/node/node-config.ts'

interface Settings {
  readonly size: number
  readonly preset: PresetName
  readonly seconds: number
  readonly connections: number
  readonly valueBytes: number
  readonly trials: number
  readonly settleSeconds: number
  readonly chorusFlags: readonly string[]
}

interface TrialResult {
  readonly put: PhaseResult
  readonly get: PhaseResult
  readonly suspectLogs: number
  readonly falseDeadPairs: number
  readonly refutations: number
  readonly probeSuspicions: number
  readonly phiSuspicions: number
  readonly maxLagMs: number
  readonly shed: number
}

/** /metrics is scraped this often for the lag gauge (a decaying maximum, so one scrape a second misses nothing). */
const SCRAPE_INTERVAL_MS = 1_000
const POLL_INTERVAL_MS = 100

export async function main(args: string[]): Promise<void> {
  const settings = parseSettings(args)
  const config = presets[settings.preset]
  console.log(
    `membership under load: ${settings.size} nodes (${settings.preset}${settings.chorusFlags.length > 0 ? ` ${settings.chorusFlags.join(' ')}` : ''}), ` +
      `${settings.connections} connections, ${settings.valueBytes}-byte values, ${settings.seconds} s of load per trial, ${settings.trials} trial(s); ` +
      `probe timeout ${config.probeTimeoutMs} ms, interval ${config.probeIntervalMs} ms`,
  )
  const results: TrialResult[] = []
  try {
    for (let trial = 0; trial < settings.trials; trial++) results.push(await runTrial(settings, trial))
  } finally {
    cleanupAll()
  }
  for (const [index, result] of results.entries()) console.log(`\ntrial ${index + 1}\n${describe(result, config.probeTimeoutMs)}`)
}

async function runTrial(settings: Settings, trial: number): Promise<TrialResult> {
  const system = launchChorus({ size: settings.size, preset: settings.preset, placement: loopbackPlacement(), extraFlags: settings.chorusFlags, pollIntervalMs: POLL_INTERVAL_MS })
  const { cluster } = system
  try {
    await pollUntil(async () => ((await system.allSeeAll()) ? true : undefined), { deadlineMs: 120_000, intervalMs: 200, what: 'cluster to converge' })
    const urls = cluster.nodes.map((node) => `http://${node.httpAddress}`)
    // The ownership table settles a few seconds after convergence; load before it measures join-time forwarding.
    await waitForTable(urls)
    const metricsBefore = await Promise.all(urls.map(scrape))
    const fromMs = Date.now()
    let maxLagMs = 0
    let scraping = true
    const scraper = (async () => {
      while (scraping) {
        const scrapes = await Promise.all(urls.map(scrape))
        for (const metrics of scrapes) maxLagMs = Math.max(maxLagMs, (metrics.get('chorus_event_loop_lag_seconds') ?? 0) * 1_000)
        await delay(SCRAPE_INTERVAL_MS)
      }
    })()
    const keys = new KeyBook(`under-load-${process.pid}-${trial}`)
    const value = Buffer.alloc(settings.valueBytes, 0x61)
    const phase = { urls, connections: settings.connections, durationS: settings.seconds / 2 }
    const put = await runPhase(chorusProtocol('chorus', 'under-load'), 'put', keys, value, phase)
    const get = keys.size > 0 ? await runPhase(chorusProtocol('chorus', 'under-load'), 'get', keys, value, phase) : put
    await delay(settings.settleSeconds * 1_000)
    scraping = false
    await scraper
    const toMs = Date.now()
    const metricsAfter = await Promise.all(urls.map(scrape))
    // Sums every series whose key starts with `name` (all label values of a metric when given its bare name).
    const total = (metrics: Map<string, number> | undefined, name: string): number =>
      [...(metrics ?? new Map<string, number>()).entries()].reduce((sum, [key, value]) => (key === name || key.startsWith(`${name}{`) || (name.endsWith('}') && key === name) ? sum + value : sum), 0)
    const delta = (name: string): number => metricsAfter.reduce((sum, after, index) => sum + total(after, name) - total(metricsBefore[index], name), 0)
    const sightings = system.deadSightings().filter((s) => s.atMs >= fromMs && s.atMs <= toMs)
    return {
      put,
      get,
      suspectLogs: cluster.logEvents.filter((event) => event.event === 'membership.suspect' && event.atMs >= fromMs && event.atMs <= toMs).length,
      falseDeadPairs: new Set(sightings.map((s) => `${s.observer}→${s.target}`)).size,
      refutations: delta('chorus_membership{counter="refutations"}'),
      probeSuspicions: delta('chorus_membership{counter="probeSuspicions"}'),
      phiSuspicions: delta('chorus_membership{counter="phiSuspicions"}'),
      maxLagMs,
      shed: delta('chorus_http_shed_total'),
    }
  } finally {
    await system.close()
  }
}

function describe(result: TrialResult, probeTimeoutMs: number): string {
  const phase = (name: string, p: PhaseResult): string =>
    `  ${name}: ${p.okPerS.toFixed(0)} ok/s, p50 ${p.p50Ms} ms, p99 ${p.p99Ms} ms, non-2xx ${p.non2xx} ${JSON.stringify(p.statusCodes)}, errors ${p.errors}, timeouts ${p.timeouts}` +
    Object.entries(p.failureSamples).map(([status, body]) => `\n    ${status}: ${body}`).join('')
  return [
    phase('PUT', result.put),
    phase('GET', result.get),
    `  false suspicions logged ${result.suspectLogs} (probe ${result.probeSuspicions}, φ ${result.phiSuspicions}), refutations ${result.refutations}`,
    `  false dead (observer→target pairs) ${result.falseDeadPairs}`,
    `  max event-loop lag ${result.maxLagMs.toFixed(0)} ms (probe timeout ${probeTimeoutMs} ms), shed ${result.shed}`,
  ].join('\n')
}

/** One scrape of /metrics as `name{labels}` → value (labels without the node label), or empty on failure. */
async function scrape(url: string): Promise<Map<string, number>> {
  const values = new Map<string, number>()
  try {
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2_000) })
    if (!response.ok) return values
    for (const line of (await response.text()).split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue
      const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line)
      if (match === null) continue
      const labels = (match[2] ?? '').replace(/,?node="[^"]*"/, '').replace(/^\{,/, '{')
      const key = `${match[1]}${labels === '{}' ? '' : labels}`
      values.set(key, (values.get(key) ?? 0) + Number(match[3]))
    }
  } catch {
    // A node too busy to answer within the timeout: this scrape is skipped.
  }
  return values
}

async function waitForTable(urls: readonly string[]): Promise<void> {
  await pollUntil(
    async () => {
      const tables = await Promise.all(
        urls.map(async (url) => {
          try {
            const response = await fetch(`${url}/cluster/partitions`, { signal: AbortSignal.timeout(1_000) })
            return response.ok ? JSON.stringify(((await response.json()) as { version: unknown }).version) : null
          } catch {
            return null
          }
        }),
      )
      return tables.every((table) => table !== null && table !== 'null' && table === tables[0]) ? true : undefined
    },
    { deadlineMs: 60_000, intervalMs: 200, what: 'every node to hold the same ownership table' },
  )
}

function loopbackPlacement(): (index: number) => { host: string } {
  const a = 100 + Math.floor(Math.random() * 100)
  const b = 1 + Math.floor(Math.random() * 250)
  return (index) => ({ host: `127.${a}.${b}.${index + 1}` })
}

function parseSettings(args: string[]): Settings {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', default: '3' },
      preset: { type: 'string', default: 'lan' },
      seconds: { type: 'string', default: '40' },
      connections: { type: 'string', default: '64' },
      'value-bytes': { type: 'string', default: '1024' },
      trials: { type: 'string', default: '1' },
      'settle-seconds': { type: 'string', default: '10' },
      'chorus-flag': { type: 'string', multiple: true, default: [] },
    },
  })
  const preset = values.preset as PresetName
  if (!(preset in presets)) throw new Error(`unknown preset ${preset}`)
  return {
    size: Number(values.size),
    preset,
    seconds: Number(values.seconds),
    connections: Number(values.connections),
    valueBytes: Number(values['value-bytes']),
    trials: Number(values.trials),
    settleSeconds: Number(values['settle-seconds']),
    chorusFlags: values['chorus-flag'].flatMap((flag) => flag.split(' ')),
  }
}
