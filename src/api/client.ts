/**
 * A TypeScript client for the Chorus HTTP API (DESIGN.md section 7).
 *
 * - Contexts are carried for you: `get` returns the causal context, `put`/`delete` send it back, and `update`
 *   does the whole read–resolve–write cycle, so ordinary read-modify-write code never creates false siblings.
 * - Every mutation carries an X-Request-Id, generated once and reused on each retry, so a retried write whose
 *   first attempt did land is applied once (the node remembers request ids; see storage/request-id-store.ts).
 * - 503s (unavailable, timeout, overloaded, shutting down), network failures and attempt timeouts are retried with
 *   jittered exponential backoff, honouring Retry-After, up to `maxAttempts`. 4xx are never retried: the request
 *   itself is wrong and would fail again.
 * - Failures are typed: ChorusHttpError (the server answered an error), ChorusNetworkError (no answer at all),
 *   UnresolvedSiblingsError (update met siblings and was given no merge function).
 */

export type Quorum = 'one' | 'quorum' | 'all' | number

export interface Sibling {
  readonly value: Uint8Array
  readonly contentType: string
  /** Milliseconds since the epoch (the writer's hybrid logical clock). */
  readonly timestamp: number
}

export type GetResult =
  | { readonly kind: 'value'; readonly value: Uint8Array; readonly contentType: string; readonly context: string }
  | { readonly kind: 'siblings'; readonly siblings: readonly Sibling[]; readonly context: string }
  /** `context` is non-null when a tombstone exists: pass it to a put to overwrite the delete causally. */
  | { readonly kind: 'not-found'; readonly context: string | null }

/** A value to write: bytes, text (stored as UTF-8, text/plain) or either with an explicit content type. */
export type ValueInput = Uint8Array | string | { readonly value: Uint8Array | string; readonly contentType?: string }

/** What update's change function sees: the one current value, or null when the key is absent or deleted. */
export interface CurrentValue {
  readonly value: Uint8Array
  readonly contentType: string
}

export interface ReadOptions {
  readonly r?: Quorum
  readonly pr?: Quorum
  readonly timeoutMs?: number
}

export interface WriteOptions {
  readonly w?: Quorum
  readonly pw?: Quorum
  readonly timeoutMs?: number
  /** Reuse an id to make a write you retry yourself idempotent; by default each call gets a fresh one. */
  readonly requestId?: string
}

export interface PutOptions extends WriteOptions {
  /** The context of the read this write replaces; absent means "concurrent with whatever is stored". */
  readonly context?: string | null
  readonly contentType?: string
}

export interface DeleteOptions extends WriteOptions {
  readonly context?: string | null
}

export interface UpdateOptions extends ReadOptions, WriteOptions {
  /** Resolves siblings into one value; without it, update refuses (UnresolvedSiblingsError) rather than guess. */
  readonly merge?: (siblings: readonly Sibling[]) => ValueInput | Promise<ValueInput>
}

export interface BucketProps {
  readonly n: number
  readonly r: Quorum
  readonly w: Quorum
  readonly conflict: 'siblings' | 'lww'
}

export interface Member {
  readonly id: string
  readonly address: string
  readonly http: string
  readonly state: 'alive' | 'suspect' | 'dead' | 'left'
  readonly generation: number
  readonly incarnation: number
  readonly phi: number | null
  readonly leader: boolean
  readonly zone?: string
}

export interface Partitions {
  readonly partitions: number
  readonly version: unknown
  readonly owners: readonly (readonly string[])[]
}

export interface ChorusClientOptions {
  /** Deadline of one attempt. 10 s is above the coordinator's 5 s request timeout, so its 503 arrives first. */
  readonly timeoutMs?: number
  /** Attempts per call, the first included. 4 rides out a node restart or a failure-detection window. */
  readonly maxAttempts?: number
  /** First backoff; doubled each retry and jittered by ±50% so that clients shed together do not return together. */
  readonly backoffBaseMs?: number
  /** Longest wait between attempts, Retry-After included. */
  readonly backoffMaxMs?: number
  /** Injected for tests; defaults to the global fetch. */
  readonly fetch?: typeof fetch
  /** Injected for tests; a number in [0, 1) for the jitter. */
  readonly random?: () => number
}

const RETRYABLE_CODES: ReadonlySet<string> = new Set(['unavailable', 'timeout', 'overloaded', 'shutting_down'])

export class ChorusHttpError extends Error {
  override readonly name = 'ChorusHttpError'

  constructor(
    readonly status: number,
    /** The server's stable error code in lower case, e.g. `unavailable`, `malformed_context`. */
    readonly code: string,
    message: string,
    readonly body: Readonly<Record<string, unknown>>,
  ) {
    super(message)
  }

  /** A 503 that may succeed later: unavailable, timeout, overloaded or shutting down. */
  get retryable(): boolean {
    return this.status === 503 && RETRYABLE_CODES.has(this.code)
  }

  /** For `unavailable`: replicas the quorum needed and replicas that answered. */
  get required(): number | undefined {
    return typeof this.body.required === 'number' ? this.body.required : undefined
  }

