// DHCP message view (RFC 2131, the BOOTP layout of RFC 951) for the router's own DHCP client:
// the fixed part, the magic cookie and the option list (code, length, value; 0 pads, 255 ends).
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +---------------+---------------+---------------+---------------+
// |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
// +---------------+---------------+---------------+---------------+
// |                            xid (4)                            |
// +-------------------------------+-------------------------------+
// |           secs (2)            |           flags (2)           |
// +-------------------------------+-------------------------------+
// |                          ciaddr  (4)                          |
// |                          yiaddr  (4)                          |
// |                          siaddr  (4)                          |
// |                          giaddr  (4)                          |
// +---------------------------------------------------------------+
// |                          chaddr  (16)                         |
// |                          sname   (64)                         |
// |                          file    (128)                        |
// +---------------------------------------------------------------+
// |                  magic cookie 99.130.83.99 (4)                |
// |                          options (variable)                   |
// +---------------------------------------------------------------+

import { rd32, WireView, wr16, wr32 } from './view.js';

export const DHCP_OP = 0;
export const DHCP_HTYPE = 1;
export const DHCP_HLEN = 2;
export const DHCP_XID = 4;
export const DHCP_FLAGS = 10;
export const DHCP_CIADDR = 12;
export const DHCP_YIADDR = 16;
export const DHCP_CHADDR = 28;
export const DHCP_MAGIC = 236;
export const DHCP_OPTIONS = 240;

export const DHCP_MAGIC_COOKIE = 0x63825363;
export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
/** flags: ask servers to broadcast their replies (the client has no address yet). */
export const DHCP_FLAG_BROADCAST = 0x8000;

export const OPT_PAD = 0;
export const OPT_SUBNET_MASK = 1;
export const OPT_ROUTER = 3;
export const OPT_DNS = 6;
export const OPT_REQUESTED_IP = 50;
export const OPT_LEASE_TIME = 51;
export const OPT_MESSAGE_TYPE = 53;
export const OPT_SERVER_ID = 54;
export const OPT_PARAMS = 55;
export const OPT_END = 255;

/** Message types (option 53). */
export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPACK = 5;
export const DHCPNAK = 6;

export class DhcpView extends WireView {
  /** Long enough for the fixed part and the cookie, and the cookie is right. */
  valid(): boolean {
    return this.len >= DHCP_OPTIONS && this.off + this.len <= this.buf.length && rd32(this.buf, this.off + DHCP_MAGIC) === DHCP_MAGIC_COOKIE;
  }
  get op(): number { return this.buf[this.off + DHCP_OP]; }
  get xid(): number { return rd32(this.buf, this.off + DHCP_XID); }
  get yiaddr(): number { return rd32(this.buf, this.off + DHCP_YIADDR); }
  chaddrEquals(mac: Uint8Array): boolean {
    for (let i = 0; i < 6; i++) if (this.buf[this.off + DHCP_CHADDR + i] !== mac[i]) return false;
    return true;
  }

  /** Visit each option (code, value offset in buf, value length) until the end option or the
   *  end of the message; truncated options end the walk. */
  options(visit: (code: number, at: number, n: number) => void): void {
    const b = this.buf, end = this.off + this.len;
    for (let i = this.off + DHCP_OPTIONS; i < end;) {
      const code = b[i];
      if (code === OPT_END) break;
      if (code === OPT_PAD) { i++; continue; }
      if (i + 1 >= end) break;
      const n = b[i + 1];
      const v = i + 2;
      if (v + n > end) break;
      visit(code, v, n);
      i = v + n;
    }
  }
}

/** Write the fixed part of a client message (BOOTREQUEST, Ethernet, broadcast flag) at `off`
 *  into a zeroed buffer; returns the offset where options start. */
export function emitDhcpRequest(buf: Uint8Array, off: number, xid: number, ciaddr: number, mac: Uint8Array): number {
  buf[off + DHCP_OP] = BOOTREQUEST;
  buf[off + DHCP_HTYPE] = 1;
  buf[off + DHCP_HLEN] = 6;
  wr32(buf, off + DHCP_XID, xid);
  wr16(buf, off + DHCP_FLAGS, DHCP_FLAG_BROADCAST);
  wr32(buf, off + DHCP_CIADDR, ciaddr);
  buf.set(mac.subarray(0, 6), off + DHCP_CHADDR);
  wr32(buf, off + DHCP_MAGIC, DHCP_MAGIC_COOKIE);
  return off + DHCP_OPTIONS;
}
