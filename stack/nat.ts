// NAT on top of conntrack: the ConnHooks the stack calls (track/local/finish) and the
// NatActions compiled Nat functions call (dnat/snat), plus masquerade port pools and the
// load balancer's full NAT. Create one NatEngine (and one Conntrack) for the router's lifetime
// and hand the same objects to every ruleset: all state survives a reload.
//
// Invariants:
//  * A connection's reply tuple is its NAT binding: DNAT when the reply source differs from the
//    original destination (F_DNAT), SNAT when the reply destination differs from the original
//    source (F_SNAT). Both tuples stay keys of the table, so replies are translated back
//    whichever Iface they arrive on or leave by.
//  * Destination rewrites happen at track()/local() (before routing; dnat() from a chain
//    rewrites at once), source rewrites at finish() (after the postrouting chain).
//  * Bindings are chosen only while a connection is unreplied, on original-direction packets;
//    later dnat()/snat() calls are ignored (counted).
//  * A port taken from a pool (masquerade, load balancer) is held by exactly one connection and
//    goes back to its pool when the connection is removed. Pool exhaustion and tuple clashes
//    fail closed: the packet is dropped, the half-made connection removed, the event counted.

import { ACCEPT, CT_INVALID, CT_RELATED, DROP, DIR_ORIGINAL, type ConnHooks, type NatActions, type Pkt } from './wire/pkt.js';
import { Conntrack, F_DNAT, F_NATFAIL, F_REPLIED, F_SNAT, F_CONFIRMED } from './conntrack.js';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from './wire/ipv4.js';
import { TCP_ACK, TCP_FIN, TCP_FLAGS, TCP_RST, TCP_SYN } from './wire/tcp.js';
import { isIcmpQueryPkt, rewriteDst, rewriteQuoted, rewriteSrc, setAddr } from './ct-rewrite.js';
import { IP_DADDR, IP_SADDR } from './wire/ipv4.js';
import { LoadBalancer } from './lb.js';

export interface NatIface {
  /** The Iface address (uint32), or null when it has none (yet). */
  address: number | null;
  masquerade: boolean;
}

export interface NatConfig {
  /** Indexed by Iface id. */
  ifaces: NatIface[];
  /** Masquerade keeps a flow's source port when the translated tuple is free (default true, as
   *  Linux does); false takes every masquerade port from the pool. */
  preservePorts?: boolean;
  /** Inclusive port range of masquerade / load-balancer pools (default 32768..60999). */
  portRange?: [number, number];
}

/** Counter indexes (NatEngine.counters). */
export const N_DNAT = 0;
export const N_SNAT = 1;
export const N_MASQ = 2;
export const N_POOL_EXHAUSTED = 3;
export const N_CLASH = 4;
export const N_IGNORED = 5;
export const N_FAIL_DROPS = 6;
export const N_LB_NEW = 7;
export const N_LB_REFUSED = 8;
export const N_ICMP_ERR_NAT = 9;
const N_COUNTERS = 10;

const PORT_PROBES = 256;
const POOL_RETRIES = 16;

/** A bounded FIFO of free ports (freed ports are reused last). */
export class PortPool {
  readonly lo: number;
  readonly size: number;
  private readonly ring: Uint16Array;
  private readonly taken: Uint8Array;
  private head = 0;
  count: number;

  constructor(lo: number, hi: number) {
    this.lo = lo;
    this.size = hi - lo + 1;
    this.ring = new Uint16Array(this.size);
    this.taken = new Uint8Array(this.size);
    for (let i = 0; i < this.size; i++) this.ring[i] = lo + i;
    for (let i = this.size - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      const t = this.ring[i]; this.ring[i] = this.ring[j]; this.ring[j] = t;
    }
    this.count = this.size;
  }

  /** A free port, or -1 when exhausted. */
  take(): number {
    if (this.count === 0) return -1;
    const port = this.ring[this.head];
    this.head = this.head + 1 === this.size ? 0 : this.head + 1;
    this.count--;
    this.taken[port - this.lo] = 1;
    return port;
  }

  put(port: number): void {
    const i = port - this.lo;
    if (i < 0 || i >= this.size || this.taken[i] === 0) return;
    this.taken[i] = 0;
    let tail = this.head + this.count;
    if (tail >= this.size) tail -= this.size;
    this.ring[tail] = port;
    this.count++;
  }

  isTaken(port: number): boolean {
    const i = port - this.lo;
    return i >= 0 && i < this.size && this.taken[i] === 1;
  }
}

function protoClass(pr: number): number {
  return pr === PROTO_TCP ? 0 : pr === PROTO_UDP ? 1 : 2;
}

