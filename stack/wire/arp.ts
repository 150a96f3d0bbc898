// ARP packet view (RFC 826) for Ethernet/IPv4 only: check() rejects other hardware/protocol
// types. Zero-copy; addresses are uint32 host order, MACs stay in the slab.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |       Hardware type (1)       |     Protocol type (0x0800)    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  HLEN (6)     |  PLEN (4)     |           Operation           |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                Sender hardware address (6 bytes)               |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |   Sender protocol address     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |  (SPA cont.)                  |  Target hardware address      |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+       (6 bytes)               +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                   Target protocol address                     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

import { copyMac, ETHERTYPE_IPV4, macEquals } from './ethernet.js';
import { ARP_TRUNCATED, ARP_UNSUPPORTED, OK } from './reason.js';
import { rd16, rd32, WireView, wr16, wr32 } from './view.js';

export const ARP_HTYPE = 0;
export const ARP_PTYPE = 2;
export const ARP_HLEN = 4;
export const ARP_PLEN = 5;
export const ARP_OPER = 6;
export const ARP_SHA = 8;
export const ARP_SPA = 14;
export const ARP_THA = 18;
export const ARP_TPA = 24;
export const ARP_LEN = 28;

/** Hardware type Ethernet; the protocol type is the EtherType of IPv4. */
export const ARP_HW_ETHERNET = 1;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export class ArpView extends WireView {

  check(): number {
    if (this.len < ARP_LEN || this.off + this.len > this.buf.length) return ARP_TRUNCATED;
    const b = this.buf, o = this.off;
    if (rd16(b, o + ARP_HTYPE) !== ARP_HW_ETHERNET || rd16(b, o + ARP_PTYPE) !== ETHERTYPE_IPV4 ||
      b[o + ARP_HLEN] !== 6 || b[o + ARP_PLEN] !== 4) return ARP_UNSUPPORTED;
    return OK;
  }

  get htype(): number { return rd16(this.buf, this.off + ARP_HTYPE); }
  get ptype(): number { return rd16(this.buf, this.off + ARP_PTYPE); }
  get hlen(): number { return this.buf[this.off + ARP_HLEN]; }
  get plen(): number { return this.buf[this.off + ARP_PLEN]; }
  get oper(): number { return rd16(this.buf, this.off + ARP_OPER); }
  get spa(): number { return rd32(this.buf, this.off + ARP_SPA); }
  get tpa(): number { return rd32(this.buf, this.off + ARP_TPA); }
  /** Offsets of the hardware addresses inside buf (copy or compare from there). */
  get shaOff(): number { return this.off + ARP_SHA; }
  get thaOff(): number { return this.off + ARP_THA; }
  shaEquals(mac: Uint8Array, moff = 0): boolean { return macEquals(this.buf, this.off + ARP_SHA, mac, moff); }
  getSha(out: Uint8Array, ooff = 0): void { copyMac(this.buf, this.off + ARP_SHA, out, ooff); }
  getTha(out: Uint8Array, ooff = 0): void { copyMac(this.buf, this.off + ARP_THA, out, ooff); }
}

/** Write a 28-byte Ethernet/IPv4 ARP packet at `off`; returns ARP_LEN. */
export function emitArp(buf: Uint8Array, off: number, oper: number,
  sha: Uint8Array, shaOff: number, spa: number, tha: Uint8Array, thaOff: number, tpa: number): number {
  wr16(buf, off + ARP_HTYPE, ARP_HW_ETHERNET);
  wr16(buf, off + ARP_PTYPE, ETHERTYPE_IPV4);
  buf[off + ARP_HLEN] = 6; buf[off + ARP_PLEN] = 4;
  wr16(buf, off + ARP_OPER, oper);
  copyMac(sha, shaOff, buf, off + ARP_SHA);
  wr32(buf, off + ARP_SPA, spa);
  copyMac(tha, thaOff, buf, off + ARP_THA);
  wr32(buf, off + ARP_TPA, tpa);
  return ARP_LEN;
}
