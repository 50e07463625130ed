/**
 * Schema combinators: the only gate between untrusted decoded msgpack and a typed Message.
 *
 * A Schema<T> parses an `unknown` into a T, or throws a SchemaViolation naming the path and what was wrong.
 * Parsing builds a fresh value (objects are rebuilt field by field, byte arrays are copied into plain
 * Uint8Array), so a caller can never observe a half-valid object: either the whole value passed, or nothing
 * comes out. Objects reject unknown fields, so a message that grew a field on a newer node is an explicit
 * decode error instead of data silently dropped. Every string, byte array and array has a declared maximum,
 * because every limit must be named (STYLE rule 7) and the decoder must not let a peer grow our memory.
 *
 * Throwing is internal to this module and the wire codec: `validate` (and decodeMessage) turn it into a
 * value. Exceptions are used because valid input is the hot path and V8 makes a try that never throws free,
 * whereas threading a result through every level would cost an allocation per field.
 */
import { allocateBytes } from '../core/primitives/byte-pool.ts'
import type { Decoded } from './wire-codec.ts'

export interface Schema<T> {
  /** Short human description used in violation messages, e.g. `uint ≤ 4294967295`. */
  readonly description: string
  /** Returns the validated (and normalised) value or throws SchemaViolation. */
  parse(value: unknown): T
}

/** Marks an object field that may be absent. With exactOptionalPropertyTypes, absent means absent, not undefined. */
export interface OptionalSchema<T> extends Schema<T> {
  readonly isOptional: true
}

export type Infer<S> = S extends Schema<infer T> ? T : never

/**
 * Thrown by parse; carries the path from the root so the decode error says exactly which field was wrong.
 * Deliberately not an Error: capturing a stack trace costs more than validating a message, and hostile input
 * should be cheap to reject. Only this module and the wire codec catch it.
 */
export class SchemaViolation {
  readonly name = 'SchemaViolation'
  readonly message: string
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    this.message = path === '' ? problem : `${path}: ${problem}`
  }
}

function violation(problem: string): never {
  throw new SchemaViolation('', problem)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (value instanceof Uint8Array) return 'bytes'
  return typeof value
}

/** Runs a schema and turns a violation into a value, for callers outside the wire codec. Never throws. */
export function validate<T>(schema: Schema<T>, value: unknown): Decoded<T> {
  try {
    return { ok: true, value: schema.parse(value) }
  } catch (error) {
    const detail = error instanceof SchemaViolation ? error.message : `unexpected: ${String(error)}`
    return { ok: false, error: { kind: 'decode-error', reason: 'schema', detail } }
  }
}

// ---- scalars ---------------------------------------------------------------------------------------------

/** A non-negative safe integer, at most `max` (default 2^53 − 1). */
export function uint(max: number = Number.MAX_SAFE_INTEGER): Schema<number> {
  const description = `uint ≤ ${max}`
  return {
    description,
    parse(value) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
        return violation(`expected ${description}, got ${typeof value === 'number' ? value : describe(value)}`)
      }
      return value
    },
  }
}

export const uint8 = (): Schema<number> => uint(0xff)
export const uint32 = (): Schema<number> => uint(0xffff_ffff)

/** A safe integer in [min, max]. */
export function int(min: number = Number.MIN_SAFE_INTEGER, max: number = Number.MAX_SAFE_INTEGER): Schema<number> {
  const description = `int in [${min}, ${max}]`
  return {
    description,
    parse(value) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
        return violation(`expected ${description}, got ${typeof value === 'number' ? value : describe(value)}`)
      }
      return value
    },
  }
}

/** A finite float in [min, max]; NaN and the infinities are rejected so they cannot spread through the core. */
export function float(min: number = -Number.MAX_VALUE, max: number = Number.MAX_VALUE): Schema<number> {
  const description = `finite number in [${min}, ${max}]`
  return {
    description,
    parse(value) {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
        return violation(`expected ${description}, got ${typeof value === 'number' ? value : describe(value)}`)
      }
      return value
    },
  }
}

export function boolean(): Schema<boolean> {
  return {
    description: 'boolean',
    parse(value) {
      if (typeof value !== 'boolean') return violation(`expected boolean, got ${describe(value)}`)
      return value
    },
  }
}

const utf8 = new TextEncoder()

/**
 * A string of at most `maxBytes` bytes of UTF-8. The byte length is only computed when the UTF-16 length
 * cannot decide it: a UTF-16 unit encodes to between 1 and 3 UTF-8 bytes.
 */
export function string(options: { readonly maxBytes: number }): Schema<string> {
  const { maxBytes } = options
  const description = `string ≤ ${maxBytes} bytes`
  return {
    description,
    parse(value) {
      if (typeof value !== 'string') return violation(`expected ${description}, got ${describe(value)}`)
      if (value.length > maxBytes) return violation(`string of ${value.length} characters exceeds ${maxBytes} bytes`)
      if (value.length * 3 > maxBytes) {
        const bytes = utf8.encode(value).length
        if (bytes > maxBytes) return violation(`string of ${bytes} bytes exceeds ${maxBytes} bytes`)
      }
      return value
    },
  }
}

/**
 * At most `maxBytes` bytes. The result is always a fresh plain Uint8Array (small ones carved from byte-pool.ts):
 * msgpackr hands out Buffer views into the frame it decoded, and a view would both pin that whole frame in
 * memory and make equality checks see a Buffer where the type promises a Uint8Array.
 */
