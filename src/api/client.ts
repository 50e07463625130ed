/**
 * A TypeScript client for the Chorus HTTP API. It carries causal contexts for the caller (a `get` returns the
 * context, a `put` or `delete` sends it back), so ordinary read-modify-write code never creates false siblings.
 * Errors from the server arrive as ChorusHttpError with the server's code, message and status.
 */

export interface Sibling {
  readonly value: Uint8Array
  readonly contentType: string
  readonly timestamp: number
}

export type GetResult =
  | { readonly kind: 'value'; readonly value: Uint8Array; readonly contentType: string; readonly context: string }
  | { readonly kind: 'siblings'; readonly siblings: readonly Sibling[]; readonly context: string }
  | { readonly kind: 'not-found'; readonly context: string | null }

export interface PutOptions {
  readonly context?: string
  readonly contentType?: string
  readonly requestId?: string
  readonly w?: string
}

export class ChorusHttpError extends Error {
  override readonly name = 'ChorusHttpError'

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Readonly<Record<string, unknown>>,
  ) {
    super(message)
  }
}

export class ChorusClient {
  private readonly baseUrl: string

  constructor(baseUrl: string, private readonly timeoutMs = 10_000) {
    this.baseUrl = baseUrl.replace(/\/+$/, '')
  }

  async get(bucket: string, key: string, options: { r?: string } = {}): Promise<GetResult> {
    const response = await this.fetch('GET', keyPath(bucket, key, { r: options.r }))
    const context = response.headers.get('x-context')
    if (response.status === 404) return { kind: 'not-found', context }
    if (response.status === 300) {
      const body = (await response.json()) as { context: string; siblings: { value: string; contentType: string; timestamp: number }[] }
      const siblings = body.siblings.map((s) => ({ ...s, value: new Uint8Array(Buffer.from(s.value, 'base64')) }))
      return { kind: 'siblings', siblings, context: body.context }
    }
    await this.expectOk(response)
    return {
      kind: 'value',
      value: new Uint8Array(await response.arrayBuffer()),
      contentType: response.headers.get('content-type') ?? 'application/octet-stream',
      context: context ?? '',
    }
  }

  async put(bucket: string, key: string, value: Uint8Array | string, options: PutOptions = {}): Promise<string> {
    const headers: Record<string, string> = { 'Content-Type': options.contentType ?? 'application/octet-stream' }
    if (options.context !== undefined) headers['X-Context'] = options.context
    headers['X-Request-Id'] = options.requestId ?? crypto.randomUUID()
    const response = await this.fetch('PUT', keyPath(bucket, key, { w: options.w }), headers, value)
    await this.expectOk(response)
    return response.headers.get('x-context') ?? ''
  }

  async delete(bucket: string, key: string, options: { context?: string; w?: string } = {}): Promise<void> {
    const headers: Record<string, string> = { 'X-Request-Id': crypto.randomUUID() }
    if (options.context !== undefined) headers['X-Context'] = options.context
    const response = await this.fetch('DELETE', keyPath(bucket, key, { w: options.w }), headers)
    await this.expectOk(response)
  }

  async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json' }
    const response = await this.fetch(method, path, headers, body === undefined ? undefined : JSON.stringify(body))
    await this.expectOk(response)
    return response.json()
  }

  private async fetch(method: string, path: string, headers: Record<string, string> = {}, body?: Uint8Array | string): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(this.timeoutMs),
    })
  }

  private async expectOk(response: Response): Promise<void> {
    if (response.ok) return
    const text = await response.text()
    let body: Record<string, unknown> = {}
    try {
      body = JSON.parse(text) as Record<string, unknown>
    } catch {
      body = { message: text }
    }
    const code = typeof body.error === 'string' ? body.error : `http_${response.status}`
    const message = typeof body.message === 'string' ? body.message : response.statusText
    throw new ChorusHttpError(response.status, code, message, body)
  }
}

function keyPath(bucket: string, key: string, query: Record<string, string | undefined>): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params.set(name, value)
  const suffix = params.size > 0 ? `?${params.toString()}` : ''
  return `/buckets/${encodeURIComponent(bucket)}/keys/${encodeURIComponent(key)}${suffix}`
}
