/**
 * Prometheus metrics for one node (`GET /metrics`). One registry per node, never the global default, so that
 * tests can run several nodes in one process without their counters colliding.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { TrafficByKind } from '../transport/transport.ts'

export class NodeMetrics {
  readonly registry = new Registry()

  readonly httpRequests = new Counter({
    name: 'chorus_http_requests_total',
    help: 'HTTP requests answered, by operation and status code',
    labelNames: ['operation', 'status'] as const,
    registers: [this.registry],
  })

  readonly httpLatency = new Histogram({
    name: 'chorus_http_request_duration_seconds',
    help: 'HTTP request latency by operation',
    labelNames: ['operation'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  })

  readonly quorumFailures = new Counter({
    name: 'chorus_quorum_failures_total',
    help: 'Data requests answered 503 because too few replicas answered (unavailable) or not in time (timeout)',
    labelNames: ['operation', 'reason'] as const,
    registers: [this.registry],
  })

  /** Siblings per successful GET: a tail above 1 means clients write without contexts or never resolve. */
  readonly siblings = new Histogram({
    name: 'chorus_get_siblings',
    help: 'Live siblings returned by GET requests that found a value',
    buckets: [1, 2, 3, 5, 10, 25, 50, 100],
    registers: [this.registry],
  })

  readonly shedRequests = new Counter({
    name: 'chorus_http_shed_total',
    help: 'Requests refused with 503 overloaded before any work, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })

  readonly inFlightRequests = new Gauge({
    name: 'chorus_http_in_flight_requests',
    help: 'HTTP requests being served (excluding /health and /metrics)',
    registers: [this.registry],
  })

  readonly transportMessages = new Gauge({
    name: 'chorus_transport_messages',
    help: 'Datagrams and frames sent and received since start',
    labelNames: ['carrier', 'direction'] as const,
    registers: [this.registry],
  })

  readonly transportBytes = new Gauge({
    name: 'chorus_transport_bytes',
    help: 'Bytes sent and received on the cluster port since start',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  })

  readonly malformedDropped = new Gauge({
    name: 'chorus_malformed_input_dropped',
    help: 'Datagrams and frames dropped because they failed to decode, authenticate or validate',
    registers: [this.registry],
  })

  readonly eventLoopLag = new Gauge({
    name: 'chorus_event_loop_lag_seconds',
    help: 'Largest delay of the tick timer behind its schedule in the last scrape interval',
    registers: [this.registry],
  })

  /** Ownership handoff (ownership-handoff.ts): the core's counters and pending partitions, read at scrape time. */
  watchHandoff(read: () => Readonly<Record<string, number>>): void {
    this.watchCoreCounters('chorus_handoff', 'Ownership handoff: partitions started, completed, received and pending; keys sent, received and dropped', read)
  }

  /**
   * Cluster traffic sent, by message kind and carrier, read from the transport at scrape time:
   * `chorus_transport_bytes_sent_total{kind,carrier}` (datagram or frame envelope included, IP and TCP/UDP headers
   * not) and `chorus_transport_messages_sent_total{kind,carrier}`. It answers "where do this node's gossip bytes
   * go" (probes, piggybacked updates, push-pull, placement digests, anti-entropy, replication).
   */
  watchTransportTraffic(read: () => TrafficByKind | undefined): void {
    const registry = this.registry
    const counter = (name: string, help: string, pick: (row: TrafficByKind[number]) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['kind', 'carrier'] as const,
        registers: [registry],
        collect() {
          this.reset()
          for (const row of read() ?? []) this.inc({ kind: row.kind, carrier: row.carrier }, pick(row))
        },
      })
    }
    counter('chorus_transport_bytes_sent_total', 'Bytes sent on the cluster port by message kind and carrier (envelope included, IP/TCP/UDP headers not)', (row) => row.bytes)
    counter('chorus_transport_messages_sent_total', 'Messages sent on the cluster port by message kind and carrier', (row) => row.messages)
  }

  /**
   * Exposes a core module's plain counter object as one gauge with a `counter` label, read at scrape time. The
   * core keeps its own counters (it may not import prom-client); the shell only reads them.
   */
  watchCoreCounters(name: string, help: string, read: () => Readonly<Record<string, number>>): void {
    new Gauge({
      name,
      help,
      labelNames: ['counter'] as const,
      registers: [this.registry],
      collect() {
        for (const [counter, value] of Object.entries(read())) this.set({ counter }, value)
      },
    })
  }

  constructor(nodeId: string) {
    this.registry.setDefaultLabels({ node: nodeId })
    collectDefaultMetrics({ register: this.registry, prefix: 'chorus_process_' })
  }
}
