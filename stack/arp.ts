// ARP (RFC 826) for each Iface: answers requests for the Iface address, learns the sender of
// requests for us and of replies it waits for (never from group or own addresses), announces
// the Iface address (gratuitous request) at start and on address changes, and resolves next
// hops for output.ts: a datagram to an unresolved neighbour waits in the Iface's bounded
// pending queue (neighbor.ts) while requests are retried on the timer wheel; the reply sends
// what waited, a timeout drops it. Forwarded datagrams waiting count as `queued` in the fate
// ledger until they leave or are dropped.

import { C_ARP_LEARNED, C_ARP_QUEUE_SENT, C_ARP_QUEUED, C_ARP_REPLIES_RX, C_ARP_REPLIES_TX, C_ARP_REQUESTS_RX, C_ARP_REQUESTS_TX, C_ARP_TIMEOUTS, C_FORWARDED, F_DROPPED, F_FORWARDED, F_QUEUED } from './counters.js';
import type { Iface } from './iface.js';
import { genCommit, genReserve } from './link-io.js';
import { N_INCOMPLETE, PEND_FORWARDED, PEND_FREE, PENDING_SLOT } from './neighbor.js';
import { sendCopy } from './output.js';
import type { Stack } from './stack.js';
import { ARP_LEN, ARP_REPLY, ARP_REQUEST, emitArp } from './wire/arp.js';
import { BROADCAST_MAC, ETHERTYPE_ARP, isGroupMac } from './wire/ethernet.js';
import { IP_BROADCAST } from './wire/ipv4.js';
import * as R from './wire/reason.js';
import type { Offload } from './wire/virtio.js';
import { clearVnetHdr, VNET_HDR_LEN } from './wire/virtio.js';
import { emitEthernetVlan } from './wire/vlan.js';

const ZERO_MAC = new Uint8Array(6);

/** An ARP packet received on ifc at buf[o, o+avail). */
export function arpIn(s: Stack, ifc: Iface, buf: Uint8Array, o: number, avail: number): void {
  const ifx = ifc.index;
  const c = s.counters;
  const a = s.rv.arp.reset(buf, o, avail);
  const r = a.check();
  if (r !== R.OK) return c.dropFrame(ifx, r);
  const op = a.oper;
  if (op === ARP_REQUEST) c.add(ifx, C_ARP_REQUESTS_RX, 1);
  else if (op === ARP_REPLY) c.add(ifx, C_ARP_REPLIES_RX, 1);
  else return c.dropFrame(ifx, R.ARP_UNSUPPORTED);
  if (ifc.address === 0) return c.dropFrame(ifx, R.ARP_NOT_FOR_US);
  const spa = a.spa, tpa = a.tpa;
  const forUs = tpa === ifc.address;
  const nt = ifc.neighbors;
  let learned = false;
  if (spa !== 0 && spa !== ifc.address && !isGroupMac(buf, a.shaOff) && spa !== IP_BROADCAST) {
    if (forUs || nt.find(spa) >= 0) {
      const ni = nt.learn(spa, buf, a.shaOff, s.now, s.arpTtlMs);
      if (ni >= 0) {
        learned = true;
        c.add(ifx, C_ARP_LEARNED, 1);
        if (nt.pendCount > 0) flushPending(s, ifc, spa, ni);
      }
    }
  }
  if (op === ARP_REQUEST && forUs) {
    sendArp(s, ifc, ARP_REPLY, buf, a.shaOff, buf, a.shaOff, spa);
    return c.deliverFrame(ifx);
  }
  if (learned) return c.deliverFrame(ifx);
  return c.dropFrame(ifx, R.ARP_NOT_FOR_US);
}

/** Gratuitous ARP: a broadcast request for the Iface's own address. */
export function announce(s: Stack, ifc: Iface): void {
  sendArp(s, ifc, ARP_REQUEST, BROADCAST_MAC, 0, ZERO_MAC, 0, ifc.address);
}

/** Send an ARP packet from ifc: Ethernet destination dst[doff], target tha[toff]/tpa. */
function sendArp(s: Stack, ifc: Iface, oper: number, dst: Uint8Array, doff: number, tha: Uint8Array, toff: number, tpa: number): void {
  const ls = s.links[ifc.link];
  const o = genReserve(s, ls, ARP_LEN);
  if (o < 0) return;
  emitArp(ls.gen, o, oper, ifc.mac, 0, ifc.address, tha, toff, tpa);
  const fo = o - ifc.ehl;
  const ehl = emitEthernetVlan(ls.gen, fo, dst, doff, ifc.mac, 0, ifc.vlan, ETHERTYPE_ARP);
  if (ls.vnet) clearVnetHdr(ls.gen, fo - VNET_HDR_LEN);
  genCommit(s, ls, ifc, fo, ehl + ARP_LEN);
  s.counters.add(ifc.index, oper === ARP_REQUEST ? C_ARP_REQUESTS_TX : C_ARP_REPLIES_TX, 1);
}

