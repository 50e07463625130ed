/**
 * A one-replica model of the data path behind the fake backend, just enough for client and CLI tests: each
 * write gets the next counter of one actor; a write's context covers the siblings whose counter it has seen,
 * so a write without a context becomes a sibling and a write with the latest context replaces everything.
 * Request ids are remembered, so a retried write is applied once and answered with the first result.
 */
import type { ClientRequest, ClientResponse, ClientSibling } from '../../src/core/node/client.ts'
import { encodeCausalContext } from '../../src/core/versioning/causal-context.ts'
import type { VersionVector } from '../../src/core/versioning/version-vector.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'

const ACTOR = nodeId('fake-1')

interface StoredSibling extends ClientSibling {
  readonly counter: number
}

interface StoredObject {
  counter: number
  siblings: StoredSibling[]
}

export class FakeStore {
  private readonly objects = new Map<string, StoredObject>()
  private readonly answered = new Map<string, ClientResponse>()
  /** Timestamps come from here, not the clock, so outputs are reproducible. */
  private nextTimestampMs = 1_700_000_000_000

  readonly script = (request: ClientRequest): ClientResponse => {
    switch (request.kind) {
      case 'health':
        return { kind: 'health', id: ACTOR, status: 'ok' }
      case 'get':
        return this.read(request.bucket, request.key)
      case 'put':
        return this.once(request.clientRequestId, () => this.write(request.bucket, request.key, request.context, request))
      case 'delete':
        return this.once(request.clientRequestId, () => this.write(request.bucket, request.key, request.context, null))
      case 'list-keys':
        return { kind: 'keys', keys: [...this.objects.keys()].filter((id) => id.startsWith(`${request.bucket}/`)).map((id) => id.slice(request.bucket.length + 1)) }
      default:
        return { kind: 'error', code: 'UNAVAILABLE', message: `${request.kind} is not modelled` }
    }
  }

  private read(bucket: string, key: string): ClientResponse {
    const object = this.objects.get(`${bucket}/${key}`)
    if (object === undefined) return { kind: 'object', siblings: [], context: '', deleted: false }
    return { kind: 'object', siblings: object.siblings, context: contextOf(object.counter), deleted: object.siblings.length === 0 }
  }

  private write(bucket: string, key: string, context: VersionVector | null, value: { value: Uint8Array; contentType: string } | null): ClientResponse {
    const id = `${bucket}/${key}`
    const object = this.objects.get(id) ?? { counter: 0, siblings: [] }
    const seen = context?.find((entry) => entry.node === ACTOR)?.counter ?? 0
    object.siblings = object.siblings.filter((sibling) => sibling.counter > seen)
    object.counter++
    if (value !== null) {
      object.siblings.push({ value: value.value, contentType: value.contentType, timestamp: this.nextTimestampMs++, counter: object.counter })
    }
    this.objects.set(id, object)
    return { kind: 'written', context: value === null ? '' : contextOf(object.counter) }
  }

  private once(clientRequestId: string | undefined, apply: () => ClientResponse): ClientResponse {
    if (clientRequestId === undefined) return apply()
    const earlier = this.answered.get(clientRequestId)
    if (earlier !== undefined) return earlier
    const answer = apply()
    this.answered.set(clientRequestId, answer)
    return answer
  }
}

export function contextOf(counter: number): string {
  return encodeCausalContext([{ node: ACTOR, generation: 1, counter }])
}
