// Step 5: a datagram leaves by its egress Iface. The next hop's MAC comes from the Iface's
// neighbour table; unresolved, the datagram waits in the bounded ARP queue (arp.ts) and leaves
// from there once the reply comes. Resolved, it gets its link header (Ethernet, 802.1Q tag of
// the Iface) and, on offload links, its virtio_net_hdr; a forwarded frame is rewritten in place
// in the receive slab when the bytes before it are free (see link-io.ts `floor`), else copied
// into the link's scratch slab; then it joins the link's tx batch (link-io.ts). On links
// without offloads a partial checksum is completed here (fillPartial).
// Offloads the egress link cannot carry are completed in software (a partial checksum) or
// refused (GSO super-frames: gso_unsupported). The egress Iface's send-queue limit (frames per
// batch) is enforced here.
// (Issue 14's egress checks — MTU, fragmentation, software GSO — belong in this step, before
// the link header is written.)

import { queuePending } from './arp.js';
import type { Iface } from './iface.js';
import { genCommit, genReserve, txInPlace, type LinkState } from './link-io.js';
import { PEND_FORWARDED, PEND_LOCAL } from './neighbor.js';
import type { Stack } from './stack.js';
import { sum16 } from './wire/checksum.js';
import { BROADCAST_MAC, ETHERTYPE_IPV4 } from './wire/ethernet.js';
import { IP_BROADCAST, IP_MIN_HEADER_LEN, PROTO_TCP, PROTO_UDP } from './wire/ipv4.js';
import type { Pkt } from './wire/pkt.js';
import * as R from './wire/reason.js';
import { TCP_DOFF } from './wire/tcp.js';
import { UDP_HEADER_LEN } from './wire/udp.js';
import { VNET_HDR_LEN, type Offload } from './wire/virtio.js';
import { wr16 } from './wire/view.js';
import { emitEthernetVlan } from './wire/vlan.js';

/** Offload state of a received datagram, as the output step carries it. */
function offloadOf(s: Stack, p: Pkt): Offload {
  return s.txOffload.set(p.gsoType, p.gsoSize, p.csumPartial ? p.csumStart - (p.l3 - p.off) : -1, p.csumOffset);
}

/** A forwarded datagram is ready (TTL done, chains passed): offloads the egress link cannot
 *  carry are completed in software (checksum) or refused (GSO); then resolve and send, in place
 *  when it can. `floor` is the lowest slab offset the new link header may be written at. */
export function forwardOut(s: Stack, p: Pkt, oif: Iface, nh: number, floor: number): void {
  const ox = oif.index;
  const c = s.counters;
  const ols = s.links[oif.link];
  if (!ols.vnet) {
    if (p.gsoType !== 0) return c.dropFrame(ox, R.GSO_UNSUPPORTED);
    if (p.csumPartial && !completeChecksum(p)) return c.dropFrame(ox, R.L4_BAD_CHECKSUM);
  }
  const nt = oif.neighbors;
  const ni = nt.resolved(nh, s);
  if (ni < 0) return queuePending(s, oif, nh, PEND_FORWARDED, p.buf, p.l3, p.ipLen, offloadOf(s, p));
  if (oif.sendQueueLimit > 0 && ++oif.txInBatch > oif.sendQueueLimit) return c.dropFrame(ox, R.TX_QUEUE_FULL);
  const ehl = oif.ehl;
  const fo = p.l3 - ehl;
  const buf = p.buf;
  if (fo - (ols.vnet ? VNET_HDR_LEN : 0) < floor || ols.fwdBuf !== buf) {
    // No headroom for the new link header: send a copy.
    if (!sendCopy(s, oif, ni, buf, p.l3, p.ipLen, offloadOf(s, p))) return c.dropFrame(ox, R.TOO_BIG);
  } else {
    emitEthernetVlan(buf, fo, nt.mac, ni * 6, oif.mac, 0, oif.vlan, ETHERTYPE_IPV4);
    if (ols.vnet) offloadOf(s, p).writeHdr(buf, fo - VNET_HDR_LEN, ehl, p.l4 - p.l3, l4HeaderLen(buf, p.l4, p.proto));
    txInPlace(s, ols, oif, fo, ehl + p.ipLen);
  }
  c.forwardFrame(ox);
}

