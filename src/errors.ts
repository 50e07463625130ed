/**
 * The error catalogue: every failure a client or operator can see has a stable code here. The core and the
 * shells speak in codes; only src/api maps a code to an HTTP status (src/api/error-status.ts).
 */

export const errorCodes = [
  'BAD_REQUEST',
  'INVALID_BUCKET',
  'INVALID_KEY',
  'KEY_TOO_LONG',
  'VALUE_TOO_LARGE',
  'INVALID_PARAMETER',
  'MALFORMED_CONTEXT',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'UNAVAILABLE',
  'TIMEOUT',
  'OVERLOADED',
  'TOO_MANY_SIBLINGS',
  'STORAGE_ERROR',
  'SHUTTING_DOWN',
  'INTERNAL',
] as const

export type ErrorCode = (typeof errorCodes)[number]

export class ChorusError extends Error {
  override readonly name = 'ChorusError'

  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra machine-readable facts for the client, e.g. `required` and `acknowledged` for UNAVAILABLE. */
    readonly details: Readonly<Record<string, string | number>> = {},
  ) {
    super(message)
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return (errorCodes as readonly string[]).includes(value)
}
