/**
 * The route table of DESIGN.md section 7 and the matcher over it. A path is matched segment by segment on its raw
 * form (`:name` captures one segment, still percent-encoded), then the method picks the handler; a known path with
 * an unknown method is 405 with Allow, an unknown path 404. Routes marked `shed: false` bypass the overload guard,
 * so /health and /metrics answer even when the node is saturated.
 */
import type { Handler } from './exchange.ts'
import { deleteKey, getKey, listKeys, putKey } from './key-handlers.ts'
import { getBucketProps, putBucketProps } from './bucket-handlers.ts'
import { health, join, leave, members, partitions, remove, scrapeMetrics } from './cluster-handlers.ts'

export interface Endpoint {
  /** The operation label of metrics and logs. */
  readonly operation: string
  readonly handler: Handler
}

interface Route {
  readonly pattern: readonly string[]
  readonly methods: Readonly<Record<string, Endpoint>>
  /** false for the routes an operator needs while the node sheds load. */
  readonly shed: boolean
}

const routes: readonly Route[] = [
  {
    pattern: ['buckets', ':bucket', 'keys', ':key'],
    shed: true,
    methods: {
      GET: { operation: 'get', handler: getKey },
      PUT: { operation: 'put', handler: putKey },
      DELETE: { operation: 'delete', handler: deleteKey },
    },
  },
  { pattern: ['buckets', ':bucket', 'keys'], shed: true, methods: { GET: { operation: 'list-keys', handler: listKeys } } },
  {
    pattern: ['buckets', ':bucket', 'props'],
    shed: true,
    methods: {
      GET: { operation: 'get-props', handler: getBucketProps },
      PUT: { operation: 'put-props', handler: putBucketProps },
    },
  },
  { pattern: ['cluster', 'members'], shed: true, methods: { GET: { operation: 'members', handler: members } } },
  { pattern: ['cluster', 'partitions'], shed: true, methods: { GET: { operation: 'partitions', handler: partitions } } },
  { pattern: ['cluster', 'join'], shed: true, methods: { POST: { operation: 'join', handler: join } } },
  { pattern: ['cluster', 'leave'], shed: true, methods: { POST: { operation: 'leave', handler: leave } } },
  { pattern: ['cluster', 'remove'], shed: true, methods: { POST: { operation: 'remove', handler: remove } } },
  { pattern: ['health'], shed: false, methods: { GET: { operation: 'health', handler: health } } },
  { pattern: ['metrics'], shed: false, methods: { GET: { operation: 'metrics', handler: scrapeMetrics } } },
]

/** Operations whose 503 unavailable/timeout is a quorum failure (counted in chorus_quorum_failures_total). */
export const dataOperations: ReadonlySet<string> = new Set(['get', 'put', 'delete', 'list-keys'])

export type RouteMatch =
  | { readonly kind: 'found'; readonly endpoint: Endpoint; readonly params: readonly string[]; readonly shed: boolean }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' }

export function matchRoute(method: string, segments: readonly string[]): RouteMatch {
  for (const route of routes) {
    const params = captureParams(route.pattern, segments)
    if (params === null) continue
    // hasOwn, so a method named "constructor" or "__proto__" cannot reach Object.prototype.
    const endpoint = Object.hasOwn(route.methods, method) ? route.methods[method] : undefined
    if (endpoint === undefined) return { kind: 'method-not-allowed', allow: Object.keys(route.methods) }
    return { kind: 'found', endpoint, params, shed: route.shed }
  }
  return { kind: 'not-found' }
}

function captureParams(pattern: readonly string[], segments: readonly string[]): string[] | null {
  if (pattern.length !== segments.length) return null
  const params: string[] = []
  for (const [index, part] of pattern.entries()) {
    const segment = segments[index] ?? ''
    if (part.startsWith(':')) params.push(segment)
    else if (part !== segment) return null
  }
  return params
}
