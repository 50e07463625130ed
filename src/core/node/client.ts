/**
 * Client requests as the core sees them, after src/api has parsed and validated HTTP (or the shell issued them
 * itself, as it does with `join` at start). The core answers each with exactly one reply effect carrying a
 * ClientResponse; only src/api maps responses to HTTP statuses (DESIGN.md section 7).
 *
 * The API decodes `X-Context` (causal-context.ts) before it builds a request, so a malformed context is a 400
 * before any work, and the core receives a VersionVector or null.
 */
import type { Millis, NodeId, PeerAddress } from '../primitives/ids.ts'
import type { MemberView } from '../membership/swim.ts'
import type { QuorumSetting } from './node-config.ts'
import type { VersionVector } from '../versioning/version-vector.ts'
import type { OwnershipTable } from '../partitioning/ownership-table.ts'

/** A bucket's properties (GET/PUT /buckets/{b}/props). */
export interface BucketProps {
  readonly n: number
  readonly r: QuorumSetting
  readonly w: QuorumSetting
  /** `siblings` keeps concurrent writes; `lww` keeps the highest HLC timestamp and can lose writes by design. */
  readonly conflict: 'siblings' | 'lww'
}

export interface HealthRequest {
  readonly kind: 'health'
}

export interface MembersRequest {
  readonly kind: 'members'
}

/** Join the cluster through these seeds; retried by membership until one answers. */
export interface JoinRequest {
  readonly kind: 'join'
  readonly seeds: readonly PeerAddress[]
}

/** Leave: gossip `left`. With `handoff` (HTTP and CLI leave), first hand every owned partition off. */
export interface LeaveRequest {
  readonly kind: 'leave'
  /** Absent for a signal-driven shutdown, which has seconds, not the minutes a handoff may take. */
  readonly handoff?: boolean
}

/** Remove a (dead) member from the ownership table; its partitions move to the others. */
export interface RemoveRequest {
  readonly kind: 'remove'
  readonly node: NodeId
}

export interface PartitionsRequest {
  readonly kind: 'partitions'
}

/** Per-request overrides; absent fields take the bucket's defaults. */
// Optional fields admit an explicit undefined so that the HTTP layer can build every request with one fixed
// shape: the core reads these on every request, and objects of many shapes make those reads megamorphic.
export interface ReadOptions {
  readonly r?: QuorumSetting | undefined
  readonly pr?: QuorumSetting | undefined
  readonly timeoutMs?: Millis | undefined
}

export interface WriteOptions {
  readonly w?: QuorumSetting | undefined
  readonly pw?: QuorumSetting | undefined
  readonly timeoutMs?: Millis | undefined
}

export interface GetRequest extends ReadOptions {
  readonly kind: 'get'
  readonly bucket: string
  readonly key: string
}

export interface PutRequest extends WriteOptions {
  readonly kind: 'put'
  readonly bucket: string
  readonly key: string
  readonly value: Uint8Array
  readonly contentType: string
  /** The decoded X-Context: what this write supersedes. null = concurrent with everything stored. */
  readonly context: VersionVector | null
  /** Request ids the X-Context names (causal-context.ts): the writes it supersedes by id. */
  readonly seenWriteIds?: readonly string[] | undefined
  /** X-Request-Id: a retry with the same id is applied once and answered with the first result. */
  readonly clientRequestId?: string | undefined
  /** returnbody=true: answer with the object after the write, like a GET. */
  readonly returnBody: boolean
}

export interface DeleteRequest extends WriteOptions {
  readonly kind: 'delete'
  readonly bucket: string
  readonly key: string
  readonly context: VersionVector | null
  readonly seenWriteIds?: readonly string[]
  readonly clientRequestId?: string
}

export interface ListKeysRequest {
  readonly kind: 'list-keys'
  readonly bucket: string
}

export interface GetBucketPropsRequest {
  readonly kind: 'get-bucket-props'
  readonly bucket: string
}

export interface PutBucketPropsRequest {
  readonly kind: 'put-bucket-props'
  readonly bucket: string
  readonly props: Partial<BucketProps>
}

export type ClientRequest =
  | HealthRequest
  | MembersRequest
  | JoinRequest
  | LeaveRequest
  | RemoveRequest
  | PartitionsRequest
  | GetRequest
  | PutRequest
  | DeleteRequest
  | ListKeysRequest
  | GetBucketPropsRequest
  | PutBucketPropsRequest

/** One live sibling as the API shows it. */
export interface ClientSibling {
  readonly value: Uint8Array
  readonly contentType: string
  /** HLC physical milliseconds of the write that created it. */
  readonly timestamp: number
}

/**
 * The answer to a get (or a put with returnBody): the live siblings and the encoded causal context.
 * No siblings and `deleted: true` means a tombstone exists (404 with X-Context); no siblings and
 * `deleted: false` means the key was never written (404 without X-Context).
 */
export interface ObjectResponse {
  readonly kind: 'object'
  readonly siblings: readonly ClientSibling[]
  readonly context: string
  readonly deleted: boolean
}

/** Error codes the core answers with; src/errors.ts holds the full catalogue the API maps to statuses. */
export type ClientErrorCode =
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'OVERLOADED'
  | 'TOO_MANY_SIBLINGS'
  | 'VALUE_TOO_LARGE'
  | 'INVALID_PARAMETER'
  | 'MALFORMED_CONTEXT'
  | 'NOT_FOUND'
  | 'STORAGE_ERROR'
  | 'SHUTTING_DOWN'
  | 'INTERNAL'

export type ClientResponse =
  | { readonly kind: 'health'; readonly id: NodeId; readonly status: 'ok' }
  | { readonly kind: 'members'; readonly members: readonly MemberView[]; readonly leader: NodeId | null }
  | { readonly kind: 'partitions'; readonly table: OwnershipTable | null }
  | ObjectResponse
  /** A put or delete reached its write quorum; `context` is the new version's (empty for a delete). */
  | { readonly kind: 'written'; readonly context: string }
  | { readonly kind: 'keys'; readonly keys: readonly string[] }
  | { readonly kind: 'bucket-props'; readonly props: BucketProps }
  | { readonly kind: 'ok' }
  | {
      readonly kind: 'error'
      readonly code: ClientErrorCode | string
      readonly message: string
      /** For UNAVAILABLE: `required` and `acknowledged`. */
      readonly details?: Readonly<Record<string, string | number>>
    }
