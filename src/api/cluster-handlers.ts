/**
 * Handlers for `/health`, `/metrics` and `/cluster/*` (DESIGN.md section 7): what an operator uses to see and
 * change the cluster. Join, leave and remove only start a change that membership and claim carry out over the
 * next protocol periods, so they answer 202 Accepted.
 */
import { ChorusError } from '../errors.ts'
import { nodeId, parseHostPort, peerAddress } from '../core/primitives/ids.ts'
// Node ids travel with a one-byte length, so a longer id cannot name a member.
import { MAX_NODE_ID_BYTES } from '../core/versioning/actor.ts'
import type { Exchange } from './exchange.ts'
import { readJsonBody } from './body-reader.ts'
import { pickQuery } from './request-parsing.ts'
import { errorFromAnswer, sendJson } from './response-writing.ts'

/** A join names a handful of seeds; hundreds would only make the node probe addresses in vain. */
const MAX_JOIN_SEEDS = 64

export async function health(exchange: Exchange): Promise<void> {
  pickQuery(exchange.query, [])
  const answer = await exchange.backend.request({ kind: 'health' })
  if (answer.kind !== 'health') throw errorFromAnswer(answer, 'health')
  sendJson(exchange.response, 200, { status: answer.status, id: answer.id })
}

export async function scrapeMetrics({ backend, metrics, response }: Exchange): Promise<void> {
  const stats = backend.transportStats()
  metrics.transportMessages.set({ carrier: 'datagram', direction: 'sent' }, stats.datagramsSent)
  metrics.transportMessages.set({ carrier: 'datagram', direction: 'received' }, stats.datagramsReceived)
  metrics.transportMessages.set({ carrier: 'stream', direction: 'sent' }, stats.framesSent)
  metrics.transportMessages.set({ carrier: 'stream', direction: 'received' }, stats.framesReceived)
  metrics.transportBytes.set({ direction: 'sent' }, stats.bytesSent)
  metrics.transportBytes.set({ direction: 'received' }, stats.bytesReceived)
  metrics.malformedDropped.set(stats.malformedDropped)
  metrics.eventLoopLag.set(backend.eventLoopLagMs() / 1000)
  const body = await metrics.registry.metrics()
  response.writeHead(200, { 'Content-Type': metrics.registry.contentType })
  response.end(body)
}

export async function members(exchange: Exchange): Promise<void> {
  pickQuery(exchange.query, [])
  const answer = await exchange.backend.request({ kind: 'members' })
  if (answer.kind !== 'members') throw errorFromAnswer(answer, 'members')
  const rows = answer.members.map((member) => ({
    id: member.id,
    address: member.address,
    http: member.metadata.httpAddress,
    state: member.state,
    generation: member.generation,
    incarnation: member.incarnation,
    // φ can be Infinity for a peer never heard from; JSON has no Infinity, and 3 decimals is all anyone reads.
    phi: Number.isFinite(member.phi) ? Number(member.phi.toFixed(3)) : null,
    leader: member.id === answer.leader,
    zone: member.metadata.zone,
  }))
  sendJson(exchange.response, 200, rows)
}

export async function partitions(exchange: Exchange): Promise<void> {
  pickQuery(exchange.query, [])
  const answer = await exchange.backend.request({ kind: 'partitions' })
  if (answer.kind !== 'partitions') throw errorFromAnswer(answer, 'partitions')
  // Before the first claim there is no table to show; that is transient, so 503 tells clients to retry.
  if (answer.table === null) throw new ChorusError('UNAVAILABLE', 'this node has no ownership table yet; it is still joining')
  const { table } = answer
  sendJson(exchange.response, 200, { partitions: table.partitions, version: table.version, owners: table.owners })
}

export async function join(exchange: Exchange): Promise<void> {
  pickQuery(exchange.query, [])
  const body = await readJsonBody(exchange.request, exchange.options.maxJsonBodyBytes)
  const seeds = (body as { seeds?: unknown } | null)?.seeds
  if (
    !Array.isArray(seeds) ||
    seeds.length === 0 ||
    seeds.length > MAX_JOIN_SEEDS ||
    !seeds.every((seed) => typeof seed === 'string' && parseHostPort(seed) !== null)
  ) {
    throw new ChorusError('BAD_REQUEST', `the body must be {"seeds":["HOST:PORT",...]} with 1..${MAX_JOIN_SEEDS} seeds`)
  }
  const answer = await exchange.backend.request({ kind: 'join', seeds: (seeds as string[]).map((seed) => peerAddress(seed)) })
  if (answer.kind !== 'ok') throw errorFromAnswer(answer, 'join')
  sendJson(exchange.response, 202, { status: 'joining', seeds })
}

export async function leave(exchange: Exchange): Promise<void> {
  pickQuery(exchange.query, [])
  const answer = await exchange.backend.request({ kind: 'leave', handoff: true })
  if (answer.kind !== 'ok') throw errorFromAnswer(answer, 'leave')
  sendJson(exchange.response, 202, { status: 'leaving' })
}

export async function remove(exchange: Exchange): Promise<void> {
  pickQuery(exchange.query, [])
  const body = await readJsonBody(exchange.request, exchange.options.maxJsonBodyBytes)
  const id = (body as { id?: unknown } | null)?.id
  if (typeof id !== 'string' || id.length === 0 || Buffer.byteLength(id, 'utf8') > MAX_NODE_ID_BYTES) {
    throw new ChorusError('BAD_REQUEST', `the body must be {"id":"<node id>"} with an id of 1..${MAX_NODE_ID_BYTES} bytes`)
  }
  const answer = await exchange.backend.request({ kind: 'remove', node: nodeId(id) })
  if (answer.kind !== 'ok') throw errorFromAnswer(answer, 'remove')
  sendJson(exchange.response, 202, { status: 'removing', id })
}
