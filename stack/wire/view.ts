// The common part of every protocol view: a window (buf, off, len) onto a frame in a slab, and
// the big-endian field readers/writers every view and builder uses (network byte order).
// Views are reused: reset() points one at the next packet; nothing is allocated per packet.

export class WireView {
  buf: Uint8Array = new Uint8Array(0);
  off = 0;
  len = 0;

  reset(buf: Uint8Array, off: number, len: number): this {
    this.buf = buf; this.off = off; this.len = len;
    return this;
  }
}

/** Big-endian 16-bit field at b[o]. */
export function rd16(b: Uint8Array, o: number): number { return (b[o] << 8) | b[o + 1]; }
export function wr16(b: Uint8Array, o: number, v: number): void { b[o] = v >>> 8; b[o + 1] = v; }

/** Big-endian 32-bit field at b[o], as an unsigned number. */
export function rd32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}
export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24; b[o + 1] = v >>> 16; b[o + 2] = v >>> 8; b[o + 3] = v;
}
