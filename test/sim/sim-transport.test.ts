import { simTransportPair } from '../../src/sim/sim-transport-pair.ts'
import { defaultNetworkOptions } from '../../src/sim/sim-network.ts'
import { describeTransportContract } from '../transport/transport-contract.ts'

describeTransportContract('SimTransport on the simulated network', () => simTransportPair(1))

// Heavy jitter and long tails reorder datagrams freely; the stream must still arrive in order.
describeTransportContract('SimTransport on a jittery simulated network', () =>
  simTransportPair(2, { ...defaultNetworkOptions, latency: { baseMs: 1, jitterMs: 20, tailProbability: 0.3, tailMs: 200 } }),
)
