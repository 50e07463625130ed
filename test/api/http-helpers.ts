/**
 * Small HTTP helpers for API tests: a fetch wrapper that reads the whole answer, and a raw node:http upload that
 * streams a chunked body slowly, which fetch cannot do without buffering it first.
 */
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'

export interface Answer {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: unknown
}

export async function call(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, init)
  const text = await response.text()
  let json: unknown = undefined
  try {
    json = JSON.parse(text) as unknown
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, text, json }
}

/**
 * Sends `totalBytes` as a chunked PUT in 1 KiB chunks, waiting for each to drain, and resolves with the status and
 * body of the answer; stops sending as soon as the answer arrives (a server that refuses early closes the socket).
 */
export function chunkedUpload(url: string, totalBytes: number): Promise<{ status: number; text: string; sentBytes: number }> {
  return new Promise((resolve, reject) => {
    let sentBytes = 0
    let answered = false
    const outgoing = httpRequest(url, { method: 'PUT', headers: { 'Content-Type': 'text/plain' } }, (response) => {
      answered = true
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text, sentBytes }))
      response.on('error', reject)
    })
    // Once the server answered and closed, a write error is expected; before that it is a failure.
    outgoing.on('error', (error) => {
      if (!answered) reject(error)
    })
    const chunk = Buffer.alloc(1024, 0x61)
    const sendMore = (): void => {
      while (!answered && sentBytes < totalBytes) {
        sentBytes += chunk.length
        if (!outgoing.write(chunk)) return void outgoing.once('drain', sendMore)
      }
      if (!answered) outgoing.end()
    }
    sendMore()
  })
}

/** Writes raw bytes on a fresh connection and resolves with everything the server sent before closing it. */
export function rawExchange(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(raw))
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (received += chunk))
    socket.on('end', () => resolve(received))
    socket.on('error', reject)
  })
}
