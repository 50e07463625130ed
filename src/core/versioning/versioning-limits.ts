/**
 * The limits of the versioning module, each with the reason for its default (STYLE rule 7). The node config
 * carries siblingWarnCount and maxSiblings with the same defaults; the replication layer passes them through.
 */
export interface VersioningLimits {
  /**
   * More siblings than this and a write still succeeds but is flagged, so a metric shows clients that read
   * without resolving. 25 is Riak's warn_siblings default.
   */
  readonly siblingWarnCount: number
  /**
   * More siblings than this and a write is refused. Siblings only multiply when clients write without contexts;
   * past 100 every read ships 100 values and the object is effectively broken. Riak's max_siblings default.
   */
  readonly maxSiblings: number
  /**
   * Encoded object bytes above which a write is refused. It must hold a few siblings of the largest value
   * (4 MiB); 50 MiB is Riak's max_object_size. Replica merges never refuse (that would stop convergence), so a
   * merged object may exceed this by the concurrent siblings it gained; decoding accepts up to the bound the
   * caller passes, which for storage should be generous.
   */
  readonly maxObjectBytes: number
  /**
   * Decoded bytes of a client's causal context. 8 KiB (about 11 KiB of base64url) keeps the X-Context header
   * under Node's 16 KiB header limit and holds about 300 (node, generation) entries, far more than the replicas
   * of one key produce between compactions.
   */
  readonly maxContextBytes: number
}

export const defaultVersioningLimits: VersioningLimits = {
  siblingWarnCount: 25,
  maxSiblings: 100,
  maxObjectBytes: 50 * 1024 * 1024,
  maxContextBytes: 8 * 1024,
}

/** Content types are short MIME strings; longer ones are rejected rather than stored in every sibling. */
export const MAX_CONTENT_TYPE_BYTES = 255

/** Request ids recorded in siblings; the HTTP API accepts X-Request-Id of at most 128 characters. */
export const MAX_WRITE_ID_BYTES = 128

/**
 * Superseded request ids an object remembers, at most. Each entry is 8 bytes of hash and a timestamp in every
 * copy of the object, so the list is bounded by count and by age (RETIRED_WRITE_RETENTION_MS); 32 covers a key
 * overwritten several times a second for as long as a retry can be in flight.
 */
export const MAX_RETIRED_WRITES = 32

/**
 * How long a retirement is kept, measured back from the newest one: longer than a client's retries of one write
 * (a few request timeouts of 5 s) and a forward sitting in a TCP queue through a short partition.
 */
export const RETIRED_WRITE_RETENTION_MS = 60_000
