/**
 * The client subcommands of DESIGN.md section 8 — `put`, `get`, `del`, `members`, `partitions`, `join`, `leave`,
 * `remove` — as thin wrappers around ChorusClient against `--url` (default http://127.0.0.1:8001, node 1 of
 * `chorus dev`). Human-readable text and tables by default; `--json` prints one JSON document per command on
 * stdout for scripts.
 *
 * Exit codes (stable, for scripts):
 *   0  success
 *   1  the node answered with an error, or could not be reached (message on stderr)
 *   2  bad usage: unknown command or flag, missing argument (yargs prints the help)
 *   3  `get`: the key does not exist or was deleted
 */
import type { Argv, CommandModule } from 'yargs'
import { ChorusClient, ChorusHttpError, ChorusNetworkError } from '../api/client.ts'
import type { GetResult, Member, Partitions, Quorum, Sibling } from '../api/client.ts'

export const EXIT_OK = 0
export const EXIT_ERROR = 1
export const EXIT_USAGE = 2
export const EXIT_NOT_FOUND = 3

interface ClientArgs {
  url: string
  json: boolean
}

function withClientOptions<T>(yargs: Argv<T>): Argv<T & ClientArgs> {
  return yargs
    .option('url', { type: 'string', default: 'http://127.0.0.1:8001', describe: 'HTTP address of any node' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON for scripts instead of text' })
    .epilogue('Exit codes: 0 ok, 1 error from the node or unreachable, 2 bad usage, 3 key not found (get).')
}

function withBucketKey<T>(yargs: Argv<T>): Argv<T & { bucket: string; key: string }> {
  return yargs
    .positional('bucket', { type: 'string', demandOption: true, describe: 'bucket name' })
    .positional('key', { type: 'string', demandOption: true, describe: 'key' }) as Argv<T & { bucket: string; key: string }>
}

/** Runs a command body; maps failures to the documented exit codes and messages. */
async function run(args: ClientArgs, action: () => Promise<number | void>): Promise<void> {
  try {
    process.exitCode = (await action()) ?? EXIT_OK
  } catch (error) {
    process.exitCode = error instanceof UsageError ? EXIT_USAGE : EXIT_ERROR
    process.stderr.write(`${describeError(error, args.json)}\n`)
  }
}

class UsageError extends Error {}

function describeError(error: unknown, json: boolean): string {
  if (error instanceof ChorusHttpError) {
    return json ? JSON.stringify({ status: error.status, ...error.body, error: error.code }) : `chorus: ${error.status} ${error.code}: ${error.message}`
  }
  const message = error instanceof Error ? error.message : String(error)
  const code = error instanceof ChorusNetworkError ? 'unreachable' : error instanceof UsageError ? 'usage' : 'error'
  return json ? JSON.stringify({ error: code, message }) : `chorus: ${message}`
}

function client(args: ClientArgs): ChorusClient {
  return new ChorusClient(args.url)
}

function quorum(text: string | undefined): Quorum | undefined {
  if (text === undefined) return undefined
  return /^\d+$/.test(text) ? Number(text) : (text as Quorum)
}

function defined<T extends Record<string, unknown>>(fields: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>
}

function print(line: string): void {
  process.stdout.write(`${line}\n`)
}

// ---- put / get / del ------------------------------------------------------------------------------------------

interface PutArgs extends ClientArgs {
  bucket: string
  key: string
  value?: string
  context?: string
  'content-type': string
  w?: string
  pw?: string
  'timeout-ms'?: number
  'request-id'?: string
}

const put: CommandModule<object, PutArgs> = {
  command: 'put <bucket> <key> [value]',
  describe: 'store a value (read from stdin when VALUE is omitted)',
  builder: (yargs) =>
    withBucketKey(withClientOptions(yargs))
      .positional('value', { type: 'string', describe: 'the value; omit it to read the value from stdin' })
      .option('context', { type: 'string', describe: 'context from a previous get: replace exactly what it read' })
      .option('content-type', { type: 'string', default: 'text/plain', describe: 'stored with the value' })
      .option('w', { type: 'string', describe: 'write quorum: one, quorum, all or 1..N' })
      .option('pw', { type: 'string', describe: 'primary replicas that must acknowledge' })
      .option('timeout-ms', { type: 'number', describe: 'coordinator deadline in milliseconds' })
      .option('request-id', { type: 'string', describe: 'X-Request-Id; repeat it to retry a write safely' })
      .example('$0 put users alice \'{"age":30}\' --content-type application/json', 'store JSON')
      .example('$0 put users alice 31 --context CONTEXT', 'replace what an earlier get returned')
      .example('cat photo.jpg | $0 put photos p1 --content-type image/jpeg', 'store bytes from stdin') as Argv<PutArgs>,
  handler: (args) =>
    run(args, async () => {
      const value = args.value ?? (await readStdin())
      const context = await client(args).put(args.bucket, args.key, value, {
        contentType: args['content-type'],
        ...defined({ context: args.context, w: quorum(args.w), pw: quorum(args.pw), timeoutMs: args['timeout-ms'], requestId: args['request-id'] }),
      })
      print(args.json ? JSON.stringify({ stored: true, context }) : `stored ${args.bucket}/${args.key}; context ${context === '' ? '(none)' : context}`)
    }),
}

async function readStdin(): Promise<Uint8Array> {
  if (process.stdin.isTTY === true) throw new UsageError('give VALUE or pipe the value on stdin')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk)
  return new Uint8Array(Buffer.concat(chunks))
}

interface GetArgs extends ClientArgs {
  bucket: string
  key: string
  r?: string
  pr?: string
  'timeout-ms'?: number
}

const get: CommandModule<object, GetArgs> = {
  command: 'get <bucket> <key>',
  describe: 'read a value; every sibling if there are several',
  builder: (yargs) =>
    withBucketKey(withClientOptions(yargs))
      .option('r', { type: 'string', describe: 'read quorum: one, quorum, all or 1..N' })
      .option('pr', { type: 'string', describe: 'primary replicas that must answer' })
      .option('timeout-ms', { type: 'number', describe: 'coordinator deadline in milliseconds' })
      .example('$0 get users alice', 'print the value (its context goes to stderr)')
      .example('$0 get users alice --r all --json', 'read from every replica, print JSON') as Argv<GetArgs>,
  handler: (args) =>
    run(args, async () => {
      const result = await client(args).get(args.bucket, args.key, defined({ r: quorum(args.r), pr: quorum(args.pr), timeoutMs: args['timeout-ms'] }))
      if (args.json) print(JSON.stringify(getJson(result)))
      else printGet(args, result)
      return result.kind === 'not-found' ? EXIT_NOT_FOUND : EXIT_OK
    }),
}

function printGet(args: GetArgs, result: GetResult): void {
  switch (result.kind) {
    case 'value':
      process.stdout.write(Buffer.from(result.value))
      if (!Buffer.from(result.value).toString('latin1').endsWith('\n')) process.stdout.write('\n')
      process.stderr.write(`content-type ${result.contentType}; context ${result.context}\n`)
      return
    case 'siblings':
      print(`${result.siblings.length} siblings (concurrent writes). Resolve them by writing one value with this context:`)
      print(`  chorus put ${args.bucket} ${args.key} VALUE --context ${result.context}`)
      result.siblings.forEach((sibling, index) => {
        print(`--- sibling ${index + 1} of ${result.siblings.length}: ${sibling.contentType}, written ${new Date(sibling.timestamp).toISOString()}`)
        print(showValue(sibling.value))
      })
      return
    case 'not-found':
      process.stderr.write(`not found: ${args.bucket}/${args.key}${result.context === null ? '' : ` (deleted; context ${result.context})`}\n`)
      return
  }
}

function getJson(result: GetResult): unknown {
  switch (result.kind) {
    case 'value':
      return { kind: 'value', ...encodeValue(result.value), contentType: result.contentType, context: result.context }
    case 'siblings':
      return { kind: 'siblings', context: result.context, siblings: result.siblings.map(siblingJson) }
    case 'not-found':
      return { kind: 'not-found', context: result.context }
  }
}

function siblingJson(sibling: Sibling): unknown {
  return { ...encodeValue(sibling.value), contentType: sibling.contentType, timestamp: sibling.timestamp }
}

/** Text when the bytes are printable UTF-8, base64 otherwise: a terminal must never receive raw binary. */
function encodeValue(bytes: Uint8Array): { value: string; encoding: 'utf8' | 'base64' } {
  const text = printableText(bytes)
  return text === null ? { value: Buffer.from(bytes).toString('base64'), encoding: 'base64' } : { value: text, encoding: 'utf8' }
}

function showValue(bytes: Uint8Array): string {
  const text = printableText(bytes)
  return text ?? `(${bytes.byteLength} bytes, base64) ${Buffer.from(bytes).toString('base64')}`
}

function printableText(bytes: Uint8Array): string | null {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    return /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? null : text
  } catch {
    return null
  }
}

