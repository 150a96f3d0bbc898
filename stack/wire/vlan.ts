// IEEE 802.1Q tag view. In a tagged frame the tag replaces the EtherType at Ethernet offset 12:
// TPID 0x8100, then the TCI and the inner EtherType. The view is positioned on the TPID
// (frame offset + 12) so that it covers the 4 tag bytes plus the inner EtherType.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |         TPID (0x8100)         | PCP |D|          VID          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |        inner EtherType        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import { OK, VLAN_TRUNCATED } from './reason.js';
import { WireView } from './view.js';

export const VLAN_TPID = 0;
export const VLAN_TCI = 2;
export const VLAN_INNER_TYPE = 4;
/** Bytes the tag adds to a frame. */
export const VLAN_TAG_LEN = 4;
/** Ethernet header length of a tagged frame. */
export const VLAN_ETH_HEADER_LEN = 18;

export class VlanView extends WireView {

  check(): number { return this.len < 6 || this.off + this.len > this.buf.length ? VLAN_TRUNCATED : OK; }

  get tpid(): number { return (this.buf[this.off] << 8) | this.buf[this.off + 1]; }
  get tci(): number { return (this.buf[this.off + VLAN_TCI] << 8) | this.buf[this.off + VLAN_TCI + 1]; }
  set tci(v: number) { this.buf[this.off + VLAN_TCI] = v >>> 8; this.buf[this.off + VLAN_TCI + 1] = v; }
  get pcp(): number { return this.buf[this.off + VLAN_TCI] >>> 5; }
  get dei(): boolean { return (this.buf[this.off + VLAN_TCI] & 0x10) !== 0; }
  get vid(): number { return this.tci & 0x0fff; }
  get innerType(): number { return (this.buf[this.off + VLAN_INNER_TYPE] << 8) | this.buf[this.off + VLAN_INNER_TYPE + 1]; }
  set innerType(v: number) { this.buf[this.off + VLAN_INNER_TYPE] = v >>> 8; this.buf[this.off + VLAN_INNER_TYPE + 1] = v; }
}

/** Write TPID + TCI (4 bytes) at `off` (Ethernet offset 12 of a frame); returns 4. */
export function emitVlanTag(buf: Uint8Array, off: number, vid: number, pcp = 0): number {
  buf[off] = 0x81; buf[off + 1] = 0x00;
  const tci = ((pcp & 7) << 13) | (vid & 0xfff);
  buf[off + 2] = tci >>> 8; buf[off + 3] = tci;
  return VLAN_TAG_LEN;
}
