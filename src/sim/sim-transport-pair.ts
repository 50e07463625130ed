/**
 * Two SimTransports on a private simulated network, with nothing else in the world: the shape the Transport
 * contract suite asks for (`makePair`), and a small harness for network tests. `runUntil` pumps the pair's own
 * scheduler until the predicate holds, and rejects once virtual time passes the deadline, so a test that waits
 * for something that never comes fails at once instead of hanging.
 */
import type { Millis } from '../core/primitives/ids.ts'
import { peerAddress } from '../core/primitives/ids.ts'
import { SeededRandom } from '../core/primitives/random.ts'
import { SimNetwork, defaultNetworkOptions } from './sim-network.ts'
import type { NetworkOptions } from './sim-network.ts'
import { SimScheduler } from './sim-scheduler.ts'
import { SimTransport } from './sim-transport.ts'
import { Trace } from './trace.ts'

export interface SimTransportPair {
  readonly a: SimTransport
  readonly b: SimTransport
  readonly scheduler: SimScheduler
  readonly network: SimNetwork
  readonly trace: Trace
  /** Runs events until `predicate()` holds; rejects if `deadlineMs` of virtual time pass first. */
  runUntil(predicate: () => boolean, deadlineMs: Millis): Promise<void>
  close(): Promise<void>
}

export function simTransportPair(seed: number, options: NetworkOptions = defaultNetworkOptions): SimTransportPair {
  const scheduler = new SimScheduler()
  const trace = new Trace()
  const network = new SimNetwork(scheduler, new SeededRandom(seed), trace, options)
  const a = new SimTransport(network, scheduler, trace, peerAddress('a:7000'))
  const b = new SimTransport(network, scheduler, trace, peerAddress('b:7000'))
  return {
    a, b, scheduler, network, trace,
    runUntil: (predicate, deadlineMs) => {
      try {
        pump(scheduler, predicate, scheduler.nowMs + deadlineMs)
        return Promise.resolve()
      } catch (error) {
        return Promise.reject(error instanceof Error ? error : new Error(String(error)))
      }
    },
    close: async () => {
      await a.close()
      await b.close()
      // Let the closes' own callbacks run, so nothing is left pending on the queue.
      scheduler.runUntil(scheduler.nowMs)
    },
  }
}

/** Synchronous core of runUntil: the whole wait happens in virtual time, inside this call. */
export function pump(scheduler: SimScheduler, predicate: () => boolean, deadlineAtMs: Millis): void {
  while (!predicate()) {
    const next = scheduler.nextEventTimeMs()
    if (next === undefined || next > deadlineAtMs || scheduler.limitReached) {
      throw new Error(`condition not reached by virtual time ${deadlineAtMs} ms (now ${scheduler.nowMs} ms, ${next === undefined ? 'nothing scheduled' : `next event at ${next} ms`})`)
    }
    scheduler.runNext()
  }
}