interface DelArgs extends ClientArgs {
  bucket: string
  key: string
  context?: string
  w?: string
  pw?: string
  'request-id'?: string
}

const del: CommandModule<object, DelArgs> = {
  command: 'del <bucket> <key>',
  describe: 'delete a key: what --context covers, or else everything a read sees first',
  builder: (yargs) =>
    withBucketKey(withClientOptions(yargs))
      .option('context', { type: 'string', describe: 'delete only what this context covers; default: read first' })
      .option('w', { type: 'string', describe: 'write quorum: one, quorum, all or 1..N' })
      .option('pw', { type: 'string', describe: 'primary replicas that must acknowledge' })
      .option('request-id', { type: 'string', describe: 'X-Request-Id; repeat it to retry a delete safely' })
      .example('$0 del users alice', 'delete whatever is there now') as Argv<DelArgs>,
  handler: (args) =>
    run(args, async () => {
      const chorus = client(args)
      const context = args.context ?? (await chorus.get(args.bucket, args.key)).context
      await chorus.delete(args.bucket, args.key, defined({ context: context ?? undefined, w: quorum(args.w), pw: quorum(args.pw), requestId: args['request-id'] }))
      print(args.json ? JSON.stringify({ deleted: true }) : `deleted ${args.bucket}/${args.key}`)
    }),
}

