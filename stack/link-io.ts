// Step 1 and last step of the packet path: link I/O and batching. A link hands the stack one
// batch of received frames; each goes through the path (ethernet-in.ts onwards) and whatever
// leaves is collected per egress link in two transmit batches, sent with one link.send() each
// at the end of the received batch (or when a batch fills up):
//  * forwarded frames, rewritten in place in the receive slab (fwd*), and
//  * frames the stack built itself (replies, errors, ARP, datagrams leaving the ARP queue,
//    copies of forwarded frames without headroom) in the link's scratch slab (gen*).
// Invariants: a frame may grow into the bytes before it (VLAN tag, virtio_net_hdr) only down to
// the end of the previous frame of the batch (`floor`), so in-place rewrites never overwrite a
// frame not yet processed; link counters count what links accepted (L_TX_*) and refused
// (L_TX_FAILED, and a tx_failed drop per frame).

import type { FrameBatch, Link } from '../drivers/link.js';
import { C_TX_BYTES, C_TX_PACKETS, L_RX_BYTES, L_RX_PACKETS, L_TX_BYTES, L_TX_FAILED, L_TX_PACKETS } from './counters.js';
import { frameIn } from './ethernet-in.js';
import type { Iface } from './iface.js';
import type { Stack } from './stack.js';
import * as R from './wire/reason.js';
import { VNET_HDR_LEN } from './wire/virtio.js';

/** Bytes before the L3 header of a generated frame: virtio_net_hdr + tagged Ethernet header. */
export const GEN_HEAD = 32;
/** Shortest Ethernet frame (without FCS); shorter ones are padded. */
export const MIN_FRAME = 60;

export class LinkState {
  /** Iface of each 802.1Q VLAN id on this link (-1 none), and of untagged frames. */
  readonly vlanIf = new Int16Array(4096).fill(-1);
  untagged = -1;
  link: Link;
  vnet: boolean;
  /** Forwarded frames, pointing into the receive slab of the batch being processed. */
  fwdBuf: Uint8Array = new Uint8Array(0);
  readonly fwdOff: Int32Array;
  readonly fwdLen: Int32Array;
  fwdCount = 0;
  /** Frames the stack built (replies, errors, ARP, flushed ARP queue, copies). */
  readonly gen: Uint8Array;
  readonly genDv: DataView;
  readonly genOff: Int32Array;
  readonly genLen: Int32Array;
  genCount = 0;
  genPos = 0;

  constructor(readonly index: number, link: Link, batch: number, scratchBytes: number) {
    this.link = link;
    this.vnet = link.vnetHdr;
    this.fwdOff = new Int32Array(batch);
    this.fwdLen = new Int32Array(batch);
    this.gen = new Uint8Array(scratchBytes);
    this.genDv = new DataView(this.gen.buffer);
    this.genOff = new Int32Array(batch);
    this.genLen = new Int32Array(batch);
  }
}

// ---- receive ----------------------------------------------------------------------------------

