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
 * Superseded request ids an object remembers. A retry races its own earlier attempt for the length of a client
 * timeout or a partition, during which a key rarely sees more than a few superseding writes; each entry costs its
 * id's bytes in every copy of the object.
 */
export const MAX_RETIRED_WRITES = 4