// ---- cluster ----------------------------------------------------------------------------------------------------

const members: CommandModule<object, ClientArgs> = {
  command: 'members',
  describe: 'list cluster members as the node at --url sees them',
  builder: (yargs) => withClientOptions(yargs).example('$0 members --url http://127.0.0.1:8002', 'ask node 2'),
  handler: (args) =>
    run(args, async () => {
      const rows = await client(args).members()
      if (args.json) return print(JSON.stringify(rows))
      printTable(['ID', 'ADDRESS', 'HTTP', 'STATE', 'GENERATION', 'INCARNATION', 'PHI', 'LEADER', 'ZONE'], rows.map(memberRow))
    }),
}

function memberRow(member: Member): string[] {
  const phi = member.phi === null ? '-' : member.phi.toFixed(2)
  const leader = member.leader ? 'yes' : ''
  return [member.id, member.address, member.http, member.state, String(member.generation), String(member.incarnation), phi, leader, member.zone ?? '']
}

const partitions: CommandModule<object, ClientArgs> = {
  command: 'partitions',
  describe: 'show the partition ownership table: partitions per node',
  builder: (yargs) => withClientOptions(yargs).example('$0 partitions --json', 'the full table (owners of every partition)'),
  handler: (args) =>
    run(args, async () => {
      const table = await client(args).partitions()
      if (args.json) return print(JSON.stringify(table))
      print(`${table.partitions} partitions, table version ${JSON.stringify(table.version)}`)
      printTable(['NODE', 'PRIMARY', 'REPLICAS'], partitionRows(table))
    }),
}

function partitionRows(table: Partitions): string[][] {
  const primaries = new Map<string, number>()
  const replicas = new Map<string, number>()
  for (const owners of table.owners) {
    owners.forEach((id, index) => {
      replicas.set(id, (replicas.get(id) ?? 0) + 1)
      if (index === 0) primaries.set(id, (primaries.get(id) ?? 0) + 1)
    })
  }
  return [...replicas.keys()].sort().map((id) => [id, String(primaries.get(id) ?? 0), String(replicas.get(id) ?? 0)])
}

const join: CommandModule<object, ClientArgs & { seeds: string }> = {
  command: 'join <seeds>',
  describe: 'ask the node at --url to join a cluster through comma-separated HOST:PORT seeds',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('seeds', { type: 'string', demandOption: true, describe: 'cluster (--bind) addresses of members' })
      .example('$0 join 127.0.0.1:7001 --url http://127.0.0.1:8004', 'node 4 joins through node 1') as Argv<ClientArgs & { seeds: string }>,
  handler: (args) =>
    run(args, async () => {
      const seeds = args.seeds.split(',').map((seed) => seed.trim()).filter((seed) => seed !== '')
      const answer = await client(args).join(seeds)
      print(args.json ? JSON.stringify(answer) : `joining through ${seeds.join(', ')}`)
    }),
}

const leave: CommandModule<object, ClientArgs> = {
  command: 'leave',
  describe: 'ask the node at --url to hand off its partitions and leave the cluster',
  builder: (yargs) => withClientOptions(yargs).example('$0 leave --url http://127.0.0.1:8003', 'node 3 leaves'),
  handler: (args) =>
    run(args, async () => {
      const answer = await client(args).leave()
      print(args.json ? JSON.stringify(answer) : 'leaving')
    }),
}

const remove: CommandModule<object, ClientArgs & { id: string }> = {
  command: 'remove <id>',
  describe: 'remove a dead node from the ownership table; its partitions move to the others',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('id', { type: 'string', demandOption: true, describe: 'node id, as `chorus members` shows it' })
      .example('$0 remove node-3', 'node-3 is gone for good') as Argv<ClientArgs & { id: string }>,
  handler: (args) =>
    run(args, async () => {
      const answer = await client(args).remove(args.id)
      print(args.json ? JSON.stringify(answer) : `removing ${args.id}`)
    }),
}

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)))
  for (const row of [header, ...rows]) print(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd())
}

export const clientCommands = [put, get, del, members, partitions, join, leave, remove] as unknown as CommandModule[]
