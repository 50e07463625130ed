/**
 * `GET`/`PUT /buckets/{b}/props` (DESIGN.md section 7). A PUT body is a JSON object with any of `n`, `r`, `w`,
 * `conflict`; every field is validated here, so the node only ever sees well-formed props. Numeric r and w must
 * fit the N they will be used with: the new `n` when the body sets it, otherwise the bucket's current one.
 */
import { ChorusError } from '../errors.ts'
import type { BucketProps } from '../core/node/client.ts'
import type { QuorumSetting } from '../core/node/node-config.ts'
import type { Exchange } from './exchange.ts'
import { readJsonBody } from './body-reader.ts'
import { checkQuorumsFitN } from './quorum-check.ts'
import { parseBucket, pickQuery } from './request-parsing.ts'
import { errorFromAnswer, sendJson } from './response-writing.ts'

const PROP_NAMES = ['n', 'r', 'w', 'conflict'] as const

export async function getBucketProps(exchange: Exchange): Promise<void> {
  const bucket = parseBucket(exchange.params[0] ?? '', exchange.options.maxBucketBytes)
  pickQuery(exchange.query, [])
  const answer = await exchange.backend.request({ kind: 'get-bucket-props', bucket })
  if (answer.kind !== 'bucket-props') throw errorFromAnswer(answer, 'get-bucket-props')
  sendJson(exchange.response, 200, propsJson(answer.props))
}

export async function putBucketProps(exchange: Exchange): Promise<void> {
  const bucket = parseBucket(exchange.params[0] ?? '', exchange.options.maxBucketBytes)
  pickQuery(exchange.query, [])
  const props = parseProps(await readJsonBody(exchange.request, exchange.options.maxJsonBodyBytes), exchange.options.maxBucketN)
  await checkQuorumsFitN(exchange, bucket, [['r', props.r], ['w', props.w]], props.n)
  const answer = await exchange.backend.request({ kind: 'put-bucket-props', bucket, props })
  if (answer.kind === 'bucket-props') return sendJson(exchange.response, 200, propsJson(answer.props))
  if (answer.kind !== 'ok') throw errorFromAnswer(answer, 'put-bucket-props')
  exchange.response.writeHead(204)
  exchange.response.end()
}

/** Always the four documented fields, in the documented order. */
function propsJson(props: BucketProps): BucketProps {
  return { n: props.n, r: props.r, w: props.w, conflict: props.conflict }
}

export function parseProps(body: unknown, maxN: number): Partial<BucketProps> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ChorusError('BAD_REQUEST', 'props must be a JSON object such as {"n":3,"r":"quorum","w":"quorum","conflict":"siblings"}')
  }
  const fields = body as Record<string, unknown>
  const unknown = Object.keys(fields).filter((name) => !(PROP_NAMES as readonly string[]).includes(name))
  if (unknown.length > 0) throw new ChorusError('INVALID_PARAMETER', `unknown bucket props: ${unknown.join(', ')}; known are n, r, w, conflict`)
  if (Object.keys(fields).length === 0) throw new ChorusError('INVALID_PARAMETER', 'props must set at least one of n, r, w, conflict')
  const props: { n?: number; r?: QuorumSetting; w?: QuorumSetting; conflict?: BucketProps['conflict'] } = {}
  if (fields.n !== undefined) props.n = parseN(fields.n, maxN)
  if (fields.r !== undefined) props.r = parsePropQuorum('r', fields.r, maxN)
  if (fields.w !== undefined) props.w = parsePropQuorum('w', fields.w, maxN)
  if (fields.conflict !== undefined) props.conflict = parseConflict(fields.conflict)
  return props
}

function parseN(value: unknown, maxN: number): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= maxN) return value
  throw new ChorusError('INVALID_PARAMETER', `n must be an integer 1..${maxN}`)
}

function parsePropQuorum(name: string, value: unknown, maxN: number): QuorumSetting {
  if (value === 'one' || value === 'quorum' || value === 'all') return value
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= maxN) return value
  throw new ChorusError('INVALID_PARAMETER', `${name} must be "one", "quorum", "all" or an integer 1..n`)
}

function parseConflict(value: unknown): BucketProps['conflict'] {
  if (value === 'siblings' || value === 'lww') return value
  throw new ChorusError('INVALID_PARAMETER', 'conflict must be "siblings" or "lww"')
}
