/**
 * Handlers for `/buckets/{b}/keys/{k}` and `/buckets/{b}/keys` (DESIGN.md section 7). Each validates everything
 * it was sent — path, query, headers, body size — before it hands one client request to the node, then maps the
 * answer: GET to 200/300/404, PUT to 204 (or like GET with returnbody=true), DELETE to 204.
 */
import type { DeleteRequest, GetRequest, PutRequest } from '../core/node/client.ts'
import type { QuorumSetting } from '../core/node/node-config.ts'
import type { Exchange } from './exchange.ts'
import { readBody } from './body-reader.ts'
import { checkQuorumsFitN } from './quorum-check.ts'
import {
  parseBoolean,
  parseBucket,
  parseContentType,
  parseContext,
  parseKey,
  parseQuorum,
  parseRequestId,
  parseTimeoutMs,
  pickQuery,
} from './request-parsing.ts'
import { errorFromAnswer, sendJson, sendObject } from './response-writing.ts'

interface Address {
  readonly bucket: string
  readonly key: string
}

function parseAddress({ params, options }: Exchange): Address {
  return { bucket: parseBucket(params[0] ?? '', options.maxBucketBytes), key: parseKey(params[1] ?? '', options.maxKeyBytes) }
}

/** Query parameters of the key routes, each present only when the client gave it (the bucket's default applies). */
interface Consistency {
  r?: QuorumSetting
  pr?: QuorumSetting
  w?: QuorumSetting
  pw?: QuorumSetting
  timeoutMs?: number
  returnBody?: boolean
}

function parseConsistency(exchange: Exchange, allowed: readonly string[]): Consistency {
  const parsed: Consistency = {}
  for (const [name, text] of pickQuery(exchange.query, allowed)) {
    switch (name) {
      case 'timeout':
        parsed.timeoutMs = parseTimeoutMs(text, exchange.options.maxRequestTimeoutMs)
        break
      case 'returnbody':
        parsed.returnBody = parseBoolean(name, text)
        break
      case 'r':
      case 'pr':
      case 'w':
      case 'pw':
        parsed[name] = parseQuorum(name, text, exchange.options.maxBucketN)
        break
    }
  }
  return parsed
}

function header(exchange: Exchange, name: string): string | undefined {
  const value = exchange.request.headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

export async function getKey(exchange: Exchange): Promise<void> {
  const { bucket, key } = parseAddress(exchange)
  const consistency = parseConsistency(exchange, ['r', 'pr', 'timeout'])
  await checkQuorumsFitN(exchange, bucket, [['r', consistency.r], ['pr', consistency.pr]])
  const request: GetRequest = { kind: 'get', bucket, key, r: consistency.r, pr: consistency.pr, timeoutMs: consistency.timeoutMs }
  const answer = await exchange.backend.request(request)
  if (answer.kind !== 'object') throw errorFromAnswer(answer, 'get')
  if (answer.siblings.length > 0) exchange.metrics.siblings.observe(answer.siblings.length)
  sendObject(exchange.response, answer, bucket, key)
}

export async function putKey(exchange: Exchange): Promise<void> {
  const { bucket, key } = parseAddress(exchange)
  const consistency = parseConsistency(exchange, ['w', 'pw', 'timeout', 'returnbody'])
  const clientRequestId = parseRequestId(exchange.request.headers['x-request-id'])
  const context = parseContext(header(exchange, 'x-context'), exchange.options.maxContextBytes)
  const contentType = parseContentType(exchange.request.headers['content-type'])
  const value = await readBody(exchange.request, exchange.options.maxValueBytes, 'value')
  await checkQuorumsFitN(exchange, bucket, [['w', consistency.w], ['pw', consistency.pw]])
  const request: PutRequest = {
    kind: 'put',
    bucket,
    key,
    value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
    contentType,
    context: context.context,
    seenWriteIds: context.seenWriteIds,
    returnBody: consistency.returnBody === true,
    w: consistency.w,
    pw: consistency.pw,
    timeoutMs: consistency.timeoutMs,
    clientRequestId,
  }
  const answer = await exchange.backend.request(request)
  if (answer.kind === 'object' && request.returnBody) return sendObject(exchange.response, answer, bucket, key)
  if (answer.kind !== 'written') throw errorFromAnswer(answer, 'put')
  exchange.response.writeHead(204, answer.context === '' ? {} : { 'X-Context': answer.context })
  exchange.response.end()
}

export async function deleteKey(exchange: Exchange): Promise<void> {
  const { bucket, key } = parseAddress(exchange)
  const consistency = parseConsistency(exchange, ['w', 'pw', 'timeout'])
  const clientRequestId = parseRequestId(exchange.request.headers['x-request-id'])
  const context = parseContext(header(exchange, 'x-context'), exchange.options.maxContextBytes)
  await checkQuorumsFitN(exchange, bucket, [['w', consistency.w], ['pw', consistency.pw]])
  const request: DeleteRequest = {
    kind: 'delete',
    bucket,
    key,
    ...context,
    ...consistency,
    ...(clientRequestId === undefined ? {} : { clientRequestId }),
  }
  const answer = await exchange.backend.request(request)
  if (answer.kind !== 'written') throw errorFromAnswer(answer, 'delete')
  exchange.response.writeHead(204, answer.context === '' ? {} : { 'X-Context': answer.context })
  exchange.response.end()
}

export async function listKeys(exchange: Exchange): Promise<void> {
  const bucket = parseBucket(exchange.params[0] ?? '', exchange.options.maxBucketBytes)
  pickQuery(exchange.query, [])
  const answer = await exchange.backend.request({ kind: 'list-keys', bucket })
  if (answer.kind !== 'keys') throw errorFromAnswer(answer, 'list-keys')
  sendJson(exchange.response, 200, { keys: answer.keys })
}
