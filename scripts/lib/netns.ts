/**
 * One network host per node on this machine: a network namespace each, joined by veth pairs to a bridge we
 * create, so that loss and partitions are real packet drops made with nftables inside the namespaces (this
 * kernel has no netem, so there is no delay here; see issue 9).
 *
 *   root namespace                      namespace <prefix>-<i>
 *   bridge <br> 10.213.S.254/24 ──veth── eth0 10.213.S.(i+1)/24, lo
 *                                         nft table inet chorus_faults: faults chain (loss, partition,
 *                                         isolation) and a counter of bytes sent to other nodes
 *
 * The /24 is chosen at random inside 10.213.0.0/16 and refused if any interface already uses it. It exists only
 * on our bridge and in our namespaces; the namespaces get no default route, so nothing they send can leave
 * the machine. The bridge address lets the harness (in the root namespace) reach each node's HTTP API; traffic
 * to and from it is never dropped or counted, so polling does not disturb the faults or the byte counts.
 *
 * Needs root on Linux, iproute2 and nftables (installed with apt-get when missing). Everything created is
 * registered with the cleanup registry and removed on destroy(), on error, on Ctrl-C and on exit.
 */
import { execFileSync } from 'node:child_process'
import { registerCleanup } from './cleanup-registry.ts'
import { ensureCommands } from './debian-packages.ts'
import type { NodePlacement } from './process-cluster.ts'

export interface NamespaceHost {
  readonly netns: string
  readonly address: string
}

/** A fault inside one namespace. Several may hold at once; setFaults replaces the whole set. */
export type Fault =
  | { readonly kind: 'loss'; readonly percent: number }
  | { readonly kind: 'drop-peers'; readonly addresses: readonly string[] }
  | { readonly kind: 'isolate' }

const TABLE = 'chorus_faults'
/** Namespaces per network: a /24 has 253 usable host addresses beside the bridge's .254. */
const MAX_HOSTS = 200

export class NamespaceNetwork {
  readonly hosts: NamespaceHost[] = []
  readonly gateway: string
  readonly subnet: string
  private readonly bridge: string
  private readonly undos: (() => void)[] = []

  private constructor(count: number) {
    if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) throw new RangeError(`namespace count must be 1..${MAX_HOSTS}`)
    const tag = Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')
    const block = freeBlock()
    this.subnet = `10.213.${block}.0/24`
    this.gateway = `10.213.${block}.254`
    this.bridge = `chbr${tag}`
    try {
      this.createBridge()
      for (let index = 0; index < count; index++) this.hosts.push(this.createHost(tag, block, index))
    } catch (error) {
      this.destroy()
      throw error
    }
  }

  /** Creates the bridge and `count` namespaces. Throws (after undoing what it made) if anything fails. */
  static create(count: number): NamespaceNetwork {
    requireRootOnLinux()
    ensureCommands({ ip: 'iproute2', nft: 'nftables' })
    return new NamespaceNetwork(count)
  }

  host(index: number): NamespaceHost {
    const host = this.hosts[index]
    if (host === undefined) throw new RangeError(`no namespace ${index}`)
    return host
  }

  placement(index: number): NodePlacement {
    const host = this.host(index)
    return { host: host.address, netns: host.netns }
  }

  /** Replaces the faults of namespace `index` (an empty list heals it). */
  setFaults(index: number, faults: readonly Fault[]): void {
    const host = this.host(index)
    const rules = faults.flatMap((fault) => faultRules(fault, this.gateway))
    const script = [`flush chain inet ${TABLE} faults`, ...rules.map((rule) => `add rule inet ${TABLE} faults ${rule}`)].join('\n')
    nft(host.netns, script)
  }

  clearAllFaults(): void {
    for (let index = 0; index < this.hosts.length; index++) this.setFaults(index, [])
  }

  /** Bytes this namespace has sent to other namespaces over its veth (IP headers included). */
  bytesSent(index: number): number {
    const output = execFileSync('ip', ['netns', 'exec', this.host(index).netns, 'nft', '-j', 'list', 'counter', 'inet', TABLE, 'peer_bytes_out'], { encoding: 'utf8' })
    const parsed = JSON.parse(output) as { nftables: { counter?: { bytes: number } }[] }
    const counter = parsed.nftables.find((entry) => entry.counter !== undefined)?.counter
    if (counter === undefined) throw new Error('peer_bytes_out counter missing')
    return counter.bytes
  }

  /** Removes every namespace, veth and the bridge. Processes inside must already be gone. */
  destroy(): void {
    for (const undo of this.undos.splice(0).reverse()) undo()
  }

  private createBridge(): void {
    run('ip', ['link', 'add', this.bridge, 'type', 'bridge'])
    const bridge = this.bridge
    this.undos.push(registerCleanup(`bridge ${bridge}`, () => quiet('ip', ['link', 'del', bridge])))
    run('ip', ['addr', 'add', `${this.gateway}/24`, 'dev', bridge])
    run('ip', ['link', 'set', bridge, 'up'])
  }

  private createHost(tag: string, block: number, index: number): NamespaceHost {
    const netns = `ch${tag}-${index + 1}`
    const veth = `chv${tag}n${index + 1}`
    const address = `10.213.${block}.${index + 1}`
    run('ip', ['netns', 'add', netns])
    this.undos.push(registerCleanup(`namespace ${netns}`, () => quiet('ip', ['netns', 'del', netns])))
    run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns])
    run('ip', ['link', 'set', veth, 'master', this.bridge, 'up'])
    run('ip', ['-n', netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
    run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up'])
    run('ip', ['-n', netns, 'link', 'set', 'lo', 'up'])
    nft(netns, baseRuleset(this.gateway))
    return { netns, address }
  }
}