  get acknowledged(): number | undefined {
    return typeof this.body.acknowledged === 'number' ? this.body.acknowledged : undefined
  }
}

/** The node could not be reached or did not answer within the attempt deadline, on every attempt. */
export class ChorusNetworkError extends Error {
  override readonly name = 'ChorusNetworkError'
}

export class UnresolvedSiblingsError extends Error {
  override readonly name = 'UnresolvedSiblingsError'

  constructor(
    readonly siblings: readonly Sibling[],
    readonly context: string,
  ) {
    super(`update found ${siblings.length} siblings and no merge function to resolve them`)
  }
}

interface Call {
  readonly method: string
  readonly path: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Uint8Array | string
}

export class ChorusClient {
  private readonly baseUrl: string
  private readonly timeoutMs: number
  private readonly maxAttempts: number
  private readonly backoffBaseMs: number
  private readonly backoffMaxMs: number
  private readonly fetchImpl: typeof fetch
  private readonly random: () => number

  constructor(baseUrl: string, options: ChorusClientOptions = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
    this.timeoutMs = options.timeoutMs ?? 10_000
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 4)
    this.backoffBaseMs = options.backoffBaseMs ?? 50
    this.backoffMaxMs = options.backoffMaxMs ?? 2_000
    this.fetchImpl = options.fetch ?? fetch
    this.random = options.random ?? Math.random
  }

  async get(bucket: string, key: string, options: ReadOptions = {}): Promise<GetResult> {
    const query = { r: options.r, pr: options.pr, timeout: options.timeoutMs }
    const response = await this.send({ method: 'GET', path: keyPath(bucket, key, query) }, [200, 300, 404])
    const context = response.headers.get('x-context')
    if (response.status === 404) {
      await response.body?.cancel()
      return { kind: 'not-found', context }
    }
    if (response.status === 300) return siblingsResult(await response.json())
    return {
      kind: 'value',
      value: new Uint8Array(await response.arrayBuffer()),
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      context: context ?? '',
    }
  }

  /** Stores a value; resolves with the new version's context. */
  async put(bucket: string, key: string, value: ValueInput, options: PutOptions = {}): Promise<string> {
    const { bytes, contentType } = normaliseValue(value, options.contentType)
    const headers: Record<string, string> = { 'Content-Type': contentType, 'X-Request-Id': options.requestId ?? newRequestId() }
    if (options.context != null && options.context !== '') headers['X-Context'] = options.context
    const query = { w: options.w, pw: options.pw, timeout: options.timeoutMs }
    const response = await this.send({ method: 'PUT', path: keyPath(bucket, key, query), headers, body: bytes }, [204])
    return response.headers.get('x-context') ?? ''
  }

  async delete(bucket: string, key: string, options: DeleteOptions = {}): Promise<void> {
    const headers: Record<string, string> = { 'X-Request-Id': options.requestId ?? newRequestId() }
    if (options.context != null && options.context !== '') headers['X-Context'] = options.context
    const query = { w: options.w, pw: options.pw, timeout: options.timeoutMs }
    await this.send({ method: 'DELETE', path: keyPath(bucket, key, query), headers }, [204])
  }

  /**
   * Read, resolve, write back: reads the key, merges siblings with `options.merge`, passes the single current
   * value (or null) to `change`, and writes its result with the read's context so that it replaces exactly what
   * was read. Concurrent writers do not fail each other; their writes become siblings that the next update merges.
   */
  async update(
    bucket: string,
    key: string,
    change: (current: CurrentValue | null) => ValueInput | Promise<ValueInput>,
    options: UpdateOptions = {},
  ): Promise<string> {
    const read = await this.get(bucket, key, pick(options, ['r', 'pr', 'timeoutMs']))
    const current = await this.resolve(read, options.merge)
    const next = await change(current)
    const fallbackType = current?.contentType
    const write: PutOptions = {
      ...pick(options, ['w', 'pw', 'timeoutMs', 'requestId']),
      context: read.context,
      ...(fallbackType === undefined ? {} : { contentType: fallbackType }),
    }
    return this.put(bucket, key, next, write)
  }

  async listKeys(bucket: string): Promise<string[]> {
    const body = (await this.json('GET', `/buckets/${encodeURIComponent(bucket)}/keys`)) as { keys: string[] }
    return body.keys
  }

  async getProps(bucket: string): Promise<BucketProps> {
    return (await this.json('GET', propsPath(bucket))) as BucketProps
  }

  async setProps(bucket: string, props: Partial<BucketProps>): Promise<BucketProps | null> {
    return (await this.json('PUT', propsPath(bucket), props)) as BucketProps | null
  }

  async health(): Promise<{ status: string; id: string }> {
    return (await this.json('GET', '/health')) as { status: string; id: string }
  }

  async members(): Promise<Member[]> {
    return (await this.json('GET', '/cluster/members')) as Member[]
  }

  async partitions(): Promise<Partitions> {
    return (await this.json('GET', '/cluster/partitions')) as Partitions
  }

  async join(seeds: readonly string[]): Promise<unknown> {
    return this.json('POST', '/cluster/join', { seeds })
  }

  async leave(): Promise<unknown> {
    return this.json('POST', '/cluster/leave')
  }

  async remove(id: string): Promise<unknown> {
    return this.json('POST', '/cluster/remove', { id })
  }

  /** Any JSON route; resolves with the parsed body, or null for an empty (204) answer. */
  async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const call: Call =
      body === undefined ? { method, path } : { method, path, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) }
    const response = await this.send(call)
    const text = await response.text()
    return text === '' ? null : (JSON.parse(text) as unknown)
  }

  private async resolve(read: GetResult, merge: UpdateOptions['merge']): Promise<CurrentValue | null> {
    switch (read.kind) {
      case 'not-found':
        return null
      case 'value':
        return { value: read.value, contentType: read.contentType }
      case 'siblings': {
        if (merge === undefined) throw new UnresolvedSiblingsError(read.siblings, read.context)
        const merged = normaliseValue(await merge(read.siblings), read.siblings[0]?.contentType)
        return { value: merged.bytes, contentType: merged.contentType }
      }
    }
  }

  /** One logical call: attempts until a non-retryable answer or the attempts run out. */
  private async send(call: Call, expected?: readonly number[]): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(call, expected)
      if (outcome.kind === 'answered') return outcome.response
      const retryable = outcome.kind === 'network' || outcome.error.retryable
      if (!retryable || attempt >= this.maxAttempts) throw outcome.error
      await sleep(this.backoffMs(attempt, outcome.kind === 'failed' ? outcome.retryAfterSeconds : undefined))
    }
  }

  private async attempt(
    call: Call,
    expected: readonly number[] | undefined,
  ): Promise<
    | { kind: 'answered'; response: Response }
    | { kind: 'failed'; error: ChorusHttpError; retryAfterSeconds: number | undefined }
    | { kind: 'network'; error: ChorusNetworkError }
  > {
    let response: Response
    try {
      response = await this.fetchImpl(`${this.baseUrl}${call.path}`, {
        method: call.method,
        headers: call.headers ?? {},
        ...(call.body === undefined ? {} : { body: call.body }),
        signal: AbortSignal.timeout(this.timeoutMs),
      })
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      return { kind: 'network', error: new ChorusNetworkError(`${call.method} ${this.baseUrl}${call.path}: ${reason}`, { cause: error }) }
    }
    if (expected === undefined ? response.ok : expected.includes(response.status)) return { kind: 'answered', response }
    const retryAfter = Number(response.headers.get('retry-after') ?? NaN)
    return { kind: 'failed', error: await httpError(response), retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined }
  }

  private backoffMs(attempt: number, retryAfterSeconds: number | undefined): number {
    const exponential = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1))
    const jittered = exponential * (0.5 + this.random())
    const floor = retryAfterSeconds === undefined ? 0 : retryAfterSeconds * 1000
    return Math.min(this.backoffMaxMs, Math.max(jittered, floor))
  }
}

