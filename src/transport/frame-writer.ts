/**
 * Batches the frames written to one TCP socket (Fowler's "Request Batch"): frames produced in the same turn
 * of the event loop go out in one socket write at the next setImmediate. Under load a response burst or a
 * window of pipelined calls becomes one syscall and one TCP segment train instead of one each; at one call
 * in flight the delay is a single loop turn. Nagle is off (setNoDelay) because this does its job without
 * its 40 ms stalls.
 *
 * Small frames are concatenated (one copy is cheaper than a writev of many tiny buffers); large ones are
 * written as they are under cork/uncork so a 4 MiB value is never copied again.
 */
import { Buffer } from 'node:buffer'
import type { Socket } from 'node:net'
import type { TransportCounters } from './transport-counters.ts'

/** Below this total a batch is copied into one buffer; above it, written with writev. */
const CONCATENATE_BELOW_BYTES = 64 * 1024

export class FrameWriter {
  private outbox: Uint8Array[] = []
  private outboxBytes = 0
  private scheduled = false
  private closed = false

  constructor(
    private readonly socket: Socket,
    private readonly counters: TransportCounters,
  ) {}

  /** Bytes accepted but not yet handed to the kernel: ours plus the socket's own buffer. */
  get bufferedBytes(): number {
    return this.outboxBytes + this.socket.writableLength
  }

  write(frame: Uint8Array): void {
    if (this.closed) return
    this.outbox.push(frame)
    this.outboxBytes += frame.length
    this.counters.framesSent++
    this.counters.bytesSent += frame.length
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flush)
    }
  }

  /** Drops anything not yet written; the socket is being destroyed. */
  close(): void {
    this.closed = true
    this.outbox = []
    this.outboxBytes = 0
  }

  private readonly flush = (): void => {
    this.scheduled = false
    if (this.closed || this.outbox.length === 0) return
    const batch = this.outbox
    const bytes = this.outboxBytes
    this.outbox = []
    this.outboxBytes = 0
    if (batch.length === 1) {
      this.socket.write(batch[0] as Uint8Array)
    } else if (bytes < CONCATENATE_BELOW_BYTES) {
      this.socket.write(concatenate(batch, bytes))
    } else {
      this.socket.cork()
      for (const frame of batch) this.socket.write(frame)
      this.socket.uncork()
    }
  }
}

function concatenate(parts: readonly Uint8Array[], total: number): Uint8Array {
  // Every byte is overwritten below, so the unzeroed pooled allocation is safe and much cheaper.
  const out = Buffer.allocUnsafe(total)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
