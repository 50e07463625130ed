/**
 * Reads request bodies with a hard byte limit. The declared Content-Length is checked first; a chunked body is
 * counted as it streams, and the moment it passes the limit reading stops (the stream is paused, not drained)
 * and the caller answers 413. What the client still sends is then discarded up to a bound (discardRest), so
 * an oversized upload is never buffered, and a huge one is cut off.
 */
import type { IncomingMessage } from 'node:http'
import { ChorusError } from '../errors.ts'
import { checkDeclaredLength } from './request-parsing.ts'

export function readBody(request: IncomingMessage, maxBytes: number, what: string): Promise<Buffer> {
  checkDeclaredLength(request.headers['content-length'], maxBytes, what)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = (): void => {
      request.off('data', onData)
      request.off('end', onEnd)
      request.off('error', onError)
      request.off('close', onClose)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > maxBytes) {
        stop()
        request.pause()
        reject(new ChorusError('VALUE_TOO_LARGE', `the ${what} is over the limit of ${maxBytes} bytes`))
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      stop()
      resolve(Buffer.concat(chunks, size))
    }
    const onError = (): void => {
      stop()
      reject(new ChorusError('BAD_REQUEST', `the ${what} could not be read: the client went away`))
    }
    // `close` before `end` means the client aborted mid-body.
    const onClose = (): void => {
      if (!request.complete) onError()
    }
    request.on('data', onData)
    request.on('end', onEnd)
    request.on('error', onError)
    request.on('close', onClose)
  })
}

/** A JSON body of at most maxBytes; invalid JSON is a 400, never an exception of another kind. */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const body = await readBody(request, maxBytes, 'request body')
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    throw new ChorusError('BAD_REQUEST', 'the request body is not valid JSON')
  }
}

export interface LingerBounds {
  readonly lingerMaxBytes: number
  readonly lingerMs: number
}

/**
 * Reads and throws away what is left of a request body we refused, so the client sees our answer rather than a
 * connection reset; past lingerMaxBytes or lingerMs the socket is destroyed. Nothing is kept.
 */
export function discardRest(request: IncomingMessage, bounds: LingerBounds): void {
  if (request.complete || request.destroyed) return
  const socket = request.socket
  let discarded = 0
  const cutOff = (): void => {
    socket.destroy()
  }
  const timer = setTimeout(cutOff, bounds.lingerMs)
  timer.unref()
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length
    if (discarded > bounds.lingerMaxBytes) cutOff()
  })
  request.once('end', () => clearTimeout(timer))
  request.once('close', () => clearTimeout(timer))
  request.resume()
}
