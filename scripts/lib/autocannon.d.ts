/**
 * The slice of autocannon's API the cluster benchmark uses. autocannon ships no types and we add no
 * @types package (no new dependencies), so this declares only what scripts/lib/http-load.ts calls, from
 * autocannon 8's README and lib/run.js. Widen it when a caller needs more, checking the source first.
 */
declare module 'autocannon' {
  export interface AutocannonRequest {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
  }

  export interface AutocannonRequestSpec extends AutocannonRequest {
    /** Called before each request on a connection; the returned request is sent. `context` is per connection. */
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest
    /** Called with each response; with pipelining 1 `context` still holds what setupRequest put there. */
    onResponse?: (status: number, body: string, context: Record<string, unknown>) => void
  }

  export interface AutocannonOptions {
    /** One URL, or several: connection i goes to url[i % url.length]. */
    url: string | string[]
    connections?: number
    pipelining?: number
    /** Seconds. */
    duration?: number
    /** Seconds before a request counts as a timeout. */
    timeout?: number
    requests?: AutocannonRequestSpec[]
  }

  /** Latency figures are milliseconds; request figures are per second. */
  export interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    p50: number
    p90: number
    p99: number
    p999: number
  }

  export interface AutocannonResult {
    requests: Histogram & { total: number; sent: number }
    latency: Histogram
    throughput: Histogram
    /** Seconds, as measured by autocannon. */
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    '1xx': number
    '2xx': number
    '3xx': number
    '4xx': number
    '5xx': number
    statusCodeStats?: Record<string, { count: number }>
  }

  export interface Instance extends PromiseLike<AutocannonResult> {
    stop(): void
  }

  export default function autocannon(options: AutocannonOptions): Instance
}
