/**
 * Continuations for the node's own I/O: a storage effect or a call is emitted with the function that handles its
 * result, keyed by the operation or call id, and the node routes the matching storage-result or call-result input
 * back here. This keeps the core synchronous (inputs in, effects out) while letting replication and placement read
 * like the sequences they are (read → merge → write → ack) instead of a state enum per step.
 *
 * Every id gets exactly one result (the shells promise that), so each entry is removed when its result arrives;
 * a crash loses the map with the process, as it loses the operations. Ids come from the node's counters, shared
 * with membership, so routing by id is unambiguous.
 */
import type { CallId, Millis, OperationId, PeerAddress } from '../primitives/ids.ts'
import { IdTable } from '../primitives/id-table.ts'
import type { Effect } from './effect.ts'
import type { CallOutcome } from './input.ts'
import type { Message } from './message.ts'
import type { Durability, Mutation, ReadQuery, StorageResult } from './storage-operation.ts'

export type Out = Effect[]

export type StorageContinuation = (result: StorageResult, out: Out) => void
export type CallContinuation = (outcome: CallOutcome, out: Out) => void

export interface IoIds {
  nextCallId(): CallId
  nextOperationId(): OperationId
}

export class IoContinuations {
  // Not Maps: see id-table.ts for how a churned long-lived Map kept every request's continuation alive.
  private readonly operations = new IdTable<StorageContinuation>()
  private readonly calls = new IdTable<CallContinuation>()

  constructor(private readonly ids: IoIds) {}

  read(query: ReadQuery, out: Out, then: StorageContinuation): void {
    const operationId = this.ids.nextOperationId()
    this.operations.set(operationId, then)
    out.push({ kind: 'read', operationId, query })
  }

  write(mutations: readonly Mutation[], durability: Durability, out: Out, then: StorageContinuation): void {
    const operationId = this.ids.nextOperationId()
    this.operations.set(operationId, then)
    out.push({ kind: 'write', operationId, mutations, durability })
  }

  call(to: PeerAddress, message: Message, timeoutMs: Millis, out: Out, then: CallContinuation): void {
    const callId = this.ids.nextCallId()
    this.calls.set(callId, then)
    out.push({ kind: 'call', to, callId, message, timeoutMs: Math.max(1, Math.ceil(timeoutMs)) })
  }

  ownsOperation(id: OperationId): boolean {
    return this.operations.has(id)
  }

  ownsCall(id: CallId): boolean {
    return this.calls.has(id)
  }

  storageResult(id: OperationId, result: StorageResult, out: Out): void {
    const then = this.operations.take(id)
    if (then === undefined) return
    then(result, out)
  }

  callResult(id: CallId, outcome: CallOutcome, out: Out): void {
    const then = this.calls.take(id)
    if (then === undefined) return
    then(outcome, out)
  }

  get inFlight(): number {
    return this.operations.size + this.calls.size
  }
}
