/**
 * Turning quorum outcomes into answers: the client-facing ClientResponse and the peer-facing WriteResult that a
 * primary sends back to the node that forwarded it a write. One place, so a forwarded write and a local one are
 * answered identically.
 */
import type { ClientResponse, ObjectResponse } from '../node/client.ts'
import { readObject } from '../versioning/dotted-version-vector-set.ts'
import { encodeCausalContext } from '../versioning/causal-context.ts'
import { decodeObject } from '../versioning/object-codec.ts'
import type { DottedVersionVectorSet } from '../versioning/sibling.ts'
import type { WriteResult } from './replication-messages.ts'

export function objectResponse(object: DottedVersionVectorSet): ObjectResponse {
  const read = readObject(object)
  const siblings = read.kind === 'found'
    ? read.values.map((v) => ({ value: v.value, contentType: v.contentType, timestamp: v.timestamp.physicalMs }))
    : []
  // The ids of every write the read saw (tombstones too): a write with this context replaces them by id as well.
  const writeIds = object.siblings.flatMap((sibling) => (sibling.writeId === undefined ? [] : [sibling.writeId]))
  return { kind: 'object', siblings, context: encodeCausalContext(read.context, writeIds), deleted: read.kind === 'deleted' }
}

export function unavailable(required: number, acknowledged: number, message: string): WriteResult {
  return { kind: 'unavailable', required, acknowledged, message }
}

export function clientResponseOf(result: WriteResult, returnBody: boolean): ClientResponse {
  switch (result.kind) {
    case 'written': {
      if (!returnBody || result.object === undefined) return { kind: 'written', context: result.context }
      const decoded = decodeObject(result.object)
      return decoded.kind === 'decoded' ? objectResponse(decoded.object) : { kind: 'written', context: result.context }
    }
    case 'unavailable':
      return { kind: 'error', code: 'UNAVAILABLE', message: result.message, details: { required: result.required, acknowledged: result.acknowledged } }
    case 'timeout':
      return { kind: 'error', code: 'TIMEOUT', message: result.message }
    case 'error':
      return { kind: 'error', code: result.code, message: result.message }
  }
}
