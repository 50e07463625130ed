/**
 * The limits and bounds of the HTTP API, each with the reason for its default (STYLE rule 7). The data limits
 * (value, key, bucket, N) mirror NodeConfig so that `chorus start --max-value-bytes` reaches the edge through
 * apiOptionsFromConfig; the rest bound what one node accepts before it sheds load.
 */
import type { NodeConfig } from '../core/node/node-config.ts'
import { lan } from '../core/node/node-config.ts'
import { defaultVersioningLimits } from '../core/versioning/versioning-limits.ts'

export interface ApiOptions {
  /** Largest request body for a value; bigger bodies get 413 before any work (NodeConfig.maxValueBytes). */
  readonly maxValueBytes: number
  /** Longest key in UTF-8 bytes; longer keys get 414 (NodeConfig.maxKeyBytes). */
  readonly maxKeyBytes: number
  /** Longest bucket name in UTF-8 bytes; longer names get 400 (NodeConfig.maxBucketBytes). */
  readonly maxBucketBytes: number
  /**
   * The node's default N. A numeric r/w/pr/pw is checked against the bucket's N, read from the node with
   * get-bucket-props; this is the fallback when the node cannot answer that (no data path yet).
   */
  readonly n: number
  /** Largest N a bucket may ask for. More replicas than this is a configuration mistake, not a policy. */
  readonly maxBucketN: number
  /** Largest decoded X-Context; the core's own bound, repeated so the edge refuses before decoding. */
  readonly maxContextBytes: number
  /** Largest JSON body of an admin route (props, join, remove): these are a few hundred bytes when honest. */
  readonly maxJsonBodyBytes: number
  /**
   * Upper bound of the `timeout` query parameter. A client may shorten the coordinator's deadline freely, but a
   * request that may wait minutes pins a socket and a coordinator slot; one minute matches the HTTP request timeout.
   */
  readonly maxRequestTimeoutMs: number
  /**
   * HTTP requests in flight (excluding /health and /metrics) above which new ones get 503 `overloaded`. Each holds
   * a socket, a parsed body of up to maxValueBytes and a coordinator slot; 512 × 4 MiB is the worst-case memory a
   * node should commit to clients, and a LAN node answering in milliseconds rarely has more than a few dozen.
   */
  readonly maxInFlightRequests: number
  /**
   * Event-loop lag (the runtime's recent maximum) above which new requests get 503 `overloaded`. Past 250 ms the
   * node's own probe acks are late (probe timeout 500 ms on a LAN), so taking more work risks being declared dead.
   */
  readonly maxEventLoopLagMs: number
  /** Seconds a shed client is told to wait (Retry-After). One second lets a brief burst drain. */
  readonly retryAfterSeconds: number
  /**
   * After refusing a request whose body we did not read (413, or any error before the body was needed), the
   * rest of the body is read and thrown away — never buffered — for at most this many bytes and lingerMs, then the
   * connection is closed. Closing at once would make the kernel reset it while the client is still sending, and
   * many clients (fetch among them) then report the reset instead of our 413; nginx's lingering close is the same
   * idea. 8 MiB lets a client that overshot a 4 MiB limit by a little see the answer.
   */
  readonly lingerMaxBytes: number
  readonly lingerMs: number
}

export const defaultApiOptions: ApiOptions = {
  maxValueBytes: lan.maxValueBytes,
  maxKeyBytes: lan.maxKeyBytes,
  maxBucketBytes: lan.maxBucketBytes,
  n: lan.n,
  maxBucketN: 16,
  maxContextBytes: defaultVersioningLimits.maxContextBytes,
  maxJsonBodyBytes: 64 * 1024,
  maxRequestTimeoutMs: 60_000,
  maxInFlightRequests: 512,
  maxEventLoopLagMs: 250,
  retryAfterSeconds: 1,
  lingerMaxBytes: 8 * 1024 * 1024,
  lingerMs: 5_000,
}

/** The API options a node started with this configuration should use. */
export function apiOptionsFromConfig(config: NodeConfig, overrides: Partial<ApiOptions> = {}): ApiOptions {
  return {
    ...defaultApiOptions,
    maxValueBytes: config.maxValueBytes,
    maxKeyBytes: config.maxKeyBytes,
    maxBucketBytes: config.maxBucketBytes,
    n: config.n,
    ...overrides,
  }
}
