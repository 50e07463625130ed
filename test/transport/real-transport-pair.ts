/**
 * Helpers for tests on real sockets: a pair of UdpTcpTransports on 127.0.0.1 with ephemeral ports, and a
 * runUntil that polls the event loop against a wall-clock deadline (never a fixed sleep).
 */
import { UdpTcpTransport, type UdpTcpTransportOptions } from '../../src/transport/udp-tcp-transport.ts'
import type { TransportPair } from './transport-contract.ts'

export async function runUntil(predicate: () => boolean, deadlineMs: number): Promise<void> {
  const deadline = performance.now() + deadlineMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`condition not reached within ${deadlineMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

export function openLoopback(options: Partial<UdpTcpTransportOptions> = {}): Promise<UdpTcpTransport> {
  return UdpTcpTransport.open({ ...options, bind: '127.0.0.1:0' })
}

export async function makeRealPair(
  options: Partial<UdpTcpTransportOptions> = {},
): Promise<TransportPair & { a: UdpTcpTransport; b: UdpTcpTransport }> {
  const a = await openLoopback(options)
  const b = await openLoopback(options)
  return {
    a,
    b,
    runUntil,
    close: async () => {
      await Promise.all([a.close(), b.close()])
    },
  }
}