/** Keep a datagram (src[l3, +ipLen), offload state o) until next hop nh on oif is resolved,
 *  asking for it when this is the first datagram waiting. */
export function queuePending(s: Stack, oif: Iface, nh: number, kind: number, src: Uint8Array, l3: number, ipLen: number, o: Offload): void {
  const ox = oif.index;
  const c = s.counters;
  if (oif.address === 0) return dropQueued(s, kind, ox, R.NO_ADDRESS);
  if (ipLen > PENDING_SLOT) return dropQueued(s, kind, ox, R.ARP_QUEUE_TOO_BIG);
  const nt = oif.neighbors;
  let ni = nt.find(nh);
  const fresh = ni < 0 || nt.state[ni] !== N_INCOMPLETE;
  if (fresh) {
    ni = nt.insert(nh, s.now);
    if (ni < 0) return dropQueued(s, kind, ox, R.NEIGHBOR_FULL);
    nt.state[ni] = N_INCOMPLETE;
    nt.retries[ni] = 0;
  }
  const q = nt.freeSlot();
  if (q >= 0) {
    // Copy before anything else is built in the scratch slab the datagram may live in.
    nt.enqueue(q, nh, kind, src, l3, ipLen, o);
    c.add(ox, C_ARP_QUEUED, 1);
    if (kind === PEND_FORWARDED) c.fate[F_QUEUED]++;
  }
  if (fresh) {
    sendArp(s, oif, ARP_REQUEST, BROADCAST_MAC, 0, ZERO_MAC, 0, nh);
    if (s.wheel.schedule(s.kindArp, ox, nh, s.now + s.arpRetryMs) < 0) arpGiveUp(s, ox, nh, ni);
  }
  if (q < 0) dropQueued(s, kind, ox, R.ARP_QUEUE_FULL);
}

function dropQueued(s: Stack, kind: number, ox: number, reason: number): void {
  if (kind === PEND_FORWARDED) s.counters.dropFrame(ox, reason); else s.counters.drop(ox, reason);
}

/** ip is resolved (slot ni): send everything that waited for it. */
function flushPending(s: Stack, ifc: Iface, ip: number, ni: number): void {
  const nt = ifc.neighbors;
  const c = s.counters;
  for (let q = 0; q < nt.limit && nt.pendCount > 0; q++) {
    const kind = nt.pendKind[q];
    if (kind === PEND_FREE || nt.pendIp[q] !== ip) continue;
    const ok = sendCopy(s, ifc, ni, nt.pendBuf, q * PENDING_SLOT, nt.pendLen[q], nt.pendOffload(q, s.pendOffload));
    nt.release(q);
    if (kind === PEND_FORWARDED) {
      c.fate[F_QUEUED]--;
      if (ok) { c.fate[F_FORWARDED]++; c.add(ifc.index, C_FORWARDED, 1); } else { c.fate[F_DROPPED]++; c.drop(ifc.index, R.TOO_BIG); }
    } else if (!ok) c.drop(ifc.index, R.TOO_BIG);
    if (ok) c.add(ifc.index, C_ARP_QUEUE_SENT, 1);
  }
}

/** Retry timer of an unresolved neighbour (registered on the wheel by the Stack). */
export function arpTimer(s: Stack, ifx: number, ip: number, now: number): void {
  const ifc = s.ifaces[ifx];
  const nt = ifc.neighbors;
  const ni = nt.find(ip);
  if (ni < 0 || nt.state[ni] !== N_INCOMPLETE) return;
  if (nt.retries[ni] + 1 < s.arpRetries && s.wheel.schedule(s.kindArp, ifx, ip, now + s.arpRetryMs) >= 0) {
    nt.retries[ni]++;
    sendArp(s, ifc, ARP_REQUEST, BROADCAST_MAC, 0, ZERO_MAC, 0, ip);
    return;
  }
  arpGiveUp(s, ifx, ip, ni);
}

/** Resolution failed: forget the entry and drop what waited for it. */
function arpGiveUp(s: Stack, ifx: number, ip: number, ni: number): void {
  const nt = s.ifaces[ifx].neighbors;
  const c = s.counters;
  nt.fail(ni);
  c.add(ifx, C_ARP_TIMEOUTS, 1);
  for (let q = 0; q < nt.limit && nt.pendCount > 0; q++) {
    const kind = nt.pendKind[q];
    if (kind === PEND_FREE || nt.pendIp[q] !== ip) continue;
    nt.release(q);
    c.drop(ifx, R.ARP_TIMEOUT);
    if (kind === PEND_FORWARDED) { c.fate[F_QUEUED]--; c.fate[F_DROPPED]++; }
  }
}
