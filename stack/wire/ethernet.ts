// Ethernet II header view (IEEE 802.3 framing without FCS). Zero-copy over (buf, off, len);
// reset() re-points the same object, nothing is allocated. MAC addresses stay as 6 bytes in the
// slab: accessors compare or copy them instead of building values.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Destination MAC (6 bytes)                   |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |                                |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+        Source MAC (6 bytes)     +
// |                                                                |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |           EtherType           |   payload ...
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import { ETH_TRUNCATED, OK } from './reason.js';
import { WireView } from './view.js';

export const ETH_DST = 0;
export const ETH_SRC = 6;
export const ETH_TYPE = 12;
export const ETH_HEADER_LEN = 14;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100;
export const ETHERTYPE_QINQ = 0x88a8;
export const ETHERTYPE_IPV6 = 0x86dd;

export const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

export class EthernetView extends WireView {

  check(): number {
    return this.len < ETH_HEADER_LEN || this.off + this.len > this.buf.length ? ETH_TRUNCATED : OK;
  }

  get ethertype(): number { return (this.buf[this.off + ETH_TYPE] << 8) | this.buf[this.off + ETH_TYPE + 1]; }
  set ethertype(v: number) { this.buf[this.off + ETH_TYPE] = v >>> 8; this.buf[this.off + ETH_TYPE + 1] = v; }

  /** Group bit of the destination: broadcast or multicast. */
  get dstIsGroup(): boolean { return isGroupMac(this.buf, this.off + ETH_DST); }
  get dstIsBroadcast(): boolean { return macEquals(this.buf, this.off + ETH_DST, BROADCAST_MAC, 0); }
  dstEquals(mac: Uint8Array, moff = 0): boolean { return macEquals(this.buf, this.off + ETH_DST, mac, moff); }
  srcEquals(mac: Uint8Array, moff = 0): boolean { return macEquals(this.buf, this.off + ETH_SRC, mac, moff); }
  setDst(mac: Uint8Array, moff = 0): void { copyMac(mac, moff, this.buf, this.off + ETH_DST); }
  setSrc(mac: Uint8Array, moff = 0): void { copyMac(mac, moff, this.buf, this.off + ETH_SRC); }
  /** Copy the destination / source MAC out into `out` at `ooff`. */
  getDst(out: Uint8Array, ooff = 0): void { copyMac(this.buf, this.off + ETH_DST, out, ooff); }
  getSrc(out: Uint8Array, ooff = 0): void { copyMac(this.buf, this.off + ETH_SRC, out, ooff); }
}

/** Group bit of the MAC at b[off]: broadcast or multicast. */
export function isGroupMac(b: Uint8Array, off: number): boolean { return (b[off] & 1) !== 0; }

export function macEquals(a: Uint8Array, aoff: number, b: Uint8Array, boff: number): boolean {
  return a[aoff] === b[boff] && a[aoff + 1] === b[boff + 1] && a[aoff + 2] === b[boff + 2] &&
    a[aoff + 3] === b[boff + 3] && a[aoff + 4] === b[boff + 4] && a[aoff + 5] === b[boff + 5];
}

export function copyMac(src: Uint8Array, soff: number, dst: Uint8Array, doff: number): void {
  dst[doff] = src[soff]; dst[doff + 1] = src[soff + 1]; dst[doff + 2] = src[soff + 2];
  dst[doff + 3] = src[soff + 3]; dst[doff + 4] = src[soff + 4]; dst[doff + 5] = src[soff + 5];
}

/** Write an untagged Ethernet header; returns its length. */
export function emitEthernet(buf: Uint8Array, off: number, dst: Uint8Array, dstOff: number,
  src: Uint8Array, srcOff: number, ethertype: number): number {
  copyMac(dst, dstOff, buf, off + ETH_DST);
  copyMac(src, srcOff, buf, off + ETH_SRC);
  buf[off + ETH_TYPE] = ethertype >>> 8;
  buf[off + ETH_TYPE + 1] = ethertype;
  return ETH_HEADER_LEN;
}

/** "aa:bb:cc:dd:ee:ff" (':' or '-' between one- or two-digit hex bytes) <-> bytes; null when
 *  malformed (configuration and display only, not the hot path). */
export function parseMac(s: string): Uint8Array | null {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{1,2}$/i.test(p))) return null;
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function formatMac(b: Uint8Array, off = 0): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + b[off + i].toString(16).padStart(2, '0');
  return s;
}
