/**
 * HMAC-SHA256 over every datagram and frame when the cluster has a secret (DESIGN section 3). It answers
 * "did a node holding the cluster secret send exactly these bytes?", which keeps strangers on the LAN from
 * injecting gossip or writes. It does not encrypt and does not stop replay of a captured packet; SWIM's
 * incarnations and the versioned writes make replays harmless duplicates.
 *
 * Verification uses timingSafeEqual so that the time to reject a forgery does not reveal how many leading
 * bytes of the MAC were right.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { assert } from '../core/primitives/assert.ts'

/** Bytes of an HMAC-SHA256 tag. */
export const MAC_BYTES = 32

/** A secret shorter than this is refused: an HMAC key should carry at least 128 bits of entropy. */
export const MIN_SECRET_BYTES = 16

export class MessageAuthenticator {
  private readonly secret: Uint8Array

  constructor(secret: Uint8Array) {
    assert(secret.length >= MIN_SECRET_BYTES, () => `cluster secret must be at least ${MIN_SECRET_BYTES} bytes, got ${secret.length}`)
    this.secret = secret.slice()
  }

  /** The MAC of the concatenation of `parts`, written into `target` at `offset`. */
  signInto(parts: readonly Uint8Array[], target: Uint8Array, offset: number): void {
    target.set(this.mac(parts), offset)
  }

  /** True when `tag` is the MAC of the concatenation of `parts`. */
  verify(parts: readonly Uint8Array[], tag: Uint8Array): boolean {
    if (tag.length !== MAC_BYTES) return false
    return timingSafeEqual(this.mac(parts), tag)
  }

  private mac(parts: readonly Uint8Array[]): Uint8Array {
    const hmac = createHmac('sha256', this.secret)
    for (const part of parts) hmac.update(part)
    return hmac.digest()
  }
}
