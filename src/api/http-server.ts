/**
 * The HTTP API of one node (DESIGN.md section 7) on node's `http` module. This layer parses and validates
 * requests, hands them to the node as client requests, and maps answers and error codes to HTTP. It never
 * decides anything about data: that is the core's job.
 *
 *   request ─► split target ─► match route (404 / 405) ─► overload guard (503 overloaded) ─► handler
 *           ─► answer, or a thrown ChorusError ─► JSON error with its status; metrics in every case
 *
 * Nothing a client sends can throw out of `handle`: every failure, expected or not, becomes a JSON error body.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import { performance } from 'node:perf_hooks'
import { ChorusError } from '../errors.ts'
import type { ApiBackend } from './api-backend.ts'
import { defaultApiOptions } from './api-options.ts'
import type { ApiOptions } from './api-options.ts'
import type { NodeMetrics } from './metrics.ts'
import { OverloadGuard, overloadedError } from './overload-guard.ts'
import { splitTarget } from './request-parsing.ts'
import { sendError } from './response-writing.ts'
import { errorBody } from './error-status.ts'
import { dataOperations, matchRoute } from './routes.ts'

export type { ApiBackend } from './api-backend.ts'

export class ApiServer {
  private readonly server: Server
  private readonly options: ApiOptions
  private readonly guard: OverloadGuard

  constructor(
    private readonly backend: ApiBackend,
    private readonly metrics: NodeMetrics,
    options: Partial<ApiOptions> = {},
  ) {
    this.options = { ...defaultApiOptions, ...options }
    this.guard = new OverloadGuard(this.options, () => backend.eventLoopLagMs())
    this.server = createServer((request, response) => void this.handle(request, response))
    // Slow or idle clients must not pin sockets forever.
    this.server.headersTimeout = 10_000
    this.server.requestTimeout = 60_000
    this.server.keepAliveTimeout = 5_000
    // Requests node's parser rejects (garbage, headers or URL over its 16 KiB limit) never reach a handler:
    // they get a JSON 400/431 like every other error and their socket is closed, never a crash.
    this.server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerUnparsable(error, socket))
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

  /** Stops accepting connections and resolves once in-flight requests have been answered. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve())
      this.server.closeIdleConnections()
    })
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const startedAt = performance.now()
    let operation = 'unknown'
    let admitted = false
    try {
      const target = splitTarget(request.url ?? '/')
      const match = matchRoute(request.method ?? 'GET', target.segments)
      if (match.kind === 'not-found') throw new ChorusError('NOT_FOUND', `no route for ${request.method ?? 'GET'} /${target.segments.join('/')}`)
      if (match.kind === 'method-not-allowed') {
        response.setHeader('Allow', match.allow.join(', '))
        throw new ChorusError('METHOD_NOT_ALLOWED', `${request.method ?? ''} is not allowed here; use ${match.allow.join(' or ')}`)
      }
      operation = match.endpoint.operation
      if (match.shed) admitted = this.admit()
      const { backend, metrics, options } = this
      await match.endpoint.handler({ request, response, params: match.params, query: target.query, backend, metrics, options })
    } catch (error) {
      this.countFailure(operation, error)
      sendError(request, response, error, this.options)
    } finally {
      if (admitted) this.guard.release()
      this.metrics.inFlightRequests.set(this.guard.inFlightRequests)
      this.metrics.httpRequests.inc({ operation, status: String(response.statusCode) })
      this.metrics.httpLatency.observe({ operation }, (performance.now() - startedAt) / 1000)
    }
  }

  /** Admits the request or throws 503 overloaded; true means it must be released. */
  private admit(): true {
    const admission = this.guard.admit()
    this.metrics.inFlightRequests.set(this.guard.inFlightRequests)
    if (admission === 'admitted') return true
    this.metrics.shedRequests.inc({ reason: admission })
    throw overloadedError(admission, this.options)
  }

  private countFailure(operation: string, error: unknown): void {
    if (!(error instanceof ChorusError) || !dataOperations.has(operation)) return
    if (error.code === 'UNAVAILABLE' || error.code === 'TIMEOUT') {
      this.metrics.quorumFailures.inc({ operation, reason: error.code.toLowerCase() })
    }
  }
}

function answerUnparsable(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) return void socket.destroy()
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW'
  const body = tooLarge
    ? errorBody('BAD_REQUEST', 'the request headers and URL exceed 16 KiB')
    : errorBody('BAD_REQUEST', 'the request is not valid HTTP/1.1')
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'
  socket.end(`HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
}
