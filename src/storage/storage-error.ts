/**
 * The storage layer's error catalogue. Every failure that leaves src/storage carries one of these stable codes,
 * whichever store produced it (classic-level, memory-level or the simulated disk), so callers and the contract
 * suite match on codes, never on messages. The engine turns these into `{ kind: 'failed', code }` storage
 * results for the core; only an assertion (corruption we cannot explain) escapes as an exception.
 */
import type { StorageFailureCode } from '../core/node/storage-operation.ts'

/**
 * The codes are the core's StorageFailureCode, so a storage result can carry them unchanged:
 * STORAGE_CLOSED (not open, closed, or crashed in the simulator); STORAGE_OVERLOADED (the commit queue is full:
 * shed load rather than queue without bound); STORAGE_FAILED (a write or sync failed, and the queue refuses all
 * later writes, because after a failed fsync the page cache can no longer be trusted ("fsyncgate") and the only
 * safe continuation is restart and recovery); CORRUPT_RECORD (a checksum or decode failed); WRONG_DATA_DIRECTORY
 * (the data belongs to another node id or an incompatible format); INVALID_ARGUMENT (a bad partition, limit or
 * oversized record).
 */
export type StorageErrorCode = StorageFailureCode

export class StorageError extends Error {
  override readonly name = 'StorageError'

  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

export function isStorageError(error: unknown, code?: StorageErrorCode): error is StorageError {
  return error instanceof StorageError && (code === undefined || error.code === code)
}