/** A datagram the router built at ls.gen[l3, +ipLen) passed its chains: resolve and send (or
 *  queue for ARP). Returns OK or the drop reason (counted). */
export function outputLocal(s: Stack, ls: LinkState, oif: Iface, nh: number, l3: number, ipLen: number): number {
  const nt = oif.neighbors;
  const bcast = nh === IP_BROADCAST || (nh === oif.broadcast && nh !== 0);
  const ni = bcast ? -1 : nt.resolved(nh, s);
  if (ni < 0 && !bcast) {
    queuePending(s, oif, nh, PEND_LOCAL, ls.gen, l3, ipLen, s.txOffload.clear());
    return R.OK;
  }
  if (oif.sendQueueLimit > 0 && ++oif.txInBatch > oif.sendQueueLimit) { s.counters.drop(oif.index, R.TX_QUEUE_FULL); return R.TX_QUEUE_FULL; }
  commitBuilt(s, ls, oif, ni, l3, ipLen, s.txOffload.clear());
  return R.OK;
}

/** Copy a datagram into the egress link's scratch slab behind a fresh link header and send it
 *  to neighbour slot ni (-1 = link broadcast). False when it does not fit. */
export function sendCopy(s: Stack, oif: Iface, ni: number, src: Uint8Array, l3: number, ipLen: number, o: Offload): boolean {
  const ls = s.links[oif.link];
  const at = genReserve(s, ls, ipLen);
  if (at < 0) return false;
  const g = ls.gen;
  if (src === g) g.copyWithin(at, l3, l3 + ipLen);
  else for (let k = 0; k < ipLen; k++) g[at + k] = src[l3 + k];
  commitBuilt(s, ls, oif, ni, at, ipLen, o);
  return true;
}

/** Datagram at ls.gen[l3, +ipLen), neighbour slot ni resolved (-1 = link broadcast): add the
 *  link (and virtio) header, complete a partial checksum the link cannot offload, commit. */
function commitBuilt(s: Stack, ls: LinkState, oif: Iface, ni: number, l3: number, ipLen: number, o: Offload): void {
  const ehl = oif.ehl;
  const fo = l3 - ehl;
  const g = ls.gen;
  if (ni >= 0) emitEthernetVlan(g, fo, oif.neighbors.mac, ni * 6, oif.mac, 0, oif.vlan, ETHERTYPE_IPV4);
  else emitEthernetVlan(g, fo, BROADCAST_MAC, 0, oif.mac, 0, oif.vlan, ETHERTYPE_IPV4);
  const ip = s.gv.ip.reset(g, l3, ipLen);
  const hl = ip.headerLen;
  if (ls.vnet) o.writeHdr(g, fo - VNET_HDR_LEN, ehl, hl, l4HeaderLen(g, l3 + hl, ip.proto));
  else if (o.csumStart >= 0) fillPartial(g, l3, ipLen, l3 + o.csumStart, o.csumOffset, ip.proto);
  genCommit(s, ls, oif, fo, ehl + ipLen);
}

/** Length of the L4 header a GSO super-frame repeats in every segment. */
function l4HeaderLen(buf: Uint8Array, l4: number, proto: number): number {
  return proto === PROTO_TCP ? (buf[l4 + TCP_DOFF] >>> 4) << 2 : UDP_HEADER_LEN;
}

/** Finish an offloaded checksum in software: the field holds the pseudo-header sum; the
 *  checksum covers [start, end of datagram). */
function fillPartial(buf: Uint8Array, l3: number, ipLen: number, start: number, csumOffset: number, proto: number): boolean {
  const end = l3 + ipLen;
  const field = start + csumOffset;
  if (start < l3 + IP_MIN_HEADER_LEN || field + 2 > end) return false;
  let c = ~sum16(buf, start, end - start) & 0xffff;
  if (c === 0 && proto === PROTO_UDP) c = 0xffff;
  wr16(buf, field, c);
  return true;
}

/** Complete the partial L4 checksum of a received datagram (egress link without offload). */
export function completeChecksum(p: Pkt): boolean {
  if (!fillPartial(p.buf, p.l3, p.ipLen, p.off + p.csumStart, p.csumOffset, p.proto)) return false;
  p.csumPartial = false;
  return true;
}
