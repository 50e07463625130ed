/**
 * The UDP envelope: one Message per datagram, at most maxDatagramBytes (1400) so it fits one Ethernet frame
 * with IP and UDP headers and is never fragmented (a lost fragment loses the whole datagram).
 *
 *   offset  size  field
 *   0       1     flags    bit 0: a MAC follows the message; other bits must be zero
 *   1       n     message  an encoded Message (wire-codec.ts)
 *   1+n     32    mac      HMAC-SHA256 of bytes 0 .. 1+n, present when flags bit 0 is set
 *
 * No checksum of our own: UDP's checksum is always on for IPv4 on Linux and mandatory on IPv6, and a gossip
 * datagram that slips through corrupted still has to pass msgpack decoding and the schema.
 */
import type { Message } from '../core/node/message.ts'
import { MAC_BYTES, type MessageAuthenticator } from './message-authenticator.ts'
import { decodeError, decodeMessage, encodeMessageWithRoom, type Decoded } from './wire-codec.ts'

const FLAG_AUTHENTICATED = 0x01

export interface DatagramCodecOptions {
  readonly maxDatagramBytes: number
  readonly authenticator?: MessageAuthenticator | undefined
}

/** The datagram for a message. Throws RangeError when it does not fit: gossip must split before sending. */
export function encodeDatagram(message: Message, options: DatagramCodecOptions): Uint8Array {
  const macBytes = options.authenticator === undefined ? 0 : MAC_BYTES
  const out = encodeMessageWithRoom(message, 1, macBytes)
  if (out.length > options.maxDatagramBytes) {
    throw new RangeError(`${message.kind} datagram of ${out.length} bytes exceeds maxDatagramBytes ${options.maxDatagramBytes}`)
  }
  out[0] = macBytes === 0 ? 0 : FLAG_AUTHENTICATED
  options.authenticator?.signInto([out.subarray(0, out.length - macBytes)], out, out.length - macBytes)
  return out
}

/** How many bytes of encoded message fit in one datagram under these options (for packing gossip). */
export function datagramMessageBudget(options: DatagramCodecOptions): number {
  return options.maxDatagramBytes - 1 - (options.authenticator === undefined ? 0 : MAC_BYTES)
}

/** Untrusted datagram bytes to a Message or a typed error. Never throws. */
export function decodeDatagram(bytes: Uint8Array, options: DatagramCodecOptions): Decoded<Message> {
  if (bytes.length === 0) return decodeError('empty', 'empty datagram')
  if (bytes.length > options.maxDatagramBytes) {
    return decodeError('too-large', `datagram of ${bytes.length} bytes exceeds ${options.maxDatagramBytes}`)
  }
  const flags = bytes[0] as number
  if ((flags & ~FLAG_AUTHENTICATED) !== 0) return decodeError('bad-envelope', `unknown datagram flags ${flags}`)
  const authenticated = flags === FLAG_AUTHENTICATED
  const messageEnd = bytes.length - (authenticated ? MAC_BYTES : 0)
  if (messageEnd < 1) return decodeError('truncated', 'datagram too short for its MAC')
  const { authenticator } = options
  if (authenticator !== undefined) {
    if (!authenticated) return decodeError('unauthenticated', 'datagram without a MAC')
    if (!authenticator.verify([bytes.subarray(0, messageEnd)], bytes.subarray(messageEnd))) {
      return decodeError('bad-mac', 'datagram MAC mismatch')
    }
  } else if (authenticated) {
    return decodeError('bad-mac', 'signed datagram but no cluster secret is configured here')
  }
  return decodeMessage(bytes.subarray(1, messageEnd), options.maxDatagramBytes)
}
