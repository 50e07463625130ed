/**
 * What a node asks its shell to do. The shell performs effects in the order they were returned, with one rule
 * that makes durability work: a `reply` or `send` that follows a durable `write` in the same batch is held until
 * that write's fsync has returned (the write's storage-result arrives as an input, and the core emits the reply
 * only then, so the rule holds by construction).
 */
import type { CallId, Millis, OperationId, PeerAddress, RequestId } from '../primitives/ids.ts'
import type { Carrier } from './input.ts'
import type { Message } from './message.ts'
import type { ClientResponse } from './client.ts'
import type { Durability, Mutation, ReadQuery } from './storage-operation.ts'

export interface SendEffect {
  readonly kind: 'send'
  readonly to: PeerAddress
  readonly carrier: Carrier
  readonly message: Message
}

/** A request over the stream channel; its answer or failure comes back as exactly one call-result input. */
export interface CallEffect {
  readonly kind: 'call'
  readonly to: PeerAddress
  readonly callId: CallId
  readonly message: Message
  readonly timeoutMs: Millis
}

/** The answer to a call input. */
export interface RespondEffect {
  readonly kind: 'respond'
  readonly to: PeerAddress
  readonly callId: CallId
  readonly message: Message
}

export interface ReadEffect {
  readonly kind: 'read'
  readonly operationId: OperationId
  readonly query: ReadQuery
}

export interface WriteEffect {
  readonly kind: 'write'
  readonly operationId: OperationId
  readonly mutations: readonly Mutation[]
  readonly durability: Durability
}

export interface ReplyEffect {
  readonly kind: 'reply'
  readonly requestId: RequestId
  readonly response: ClientResponse
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface LogEffect {
  readonly kind: 'log'
  readonly level: LogLevel
  readonly event: string
  readonly fields: Readonly<Record<string, string | number | boolean | null>>
}

export type Effect = SendEffect | CallEffect | RespondEffect | ReadEffect | WriteEffect | ReplyEffect | LogEffect

export type EffectKind = Effect['kind']