async function httpError(response: Response): Promise<ChorusHttpError> {
  const text = await response.text().catch(() => '')
  let body: Record<string, unknown> = {}
  try {
    const parsed = JSON.parse(text) as unknown
    body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : { message: text }
  } catch {
    body = { message: text }
  }
  const code = typeof body.error === 'string' ? body.error : `http_${response.status}`
  const message = typeof body.message === 'string' ? body.message : response.statusText
  return new ChorusHttpError(response.status, code, message, body)
}

function siblingsResult(body: unknown): GetResult {
  const parsed = body as { context: string; siblings: { value: string; contentType: string; timestamp: number }[] }
  const siblings = parsed.siblings.map((sibling) => ({
    value: new Uint8Array(Buffer.from(sibling.value, 'base64')),
    contentType: sibling.contentType,
    timestamp: sibling.timestamp,
  }))
  return { kind: 'siblings', siblings, context: parsed.context }
}

function normaliseValue(input: ValueInput, fallbackType: string | undefined): { bytes: Uint8Array; contentType: string } {
  if (typeof input === 'string') return { bytes: new TextEncoder().encode(input), contentType: fallbackType ?? 'text/plain; charset=utf-8' }
  if (input instanceof Uint8Array) return { bytes: input, contentType: fallbackType ?? 'application/octet-stream' }
  const inner = normaliseValue(input.value, input.contentType ?? fallbackType)
  return inner
}

function keyPath(bucket: string, key: string, query: Readonly<Record<string, string | number | undefined>>): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, String(value))
  const suffix = params.size > 0 ? `?${params.toString()}` : ''
  return `/buckets/${encodeURIComponent(bucket)}/keys/${encodeURIComponent(key)}${suffix}`
}

function propsPath(bucket: string): string {
  return `/buckets/${encodeURIComponent(bucket)}/props`
}

function newRequestId(): string {
  return crypto.randomUUID()
}

function pick<T extends object, K extends keyof T>(source: T, names: readonly K[]): Pick<T, K> {
  const out: Partial<T> = {}
  for (const name of names) if (source[name] !== undefined) out[name] = source[name]
  return out as Pick<T, K>
}

function sleep(ms: number): Promise<void> {
  return new Promise((wake) => setTimeout(wake, ms))
}
