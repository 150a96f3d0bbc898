// The stack engine: one instance drives every link of the router. Per received batch it runs
// eth -> VLAN demux -> ARP | IPv4 (validate, fill Pkt) -> conn.track -> prerouting ->
// local ? input + local delivery : route -> forward -> TTL -> postrouting -> conn.finish ->
// neighbor -> transmit, and sends what it produced with one link.send() per egress link for
// forwarded frames (rewritten in place in the receive slab) plus one per link for frames it
// built itself (per-link transmit scratch slab).
//
// Invariants: nothing here allocates per packet; every received frame ends forwarded,
// delivered, dropped (counted by reason) or waiting in a bounded ARP queue, and the fate ledger
// in Counters adds up; no input makes it throw (an unexpected exception is caught per frame
// and counted as internal_error). Hooks are read through one reference swapped by setHooks(),
// so a reload takes effect between two frames; ARP caches and counters survive it.

import type { FrameBatch, Link } from '../drivers/link.js';
import { VIRTIO_NET_HDR_F_NEEDS_CSUM, VNET_HDR_LEN } from '../drivers/link.js';
import { Counters, C_ARP_LEARNED, C_ARP_QUEUED, C_ARP_QUEUE_SENT, C_ARP_REPLIES_RX, C_ARP_REPLIES_TX, C_ARP_REQUESTS_RX, C_ARP_REQUESTS_TX, C_ARP_TIMEOUTS, C_DELIVERED, C_FORWARDED, C_GENERATED, C_RX_BYTES, C_RX_PACKETS, C_TX_BYTES, C_TX_PACKETS, F_DELIVERED, F_DROPPED, F_FORWARDED, F_QUEUED, F_RX } from './counters.js';
import type { StackCounters } from './counters.js';
import { icmpErrorLen, mayReport, TokenBucket, writeEchoReply, writeIcmpError } from './icmp.js';
import { Iface } from './iface.js';
import type { StackConfig, StackHooks } from './iface.js';
import { N_INCOMPLETE, PENDING_SLOT } from './neighbor.js';
import { RouteTable } from './route.js';
import { TimerWheel } from './timers.js';
import { ARP_REPLY, ARP_REQUEST, ArpView, emitArp, ARP_LEN } from './wire/arp.js';
import { sum16 } from './wire/checksum.js';
import { BROADCAST_MAC, copyMac, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, macEquals } from './wire/ethernet.js';
import { ICMP_DEST_UNREACH, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED, IcmpView, TIME_EXCEEDED_TTL, UNREACH_NET, UNREACH_PORT } from './wire/icmp.js';
import { emitIpv4, IP_FLAG_MF, IP_FRAG_OFFSET_MASK, Ipv4View, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from './wire/ipv4.js';
import { ACCEPT, HOOK_FORWARD, HOOK_INPUT, HOOK_OUTPUT, HOOK_POSTROUTING, HOOK_PREROUTING, Pkt } from './wire/pkt.js';
import * as R from './wire/reason.js';
import { TcpView } from './wire/tcp.js';
import { emitUdp, UdpView } from './wire/udp.js';

/** Called for a datagram to a bound local UDP port; the bytes are valid only during the call. */
export type UdpHandler = (buf: Uint8Array, off: number, len: number, saddr: number, sport: number, iface: number) => void;

const KIND_FWD = 1;
const KIND_LOCAL = 2;
/** Bytes before the L3 header of a generated frame: virtio_net_hdr + tagged Ethernet header. */
const GEN_HEAD = 32;
const MIN_FRAME = 60;
const ZERO_MAC = new Uint8Array(6);

class Views {
  readonly arp = new ArpView();
  readonly ip = new Ipv4View();
  readonly icmp = new IcmpView();
  readonly udp = new UdpView();
  readonly tcp = new TcpView();
}

class LinkState {
  readonly vlanIf = new Int16Array(4096).fill(-1);
  untagged = -1;
  readonly vnet: boolean;
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

  constructor(readonly index: number, readonly link: Link, batch: number, scratchBytes: number) {
    this.vnet = link.vnetHdr;
    this.fwdOff = new Int32Array(batch);
    this.fwdLen = new Int32Array(batch);
    this.gen = new Uint8Array(scratchBytes);
    this.genDv = new DataView(this.gen.buffer);
    this.genOff = new Int32Array(batch);
    this.genLen = new Int32Array(batch);
  }
}

export class Stack {
  readonly ifaces: Iface[];
  readonly counters: Counters;
  readonly routes: RouteTable;
  private readonly links: LinkState[];
  private hooks: StackHooks;
  private readonly cfg: StackConfig;
  private readonly clock: () => number;
  private readonly p = new Pkt();
  private readonly g = new Pkt();
  private readonly rv = new Views();
  private readonly gv = new Views();
  private dvBuf: Uint8Array | null = null;
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private now = 0;
  private inBatch = false;
  private ipId = 1;
  private readonly udpHandlers: Array<UdpHandler | undefined> = new Array(65536).fill(undefined);
  private readonly icmpBucket: TokenBucket;
  private readonly echoBucket: TokenBucket;
  readonly wheel = new TimerWheel(100, 256, 8192);
  private readonly kindArp: number;
  private readonly arpTtlMs: number;
  private readonly arpRetryMs: number;
  private readonly arpRetries: number;
  /** Result of resolveLocal(). */
  private rIf = -1;
  private rHop = 0;
  private started = false;

  constructor(cfg: StackConfig, links: readonly Link[]) {
    this.cfg = cfg;
    this.clock = cfg.clock ?? Date.now;
    const cache = cfg.arpCacheSize ?? 1024;
    const qlim = cfg.arpQueueLimit ?? 64;
    this.arpTtlMs = cfg.arpTtlMs ?? 300_000;
    this.arpRetryMs = cfg.arpRetryMs ?? 1000;
    this.arpRetries = cfg.arpRetries ?? 3;
    this.icmpBucket = new TokenBucket(cfg.icmpRatePerSec ?? 100, cfg.icmpBurst ?? 50);
    this.echoBucket = new TokenBucket(cfg.echoRatePerSec ?? 1000, cfg.echoBurst ?? 200);
    const batch = cfg.txBatch ?? 256;
    this.links = links.map((l, i) => new LinkState(i, l, batch, 256 * 1024));
    this.ifaces = cfg.ifaces.map((c, i) => new Iface(i, c, cache, qlim));
    for (const f of this.ifaces) {
      const ls = this.links[f.link];
      if (!ls) throw new Error(`iface ${f.name}: link ${f.link} does not exist`);
      if (f.vlan < 0) {
        if (ls.untagged >= 0) throw new Error(`iface ${f.name}: link ${f.link} already has an untagged iface`);
        ls.untagged = f.index;
      } else {
        if (ls.vlanIf[f.vlan] >= 0) throw new Error(`iface ${f.name}: vlan ${f.vlan} already used on link ${f.link}`);
        ls.vlanIf[f.vlan] = f.index;
      }
    }
    for (const r of cfg.routes) {
      if (!(r.iface >= 0 && r.iface < this.ifaces.length)) throw new Error(`route to iface ${r.iface}: no such iface`);
    }
    this.routes = new RouteTable(cfg.routes);
    this.counters = new Counters(this.ifaces.map((f) => f.name), links.length);
    this.checkHooks(cfg.hooks);
    this.hooks = cfg.hooks;
    this.kindArp = this.wheel.register((ifx, ip, now) => this.arpTimer(ifx, ip, now));
  }

  private checkHooks(h: StackHooks): void {
    if (!h || !Array.isArray(h.ifaces) || h.ifaces.length !== this.ifaces.length || typeof h.forward !== 'function') {
      throw new Error(`hooks: need one entry per iface (${this.ifaces.length}) and a forward function`);
    }
  }

  /** Swap every hook at once (reload). Tables and counters are kept. */
  setHooks(h: StackHooks): void {
    this.checkHooks(h);
    this.hooks = h;
  }

  /** Start receiving on every link and announce each address with a gratuitous ARP. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.now = this.clock();
    for (const ls of this.links) {
      const li = ls.index;
      ls.link.start((b) => this.receive(li, b));
    }
    for (const f of this.ifaces) if (f.address !== 0) this.sendArp(f, ARP_REQUEST, BROADCAST_MAC, 0, ZERO_MAC, 0, f.address);
    this.flushAll();
  }

  /** Drive timers (ARP retries and timeouts); call from the loop, e.g. every 100 ms. */
  tick(nowMs?: number): void {
    this.now = nowMs ?? this.clock();
    this.wheel.tick(this.now);
    if (!this.inBatch) this.flushAll();
  }

  bindUdp(port: number, handler: UdpHandler): void {
    if (this.udpHandlers[port & 0xffff]) throw new Error(`udp port ${port} already bound`);
    this.udpHandlers[port & 0xffff] = handler;
  }

  unbindUdp(port: number): void { this.udpHandlers[port & 0xffff] = undefined; }

  /** Change an Iface address at run time (DHCP). */
  setAddress(ifx: number, address: number, netmask: number, gateway = 0): void {
    const f = this.ifaces[ifx];
    f.address = address >>> 0;
    f.netmask = netmask >>> 0;
    f.broadcast = f.netmask && f.netmask !== 0xffffffff ? ((f.address | ~f.netmask) >>> 0) : 0;
    f.gateway = gateway >>> 0;
    if (f.address !== 0 && this.started) {
      if (!this.inBatch) this.now = this.clock();
      this.sendArp(f, ARP_REQUEST, BROADCAST_MAC, 0, ZERO_MAC, 0, f.address);
      if (!this.inBatch) this.flushAll();
    }
  }

  snapshot(): StackCounters { return this.counters.snapshot(); }

  /** Process one received batch of link `li` (what link.start's callback does). */
  receive(li: number, batch: FrameBatch): void {
    const ls = this.links[li];
    const buf = batch.buf;
    if (buf !== this.dvBuf) {
      this.dvBuf = buf;
      this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.now = this.clock();
    this.inBatch = true;
    const links = this.links;
    for (let i = 0; i < links.length; i++) links[i].fwdBuf = buf;
    const ifs = this.ifaces;
    for (let i = 0; i < ifs.length; i++) { ifs[i].rxInBatch = 0; ifs[i].txInBatch = 0; }
    let prevEnd = 0;
    const n = batch.count;
    // In-place rewrites may grow a frame into the bytes before it (VLAN tag, virtio_net_hdr)
    // only down to the end of the previous frame, and only when frames are in slab order.
    let ascending = true;
    for (let i = 1; i < n; i++) if (batch.off[i] < batch.off[i - 1] + batch.len[i - 1]) { ascending = false; break; }
    const own = ls.vnet ? VNET_HDR_LEN : 0;
    for (let i = 0; i < n; i++) {
      const off = batch.off[i], len = batch.len[i];
      try {
        this.input(ls, buf, off, len, ascending ? prevEnd : off - own);
      } catch {
        this.counters.drop(-1, R.INTERNAL_ERROR);
        this.counters.fate[F_DROPPED]++;
      }
      const end = off + len;
      if (end > prevEnd) prevEnd = end;
    }
    this.flushAll();
    this.inBatch = false;
  }

  /** Send a UDP datagram from the router (source = egress Iface address) through routing,
   *  the output and postrouting chains and ARP. `viaIf` pins the egress Iface (e.g. DHCP
   *  broadcasts from an Iface without an address yet, sent from 0.0.0.0). Returns 0 (sent or
   *  waiting for ARP) or a drop reason. */
  sendUdp(daddr: number, sport: number, dport: number, payload: Uint8Array, len = payload.length, payloadOff = 0, viaIf = -1): number {
    if (!this.inBatch) this.now = this.clock();
    daddr >>>= 0;
    let r: number = R.OK;
    if (!this.resolveLocal(daddr, viaIf) || (viaIf >= 0 && this.rIf !== viaIf)) {
      if (viaIf >= 0 && viaIf < this.ifaces.length && daddr === 0xffffffff) { this.rIf = viaIf; this.rHop = daddr; }
      else { this.counters.drop(-1, R.NO_ROUTE); r = R.NO_ROUTE; }
    }
    if (r === R.OK) {
      const oif = this.ifaces[this.rIf];
      const ls = this.links[oif.link];
      const ipLen = 28 + len;
      const l3 = oif.address === 0 && viaIf < 0 ? -2 : this.genReserve(ls, ipLen);
      if (l3 < 0) {
        r = l3 === -2 ? R.NO_ADDRESS : R.TOO_BIG;
        this.counters.drop(oif.index, r);
      } else {
        const g = ls.gen;
        for (let k = 0; k < len; k++) g[l3 + 28 + k] = payload[payloadOff + k];
        emitUdp(g, l3 + 20, oif.address, daddr, sport, dport, len);
        emitIpv4(g, l3, ipLen, this.nextId(), 64, PROTO_UDP, oif.address, daddr);
        r = this.finishLocal(ls, oif, this.rHop, l3, ipLen);
      }
    }
    if (!this.inBatch) this.flushAll();
    return r;
  }

  // ---- receive path -------------------------------------------------------------------------

  private dropRx(ifx: number, reason: number): void {
    this.counters.drop(ifx, reason);
    this.counters.fate[F_DROPPED]++;
  }

  private delivered(ifx: number): void {
    this.counters.add(ifx, C_DELIVERED, 1);
    this.counters.fate[F_DELIVERED]++;
  }

  private input(ls: LinkState, buf: Uint8Array, off: number, len: number, floor: number): void {
    const c = this.counters;
    const lb = ls.index * 5;
    c.link[lb]++;
    c.link[lb + 1] += len;
    c.fate[F_RX]++;
    if (len < 14 || off < 0 || off + len > buf.length) return this.dropRx(-1, R.ETH_TRUNCATED);
    let type = (buf[off + 12] << 8) | buf[off + 13];
    let l3 = off + 14;
    let ifx = ls.untagged;
    if (type === ETHERTYPE_VLAN) {
      if (len < 18) return this.dropRx(-1, R.VLAN_TRUNCATED);
      ifx = ls.vlanIf[((buf[off + 14] << 8) | buf[off + 15]) & 0xfff];
      type = (buf[off + 16] << 8) | buf[off + 17];
      l3 = off + 18;
    }
    if (ifx < 0) return this.dropRx(-1, R.VLAN_UNKNOWN);
    const ifc = this.ifaces[ifx];
    c.add(ifx, C_RX_PACKETS, 1);
    c.add(ifx, C_RX_BYTES, len);
    if (ifc.bufferLimit > 0 && ++ifc.rxInBatch > ifc.bufferLimit) return this.dropRx(ifx, R.RX_BUFFER_LIMIT);
    const group = (buf[off] & 1) !== 0;
    if (!group && !macEquals(buf, off, ifc.mac, 0)) return this.dropRx(ifx, R.NOT_OUR_MAC);
    if (type === ETHERTYPE_ARP) return this.arpIn(ifc, buf, l3, off + len - l3);
    if (type !== ETHERTYPE_IPV4) return this.dropRx(ifx, type === ETHERTYPE_IPV6 ? R.ETHERTYPE_IPV6 : R.ETHERTYPE_OTHER);
    const p = this.p;
    p.reset(buf, this.dv, off, len);
    p.inIf = ifx;
    if (ls.vnet && off >= VNET_HDR_LEN) readVnet(p, buf, off - VNET_HDR_LEN);
    const r = this.parseIp(p, buf, l3, off + len - l3, this.rv);
    if (r !== R.OK) return this.dropRx(ifx, r);
    const s = p.saddr;
    if (s === 0xffffffff || s >>> 28 === 0xe || (s === ifc.address && s !== 0)) return this.dropRx(ifx, R.IP_BAD_SOURCE);
    this.ipIn(ifc, p, group, floor);
  }

  /** Validate the IPv4 datagram at buf[l3, l3+avail) and fill p's L3/L4 fields. */
  private parseIp(p: Pkt, buf: Uint8Array, l3: number, avail: number, v: Views): number {
    const ip = v.ip.reset(buf, l3, avail);
    let r = ip.check();
    if (r !== R.OK) return r;
    const hl = (buf[l3] & 15) << 2;
    const tl = (buf[l3 + 2] << 8) | buf[l3 + 3];
    p.l3 = l3;
    p.ipLen = tl;
    p.l4 = l3 + hl;
    p.l4Len = tl - hl;
    p.proto = buf[l3 + 9];
    p.saddr = ip.saddr;
    p.daddr = ip.daddr;
    const ff = (buf[l3 + 6] << 8) | buf[l3 + 7];
    p.frag = (ff & IP_FRAG_OFFSET_MASK) !== 0;
    if (p.frag) return R.OK;
    const more = (ff & IP_FLAG_MF) !== 0;
    const proto = p.proto;
    if (proto === PROTO_TCP) {
      const t = v.tcp.reset(buf, p.l4, p.l4Len);
      r = more ? (p.l4Len < 20 ? R.TCP_TRUNCATED : R.OK) : t.check();
      if (r !== R.OK) return r;
      p.sport = t.sport; p.dport = t.dport;
    } else if (proto === PROTO_UDP) {
      const u = v.udp.reset(buf, p.l4, p.l4Len);
      r = more ? (p.l4Len < 8 ? R.UDP_TRUNCATED : R.OK) : u.check();
      if (r !== R.OK) return r;
      p.sport = u.sport; p.dport = u.dport;
    } else if (proto === PROTO_ICMP) {
      const m = v.icmp.reset(buf, p.l4, p.l4Len);
      r = m.check();
      if (r !== R.OK) return r;
      const t = m.type;
      if (t === 0 || t === ICMP_ECHO_REQUEST) { const id = m.id; p.sport = id; p.dport = id; }
    }
    return R.OK;
  }

  private ipIn(ifc: Iface, p: Pkt, group: boolean, floor: number): void {
    const hooks = this.hooks;
    const conn = hooks.conn;
    const ifx = ifc.index;
    p.hook = HOOK_PREROUTING;
    if (conn && conn.track(p) !== ACCEPT) return this.dropRx(ifx, R.CONN_TRACK);
    if (hooks.ifaces[ifx].prerouting(p) !== ACCEPT) return this.dropRx(ifx, R.CHAIN_PREROUTING);
    const d = p.daddr;
    if (ifc.isLocal(d) || d >>> 28 === 0xe) return this.localIn(ifc, ifc, p, group);
    if (group) return this.dropRx(ifx, R.NOT_OUR_MAC);
    const rt = this.routes;
    const ri = rt.lookup(d);
    if (ri < 0) {
      this.icmpError(p, ifc, ICMP_DEST_UNREACH, UNREACH_NET, group);
      return this.dropRx(ifx, R.NO_ROUTE);
    }
    const ox = rt.iface(ri);
    const oif = this.ifaces[ox];
    const nh = rt.nexthop(ri, d);
    p.outIf = ox;
    p.hook = HOOK_FORWARD;
    if (hooks.forward(p) !== ACCEPT) return this.dropRx(ifx, R.CHAIN_FORWARD);
    if (p.daddr === oif.broadcast && oif.broadcast !== 0) return this.dropRx(ifx, R.DIRECTED_BROADCAST);
    if (oif.address === p.daddr && oif.address !== 0) {
      // Another Iface's own address: that Iface's stack takes it.
      p.outIf = -1;
      return this.localIn(oif, ifc, p, false);
    }
    const buf = p.buf;
    if (buf[p.l3 + 8] <= 1) {
      if (this.cfg.sendTimeExceeded) this.icmpError(p, ifc, ICMP_TIME_EXCEEDED, TIME_EXCEEDED_TTL, group);
      return this.dropRx(ifx, R.TTL_EXCEEDED);
    }
    this.rv.ip.reset(buf, p.l3, p.ipLen).decTtl();
    p.hook = HOOK_POSTROUTING;
    if (hooks.ifaces[ox].postrouting(p) !== ACCEPT) return this.dropRx(ox, R.CHAIN_POSTROUTING);
    if (conn && conn.finish(p) !== ACCEPT) return this.dropRx(ox, R.CONN_FINISH);
    const ols = this.links[oif.link];
    if (!ols.vnet) {
      if (p.gsoType !== 0) return this.dropRx(ox, R.GSO_UNSUPPORTED);
      if (p.csumPartial && !completeChecksum(p)) return this.dropRx(ox, R.L4_BAD_CHECKSUM);
    }
    this.forwardOut(p, oif, ols, nh, floor);
  }

  /** Input chain and delivery to the stack of `owner` (the Iface whose address it is). */
  private localIn(owner: Iface, inIf: Iface, p: Pkt, group: boolean): void {
    const ifx = inIf.index;
    p.hook = HOOK_INPUT;
    if (this.hooks.ifaces[owner.index].input(p) !== ACCEPT) return this.dropRx(ifx, R.CHAIN_INPUT);
    const buf = p.buf;
    if (p.frag || (buf[p.l3 + 6] & 0x20) !== 0) return this.dropRx(ifx, R.LOCAL_FRAGMENT);
    const unicastToUs = !group && p.daddr === owner.address && owner.address !== 0;
    if (p.proto === PROTO_ICMP) {
      const m = this.rv.icmp.reset(buf, p.l4, p.l4Len);
      if (!m.checksumOk()) return this.dropRx(ifx, R.L4_BAD_CHECKSUM);
      if (m.type === ICMP_ECHO_REQUEST && unicastToUs) this.echoReply(owner, p);
      return this.delivered(ifx);
    }
    if (p.proto === PROTO_UDP) {
      const u = this.rv.udp.reset(buf, p.l4, p.l4Len);
      if (!p.csumPartial && !u.checksumOk(p.saddr, p.daddr)) return this.dropRx(ifx, R.L4_BAD_CHECKSUM);
      const h = this.udpHandlers[p.dport];
      if (h !== undefined) {
        h(buf, u.payloadOff, u.payloadLen, p.saddr, p.sport, owner.index);
        return this.delivered(ifx);
      }
      if (unicastToUs) this.icmpError(p, inIf, ICMP_DEST_UNREACH, UNREACH_PORT, group);
    }
    return this.dropRx(ifx, R.LOCAL_NO_HANDLER);
  }

  // ---- transmit ------------------------------------------------------------------------------

  /** A forwarded datagram is ready (TTL done, chains passed): resolve and send in place;
   *  `floor` is the lowest slab offset the new link header may be written at. */
  private forwardOut(p: Pkt, oif: Iface, ols: LinkState, nh: number, floor: number): void {
    const ox = oif.index;
    const nt = oif.neighbors;
    const ni = nt.resolved(nh, this.now);
    const frameToL3 = p.l3 - p.off;
    if (ni < 0) {
      this.queuePending(oif, nh, KIND_FWD, p.buf, p.l3, p.ipLen, p.gsoType, p.gsoSize,
        p.csumPartial ? p.csumStart - frameToL3 : -1, p.csumOffset);
      return;
    }
    if (oif.sendQueueLimit > 0 && ++oif.txInBatch > oif.sendQueueLimit) return this.dropRx(ox, R.TX_QUEUE_FULL);
    const ehl = oif.vlan >= 0 ? 18 : 14;
    const fo = p.l3 - ehl;
    const buf = p.buf;
    if (fo - (ols.vnet ? VNET_HDR_LEN : 0) < floor || ols.fwdBuf !== buf) {
      // No headroom for the new link header: send a copy.
      if (!this.emitCopy(oif, ni, buf, p.l3, p.ipLen, p.gsoType, p.gsoSize,
        p.csumPartial ? p.csumStart - frameToL3 : -1, p.csumOffset)) return this.dropRx(ox, R.TOO_BIG);
    } else {
      writeEth(buf, fo, nt.mac, ni * 6, oif);
      const flen = ehl + p.ipLen;
      if (ols.vnet) {
        writeVnet(buf, fo - VNET_HDR_LEN, p.csumPartial, p.gsoType, p.gsoSize,
          p.csumPartial ? p.csumStart - frameToL3 + ehl : 0, p.csumOffset, fo, p.l4, p.proto);
      }
      if (ols.fwdCount === ols.fwdOff.length) this.flushFwd(ols);
      ols.fwdOff[ols.fwdCount] = fo;
      ols.fwdLen[ols.fwdCount] = flen;
      ols.fwdCount++;
      this.counters.add(ox, C_TX_PACKETS, 1);
      this.counters.add(ox, C_TX_BYTES, flen);
    }
    this.counters.add(ox, C_FORWARDED, 1);
    this.counters.fate[F_FORWARDED]++;
  }

  /** Copy a datagram into the egress link's scratch slab behind a fresh link header. */
  private emitCopy(oif: Iface, ni: number, src: Uint8Array, l3: number, ipLen: number,
    gsoType: number, gsoSize: number, csumStartL3: number, csumOffset: number): boolean {
    const ls = this.links[oif.link];
    const o = this.genReserve(ls, ipLen);
    if (o < 0) return false;
    const g = ls.gen;
    if (src === g) g.copyWithin(o, l3, l3 + ipLen);
    else for (let k = 0; k < ipLen; k++) g[o + k] = src[l3 + k];
    this.commitResolved(ls, oif, ni, o, ipLen, gsoType, gsoSize, csumStartL3, csumOffset);
    return true;
  }

  /** Datagram at ls.gen[l3, +ipLen), neighbor slot ni resolved (-1 = link broadcast): add
   *  the link header, commit. */
  private commitResolved(ls: LinkState, oif: Iface, ni: number, l3: number, ipLen: number,
    gsoType: number, gsoSize: number, csumStartL3: number, csumOffset: number): void {
    const ehl = oif.vlan >= 0 ? 18 : 14;
    const fo = l3 - ehl;
    const g = ls.gen;
    if (ni >= 0) writeEth(g, fo, oif.neighbors.mac, ni * 6, oif);
    else writeEth(g, fo, BROADCAST_MAC, 0, oif);
    if (ls.vnet) {
      const partial = csumStartL3 >= 0;
      writeVnet(g, fo - VNET_HDR_LEN, partial, gsoType, gsoSize, partial ? csumStartL3 + ehl : 0, csumOffset,
        fo, l3 + ((g[l3] & 15) << 2), g[l3 + 9]);
    } else if (csumStartL3 >= 0) {
      fillPartial(g, l3, ipLen, l3 + csumStartL3, csumOffset);
    }
    this.genCommit(ls, oif, fo, ehl + ipLen);
  }

  /** Reserve room for a datagram of ipLen bytes in the link's scratch slab; returns the L3
   *  offset or -1 when it can never fit. */
  private genReserve(ls: LinkState, ipLen: number): number {
    const need = GEN_HEAD + (ipLen < MIN_FRAME ? MIN_FRAME : ipLen);
    if (need > ls.gen.length) return -1;
    if (ls.genPos + need > ls.gen.length || ls.genCount === ls.genOff.length) this.flushGen(ls);
    return ls.genPos + GEN_HEAD;
  }

  private genCommit(ls: LinkState, oif: Iface, fo: number, flen: number): void {
    const g = ls.gen;
    while (flen < MIN_FRAME) g[fo + flen++] = 0;
    ls.genOff[ls.genCount] = fo;
    ls.genLen[ls.genCount] = flen;
    ls.genCount++;
    ls.genPos = (fo + flen + 7) & ~7;
    this.counters.add(oif.index, C_TX_PACKETS, 1);
    this.counters.add(oif.index, C_TX_BYTES, flen);
  }

  private flushFwd(ls: LinkState): void {
    const n = ls.fwdCount;
    if (n === 0) return;
    ls.fwdCount = 0;
    this.sent(ls, ls.link.send(ls.fwdBuf, ls.fwdOff, ls.fwdLen, n), n, ls.fwdLen);
  }

  private flushGen(ls: LinkState): void {
    const n = ls.genCount;
    ls.genCount = 0;
    ls.genPos = 0;
    if (n === 0) return;
    this.sent(ls, ls.link.send(ls.gen, ls.genOff, ls.genLen, n), n, ls.genLen);
  }

  private sent(ls: LinkState, done: number, n: number, lens: Int32Array): void {
    const c = this.counters;
    const b = ls.index * 5;
    if (!(done >= 0)) done = 0;
    let bytes = 0;
    for (let i = 0; i < done && i < n; i++) bytes += lens[i];
    c.link[b + 2] += done;
    c.link[b + 3] += bytes;
    if (done < n) {
      c.link[b + 4] += n - done;
      for (let i = done; i < n; i++) c.drop(-1, R.TX_FAILED);
    }
  }

  private flushAll(): void {
    const links = this.links;
    for (let i = 0; i < links.length; i++) {
      try {
        this.flushFwd(links[i]);
        this.flushGen(links[i]);
      } catch {
        links[i].fwdCount = 0; links[i].genCount = 0; links[i].genPos = 0;
        this.counters.drop(-1, R.TX_FAILED);
      }
    }
  }

  // ---- ARP -----------------------------------------------------------------------------------

  private arpIn(ifc: Iface, buf: Uint8Array, o: number, avail: number): void {
    const ifx = ifc.index;
    const a = this.rv.arp.reset(buf, o, avail);
    const r = a.check();
    if (r !== R.OK) return this.dropRx(ifx, r);
    const c = this.counters;
    const op = a.oper;
    if (op === ARP_REQUEST) c.add(ifx, C_ARP_REQUESTS_RX, 1);
    else if (op === ARP_REPLY) c.add(ifx, C_ARP_REPLIES_RX, 1);
    else return this.dropRx(ifx, R.ARP_UNSUPPORTED);
    if (ifc.address === 0) return this.dropRx(ifx, R.ARP_NOT_FOR_US);
    const spa = a.spa, tpa = a.tpa;
    const forUs = tpa === ifc.address;
    const nt = ifc.neighbors;
    let learned = false;
    if (spa !== 0 && spa !== ifc.address && (buf[a.shaOff] & 1) === 0 && spa !== 0xffffffff) {
      if (forUs || nt.find(spa) >= 0) {
        const ni = nt.learn(spa, buf, a.shaOff, this.now, this.arpTtlMs);
        if (ni >= 0) {
          learned = true;
          c.add(ifx, C_ARP_LEARNED, 1);
          if (nt.pendCount > 0) this.flushPending(ifc, spa, ni);
        }
      }
    }
    if (op === ARP_REQUEST && forUs) {
      this.sendArp(ifc, ARP_REPLY, buf, a.shaOff, buf, a.shaOff, spa);
      return this.delivered(ifx);
    }
    if (learned) return this.delivered(ifx);
    return this.dropRx(ifx, R.ARP_NOT_FOR_US);
  }

  /** Send an ARP packet from ifc: Ethernet destination dst[doff], target tha[toff]/tpa. */
  private sendArp(ifc: Iface, oper: number, dst: Uint8Array, doff: number, tha: Uint8Array, toff: number, tpa: number): void {
    const ls = this.links[ifc.link];
    const o = this.genReserve(ls, ARP_LEN);
    if (o < 0) return;
    emitArp(ls.gen, o, oper, ifc.mac, 0, ifc.address, tha, toff, tpa);
    const ehl = ifc.vlan >= 0 ? 18 : 14;
    const fo = o - ehl;
    writeEthType(ls.gen, fo, dst, doff, ifc, ETHERTYPE_ARP);
    if (ls.vnet) ls.gen.fill(0, fo - VNET_HDR_LEN, fo);
    this.genCommit(ls, ifc, fo, ehl + ARP_LEN);
    this.counters.add(ifc.index, oper === ARP_REQUEST ? C_ARP_REQUESTS_TX : C_ARP_REPLIES_TX, 1);
  }

  private queuePending(oif: Iface, nh: number, kind: number, src: Uint8Array, l3: number, ipLen: number,
    gsoType: number, gsoSize: number, csumStartL3: number, csumOffset: number): void {
    const ox = oif.index;
    const c = this.counters;
    if (oif.address === 0) return this.dropQueued(kind, ox, R.NO_ADDRESS);
    if (ipLen > PENDING_SLOT) return this.dropQueued(kind, ox, R.ARP_QUEUE_TOO_BIG);
    const nt = oif.neighbors;
    let ni = nt.find(nh);
    const fresh = ni < 0 || nt.state[ni] !== N_INCOMPLETE;
    if (fresh) {
      ni = nt.insert(nh, this.now);
      if (ni < 0) return this.dropQueued(kind, ox, R.NEIGHBOR_FULL);
      nt.state[ni] = N_INCOMPLETE;
      nt.retries[ni] = 0;
    }
    const q = nt.freeSlot();
    if (q >= 0) {
      // Copy before anything else is built in the scratch slab the datagram may live in.
      nt.enqueue(q, nh, kind, src, l3, ipLen, gsoType, gsoSize, csumStartL3, csumOffset);
      c.add(ox, C_ARP_QUEUED, 1);
      if (kind === KIND_FWD) c.fate[F_QUEUED]++;
    }
    if (fresh) {
      this.sendArp(oif, ARP_REQUEST, BROADCAST_MAC, 0, ZERO_MAC, 0, nh);
      if (this.wheel.schedule(this.kindArp, ox, nh, this.now + this.arpRetryMs) < 0) this.arpGiveUp(ox, nh, ni);
    }
    if (q < 0) this.dropQueued(kind, ox, R.ARP_QUEUE_FULL);
  }

  private dropQueued(kind: number, ox: number, reason: number): void {
    if (kind === KIND_FWD) this.dropRx(ox, reason); else this.counters.drop(ox, reason);
  }

  private flushPending(ifc: Iface, ip: number, ni: number): void {
    const nt = ifc.neighbors;
    const c = this.counters;
    for (let q = 0; q < nt.limit && nt.pendCount > 0; q++) {
      const kind = nt.pendKind[q];
      if (kind === 0 || nt.pendIp[q] !== ip) continue;
      const ok = this.emitCopy(ifc, ni, nt.pendBuf, q * PENDING_SLOT, nt.pendLen[q], nt.pendGsoType[q],
        nt.pendGsoSize[q], nt.pendCsumStart[q], nt.pendCsumOffset[q]);
      nt.release(q);
      if (kind === KIND_FWD) {
        c.fate[F_QUEUED]--;
        if (ok) { c.fate[F_FORWARDED]++; c.add(ifc.index, C_FORWARDED, 1); } else { c.fate[F_DROPPED]++; c.drop(ifc.index, R.TOO_BIG); }
      } else if (!ok) c.drop(ifc.index, R.TOO_BIG);
      if (ok) c.add(ifc.index, C_ARP_QUEUE_SENT, 1);
    }
  }

  private arpTimer(ifx: number, ip: number, now: number): void {
    const ifc = this.ifaces[ifx];
    const nt = ifc.neighbors;
    const ni = nt.find(ip);
    if (ni < 0 || nt.state[ni] !== N_INCOMPLETE) return;
    if (nt.retries[ni] + 1 < this.arpRetries && this.wheel.schedule(this.kindArp, ifx, ip, now + this.arpRetryMs) >= 0) {
      nt.retries[ni]++;
      this.sendArp(ifc, ARP_REQUEST, BROADCAST_MAC, 0, ZERO_MAC, 0, ip);
      return;
    }
    this.arpGiveUp(ifx, ip, ni);
  }

  /** Resolution failed: forget the entry and drop what waited for it. */
  private arpGiveUp(ifx: number, ip: number, ni: number): void {
    const nt = this.ifaces[ifx].neighbors;
    const c = this.counters;
    nt.fail(ni);
    c.add(ifx, C_ARP_TIMEOUTS, 1);
    for (let q = 0; q < nt.limit && nt.pendCount > 0; q++) {
      const kind = nt.pendKind[q];
      if (kind === 0 || nt.pendIp[q] !== ip) continue;
      nt.release(q);
      c.drop(ifx, R.ARP_TIMEOUT);
      if (kind === KIND_FWD) { c.fate[F_QUEUED]--; c.fate[F_DROPPED]++; }
    }
  }

  // ---- locally generated ---------------------------------------------------------------------

  private nextId(): number {
    this.ipId = (this.ipId + 1) & 0xffff;
    return this.ipId;
  }

  /** Pick egress Iface and next hop for the router's own traffic to daddr (sets rIf/rHop):
   *  the hint Iface when daddr is on its subnet, else the routing table, else any Iface whose
   *  subnet holds daddr, else the hint Iface's gateway. */
  private resolveLocal(daddr: number, hint: number): boolean {
    const ifs = this.ifaces;
    if (hint >= 0 && (ifs[hint].onLink(daddr) || daddr === 0xffffffff)) { this.rIf = hint; this.rHop = daddr; return true; }
    const ri = this.routes.lookup(daddr);
    if (ri >= 0) { this.rIf = this.routes.iface(ri); this.rHop = this.routes.nexthop(ri, daddr); return true; }
    for (let i = 0; i < ifs.length; i++) if (ifs[i].onLink(daddr)) { this.rIf = i; this.rHop = daddr; return true; }
    if (hint >= 0 && ifs[hint].gateway !== 0) { this.rIf = hint; this.rHop = ifs[hint].gateway; return true; }
    for (let i = 0; i < ifs.length; i++) if (ifs[i].gateway !== 0) { this.rIf = i; this.rHop = ifs[i].gateway; return true; }
    return false;
  }

  /** Run a datagram built at ls.gen[l3, +ipLen) through conn.local, output, postrouting,
   *  conn.finish and ARP. Returns 0 (sent or queued) or the drop reason. */
  private finishLocal(ls: LinkState, oif: Iface, nh: number, l3: number, ipLen: number): number {
    const g = this.g;
    const ox = oif.index;
    const c = this.counters;
    g.reset(ls.gen, ls.genDv, l3 - 14, ipLen + 14);
    let r = this.parseIp(g, ls.gen, l3, ipLen, this.gv);
    if (r !== R.OK) { c.drop(ox, r); return r; }
    g.local = true;
    g.outIf = ox;
    const hooks = this.hooks;
    const conn = hooks.conn;
    g.hook = HOOK_OUTPUT;
    r = R.OK;
    if (conn && conn.local(g) !== ACCEPT) r = R.CONN_TRACK;
    else if (hooks.ifaces[ox].output(g) !== ACCEPT) r = R.CHAIN_OUTPUT;
    else {
      g.hook = HOOK_POSTROUTING;
      if (hooks.ifaces[ox].postrouting(g) !== ACCEPT) r = R.CHAIN_POSTROUTING;
      else if (conn && conn.finish(g) !== ACCEPT) r = R.CONN_FINISH;
    }
    if (r !== R.OK) { c.drop(ox, r); return r; }
    c.add(ox, C_GENERATED, 1);
    const nt = oif.neighbors;
    const bcast = nh === 0xffffffff || (nh === oif.broadcast && nh !== 0);
    const ni = bcast ? -1 : nt.resolved(nh, this.now);
    if (ni < 0 && !bcast) {
      this.queuePending(oif, nh, KIND_LOCAL, ls.gen, l3, ipLen, 0, 0, -1, 0);
      return R.OK;
    }
    if (oif.sendQueueLimit > 0 && ++oif.txInBatch > oif.sendQueueLimit) { c.drop(ox, R.TX_QUEUE_FULL); return R.TX_QUEUE_FULL; }
    this.commitResolved(ls, oif, ni, l3, ipLen, 0, 0, -1, 0);
    return R.OK;
  }

  private echoReply(owner: Iface, p: Pkt): void {
    if (!this.echoBucket.take(this.now)) { this.counters.icmp[1]++; return; }
    if (!this.resolveLocal(p.saddr, owner.index)) { this.counters.drop(owner.index, R.NO_ROUTE); return; }
    const oif = this.ifaces[this.rIf];
    const ls = this.links[oif.link];
    const o = this.genReserve(ls, 20 + p.l4Len);
    if (o < 0) { this.counters.drop(owner.index, R.TOO_BIG); return; }
    const n = writeEchoReply(ls.gen, o, this.nextId(), owner.address, p.saddr, p.buf, p.l4, p.l4Len);
    if (this.finishLocal(ls, oif, this.rHop, o, n) === R.OK) this.counters.icmp[0]++;
  }

  /** ICMP error about the received datagram p (RFC 1812 rules, rate-limited). */
  private icmpError(p: Pkt, inIf: Iface, type: number, code: number, group: boolean): void {
    const buf = p.buf;
    const icmpType = p.proto === PROTO_ICMP && !p.frag && p.l4Len > 0 ? buf[p.l4] : -1;
    if (!mayReport(p.saddr, p.daddr, p.frag, icmpType, group)) return;
    if (!this.icmpBucket.take(this.now)) { this.counters.icmp[1]++; return; }
    if (!this.resolveLocal(p.saddr, inIf.index)) { this.counters.drop(inIf.index, R.NO_ROUTE); return; }
    const oif = this.ifaces[this.rIf];
    const src = oif.address !== 0 ? oif.address : inIf.address;
    if (src === 0) { this.counters.drop(oif.index, R.NO_ADDRESS); return; }
    const ls = this.links[oif.link];
    const hl = p.l4 - p.l3;
    const o = this.genReserve(ls, icmpErrorLen(hl, p.ipLen));
    if (o < 0) return;
    const n = writeIcmpError(ls.gen, o, this.nextId(), src, p.saddr, type, code, 0, buf, p.l3, hl, p.ipLen);
    if (this.finishLocal(ls, oif, this.rHop, o, n) === R.OK) this.counters.icmp[0]++;
  }
}

// ---- helpers (no state) ----------------------------------------------------------------------

function writeEth(buf: Uint8Array, fo: number, dst: Uint8Array, doff: number, oif: Iface): void {
  writeEthType(buf, fo, dst, doff, oif, ETHERTYPE_IPV4);
}

function writeEthType(buf: Uint8Array, fo: number, dst: Uint8Array, doff: number, oif: Iface, type: number): void {
  copyMac(dst, doff, buf, fo);
  copyMac(oif.mac, 0, buf, fo + 6);
  let o = fo + 12;
  if (oif.vlan >= 0) {
    buf[o] = 0x81; buf[o + 1] = 0x00; buf[o + 2] = oif.vlan >>> 8; buf[o + 3] = oif.vlan;
    o += 4;
  }
  buf[o] = type >>> 8; buf[o + 1] = type;
}

function readVnet(p: Pkt, buf: Uint8Array, h: number): void {
  const flags = buf[h];
  p.gsoType = buf[h + 1];
  p.gsoSize = buf[h + 4] | (buf[h + 5] << 8);
  if ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0) {
    p.csumPartial = true;
    p.csumStart = buf[h + 6] | (buf[h + 7] << 8);
    p.csumOffset = buf[h + 8] | (buf[h + 9] << 8);
  }
}

/** Fill a virtio_net_hdr at h for the frame starting at fo (csumStart relative to fo). */
function writeVnet(buf: Uint8Array, h: number, partial: boolean, gsoType: number, gsoSize: number,
  csumStart: number, csumOffset: number, fo: number, l4: number, proto: number): void {
  buf[h] = partial ? VIRTIO_NET_HDR_F_NEEDS_CSUM : 0;
  buf[h + 1] = gsoType;
  let hdrLen = 0;
  if (gsoType !== 0) hdrLen = l4 - fo + (proto === PROTO_TCP ? (buf[l4 + 12] >>> 4) << 2 : 8);
  buf[h + 2] = hdrLen; buf[h + 3] = hdrLen >>> 8;
  buf[h + 4] = gsoSize; buf[h + 5] = gsoSize >>> 8;
  buf[h + 6] = partial ? csumStart : 0; buf[h + 7] = partial ? csumStart >>> 8 : 0;
  buf[h + 8] = partial ? csumOffset : 0; buf[h + 9] = partial ? csumOffset >>> 8 : 0;
  buf[h + 10] = 0; buf[h + 11] = 0;
}

/** Finish an offloaded checksum in software: the field holds the pseudo-header sum; the
 *  checksum covers [start, end of datagram). */
function fillPartial(buf: Uint8Array, l3: number, ipLen: number, start: number, csumOffset: number): boolean {
  const end = l3 + ipLen;
  const field = start + csumOffset;
  if (start < l3 + 20 || field + 2 > end) return false;
  let c = ~sum16(buf, start, end - start) & 0xffff;
  if (c === 0 && buf[l3 + 9] === PROTO_UDP) c = 0xffff;
  buf[field] = c >>> 8; buf[field + 1] = c;
  return true;
}

function completeChecksum(p: Pkt): boolean {
  if (!fillPartial(p.buf, p.l3, p.ipLen, p.off + p.csumStart, p.csumOffset)) return false;
  p.csumPartial = false;
  return true;
}

