/**
 * The floor a Chorus node is measured against: a bare Node `http` server that stores request bodies in a Map,
 * answering the same paths as Chorus (`PUT`/`GET /buckets/{b}/keys/{k}`, query ignored) with the same statuses
 * (204 on PUT, 200 or 404 on GET). No replication, no disk, no validation: what HTTP on Node costs by itself.
 *
 * It runs as its own process (`node --import ./bin/register-typescript.js bare-kv-server.ts HOST PORT`, the
 * loader the nodes use) so that it gets a core of its own like a Chorus node, instead of sharing the load
 * generator's event loop, which would flatter Chorus.
 */
import { createServer } from 'node:http'

/** Matches a Chorus node's default value limit, so neither side accepts what the other would refuse. */
const MAX_VALUE_BYTES = 4 * 1024 * 1024

const [host = '127.0.0.1', portText = '8199'] = process.argv.slice(2)
const values = new Map<string, Buffer>()

const server = createServer((request, response) => {
  const path = request.url ?? '/'
  const key = path.split('?', 1)[0] ?? path
  if (request.method === 'GET') {
    const value = values.get(key)
    if (value === undefined) {
      response.writeHead(404).end()
    } else {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': value.length }).end(value)
    }
    return
  }
  if (request.method !== 'PUT') {
    response.writeHead(405).end()
    return
  }
  const chunks: Buffer[] = []
  let bytes = 0
  request.on('data', (chunk: Buffer) => {
    bytes += chunk.length
    if (bytes <= MAX_VALUE_BYTES) chunks.push(chunk)
  })
  request.on('end', () => {
    if (bytes > MAX_VALUE_BYTES) {
      response.writeHead(413).end()
      return
    }
    values.set(key, Buffer.concat(chunks))
    response.writeHead(204).end()
  })
})

server.listen(Number(portText), host, () => process.stdout.write(`bare-kv-server listening on ${host}:${portText}\n`))
// The harness SIGKILLs the process group; SIGTERM from a terminal should also end it at once.
process.once('SIGTERM', () => process.exit(0))
