// The common part of every protocol view: a window (buf, off, len) onto a frame in a slab.
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