/** One received batch of link li: every frame through the path, then every tx batch out. */
export function receiveBatch(s: Stack, li: number, batch: FrameBatch): void {
  const ls = s.links[li];
  const buf = batch.buf;
  if (buf !== s.dvBuf) {
    s.dvBuf = buf;
    s.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  s.now = s.clock();
  s.inBatch = true;
  const links = s.links;
  for (let i = 0; i < links.length; i++) links[i].fwdBuf = buf;
  const ifs = s.ifaces;
  for (let i = 0; i < ifs.length; i++) { ifs[i].rxInBatch = 0; ifs[i].txInBatch = 0; }
  const c = s.counters;
  let prevEnd = 0;
  const n = batch.count;
  // In-place rewrites may grow a frame into the bytes before it (VLAN tag, virtio_net_hdr)
  // only down to the end of the previous frame, and only when frames are in slab order.
  let ascending = true;
  for (let i = 1; i < n; i++) if (batch.off[i] < batch.off[i - 1] + batch.len[i - 1]) { ascending = false; break; }
  const own = ls.vnet ? VNET_HDR_LEN : 0;
  for (let i = 0; i < n; i++) {
    const off = batch.off[i], len = batch.len[i];
    c.linkAdd(li, L_RX_PACKETS, 1);
    c.linkAdd(li, L_RX_BYTES, len);
    try {
      frameIn(s, ls, buf, off, len, ascending ? prevEnd : off - own);
    } catch {
      c.dropFrame(-1, R.INTERNAL_ERROR);
    }
    const end = off + len;
    if (end > prevEnd) prevEnd = end;
  }
  flushAll(s);
  s.inBatch = false;
}

// ---- transmit ---------------------------------------------------------------------------------

/** Queue a frame rewritten in place in the receive slab (at fo, flen bytes) on link ls. */
export function txInPlace(s: Stack, ls: LinkState, oif: Iface, fo: number, flen: number): void {
  if (ls.fwdCount === ls.fwdOff.length) flushFwd(s, ls);
  ls.fwdOff[ls.fwdCount] = fo;
  ls.fwdLen[ls.fwdCount] = flen;
  ls.fwdCount++;
  s.counters.add(oif.index, C_TX_PACKETS, 1);
  s.counters.add(oif.index, C_TX_BYTES, flen);
}

/** Reserve room for a datagram of ipLen bytes in the link's scratch slab; returns the L3
 *  offset (GEN_HEAD bytes of headroom before it) or -1 when it can never fit. */
export function genReserve(s: Stack, ls: LinkState, ipLen: number): number {
  const need = GEN_HEAD + (ipLen < MIN_FRAME ? MIN_FRAME : ipLen);
  if (need > ls.gen.length) return -1;
  if (ls.genPos + need > ls.gen.length || ls.genCount === ls.genOff.length) flushGen(s, ls);
  return ls.genPos + GEN_HEAD;
}

/** Queue the frame built at ls.gen[fo, +flen) (padded to MIN_FRAME). */
export function genCommit(s: Stack, ls: LinkState, oif: Iface, fo: number, flen: number): void {
  const g = ls.gen;
  while (flen < MIN_FRAME) g[fo + flen++] = 0;
  ls.genOff[ls.genCount] = fo;
  ls.genLen[ls.genCount] = flen;
  ls.genCount++;
  ls.genPos = (fo + flen + 7) & ~7;
  s.counters.add(oif.index, C_TX_PACKETS, 1);
  s.counters.add(oif.index, C_TX_BYTES, flen);
}

function flushFwd(s: Stack, ls: LinkState): void {
  const n = ls.fwdCount;
  if (n === 0) return;
  ls.fwdCount = 0;
  sent(s, ls, ls.link.send(ls.fwdBuf, ls.fwdOff, ls.fwdLen, n), n, ls.fwdLen);
}

function flushGen(s: Stack, ls: LinkState): void {
  const n = ls.genCount;
  ls.genCount = 0;
  ls.genPos = 0;
  if (n === 0) return;
  sent(s, ls, ls.link.send(ls.gen, ls.genOff, ls.genLen, n), n, ls.genLen);
}

function sent(s: Stack, ls: LinkState, done: number, n: number, lens: Int32Array): void {
  const c = s.counters;
  const li = ls.index;
  if (!(done >= 0)) done = 0;
  let bytes = 0;
  for (let i = 0; i < done && i < n; i++) bytes += lens[i];
  c.linkAdd(li, L_TX_PACKETS, done);
  c.linkAdd(li, L_TX_BYTES, bytes);
  if (done < n) {
    c.linkAdd(li, L_TX_FAILED, n - done);
    for (let i = done; i < n; i++) c.drop(-1, R.TX_FAILED);
  }
}

/** Send every pending tx batch of every link. */
export function flushAll(s: Stack): void {
  const links = s.links;
  for (let i = 0; i < links.length; i++) {
    try {
      flushFwd(s, links[i]);
      flushGen(s, links[i]);
    } catch {
      links[i].fwdCount = 0; links[i].genCount = 0; links[i].genPos = 0;
      s.counters.drop(-1, R.TX_FAILED);
    }
  }
}
