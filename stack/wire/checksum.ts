// Internet checksum (RFC 1071) and incremental update (RFC 1624).
// All values are host-order numbers; a checksum field is read/written big-endian by callers.
// sum16() returns the folded 16-bit ones'-complement sum (not inverted); checksum() inverts it.

/** Ones'-complement 16-bit sum of buf[off, off+len) added to `initial`, folded to 16 bits. */
export function sum16(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let s = initial;
  const end = off + (len & ~1);
  let i = off;
  for (; i < end; i += 2) s += (buf[i] << 8) | buf[i + 1];
  if (len & 1) s += buf[i] << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** Fold a 32-bit (or larger, < 2^53) accumulation to 16 bits. */
export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum to store: inverted folded sum of the bytes plus `initial`. */
export function checksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return ~sum16(buf, off, len, initial) & 0xffff;
}

/** Sum of the IPv4 pseudo-header (not inverted, folded). */
export function pseudoSum(saddr: number, daddr: number, proto: number, l4len: number): number {
  return fold((saddr >>> 16) + (saddr & 0xffff) + (daddr >>> 16) + (daddr & 0xffff) + proto + l4len);
}

/** RFC 1624 eqn. 3: new checksum field after a 16-bit word changed from `old` to `neu`.
 *  (Three 16-bit terms: two folds suffice, all in small-integer arithmetic.) */
export function csumUpdate16(csum: number, old: number, neu: number): number {
  let s = (~csum & 0xffff) + (~old & 0xffff) + (neu & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** New checksum field after a 32-bit value (an address) changed from `old` to `neu`. */
export function csumUpdate32(csum: number, old: number, neu: number): number {
  const s = fold((~csum & 0xffff) + (~(old >>> 16) & 0xffff) + (~old & 0xffff) + (neu >>> 16) + (neu & 0xffff));
  return ~s & 0xffff;
}

/** For a partial (offloaded) L4 checksum field, which holds the *uninverted* pseudo-header
 *  sum: update it for a 32-bit change (no inversion at either end). */
export function partialUpdate32(partial: number, old: number, neu: number): number {
  return fold(partial + (~(old >>> 16) & 0xffff) + (~old & 0xffff) + (neu >>> 16) + (neu & 0xffff));
}

/** Same as partialUpdate32 for a 16-bit change. */
export function partialUpdate16(partial: number, old: number, neu: number): number {
  return fold(partial + (~old & 0xffff) + (neu & 0xffff));
}
