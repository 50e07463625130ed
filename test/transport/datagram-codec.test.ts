import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Message } from '../../src/core/node/message.ts'
import { nodeId } from '../../src/core/primitives/ids.ts'
import { datagramMessageBudget, decodeDatagram, encodeDatagram } from '../../src/transport/datagram-codec.ts'
import { MessageAuthenticator } from '../../src/transport/message-authenticator.ts'
import {
  DATAGRAM_ENVELOPE_RESERVE_BYTES,
  estimateEncodedBytes,
} from '../../src/core/membership/membership-messages.ts'
import { anyMessageArbitrary, messageArbitraries } from './message-arbitraries.ts'

const plain = { maxDatagramBytes: 1_400 }
const signed = { maxDatagramBytes: 1_400, authenticator: new MessageAuthenticator(new Uint8Array(32).fill(7)) }
const otherSecret = { maxDatagramBytes: 1_400, authenticator: new MessageAuthenticator(new Uint8Array(32).fill(8)) }

const echo = (payloadBytes: number): Message => ({ kind: 'echo', from: nodeId('n1'), seq: 1, payload: new Uint8Array(payloadBytes) })

describe('datagram codec', () => {
  it('round-trips messages, plain and signed', () => {
    // A roomy limit: this is about the envelope; the 1400-byte limit has its own test below.
    const roomyPlain = { maxDatagramBytes: 65_000 }
    const roomySigned = { maxDatagramBytes: 65_000, authenticator: signed.authenticator }
    fc.assert(
      fc.property(anyMessageArbitrary, (message) => {
        for (const options of [roomyPlain, roomySigned]) {
          expect(decodeDatagram(encodeDatagram(message, options), options)).toEqual({ ok: true, value: message })
        }
      }),
      { numRuns: 200, seed: 5 },
    )
  })

  it('never exceeds maxDatagramBytes: an oversized message throws on encode and is refused on decode', () => {
    expect(() => encodeDatagram(echo(1_400), plain)).toThrow(RangeError)
    expect(datagramMessageBudget(signed)).toBe(1_400 - 1 - 32)
    const result = decodeDatagram(new Uint8Array(1_401), plain)
    expect(!result.ok && result.error.reason).toBe('too-large')
  })

  it('drops forged, unsigned and unexpectedly signed datagrams with distinct reasons', () => {
    const reason = (bytes: Uint8Array, options: typeof plain): string | false => {
      const result = decodeDatagram(bytes, options)
      return !result.ok && result.error.reason
    }
    expect(reason(encodeDatagram(echo(4), otherSecret), signed)).toBe('bad-mac')
    expect(reason(encodeDatagram(echo(4), plain), signed)).toBe('unauthenticated')
    expect(reason(encodeDatagram(echo(4), signed), plain)).toBe('bad-mac')
    expect(reason(Uint8Array.of(0x80, 1, 2), plain)).toBe('bad-envelope')
  })

  it("fits the membership packer's estimate plus its envelope reserve", () => {
    const gossip = fc.oneof(
      messageArbitraries['swim-ping'],
      messageArbitraries['swim-ack'],
      messageArbitraries['swim-ping-req'],
      messageArbitraries['swim-nack'],
      messageArbitraries['swim-indirect-ack'],
      messageArbitraries['swim-gossip'],
    )
    const roomy = { maxDatagramBytes: 65_000, authenticator: signed.authenticator }
    fc.assert(
      fc.property(gossip, (message) => {
        const bytes = encodeDatagram(message, roomy).length
        return bytes <= estimateEncodedBytes(message) + DATAGRAM_ENVELOPE_RESERVE_BYTES
      }),
      { numRuns: 300, seed: 7 },
    )
  })

  it('turns garbage into typed errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1_500 }), (bytes) => {
        const result = decodeDatagram(bytes, signed)
        return !result.ok && result.error.kind === 'decode-error'
      }),
      { numRuns: 5_000, seed: 6 },
    )
  })
})
