/**
 * A 3-member etcd cluster on 127.0.0.1 (Debian's `etcd-server`), the replicated store a LAN user would otherwise
 * pick, as a baseline for the cluster benchmark. Member i listens for clients on clientPortBase+i and for peers
 * on peerPortBase+i, with its data in a temp directory; all are started at once with a static initial cluster.
 * Ready means every member's /health says {"health":"true"}, which etcd reports only once it has a leader.
 *
 * Processes and directories are registered with the cleanup registry, so they go however the run ends.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { registerCleanup } from './cleanup-registry.ts'
import { ensureCommands } from './debian-packages.ts'
import { ManagedProcess } from './managed-process.ts'
import { pollUntil } from './poll.ts'

export interface EtcdClusterOptions {
  readonly size: number
  readonly clientPortBase: number
  readonly peerPortBase: number
  readonly readyDeadlineMs: number
}

export class EtcdCluster {
  readonly members: ManagedProcess[] = []
  readonly clientUrls: string[] = []
  private readonly dropRootDir: () => void
  private readonly rootDir: string

  private constructor(private readonly options: EtcdClusterOptions) {
    this.rootDir = mkdtempSync(join(tmpdir(), 'chorus-bench-etcd-'))
    const root = this.rootDir
    this.dropRootDir = registerCleanup(`directory ${root}`, () => rmSync(root, { recursive: true, force: true }))
  }

  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    ensureCommands({ etcd: 'etcd-server', etcdctl: 'etcd-client' })
    const cluster = new EtcdCluster(options)
    try {
      cluster.spawnAll()
      await cluster.waitHealthy()
      return cluster
    } catch (error) {
      await cluster.close()
      throw error
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.members.map((member) => member.kill()))
    this.dropRootDir()
  }

  private spawnAll(): void {
    const { size, clientPortBase, peerPortBase } = this.options
    const names = Array.from({ length: size }, (_, index) => `etcd-${index + 1}`)
    const initialCluster = names.map((name, index) => `${name}=http://127.0.0.1:${peerPortBase + index}`).join(',')
    names.forEach((name, index) => {
      const clientUrl = `http://127.0.0.1:${clientPortBase + index}`
      const peerUrl = `http://127.0.0.1:${peerPortBase + index}`
      const args = [
        '--name', name,
        '--data-dir', join(this.rootDir, name),
        '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', initialCluster,
        // A token unique to this run, so members of an earlier run that somehow survived cannot join this one.
        '--initial-cluster-token', `chorus-bench-${process.pid}`,
        '--initial-cluster-state', 'new',
        '--log-level', 'warn',
      ]
      this.members.push(new ManagedProcess({ label: name, command: 'etcd', args, keepLines: 100 }))
      this.clientUrls.push(clientUrl)
    })
  }

  private async waitHealthy(): Promise<void> {
    await Promise.all(
      this.clientUrls.map((url, index) =>
        pollUntil(
          async () => {
            const member = this.members[index]
            if (member?.state === 'exited') throw new Error(`${member.label} exited:\n${member.recentOutput().slice(-10).join('\n')}`)
            try {
              const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) })
              const body = (await response.json()) as { health?: string }
              return body.health === 'true' ? true : undefined
            } catch {
              return undefined
            }
          },
          { deadlineMs: this.options.readyDeadlineMs, intervalMs: 200, what: `etcd member ${index + 1} healthy at ${url}` },
          () => this.members[index]?.recentOutput().slice(-3).join('\n') ?? '',
        ),
      ),
    )
  }
}
