/**
 * The chorus client subcommands as a user runs them: `node bin/chorus.js ...` in a child process against an
 * ApiServer on 127.0.0.1 port 0 with a fake node (fake-store.ts). Checks what is printed, in text and with
 * --json, and the documented exit codes (0 ok, 1 node error or unreachable, 2 usage, 3 not found).
 * Each run of the CLI costs a second or two of CPU (tsx compiles on load), so data is seeded in-process with
 * ChorusClient and the CLI runs only the commands under test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ClientRequest, ClientResponse } from '../../src/core/node/client.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'
import { startFakeServer } from '../api/fake-backend.ts'
import type { FakeServer } from '../api/fake-backend.ts'
import { FakeStore } from '../api/fake-store.ts'
import { ChorusClient } from '../../src/api/client.ts'

const chorusBin = fileURLToPath(new URL('../../bin/chorus.js', import.meta.url))

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

function chorus(args: readonly string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [chorusBin, ...args], { timeout: 50_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, stdout, stderr })
    })
    if (stdin !== undefined) child.stdin?.end(stdin)
    else child.stdin?.end()
  })
}

function clusterViews(request: ClientRequest): ClientResponse | null {
  const member = (id: string, port: number, phi: number) => ({
    id: nodeId(id),
    address: `127.0.0.1:${7000 + port}` as never,
    state: 'alive' as const,
    generation: 1,
    incarnation: 0,
    phi,
    metadata: { httpAddress: `127.0.0.1:${8000 + port}`, zone: '', partitions: 4, protocolVersion: 1 },
  })
  if (request.kind === 'members') return { kind: 'members', members: [member('node-1', 1, 0.5), member('node-2', 2, 1.25)], leader: nodeId('node-1') }
  if (request.kind === 'partitions') {
    const owners = [['node-1', 'node-2'], ['node-2', 'node-1'], ['node-1', 'node-2'], ['node-2', 'node-1']].map((list) => list.map(nodeId))
    return { kind: 'partitions', table: { partitions: 4, n: 2, version: { leaderGeneration: 1, version: 2 }, owners } }
  }
  return null
}

describe('chorus client commands', () => {
  let server: FakeServer
  let url: string

  beforeAll(async () => {
    const store = new FakeStore()
    server = await startFakeServer((request) => clusterViews(request) ?? store.script(request))
    url = server.url
  })
  afterAll(() => server.close())

  it('put then get prints the value; --json prints a document', async () => {
    const stored = await chorus(['put', 'users', 'alice', 'hello world', '--url', url])
    expect(stored).toMatchObject({ code: 0, stdout: expect.stringMatching(/^stored users\/alice; context \S+\n$/) as unknown })
    const [text, json] = await Promise.all([chorus(['get', 'users', 'alice', '--url', url]), chorus(['get', 'users', 'alice', '--url', url, '--json'])])
    expect(text).toMatchObject({ code: 0, stdout: 'hello world\n' })
    expect(text.stderr).toMatch(/content-type text\/plain; context \S+/)
    expect(json.code).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'value', value: 'hello world', encoding: 'utf8', contentType: 'text/plain', context: expect.any(String) as unknown })
  })

  it('get prints siblings one by one with the context that resolves them', async () => {
    const seed = new ChorusClient(url)
    await seed.put('colours', 'sky', 'blue', { contentType: 'text/plain' })
    await seed.put('colours', 'sky', 'grey', { contentType: 'text/plain' })
    const read = await chorus(['get', 'colours', 'sky', '--url', url])
    expect(read.code).toBe(0)
    expect(read.stdout).toMatch(/^2 siblings/)
    expect(read.stdout).toMatch(/chorus put colours sky VALUE --context \S+/)
    expect(read.stdout).toMatch(/--- sibling 1 of 2: text\/plain, written \d{4}-\d\d-\d\dT/)
    expect(read.stdout).toContain('\nblue\n')
    expect(read.stdout).toContain('\ngrey\n')
  })

  it('get of a missing key exits 3 with a message on stderr', async () => {
    const missing = await chorus(['get', 'users', 'nobody', '--url', url])
    expect(missing).toMatchObject({ code: 3, stdout: '' })
    expect(missing.stderr).toContain('not found: users/nobody')
  })

  it('members prints a table, or the JSON rows with --json', async () => {
    const [table, json] = await Promise.all([chorus(['members', '--url', url]), chorus(['members', '--url', url, '--json'])])
    const lines = table.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^ID\s+ADDRESS\s+HTTP\s+STATE\s+GENERATION\s+INCARNATION\s+PHI\s+LEADER/)
    expect(lines[1]).toMatch(/^node-1\s+127\.0\.0\.1:7001\s+127\.0\.0\.1:8001\s+alive\s+1\s+0\s+0\.50\s+yes/)
    expect(lines[2]).toMatch(/^node-2\s+.*alive\s+1\s+0\s+1\.25$/)
    expect(JSON.parse(json.stdout)).toHaveLength(2)
  })

  it('partitions summarises ownership per node', async () => {
    const table = await chorus(['partitions', '--url', url])
    expect(table.stdout).toContain('4 partitions')
    expect(table.stdout).toMatch(/node-1\s+2\s+4/)
  })

  it('node errors exit 1 with the code, usage errors exit 2, --help shows examples', async () => {
    const [bad, usage, help] = await Promise.all([
      chorus(['get', 'b', 'k', '--r', 'most', '--url', url]),
      chorus(['get', 'only-bucket', '--url', url]),
      chorus(['put', '--help']),
    ])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/400 invalid_parameter: r must be one, quorum, all/)
    expect(usage.code).toBe(2)
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Examples:')
    expect(help.stdout).toContain('Exit codes')
  })
})
