/**
 * The client subcommands (`put`, `get`, `del`, `members`, `partitions`, `join`, `leave`, `remove`): thin
 * wrappers around ChorusClient against `--url`. Human-readable output by default, `--json` for scripts.
 * Exit codes: 0 success, 1 the server answered with an error, 2 bad usage.
 */
import type { Argv, CommandModule } from 'yargs'
import { ChorusClient, ChorusHttpError } from '../api/client.ts'

interface ClientArgs {
  url: string
  json: boolean
}

const withClientOptions = <T>(yargs: Argv<T>): Argv<T & ClientArgs> =>
  yargs
    .option('url', { type: 'string', default: 'http://127.0.0.1:8001', describe: 'any node’s HTTP address' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON instead of text' })

async function run(action: () => Promise<void>): Promise<void> {
  try {
    await action()
  } catch (error) {
    if (error instanceof ChorusHttpError) {
      process.stderr.write(`chorus: ${error.status} ${error.code}: ${error.message}\n`)
      process.exitCode = 1
      return
    }
    const message = error instanceof Error ? error.message : String(error)
    process.stderr.write(`chorus: ${message}\n`)
    process.exitCode = 1
  }
}

const put: CommandModule<object, ClientArgs & { bucket: string; key: string; value: string; context?: string; 'content-type': string }> = {
  command: 'put <bucket> <key> <value>',
  describe: 'store a value',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('bucket', { type: 'string', demandOption: true })
      .positional('key', { type: 'string', demandOption: true })
      .positional('value', { type: 'string', demandOption: true })
      .option('context', { type: 'string', describe: 'causal context from a previous get (replaces what it read)' })
      .option('content-type', { type: 'string', default: 'text/plain' })
      .example('$0 put users alice \'{"age":30}\' --content-type application/json', 'store JSON') as never,
  handler: (args) =>
    run(async () => {
      const client = new ChorusClient(args.url)
      const context = await client.put(args.bucket, args.key, args.value, {
        contentType: args['content-type'],
        ...(args.context === undefined ? {} : { context: args.context }),
      })
      process.stdout.write(args.json ? `${JSON.stringify({ context })}\n` : `stored; context ${context}\n`)
    }),
}

const get: CommandModule<object, ClientArgs & { bucket: string; key: string }> = {
  command: 'get <bucket> <key>',
  describe: 'read a value (all siblings if there are several)',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('bucket', { type: 'string', demandOption: true })
      .positional('key', { type: 'string', demandOption: true })
      .example('$0 get users alice', 'print the value') as never,
  handler: (args) =>
    run(async () => {
      const result = await new ChorusClient(args.url).get(args.bucket, args.key)
      const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8')
      if (args.json) {
        const shown =
          result.kind === 'value' ? { ...result, value: text(result.value) }
          : result.kind === 'siblings' ? { ...result, siblings: result.siblings.map((s) => ({ ...s, value: text(s.value) })) }
          : result
        process.stdout.write(`${JSON.stringify(shown)}\n`)
      } else if (result.kind === 'value') {
        process.stdout.write(`${text(result.value)}\n`)
      } else if (result.kind === 'siblings') {
        process.stdout.write(`${result.siblings.length} siblings (context ${result.context}):\n`)
        for (const sibling of result.siblings) process.stdout.write(`  ${text(sibling.value)}\n`)
      } else {
        process.stderr.write('not found\n')
        process.exitCode = 1
      }
    }),
}

const del: CommandModule<object, ClientArgs & { bucket: string; key: string; context?: string }> = {
  command: 'del <bucket> <key>',
  describe: 'delete a key (what the context covers, or everything read first)',
  builder: (yargs) =>
    withClientOptions(yargs)
      .positional('bucket', { type: 'string', demandOption: true })
      .positional('key', { type: 'string', demandOption: true })
      .option('context', { type: 'string', describe: 'causal context to delete; default: read first and delete what was read' }) as never,
  handler: (args) =>
    run(async () => {
      const client = new ChorusClient(args.url)
      let context = args.context
      if (context === undefined) {
        const read = await client.get(args.bucket, args.key)
        context = read.context ?? undefined
      }
      await client.delete(args.bucket, args.key, context === undefined ? {} : { context })
      process.stdout.write(args.json ? '{"deleted":true}\n' : 'deleted\n')
    }),
}

interface MemberRow {
  id: string
  address: string
  http: string
  state: string
  generation: number
  incarnation: number
  phi: number
  leader: boolean
}

const members: CommandModule<object, ClientArgs> = {
  command: 'members',
  describe: 'list cluster members as this node sees them',
  builder: (yargs) => withClientOptions(yargs) as never,
  handler: (args) =>
    run(async () => {
      const rows = (await new ChorusClient(args.url).json('GET', '/cluster/members')) as MemberRow[]
      if (args.json) return void process.stdout.write(`${JSON.stringify(rows)}\n`)
      const table = rows.map((m) => [m.id, m.address, m.http, m.state, String(m.generation), String(m.incarnation), m.phi.toFixed(2), m.leader ? 'leader' : ''])
      printTable(['ID', 'ADDRESS', 'HTTP', 'STATE', 'GENERATION', 'INCARNATION', 'PHI', ''], table)
    }),
}

const partitions: CommandModule<object, ClientArgs> = {
  command: 'partitions',
  describe: 'show the partition ownership table',
  builder: (yargs) => withClientOptions(yargs) as never,
  handler: (args) =>
    run(async () => {
      const body = (await new ChorusClient(args.url).json('GET', '/cluster/partitions')) as { partitions: number; version: unknown; owners: string[][] }
      if (args.json) return void process.stdout.write(`${JSON.stringify(body)}\n`)
      const counts = new Map<string, number>()
      for (const list of body.owners) for (const id of list) counts.set(id, (counts.get(id) ?? 0) + 1)
      process.stdout.write(`${body.partitions} partitions, table version ${JSON.stringify(body.version)}\n`)
      printTable(['NODE', 'REPLICAS'], [...counts.entries()].sort().map(([id, count]) => [id, String(count)]))
    }),
}

const join: CommandModule<object, ClientArgs & { seeds: string }> = {
  command: 'join <seeds>',
  describe: 'ask the node at --url to join the cluster through comma-separated HOST:PORT seeds',
  builder: (yargs) => withClientOptions(yargs).positional('seeds', { type: 'string', demandOption: true }) as never,
  handler: (args) => run(async () => printAnswer(args, await new ChorusClient(args.url).json('POST', '/cluster/join', { seeds: args.seeds.split(',') }))),
}

const leave: CommandModule<object, ClientArgs> = {
  command: 'leave',
  describe: 'ask the node at --url to hand off its partitions and leave the cluster',
  builder: (yargs) => withClientOptions(yargs) as never,
  handler: (args) => run(async () => printAnswer(args, await new ChorusClient(args.url).json('POST', '/cluster/leave'))),
}

const remove: CommandModule<object, ClientArgs & { id: string }> = {
  command: 'remove <id>',
  describe: 'remove a dead node from the cluster; its partitions move to the others',
  builder: (yargs) => withClientOptions(yargs).positional('id', { type: 'string', demandOption: true }) as never,
  handler: (args) => run(async () => printAnswer(args, await new ChorusClient(args.url).json('POST', '/cluster/remove', { id: args.id }))),
}

function printAnswer(args: ClientArgs, body: unknown): void {
  process.stdout.write(args.json ? `${JSON.stringify(body)}\n` : `ok\n`)
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)))
  for (const row of [header, ...rows]) {
    process.stdout.write(`${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()}\n`)
  }
}

export const clientCommands: CommandModule[] = [put, get, del, members, partitions, join, leave, remove] as unknown as CommandModule[]
