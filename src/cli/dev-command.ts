/**
 * `chorus dev`: a local cluster of real node processes on loopback, what `npm start` runs. Node i serves HTTP on
 * 127.0.0.1:800i and cluster traffic on 127.0.0.1:700i, with data under ./data/node-i. Every node after the
 * first joins through node 1. Ctrl-C (or SIGTERM) stops them all gracefully and waits for them to exit.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import type { CommandModule } from 'yargs'
import { logLevels } from '../runtime/logger.ts'

interface DevArgs {
  nodes: number
  data: string
  'http-port-base': number
  'cluster-port-base': number
  'log-level': (typeof logLevels)[number]
}

const chorusBin = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/chorus.js')

export const devCommand: CommandModule<object, DevArgs> = {
  command: 'dev',
  describe: 'run a local cluster of real node processes on loopback (what npm start runs)',
  builder: (yargs) =>
    yargs
      .option('nodes', { type: 'number', default: 3, describe: 'how many nodes (1..9)' })
      .option('data', { type: 'string', default: './data', describe: 'parent directory of each node’s data' })
      .option('log-level', { choices: logLevels, default: 'warn' as const, describe: 'least severe level the nodes log' })
      .option('http-port-base', { type: 'number', default: 8000, describe: 'node i serves HTTP on base + i' })
      .option('cluster-port-base', { type: 'number', default: 7000, describe: 'node i takes cluster traffic on base + i' })
      .check((args) => {
        if (!Number.isInteger(args.nodes) || args.nodes < 1 || args.nodes > 9) throw new Error('--nodes must be 1..9')
        return true
      })
      .example('$0 dev', 'three nodes on 127.0.0.1:8001-8003')
      .example('$0 dev --nodes 5', 'five nodes'),
  handler: async (args) => {
    const children = Array.from({ length: args.nodes }, (_, index) => startChild(index + 1, args))
    let stopping = false
    const stopAll = (): void => {
      if (stopping) return
      stopping = true
      process.stdout.write('\nstopping the cluster…\n')
      for (const child of children) child.kill('SIGTERM')
    }
    process.on('SIGINT', stopAll)
    process.on('SIGTERM', stopAll)
    for (let i = 1; i <= args.nodes; i++) {
      process.stdout.write(`node-${i}: http://127.0.0.1:${args['http-port-base'] + i}  cluster 127.0.0.1:${args['cluster-port-base'] + i}  data ${join(args.data, `node-${i}`)}\n`)
    }
    const healthy = await waitForHealth(args.nodes, args['http-port-base'], 30_000)
    process.stdout.write(`${healthy}/${args.nodes} nodes healthy; try: npx chorus members   (Ctrl-C stops the cluster)\n`)
    await Promise.all(children.map((child) => new Promise((done) => child.once('exit', done))))
    process.stdout.write('cluster stopped\n')
  },
}

function startChild(index: number, args: DevArgs): ChildProcess {
  const dataDir = join(args.data, `node-${index}`)
  mkdirSync(dataDir, { recursive: true })
  const flags = [
    chorusBin, 'start',
    '--id', `node-${index}`,
    '--data', dataDir,
    '--bind', `127.0.0.1:${args['cluster-port-base'] + index}`,
    '--http', `127.0.0.1:${args['http-port-base'] + index}`,
    '--preset', 'local',
    '--log-level', args['log-level'],
    ...(index === 1 ? [] : ['--seeds', `127.0.0.1:${args['cluster-port-base'] + 1}`]),
  ]
  // Each node gets its own process group, so Ctrl-C in the terminal reaches only `chorus dev`, which then sends
  // exactly one SIGTERM to each node: a node treats a second signal as "exit now, skip the graceful leave".
  const child = spawn(process.execPath, flags, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  // If dev itself dies without a chance to stop them, take the nodes down with it rather than orphan them.
  process.once('exit', () => child.kill('SIGKILL'))
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[node-${index}] ${line}\n`))
  }
  child.once('exit', (code, signal) => process.stdout.write(`[node-${index}] exited (${signal ?? code})\n`))
  return child
}

async function waitForHealth(nodes: number, httpPortBase: number, deadlineMs: number): Promise<number> {
  const until = Date.now() + deadlineMs
  let healthy = 0
  while (Date.now() < until) {
    const answers = await Promise.all(
      Array.from({ length: nodes }, (_, i) =>
        fetch(`http://127.0.0.1:${httpPortBase + 1 + i}/health`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false),
      ),
    )
    healthy = answers.filter(Boolean).length
    if (healthy === nodes) return healthy
    await new Promise((wake) => setTimeout(wake, 200))
  }
  return healthy
}
