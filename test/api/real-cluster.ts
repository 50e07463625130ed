/**
 * Real `chorus start` processes on loopback for contract tests: free ports picked by the OS, a temp data dir
 * per node, every node after the first seeded with the first. `stop` sends SIGTERM (graceful leave), waits with
 * a deadline, SIGKILLs stragglers and removes the data. Everything is polled with deadlines, never slept on.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const chorusBin = fileURLToPath(new URL('../../bin/chorus.js', import.meta.url))

export interface RealNode {
  readonly id: string
  readonly url: string
  readonly clusterAddress: string
  readonly process: ChildProcess
  /** stderr (the JSON logs), kept to explain a failure. */
  readonly logs: string[]
}

export interface RealCluster {
  readonly nodes: readonly RealNode[]
  stop(): Promise<void>
}

export async function startRealCluster(size: number, extraFlags: readonly string[] = []): Promise<RealCluster> {
  const dataRoot = await mkdtemp(join(tmpdir(), 'chorus-contract-'))
  const nodes: RealNode[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => stopProcess(node.process)))
    await rm(dataRoot, { recursive: true, force: true })
  }
  try {
    for (let index = 1; index <= size; index++) {
      const clusterPort = await freeUdpAndTcpPort()
      const httpPort = await freeTcpPort()
      const seeds = index === 1 ? [] : ['--seeds', nodes[0]?.clusterAddress ?? '']
      const id = `node-${index}`
      const flags = [
        chorusBin, 'start', '--id', id, '--data', join(dataRoot, id),
        '--bind', `127.0.0.1:${clusterPort}`, '--http', `127.0.0.1:${httpPort}`,
        '--preset', 'test', '--log-level', 'warn', ...seeds, ...extraFlags,
      ]
      const child = spawn(process.execPath, flags, { stdio: ['ignore', 'ignore', 'pipe'] })
      const logs: string[] = []
      child.stderr?.setEncoding('utf8').on('data', (chunk: string) => logs.push(chunk))
      nodes.push({ id, url: `http://127.0.0.1:${httpPort}`, clusterAddress: `127.0.0.1:${clusterPort}`, process: child, logs })
      // The first node must listen before the others seed from it.
      if (index === 1) await waitFor(() => healthy(nodes[0]!), 45_000, 'node-1 healthy', logs)
    }
    for (const node of nodes) await waitFor(() => healthy(node), 45_000, `${node.id} healthy`, node.logs)
    await waitFor(() => allAlive(nodes), 45_000, `${size} members alive everywhere`, [])
    return { nodes, stop }
  } catch (error) {
    await stop()
    throw error
  }
}

async function healthy(node: RealNode): Promise<boolean> {
  if (node.process.exitCode !== null) throw new Error(`${node.id} exited with ${node.process.exitCode}: ${node.logs.join('')}`)
  const answer = await fetch(`${node.url}/health`, { signal: AbortSignal.timeout(2_000) }).catch(() => null)
  return answer?.status === 200
}

async function allAlive(nodes: readonly RealNode[]): Promise<boolean> {
  for (const node of nodes) {
    const answer = await fetch(`${node.url}/cluster/members`, { signal: AbortSignal.timeout(2_000) }).catch(() => null)
    if (answer?.status !== 200) return false
    const members = (await answer.json()) as { state: string }[]
    if (members.filter((member) => member.state === 'alive').length !== nodes.length) return false
  }
  return true
}

export async function waitFor(check: () => Promise<boolean>, deadlineMs: number, what: string, logs: readonly string[]): Promise<void> {
  const until = Date.now() + deadlineMs
  for (let delayMs = 20; Date.now() < until; delayMs = Math.min(500, delayMs * 2)) {
    if (await check()) return
    await new Promise((wake) => setTimeout(wake, delayMs))
  }
  throw new Error(`timed out waiting for ${what}\n${logs.join('').slice(-4_000)}`)
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  child.kill('SIGTERM')
  const deadline = new Promise<'late'>((late) => setTimeout(() => late('late'), 10_000).unref())
  if ((await Promise.race([exited, deadline])) === 'late') {
    child.kill('SIGKILL')
    await exited
  }
}

async function freeTcpPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((closed) => server.close(() => closed()))
  return port
}

/** Gossip (UDP) and cluster streams (TCP) share --bind, so the port must be free for both. */
async function freeUdpAndTcpPort(): Promise<number> {
  for (;;) {
    const port = await freeTcpPort()
    const socket = createSocket('udp4')
    const free = await new Promise<boolean>((answer) => {
      socket.once('error', () => answer(false))
      socket.bind(port, '127.0.0.1', () => answer(true))
    })
    if (!free) continue
    await new Promise<void>((closed) => socket.close(() => closed()))
    return port
  }
}
