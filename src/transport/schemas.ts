/**
 * The schema registry: one schema per Message kind, which the wire codec applies to every decoded message.
 *
 * The `satisfies` clause is the point of this file: a kind added to the Message union without a schema here,
 * or a schema whose output is not exactly assignable to its kind's type, fails to compile. To add a protocol
 * area, write `schemas/<area>-schemas.ts` (copy echo-schemas.ts) and spread it below: one line here.
 */
import type { Message, MessageKind } from '../core/node/message.ts'
import { variant, type Schema } from './schema.ts'
import { antiEntropySchemas } from './schemas/anti-entropy-schemas.ts'
import { echoSchemas } from './schemas/echo-schemas.ts'
import { membershipSchemas } from './schemas/membership-schemas.ts'
import { placementSchemas, replicationSchemas } from './schemas/replication-schemas.ts'

export type MessageOf<K extends MessageKind> = Extract<Message, { kind: K }>

export type MessageSchemas = { readonly [K in MessageKind]: Schema<MessageOf<K>> }

export const messageSchemas = {
  ...echoSchemas,
  ...membershipSchemas,
  ...replicationSchemas,
  ...placementSchemas,
  ...antiEntropySchemas,
} as const satisfies MessageSchemas

/** Parses any Message: dispatches on `kind`, then the kind's own schema checks every field. */
export const messageSchema: Schema<Message> = variant<Message>(messageSchemas)