export class NatEngine implements ConnHooks, NatActions {
  readonly ct: Conntrack;
  readonly counters = new Float64Array(N_COUNTERS);
  private ifAddr = new Float64Array(0);
  private ifMasq = new Uint8Array(0);
  private preservePorts = true;
  private portLo = 32768;
  private portHi = 60999;
  /** Pools by (iface id * 3 + protocol class), created on first use. */
  readonly pools: Array<PortPool | undefined> = [];
  /** Per connection: pool holding its port (-1 none), load-balancer ref (reg << 16 | node, -1 none). */
  private natPool = new Int32Array(0);
  private lbRef = new Int32Array(0);
  /** Every balancer ever registered (refs stay valid across reloads); `balancers` = active ones. */
  private readonly lbRegistry: LoadBalancer[] = [];
  private balancers: LoadBalancer[] = [];
  private balancerReg = new Int32Array(0);

  constructor(ct: Conntrack, cfg: NatConfig, balancers: LoadBalancer[] = []) {
    this.ct = ct;
    ct.onRemove = (c) => this.release(c);
    this.configure(cfg, balancers);
    this.sizeTo(ct.capacity);
  }

  /** Apply a (reloaded) configuration; pools, bindings and balancer sessions are kept. */
  configure(cfg: NatConfig, balancers: LoadBalancer[] = []): void {
    if (cfg.portRange) {
      const [lo, hi] = cfg.portRange;
      if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 1 && lo <= hi && hi <= 65535)) {
        throw new Error(`nat: invalid port range ${lo}..${hi}`);
      }
      if (lo !== this.portLo || hi !== this.portHi) {
        if (this.pools.some((p) => p !== undefined && p.count !== p.size)) {
          throw new Error('nat: port range cannot change while pool ports are in use');
        }
        this.pools.length = 0;
        this.portLo = lo;
        this.portHi = hi;
      }
    }
    const n = cfg.ifaces.length;
    this.ifAddr = new Float64Array(n).fill(-1);
    this.ifMasq = new Uint8Array(n);
    this.preservePorts = cfg.preservePorts ?? true;
    for (let i = 0; i < n; i++) {
      const a = cfg.ifaces[i].address;
      this.ifAddr[i] = a === null ? -1 : a >>> 0;
      this.ifMasq[i] = cfg.ifaces[i].masquerade ? 1 : 0;
    }
    this.balancers = balancers;
    this.balancerReg = new Int32Array(balancers.length);
    for (let i = 0; i < balancers.length; i++) {
      let r = this.lbRegistry.indexOf(balancers[i]);
      if (r < 0) r = this.lbRegistry.push(balancers[i]) - 1;
      this.balancerReg[i] = r;
    }
  }

  private sizeTo(cap: number): void {
    if (this.natPool.length >= cap) return;
    const a = new Int32Array(cap).fill(-1);
    a.set(this.natPool);
    this.natPool = a;
    const b = new Int32Array(cap).fill(-1);
    b.set(this.lbRef);
    this.lbRef = b;
  }

  pool(ifi: number, pr: number): PortPool {
    const k = ifi * 3 + protoClass(pr);
    let p = this.pools[k];
    if (p === undefined) {
      p = new PortPool(this.portLo, this.portHi);
      this.pools[k] = p;
    }
    return p;
  }

  private release(c: number): void {
    const k = this.natPool[c];
    if (k >= 0) {
      this.pools[k]?.put(this.ct.rDp(c));
      this.natPool[c] = -1;
    }
    const r = this.lbRef[c];
    if (r >= 0) {
      this.lbRegistry[r >>> 16].end(r & 0xffff);
      this.lbRef[c] = -1;
    }
  }

  /** The pool port a connection holds, or -1 (for tests and dumps). */
  poolPortOf(c: number): number {
    return this.natPool[c] >= 0 ? this.ct.rDp(c) : -1;
  }

  /** The balancer session a connection is (registry << 16 | node), or -1. */
  sessionOf(c: number): number {
    return c < this.lbRef.length ? this.lbRef[c] : -1;
  }

  /** Zero the counters (also the balancers'); call after the connections are gone
   *  (Conntrack.clear returns their pool ports). */
  clear(): void {
    this.counters.fill(0);
    for (const lb of this.lbRegistry) lb.resetCounters();
  }

  /** ConnHooks.balanced: the packet's connection is one the load balancer made. */
  balanced(p: Pkt): boolean {
    return p.conn >= 0 && p.conn < this.lbRef.length && this.lbRef[p.conn] >= 0;
  }

  /** Index into `pools` of the pool a connection holds a port of, or -1. */
  poolIndexOf(c: number): number {
    return c < this.natPool.length ? this.natPool[c] : -1;
  }

  // ---- ConnHooks --------------------------------------------------------------------------

  track(p: Pkt): number {
    return this.arrive(p, true);
  }

  local(p: Pkt): number {
    return this.arrive(p, false);
  }

  /** Classify; translate the destination of an existing connection (and quoted headers of
   *  related ICMP errors); a new TCP connection arriving from a link may be load-balanced. */
  private arrive(p: Pkt, fromLink: boolean): number {
    if (this.ct.classify(p) !== ACCEPT) return DROP;
    if (this.natPool.length < this.ct.capacity) this.sizeTo(this.ct.capacity);
    const c = p.conn;
    const f = this.ct.flags(c);
    if (p.ctState === CT_RELATED) {
      if ((f & (F_SNAT | F_DNAT)) !== 0) this.icmpErrorDst(p, c, f);
      return ACCEPT;
    }
    if (this.ct.created) {
      if (fromLink && this.balancers.length > 0 && p.proto === PROTO_TCP) return this.balance(p, c);
      return ACCEPT;
    }
    this.translateDst(p, c, f);
    return ACCEPT;
  }

  finish(p: Pkt): number {
    const c = p.conn;
    if (c < 0) return ACCEPT;
    const ct = this.ct;
    let f = ct.flags(c);
    if (p.ctState === CT_RELATED) {
      if ((f & (F_SNAT | F_DNAT)) !== 0) this.icmpErrorSrc(p, c, f);
      return ACCEPT;
    }
    if ((f & F_NATFAIL) !== 0) return this.failed(p, c);
    if (p.dir === DIR_ORIGINAL) {
      if ((f & (F_SNAT | F_REPLIED | F_CONFIRMED)) === 0 && p.outIf >= 0 && p.outIf < this.ifMasq.length && this.ifMasq[p.outIf] === 1) {
        if (!this.masquerade(p, c, p.outIf)) return this.failed(p, c);
        f = ct.flags(c);
      }
      if ((f & F_SNAT) !== 0) rewriteSrc(p, ct.rDst(c), ct.rDp(c));
    } else if ((f & F_DNAT) !== 0) {
      rewriteSrc(p, ct.oDst(c), ct.oDp(c));
    }
    if (this.lbRef[c] >= 0) this.countLb(c);
    ct.confirm(c);
    return ACCEPT;
  }

  /** Drop the packet that was creating connection c, count why, and forget the connection. */
  private failed(p: Pkt, c: number, counter = N_FAIL_DROPS): number {
    this.counters[counter]++;
    this.ct.remove(c);
    p.conn = -1;
    p.ctState = CT_INVALID;
    return DROP;
  }

  private countLb(c: number): void {
    const r = this.lbRef[c];
    this.lbRegistry[r >>> 16].nodePackets[r & 0xffff]++;
  }

  /** Destination translation an existing connection needs on arrival. */
  private translateDst(p: Pkt, c: number, f: number): void {
    const ct = this.ct;
    if (p.dir === DIR_ORIGINAL) {
      if ((f & F_DNAT) !== 0) rewriteDst(p, ct.rSrc(c), ct.rSp(c));
    } else if ((f & F_SNAT) !== 0) {
      rewriteDst(p, ct.oSrc(c), ct.oSp(c));
    }
  }

  // ---- ICMP errors about translated connections -------------------------------------------

  /** On arrival: the error's destination and the quoted packet's source. */
  private icmpErrorDst(p: Pkt, c: number, f: number): void {
    const ct = this.ct;
    this.counters[N_ICMP_ERR_NAT]++;
    if (p.dir === DIR_ORIGINAL) {
      if ((f & F_DNAT) === 0) return;
      if (p.daddr === ct.oDst(c)) setAddr(p, IP_DADDR, ct.rSrc(c));
      rewriteQuoted(p, IP_SADDR, ct.rSrc(c), ct.rSp(c));
    } else {
      if ((f & F_SNAT) === 0) return;
      if (p.daddr === ct.rDst(c)) setAddr(p, IP_DADDR, ct.oSrc(c));
      rewriteQuoted(p, IP_SADDR, ct.oSrc(c), ct.oSp(c));
    }
  }

  /** On departure: the error's source (when the peer itself sent it) and the quoted destination. */
  private icmpErrorSrc(p: Pkt, c: number, f: number): void {
    const ct = this.ct;
    if (p.dir === DIR_ORIGINAL) {
      if ((f & F_SNAT) === 0) return;
      if (p.saddr === ct.oSrc(c)) setAddr(p, IP_SADDR, ct.rDst(c));
      rewriteQuoted(p, IP_DADDR, ct.rDst(c), ct.rDp(c));
    } else {
      if ((f & F_DNAT) === 0) return;
      if (p.saddr === ct.rSrc(c)) setAddr(p, IP_SADDR, ct.oDst(c));
      rewriteQuoted(p, IP_DADDR, ct.oDst(c), ct.oDp(c));
    }
  }

  // ---- NatActions -------------------------------------------------------------------------

  private bindable(p: Pkt): boolean {
    const c = p.conn;
    if (c < 0 || p.dir !== DIR_ORIGINAL || p.ctState === CT_RELATED || (this.ct.flags(c) & F_REPLIED) !== 0) {
      this.counters[N_IGNORED]++;
      return false;
    }
    return true;
  }

  private hasPorts(c: number): boolean {
    const pr = this.ct.proto(c);
    return pr === PROTO_TCP || pr === PROTO_UDP;
  }

  dnat(p: Pkt, addr: number, port: number): void {
    if (!this.bindable(p)) return;
    const ct = this.ct;
    const c = p.conn;
    const na = addr >= 0 ? addr >>> 0 : ct.rSrc(c);
    const np = port >= 0 && this.hasPorts(c) ? port : ct.rSp(c);
    if (!ct.setReply(c, na, ct.rDst(c), np, ct.rDp(c))) {
      this.counters[N_CLASH]++;
      ct.setFlags(c, F_NATFAIL);
      return;
    }
    if (na !== ct.oDst(c) || np !== ct.oDp(c)) ct.setFlags(c, F_DNAT);
    else ct.clearFlags(c, F_DNAT);
    this.counters[N_DNAT]++;
    rewriteDst(p, na, np);
  }

  snat(p: Pkt, addr: number, port: number): void {
    if (!this.bindable(p)) return;
    const ct = this.ct;
    const c = p.conn;
    const pr = ct.proto(c);
    const k = this.natPool[c];
    if (k >= 0) {
      this.pools[k]?.put(ct.rDp(c));
      this.natPool[c] = -1;
    }
    const na = addr >= 0 ? addr >>> 0 : ct.rDst(c);
    let ok: boolean;
    if (port >= 0 && this.hasPorts(c)) {
      ok = ct.setReply(c, ct.rSrc(c), na, ct.rSp(c), port);
    } else {
      ok = this.bindSource(c, na, ct.oSp(c), pr === PROTO_ICMP && isIcmpQueryPkt(p));
    }
    if (!ok) {
      this.counters[N_CLASH]++;
      ct.setFlags(c, F_NATFAIL);
      return;
    }
    if (ct.rDst(c) !== ct.oSrc(c) || ct.rDp(c) !== ct.oSp(c)) ct.setFlags(c, F_SNAT);
    else ct.clearFlags(c, F_SNAT);
    this.counters[N_SNAT]++;
  }

  /** Source binding to `addr`, keeping `port` unless the reply tuple clashes, then probing for
   *  a free one (ports 1024..65535). For echo, the id is both reply ports. */
  private bindSource(c: number, addr: number, port: number, echo: boolean): boolean {
    const ct = this.ct;
    const rs = ct.rSrc(c), rsp = ct.rSp(c);
    if (echo ? ct.setReply(c, rs, addr, port, port) : ct.setReply(c, rs, addr, rsp, port)) return true;
    if (!echo && !this.hasPorts(c)) return false;
    let cand = 1024 + ((Math.imul(c + 1, 0x9e3779b1) >>> 0) % 64512);
    for (let i = 0; i < PORT_PROBES; i++) {
      cand = cand === 65535 ? 1024 : cand + 1;
      if (echo ? ct.setReply(c, rs, addr, cand, cand) : ct.setReply(c, rs, addr, rsp, cand)) return true;
    }
    return false;
  }

  /** Masquerade: source to the Iface address, keeping the port when it is free, else a pool port. */
  private masquerade(p: Pkt, c: number, ifi: number): boolean {
    const ct = this.ct;
    const a = this.ifAddr[ifi];
    if (a < 0 || p.saddr === a) return true;
    const addr = a >>> 0;
    const echo = isIcmpQueryPkt(p);
    if (!this.hasPorts(c) && !echo) {
      if (!ct.setReply(c, ct.rSrc(c), addr, ct.rSp(c), ct.rDp(c))) { this.counters[N_CLASH]++; return false; }
      ct.setFlags(c, F_SNAT);
      this.counters[N_MASQ]++;
      return true;
    }
    // Keep the source port (echo id) when the translated tuple is free, as Linux does: then the
    // pool only serves clashes, and one Iface carries far more flows than the pool holds.
    const rs = ct.rSrc(c), rsp = ct.rSp(c), sp = ct.oSp(c);
    if (this.preservePorts && (echo ? ct.setReply(c, rs, addr, sp, sp) : ct.setReply(c, rs, addr, rsp, sp))) {
      ct.setFlags(c, F_SNAT);
      this.counters[N_MASQ]++;
      return true;
    }
    if (!this.bindPoolPort(c, ifi, addr, rs, rsp, echo)) return false;
    this.counters[N_MASQ]++;
    return true;
  }

  /** Take a port from ifi's pool so that reply tuple (rs, addr, rsp, port) is free. */
  private bindPoolPort(c: number, ifi: number, addr: number, rs: number, rsp: number, echo: boolean): boolean {
    const ct = this.ct;
    const pool = this.pool(ifi, ct.proto(c));
    for (let i = 0; i < POOL_RETRIES; i++) {
      const port = pool.take();
      if (port < 0) { this.counters[N_POOL_EXHAUSTED]++; return false; }
      if (echo ? ct.setReply(c, rs, addr, port, port) : ct.setReply(c, rs, addr, rsp, port)) {
        this.natPool[c] = ifi * 3 + protoClass(ct.proto(c));
        ct.setFlags(c, F_SNAT);
        return true;
      }
      pool.put(port);
    }
    this.counters[N_CLASH]++;
    return false;
  }

  // ---- load balancer ----------------------------------------------------------------------

  private balance(p: Pkt, c: number): number {
    const fl = p.buf[p.l4 + TCP_FLAGS];
    if ((fl & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) !== TCP_SYN) return ACCEPT;
    const bs = this.balancers;
    for (let i = 0; i < bs.length; i++) {
      const lb = bs[i];
      if (!lb.matches(p.inIf, p.daddr, p.dport)) continue;
      const ct = this.ct;
      const node = lb.pick();
      if (node < 0) return this.failed(p, c, N_LB_REFUSED);
      const sa = lb.serversIf >= 0 && lb.serversIf < this.ifAddr.length ? this.ifAddr[lb.serversIf] : -1;
      const na = lb.nodeAddr[node], np = lb.nodePort[node];
      if (sa < 0) { lb.noAddress++; return this.failed(p, c, N_LB_REFUSED); }
      // DNAT to the node first (reply source), then a servers-Iface pool port as reply destination.
      if (!ct.setReply(c, na, ct.rDst(c), np, ct.rDp(c)) || !this.bindPoolPort(c, lb.serversIf, sa >>> 0, na, np, false)) {
        lb.noAddress++;
        return this.failed(p, c, N_LB_REFUSED);
      }
      ct.setFlags(c, F_DNAT | F_SNAT);
      this.lbRef[c] = (this.balancerReg[i] << 16) | node;
      lb.begin(node);
      this.counters[N_LB_NEW]++;
      rewriteDst(p, na, np);
      return ACCEPT;
    }
    return ACCEPT;
  }

  stats(): { dnat: number; snat: number; masquerade: number; poolExhausted: number; clashes: number; ignored: number; failDrops: number; lbNew: number; lbRefused: number; icmpErrors: number; pools: Array<{ iface: number; proto: string; free: number; size: number }> } {
    const k = this.counters;
    const pools = [];
    for (let i = 0; i < this.pools.length; i++) {
      const p = this.pools[i];
      if (p !== undefined) pools.push({ iface: Math.floor(i / 3), proto: ['tcp', 'udp', 'icmp'][i % 3], free: p.count, size: p.size });
    }
    return {
      dnat: k[N_DNAT], snat: k[N_SNAT], masquerade: k[N_MASQ], poolExhausted: k[N_POOL_EXHAUSTED], clashes: k[N_CLASH],
      ignored: k[N_IGNORED], failDrops: k[N_FAIL_DROPS], lbNew: k[N_LB_NEW], lbRefused: k[N_LB_REFUSED], icmpErrors: k[N_ICMP_ERR_NAT], pools,
    };
  }

  /** The active balancers (pass them to balancersFromModel() on reload to keep their sessions). */
  activeBalancers(): readonly LoadBalancer[] {
    return this.balancers;
  }

  /** Balancer stats (active ones). */
  lbStats(): ReturnType<LoadBalancer['stats']>[] {
    return this.balancers.map((b) => b.stats());
  }
}