export function bytes(options: { readonly maxBytes: number }): Schema<Uint8Array> {
  const { maxBytes } = options
  const description = `bytes ≤ ${maxBytes}`
  return {
    description,
    parse(value) {
      if (!(value instanceof Uint8Array)) return violation(`expected ${description}, got ${describe(value)}`)
      if (value.length > maxBytes) return violation(`${value.length} bytes exceeds ${maxBytes}`)
      const copy = allocateBytes(value.length)
      copy.set(value)
      return copy
    },
  }
}

export function literal<const L extends string | number | boolean>(expected: L): Schema<L> {
  const description = JSON.stringify(expected)
  return {
    description,
    parse(value) {
      if (value !== expected) return violation(`expected ${description}, got ${JSON.stringify(value) ?? describe(value)}`)
      return expected
    },
  }
}

/** One of a fixed set of string literals, e.g. a member state. */
export function oneOf<const L extends string>(choices: readonly L[]): Schema<L> {
  const allowed = new Set<string>(choices)
  const description = `one of ${choices.join(', ')}`
  return {
    description,
    parse(value) {
      if (typeof value !== 'string' || !allowed.has(value)) return violation(`expected ${description}`)
      return value as L
    },
  }
}

// ---- composites ------------------------------------------------------------------------------------------

export function optional<T>(inner: Schema<T>): OptionalSchema<T> {
  return { description: `optional ${inner.description}`, isOptional: true, parse: (value) => inner.parse(value) }
}

export function array<T>(item: Schema<T>, options: { readonly maxLength: number }): Schema<readonly T[]> {
  const { maxLength } = options
  const description = `array ≤ ${maxLength} of ${item.description}`
  return {
    description,
    parse(value) {
      if (!Array.isArray(value)) return violation(`expected ${description}, got ${describe(value)}`)
      if (value.length > maxLength) return violation(`array of ${value.length} exceeds ${maxLength}`)
      const out = new Array<T>(value.length)
      let index = 0
      try {
        for (; index < value.length; index++) out[index] = item.parse(value[index])
      } catch (error) {
        throw prefixed(error, `[${index}]`)
      }
      return out
    },
  }
}

// `any` here only lets a shape hold schemas of different types; ObjectOf recovers each field's type.
type Shape = Readonly<Record<string, Schema<any>>>
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S]
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>
type Flatten<T> = { [K in keyof T]: T[K] } & {}
export type ObjectOf<S extends Shape> = Flatten<
  { readonly [K in RequiredKeys<S>]: Infer<S[K]> } & { readonly [K in OptionalKeys<S>]?: Infer<S[K]> }
>

/**
 * A plain object with exactly these fields: required ones present, optional ones present or absent, nothing
 * else. Objects whose prototype is not Object.prototype (a Map, an Error, a Date from a msgpack extension)
 * are rejected.
 */
export function object<const S extends Shape>(shape: S): Schema<ObjectOf<S>> {
  const entries = Object.entries(shape)
  const known = new Set(Object.keys(shape))
  const description = `{${entries.map(([key]) => key).join(', ')}}`
  return {
    description,
    parse(value) {
      if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
        return violation(`expected object ${description}, got ${describe(value)}`)
      }
      const record = value as Record<string, unknown>
      for (const key in record) {
        if (!known.has(key)) return violation(`unknown field ${JSON.stringify(key.slice(0, 64))}`)
      }
      const out: Record<string, unknown> = {}
      let current = ''
      try {
        for (const [key, field] of entries) {
          current = key
          if (!Object.hasOwn(record, key)) {
            if ((field as Partial<OptionalSchema<unknown>>).isOptional === true) continue
            return violation('missing')
          }
          out[key] = field.parse(record[key])
        }
      } catch (error) {
        throw prefixed(error, current)
      }
      return out as ObjectOf<S>
    },
  }
}

/**
 * A union discriminated by a string `kind` field: the variant is chosen by `kind` first, so the error names
 * the right variant's problem instead of "matched none of 12 alternatives".
 */
export function variant<T extends { readonly kind: string }>(
  variants: { readonly [K in T['kind']]: Schema<Extract<T, { kind: K }>> },
): Schema<T> {
  const byKind = new Map<string, Schema<T>>(Object.entries(variants) as [string, Schema<T>][])
  const description = `variant of ${[...byKind.keys()].join(', ')}`
  return {
    description,
    parse(value) {
      if (typeof value !== 'object' || value === null) return violation(`expected ${description}, got ${describe(value)}`)
      const kind = (value as { kind?: unknown }).kind
      const schema = typeof kind === 'string' ? byKind.get(kind) : undefined
      if (schema === undefined) return violation(`unknown kind ${JSON.stringify(kind)?.slice(0, 64) ?? describe(kind)}`)
      return schema.parse(value)
    },
  }
}

function prefixed(error: unknown, segment: string): unknown {
  if (!(error instanceof SchemaViolation)) return error
  const path = error.path === '' ? segment : error.path.startsWith('[') ? `${segment}${error.path}` : `${segment}.${error.path}`
  return new SchemaViolation(path, error.problem)
}

/**
 * Narrows a schema to a branded or refined type once `check` accepts the value, e.g. a NodeId from a string.
 * The brand is a compile-time promise; `check` is what makes it true at run time.
 */
export function refined<T, U extends T>(inner: Schema<T>, name: string, check: (value: T) => boolean): Schema<U> {
  return {
    description: name,
    parse(value) {
      const parsed = inner.parse(value)
      if (!check(parsed)) return violation(`expected ${name}`)
      return parsed as U
    },
  }
}
