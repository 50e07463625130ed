/**
 * The one place that knows how error codes become HTTP statuses (DESIGN.md section 7). The JSON body is
 * `{"error": "<code in lower case>", "message": "<sentence>"}` plus any details the error carries.
 */
import type { ErrorCode } from '../errors.ts'

export const statusForError: Readonly<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  INVALID_BUCKET: 400,
  INVALID_KEY: 400,
  KEY_TOO_LONG: 414,
  VALUE_TOO_LARGE: 413,
  INVALID_PARAMETER: 400,
  MALFORMED_CONTEXT: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  UNAVAILABLE: 503,
  TIMEOUT: 503,
  OVERLOADED: 503,
  TOO_MANY_SIBLINGS: 409,
  STORAGE_ERROR: 500,
  SHUTTING_DOWN: 503,
  INTERNAL: 500,
}

export function errorBody(code: ErrorCode, message: string, details: Readonly<Record<string, string | number>> = {}): string {
  return JSON.stringify({ error: code.toLowerCase(), message, ...details })
}
