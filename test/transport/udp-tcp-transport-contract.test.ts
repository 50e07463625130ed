import { describeTransportContract } from './transport-contract.ts'
import { makeRealPair } from './real-transport-pair.ts'

describeTransportContract('UdpTcpTransport on loopback', () => makeRealPair())
describeTransportContract('UdpTcpTransport on loopback with a cluster secret', () =>
  makeRealPair({ clusterSecret: new TextEncoder().encode('a cluster secret of enough bytes') }),
)
