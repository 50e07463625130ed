/**
 * What every harness of real processes shares (Chorus nodes, Serf agents): an ordered list of nodes, each backed
 * by a ManagedProcess, and the nemesis verbs on one node by index.
 */
import type { ManagedProcess } from './managed-process.ts'

export abstract class ProcessGroup<N extends { readonly process: ManagedProcess }> {
  readonly nodes: N[] = []

  constructor(private readonly label: string) {}

  get size(): number {
    return this.nodes.length
  }

  node(index: number): N {
    const node = this.nodes[index]
    if (node === undefined) throw new RangeError(`no ${this.label} ${index} in a group of ${this.nodes.length}`)
    return node
  }

  async kill(index: number): Promise<void> {
    await this.node(index).process.kill()
  }

  pause(index: number): void {
    this.node(index).process.pause()
  }

  resume(index: number): void {
    this.node(index).process.resume()
  }
}
