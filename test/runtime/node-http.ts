/**
 * One HTTP request to a test cluster's node, answered as status and body text; a refused or timed-out request is
 * status 0 (the node may be down on purpose), so tests can poll on it.
 */
import type { ClusterNode } from '../../scripts/lib/process-cluster.ts'

export interface Answer {
  readonly status: number
  readonly body: string
}

export async function request(node: ClusterNode, method: string, path: string, body?: string): Promise<Answer> {
  try {
    const response = await fetch(`http://${node.httpAddress}${path}`, {
      method, signal: AbortSignal.timeout(5_000),
      ...(body === undefined ? {} : { body, headers: { 'content-type': 'text/plain' } }),
    })
    return { status: response.status, body: await response.text() }
  } catch (error) {
    return { status: 0, body: String(error) }
  }
}