/**
 * The table every namespace starts with: an input and an output hook that jump to `faults` (empty until a
 * fault is set), and a named counter of bytes sent to other nodes. Traffic with the bridge address (the
 * harness) is accepted before the jump so faults never cut the harness off.
 */
function baseRuleset(gateway: string): string {
  return [
    `add table inet ${TABLE}`,
    `add counter inet ${TABLE} peer_bytes_out`,
    `add chain inet ${TABLE} faults`,
    `add chain inet ${TABLE} input { type filter hook input priority 0; policy accept; }`,
    `add chain inet ${TABLE} output { type filter hook output priority 0; policy accept; }`,
    `add rule inet ${TABLE} input iifname "eth0" ip saddr != ${gateway} jump faults`,
    `add rule inet ${TABLE} output oifname "eth0" ip daddr != ${gateway} counter name peer_bytes_out`,
    `add rule inet ${TABLE} output oifname "eth0" ip daddr != ${gateway} jump faults`,
  ].join('\n')
}

/** nftables rules for one fault; they sit in `faults`, which only sees traffic between nodes. */
function faultRules(fault: Fault, gateway: string): string[] {
  switch (fault.kind) {
    case 'loss':
      if (!Number.isInteger(fault.percent) || fault.percent < 0 || fault.percent > 100) throw new RangeError('loss percent must be 0..100')
      // Inbound only: every packet crosses exactly one receiving namespace, so it is dropped with probability P once.
      return [`iifname "eth0" numgen random mod 100 < ${fault.percent} drop`]
    case 'drop-peers':
      return fault.addresses.flatMap((address) => [`ip saddr ${address} drop`, `ip daddr ${address} drop`])
    case 'isolate':
      // Whole-host loss: silence in both directions, no refusals (the harness at the gateway is exempt).
      return [`ip saddr != ${gateway} ip daddr != ${gateway} drop`]
    default:
      return unreachable(fault)
  }
}

function unreachable(value: never): never {
  throw new Error(`unexpected fault ${JSON.stringify(value)}`)
}

function nft(netns: string, script: string): void {
  execFileSync('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { input: `${script}\n`, stdio: ['pipe', 'ignore', 'pipe'] })
}

function run(command: string, args: readonly string[]): void {
  execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

function quiet(command: string, args: readonly string[]): void {
  try {
    run(command, args)
  } catch {
    // Already gone.
  }
}

function requireRootOnLinux(): void {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) throw new Error('network namespaces need root on Linux')
}

/** A third octet for 10.213.X.0/24 that no interface on this machine uses yet. */
function freeBlock(): number {
  const inUse = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' })
  for (let attempt = 0; attempt < 50; attempt++) {
    const block = 1 + Math.floor(Math.random() * 250)
    if (!inUse.includes(`10.213.${block}.`)) return block
  }
  throw new Error('no free 10.213.X.0/24 block')
}

/** Whether this machine can run namespaces (for scripts that fall back to loopback). */
export function namespacesAvailable(): boolean {
  return process.platform === 'linux' && process.getuid?.() === 0
}
