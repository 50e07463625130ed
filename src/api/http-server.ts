/**
 * The HTTP API of one node (DESIGN.md section 7) on node's `http` module. This layer parses and validates
 * requests, hands them to the node runtime as client requests, and maps responses and error codes to HTTP.
 * It never decides anything about data: that is the core's job. Every failure becomes a JSON error body;
 * nothing a client sends can throw out of a handler.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { ChorusError } from '../errors.ts'
import type { ErrorCode } from '../errors.ts'
import type { ClientRequest, ClientResponse } from '../core/node/client.ts'
import type { TransportStats } from '../transport/transport.ts'
import { parseHostPort, peerAddress } from '../core/primitives/ids.ts'
import { errorBody, statusForError } from './error-status.ts'
import type { NodeMetrics } from './metrics.ts'

export interface ApiBackend {
  request(request: ClientRequest): Promise<ClientResponse>
  transportStats(): TransportStats
  eventLoopLagMs(): number
}

interface RouteContext {
  readonly request: IncomingMessage
  readonly response: ServerResponse
  readonly url: URL
}

type Handler = (context: RouteContext) => Promise<void>

export class ApiServer {
  private readonly server: Server

  constructor(
    private readonly backend: ApiBackend,
    private readonly metrics: NodeMetrics,
  ) {
    this.server = createServer((request, response) => void this.handle(request, response))
    // Slow or idle clients must not pin sockets forever.
    this.server.headersTimeout = 10_000
    this.server.requestTimeout = 60_000
    this.server.keepAliveTimeout = 5_000
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve(this.server.address() as AddressInfo)
      })
    })
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeIdleConnections()
    })
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const startedAt = performance.now()
    let operation = 'unknown'
    try {
      const url = new URL(request.url ?? '/', 'http://chorus.invalid')
      const route = this.route(request.method ?? 'GET', url.pathname)
      operation = route.operation
      await route.handler({ request, response, url })
    } catch (error) {
      this.sendError(response, error)
    } finally {
      this.metrics.httpRequests.inc({ operation, status: String(response.statusCode) })
      this.metrics.httpLatency.observe({ operation }, (performance.now() - startedAt) / 1000)
    }
  }

  private route(method: string, path: string): { operation: string; handler: Handler } {
    if (path === '/health') return { operation: 'health', handler: this.only(method, 'GET', (c) => this.health(c)) }
    if (path === '/metrics') return { operation: 'metrics', handler: this.only(method, 'GET', (c) => this.scrape(c)) }
    if (path === '/cluster/members') return { operation: 'members', handler: this.only(method, 'GET', (c) => this.members(c)) }
    if (path === '/cluster/join') return { operation: 'join', handler: this.only(method, 'POST', (c) => this.join(c)) }
    if (path === '/cluster/leave') return { operation: 'leave', handler: this.only(method, 'POST', (c) => this.leave(c)) }
    return {
      operation: 'unknown',
      handler: async () => {
        throw new ChorusError('NOT_FOUND', `no route for ${method} ${path}`)
      },
    }
  }

  private only(method: string, allowed: string, handler: Handler): Handler {
    if (method === allowed) return handler
    return async ({ response }) => {
      response.setHeader('Allow', allowed)
      throw new ChorusError('METHOD_NOT_ALLOWED', `${method} is not allowed here; use ${allowed}`)
    }
  }

  private async health({ response }: RouteContext): Promise<void> {
    const answer = await this.backend.request({ kind: 'health' })
    if (answer.kind !== 'health') return this.sendResponseError(response, answer)
    sendJson(response, 200, { status: answer.status, id: answer.id })
  }

  private async members({ response }: RouteContext): Promise<void> {
    const answer = await this.backend.request({ kind: 'members' })
    if (answer.kind !== 'members') return this.sendResponseError(response, answer)
    const rows = answer.members.map((m) => ({
      id: m.id,
      address: m.address,
      http: m.metadata.httpAddress,
      state: m.state,
      generation: m.generation,
      incarnation: m.incarnation,
      phi: Number(m.phi.toFixed(3)),
      leader: m.id === answer.leader,
      zone: m.metadata.zone,
    }))
    sendJson(response, 200, rows)
  }

  private async join({ request, response }: RouteContext): Promise<void> {
    const body = await readJsonBody(request, 64 * 1024)
    const seeds = (body as { seeds?: unknown }).seeds
    if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every((s) => typeof s === 'string' && parseHostPort(s) !== null)) {
      throw new ChorusError('BAD_REQUEST', 'body must be {"seeds":["HOST:PORT",...]}')
    }
    const answer = await this.backend.request({ kind: 'join', seeds: seeds.map((s: string) => peerAddress(s)) })
    if (answer.kind !== 'ok') return this.sendResponseError(response, answer)
    sendJson(response, 202, { status: 'joining', seeds })
  }

  private async leave({ response }: RouteContext): Promise<void> {
    const answer = await this.backend.request({ kind: 'leave' })
    if (answer.kind !== 'ok') return this.sendResponseError(response, answer)
    sendJson(response, 202, { status: 'leaving' })
  }

  private async scrape({ response }: RouteContext): Promise<void> {
    const stats = this.backend.transportStats()
    this.metrics.transportMessages.set({ carrier: 'datagram', direction: 'sent' }, stats.datagramsSent)
    this.metrics.transportMessages.set({ carrier: 'datagram', direction: 'received' }, stats.datagramsReceived)
    this.metrics.transportMessages.set({ carrier: 'stream', direction: 'sent' }, stats.framesSent)
    this.metrics.transportMessages.set({ carrier: 'stream', direction: 'received' }, stats.framesReceived)
    this.metrics.transportBytes.set({ direction: 'sent' }, stats.bytesSent)
    this.metrics.transportBytes.set({ direction: 'received' }, stats.bytesReceived)
    this.metrics.malformedDropped.set(stats.malformedDropped)
    this.metrics.eventLoopLag.set(this.backend.eventLoopLagMs() / 1000)
    const body = await this.metrics.registry.metrics()
    response.writeHead(200, { 'Content-Type': this.metrics.registry.contentType })
    response.end(body)
  }

  private sendResponseError(response: ServerResponse, answer: ClientResponse): void {
    if (answer.kind === 'error') throw new ChorusError(asErrorCode(answer.code), answer.message)
    throw new ChorusError('INTERNAL', `unexpected response ${answer.kind}`)
  }

  private sendError(response: ServerResponse, error: unknown): void {
    const chorus = error instanceof ChorusError ? error : new ChorusError('INTERNAL', 'internal error')
    if (response.headersSent) {
      response.destroy()
      return
    }
    response.writeHead(statusForError[chorus.code], { 'Content-Type': 'application/json' })
    response.end(errorBody(chorus.code, chorus.message, chorus.details))
  }
}

/** Reads a JSON request body of at most maxBytes; anything else is a 4xx, never an exception of another kind. */
async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBytes) throw new ChorusError('VALUE_TOO_LARGE', `request body over ${maxBytes} bytes`)
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
  } catch {
    throw new ChorusError('BAD_REQUEST', 'request body is not valid JSON')
  }
}

function asErrorCode(code: string): ErrorCode {
  return code in statusForError ? (code as ErrorCode) : 'INTERNAL'
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'Content-Type': 'application/json' })
  response.end(JSON.stringify(body))
}
