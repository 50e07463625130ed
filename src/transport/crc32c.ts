/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum iSCSI, ext4 and LevelDB use. It guards
 * each TCP frame against corruption that TCP's 16-bit checksum lets through (it misses about one in 65,536
 * corrupted segments, and middleboxes recompute it), so a flipped bit is a dropped frame, not a wrong value.
 *
 * Pure and table-driven with slicing-by-8 (Intel's technique): eight 256-entry tables let the loop consume
 * eight bytes per step, several times faster than the byte-at-a-time loop in V8. No dependency: writing it is
 * forty lines and the known vectors in the tests pin it down.
 */

const POLYNOMIAL = 0x82f6_3b78

function makeTables(): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256))
  const first = tables[0] as Uint32Array
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLYNOMIAL : c >>> 1
    first[n] = c >>> 0
  }
  // Table t maps a byte to its CRC contribution when followed by t zero bytes.
  for (let t = 1; t < 8; t++) {
    const previous = tables[t - 1] as Uint32Array
    const current = tables[t] as Uint32Array
    for (let n = 0; n < 256; n++) {
      const p = previous[n] as number
      current[n] = ((p >>> 8) ^ (first[p & 0xff] as number)) >>> 0
    }
  }
  return tables
}

const [T0, T1, T2, T3, T4, T5, T6, T7] = makeTables() as [
  Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array,
]

/**
 * CRC-32C of `bytes`, as an unsigned 32-bit integer. Pass a previous result as `crc` to continue a running
 * checksum over several pieces: crc32c(b, crc32c(a)) === crc32c(a ++ b).
 */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0
  let i = 0
  const end8 = bytes.length - (bytes.length % 8)
  // The non-null assertions are sound: every index is below bytes.length and every table index below 256.
  for (; i < end8; i += 8) {
    const lo = (c ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) >>> 0
    c =
      T7[lo & 0xff]! ^ T6[(lo >>> 8) & 0xff]! ^ T5[(lo >>> 16) & 0xff]! ^ T4[lo >>> 24]! ^
      T3[bytes[i + 4]!]! ^ T2[bytes[i + 5]!]! ^ T1[bytes[i + 6]!]! ^ T0[bytes[i + 7]!]!
  }
  for (; i < bytes.length; i++) c = T0[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}
