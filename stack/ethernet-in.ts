// Step 2: a received frame meets its Iface. Ethernet (and 802.1Q) demux picks the Iface of the
// link (untagged) or of the VLAN id; the destination MAC must be the Iface's or a group
// address; the EtherType sends it to ARP (arp.ts) or, for IPv4, into the Pkt descriptor with
// the link's offload metadata (virtio_net_hdr) and on to ipv4-in.ts. Everything else is
// dropped and counted (IPv6 separately).

import { arpIn } from './arp.js';
import { C_RX_BYTES, C_RX_PACKETS, F_RX } from './counters.js';
import { ipv4In } from './ipv4-in.js';
import type { LinkState } from './link-io.js';
import type { Stack } from './stack.js';
import { ETH_HEADER_LEN, ETH_TYPE, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, isGroupMac, macEquals } from './wire/ethernet.js';
import * as R from './wire/reason.js';
import { rd16 } from './wire/view.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VNET_HDR_LEN } from './wire/virtio.js';
import { VLAN_ETH_HEADER_LEN, VLAN_INNER_TYPE, VLAN_TCI, VLAN_VID_MASK } from './wire/vlan.js';

/** The frame at buf[off, off+len) received on link ls; `floor` is the lowest slab offset an
 *  in-place rewrite may write at (see link-io.ts). */
export function frameIn(s: Stack, ls: LinkState, buf: Uint8Array, off: number, len: number, floor: number): void {
  const c = s.counters;
  c.fate[F_RX]++;
  if (len < ETH_HEADER_LEN || off < 0 || off + len > buf.length) return c.dropFrame(-1, R.ETH_TRUNCATED);
  let type = rd16(buf, off + ETH_TYPE);
  let l3 = off + ETH_HEADER_LEN;
  let ifx = ls.untagged;
  if (type === ETHERTYPE_VLAN) {
    if (len < VLAN_ETH_HEADER_LEN) return c.dropFrame(-1, R.VLAN_TRUNCATED);
    const tag = off + ETH_TYPE;
    ifx = ls.vlanIf[rd16(buf, tag + VLAN_TCI) & VLAN_VID_MASK];
    type = rd16(buf, tag + VLAN_INNER_TYPE);
    l3 = off + VLAN_ETH_HEADER_LEN;
  }
  if (ifx < 0) return c.dropFrame(-1, R.VLAN_UNKNOWN);
  const ifc = s.ifaces[ifx];
  c.add(ifx, C_RX_PACKETS, 1);
  c.add(ifx, C_RX_BYTES, len);
  if (ifc.bufferLimit > 0 && ++ifc.rxInBatch > ifc.bufferLimit) return c.dropFrame(ifx, R.RX_BUFFER_LIMIT);
  const group = isGroupMac(buf, off);
  if (!group && !macEquals(buf, off, ifc.mac, 0)) return c.dropFrame(ifx, R.NOT_OUR_MAC);
  if (type === ETHERTYPE_ARP) return arpIn(s, ifc, buf, l3, off + len - l3);
  if (type !== ETHERTYPE_IPV4) return c.dropFrame(ifx, type === ETHERTYPE_IPV6 ? R.ETHERTYPE_IPV6 : R.ETHERTYPE_OTHER);
  const p = s.p;
  p.reset(buf, s.dv, off, len);
  p.inIf = ifx;
  if (ls.vnet && off >= VNET_HDR_LEN) {
    const h = s.rv.vnet.reset(buf, off - VNET_HDR_LEN, VNET_HDR_LEN);
    p.gsoType = h.gsoType;
    p.gsoSize = h.gsoSize;
    if ((h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
      p.csumPartial = true;
      p.csumStart = h.csumStart;
      p.csumOffset = h.csumOffset;
    }
  }
  ipv4In(s, ifc, p, l3, off + len - l3, group, floor);
}
