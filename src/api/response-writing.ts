/**
 * Writes HTTP answers: JSON bodies, error bodies with their status (error-status.ts), and the mapping of an
 * object to 200 / 300 / 404 of DESIGN.md section 7. The only code that turns a ClientResponse into bytes.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { ChorusError, isErrorCode } from '../errors.ts'
import type { ErrorCode } from '../errors.ts'
import type { ClientResponse, ObjectResponse } from '../core/node/client.ts'
import { errorBody, statusForError } from './error-status.ts'
import { discardRest } from './body-reader.ts'
import type { LingerBounds } from './body-reader.ts'

/** Codes that mean "this node, now": the client is told when to come back. */
const RETRY_AFTER_CODES: ReadonlySet<ErrorCode> = new Set(['OVERLOADED', 'SHUTTING_DOWN'])

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body)
  response.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
  response.end(text)
}

export interface ErrorAnswerOptions extends LingerBounds {
  readonly retryAfterSeconds: number
}

/** Answers any thrown value as a JSON error; anything that is not a ChorusError is a 500 that leaks nothing. */
export function sendError(request: IncomingMessage, response: ServerResponse, error: unknown, options: ErrorAnswerOptions): void {
  const chorus = error instanceof ChorusError ? error : new ChorusError('INTERNAL', 'internal error')
  if (response.headersSent || response.destroyed) {
    response.destroy()
    return
  }
  const headers: OutgoingHttpHeaders = { 'Content-Type': 'application/json' }
  if (RETRY_AFTER_CODES.has(chorus.code)) headers['Retry-After'] = String(options.retryAfterSeconds)
  const text = errorBody(chorus.code, chorus.message, chorus.details)
  headers['Content-Length'] = Buffer.byteLength(text)
  response.writeHead(statusForError[chorus.code], headers)
  response.end(text)
  // A body we did not read to the end (413, or an error before the body was needed) is discarded, bounded.
  discardRest(request, options)
}

/** The error an unexpected or failed answer from the node stands for. */
export function errorFromAnswer(answer: ClientResponse, expected: string): ChorusError {
  if (answer.kind !== 'error') return new ChorusError('INTERNAL', `the node answered ${answer.kind} to a ${expected} request`)
  const code: ErrorCode = isErrorCode(answer.code) ? answer.code : 'INTERNAL'
  return new ChorusError(code, answer.message, answer.details ?? {})
}

/**
 * GET's answer (and PUT's with returnbody=true): one live sibling is 200 with the value; several are 300 with
 * JSON; none is 404, carrying X-Context when a tombstone exists so the client can overwrite it causally.
 */
export function sendObject(response: ServerResponse, answer: ObjectResponse, bucket: string, key: string): void {
  const [first, ...rest] = answer.siblings
  if (first === undefined) {
    const headers: OutgoingHttpHeaders = answer.deleted && answer.context !== '' ? { 'X-Context': answer.context } : {}
    const why = answer.deleted ? 'was deleted' : 'does not exist'
    const text = errorBody('NOT_FOUND', `key ${JSON.stringify(key)} in bucket ${JSON.stringify(bucket)} ${why}`)
    response.writeHead(404, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) })
    response.end(text)
    return
  }
  if (rest.length === 0) {
    response.writeHead(200, { 'Content-Type': first.contentType, 'Content-Length': first.value.byteLength, 'X-Context': answer.context })
    response.end(first.value)
    return
  }
  const siblings = answer.siblings.map((sibling) => ({
    value: Buffer.from(sibling.value.buffer, sibling.value.byteOffset, sibling.value.byteLength).toString('base64'),
    contentType: sibling.contentType,
    timestamp: sibling.timestamp,
  }))
  sendJson(response, 300, { context: answer.context, siblings }, { 'X-Context': answer.context })
}
