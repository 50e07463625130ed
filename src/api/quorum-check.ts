/**
 * Whether numeric r/w/pr/pw values fit the bucket's N. `one`, `quorum` and `all` always fit; an integer above N
 * can never be satisfied, and a request that cannot succeed is a 400 rather than a guaranteed 503 after a
 * quorum round.
 *
 * N is per bucket, so the API asks the node (get-bucket-props, a read of bucket metadata that changes nothing)
 * — but only when some value is an integer above 1, so ordinary requests pay nothing. When the node cannot
 * answer that (before the data path exists, or while it is unavailable) the node's default N is the bound.
 */
import { ChorusError } from '../errors.ts'
import type { QuorumSetting } from '../core/node/node-config.ts'
import type { Exchange } from './exchange.ts'

export type NamedQuorum = readonly [name: string, setting: QuorumSetting | undefined]

export async function checkQuorumsFitN(exchange: Exchange, bucket: string, settings: readonly NamedQuorum[], knownN?: number): Promise<void> {
  const numeric = settings.filter((entry): entry is readonly [string, number] => typeof entry[1] === 'number' && entry[1] > 1)
  if (numeric.length === 0) return
  const n = knownN ?? (await bucketN(exchange, bucket))
  for (const [name, value] of numeric) {
    if (value > n) throw new ChorusError('INVALID_PARAMETER', `${name}=${value} is above N=${n} of bucket ${JSON.stringify(bucket)}`)
  }
}

export async function bucketN(exchange: Exchange, bucket: string): Promise<number> {
  const answer = await exchange.backend.request({ kind: 'get-bucket-props', bucket })
  return answer.kind === 'bucket-props' ? answer.props.n : exchange.options.n
}
