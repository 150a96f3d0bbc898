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
import { copyMac, ETH_DST, ETH_HEADER_LEN, ETH_SRC, ETH_TYPE, ETHERTYPE_VLAN } from './ethernet.js';
import { rd16, WireView, wr16 } from './view.js';

export const VLAN_TPID = 0;
export const VLAN_TCI = 2;
export const VLAN_INNER_TYPE = 4;
/** VLAN id bits of the TCI. */
export const VLAN_VID_MASK = 0x0fff;
/** Bytes the tag adds to a frame. */
export const VLAN_TAG_LEN = 4;
/** Ethernet header length of a tagged frame. */
export const VLAN_ETH_HEADER_LEN = 18;

export class VlanView extends WireView {

  check(): number { return this.len < 6 || this.off + this.len > this.buf.length ? VLAN_TRUNCATED : OK; }

  get tpid(): number { return rd16(this.buf, this.off + VLAN_TPID); }
  get tci(): number { return rd16(this.buf, this.off + VLAN_TCI); }
  set tci(v: number) { wr16(this.buf, this.off + VLAN_TCI, v); }
  get pcp(): number { return this.buf[this.off + VLAN_TCI] >>> 5; }
  get dei(): boolean { return (this.buf[this.off + VLAN_TCI] & 0x10) !== 0; }
  get vid(): number { return this.tci & VLAN_VID_MASK; }
  get innerType(): number { return rd16(this.buf, this.off + VLAN_INNER_TYPE); }
  set innerType(v: number) { wr16(this.buf, this.off + VLAN_INNER_TYPE, v); }
}

/** Write TPID + TCI (4 bytes) at `off` (Ethernet offset 12 of a frame); returns 4. */
export function emitVlanTag(buf: Uint8Array, off: number, vid: number, pcp = 0): number {
  wr16(buf, off + VLAN_TPID, ETHERTYPE_VLAN);
  wr16(buf, off + VLAN_TCI, ((pcp & 7) << 13) | (vid & VLAN_VID_MASK));
  return VLAN_TAG_LEN;
}

/** An Ethernet header at `off`, tagged with `vid` when vid >= 0 (then the EtherType follows
 *  the tag): destination dst[doff], source src[soff]. Returns its length (14 or 18). */
export function emitEthernetVlan(buf: Uint8Array, off: number, dst: Uint8Array, doff: number,
  src: Uint8Array, soff: number, vid: number, ethertype: number): number {
  copyMac(dst, doff, buf, off + ETH_DST);
  copyMac(src, soff, buf, off + ETH_SRC);
  if (vid < 0) {
    wr16(buf, off + ETH_TYPE, ethertype);
    return ETH_HEADER_LEN;
  }
  emitVlanTag(buf, off + ETH_TYPE, vid);
  wr16(buf, off + ETH_TYPE + VLAN_INNER_TYPE, ethertype);
  return VLAN_ETH_HEADER_LEN;
}
