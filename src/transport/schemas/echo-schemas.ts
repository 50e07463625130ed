/**
 * Schemas for the echo protocol (liveness and round-trip probes used by the transport benchmark and the
 * simulator's echo workload). The template for every protocol area: one object keyed by message kind, each
 * entry an `object` schema whose `kind` is a literal, spread into the registry in ../schemas.ts.
 */
import type { EchoReply, EchoRequest } from '../../core/node/message.ts'
import { bytes, literal, object, type Schema } from '../schema.ts'
import { MAX_PAYLOAD_BYTES, nodeIdSchema, sequenceSchema } from './common-schemas.ts'

export const echoSchemas: { readonly echo: Schema<EchoRequest>; readonly 'echo-reply': Schema<EchoReply> } = {
  echo: object({
    kind: literal('echo'),
    from: nodeIdSchema,
    seq: sequenceSchema,
    payload: bytes({ maxBytes: MAX_PAYLOAD_BYTES }),
  }),
  'echo-reply': object({
    kind: literal('echo-reply'),
    from: nodeIdSchema,
    seq: sequenceSchema,
    payload: bytes({ maxBytes: MAX_PAYLOAD_BYTES }),
  }),
}
