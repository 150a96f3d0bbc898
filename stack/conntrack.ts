// Connection tracking: one table of connections in typed arrays, shared by every Iface and
// kept across ruleset swaps (create it once, hand it to each new ruleset).
//
// Invariants:
//  * A connection c (slot index) is one 32-byte record and stores its original tuple (the first packet as it arrived,
//    before any NAT) and its reply tuple (a reply as it arrives, i.e. after NAT of the original
//    direction). Both tuples are keys of one open-addressing index (linear probing,
//    backward-shift deletion, no tombstones); bucket value = (c << 1 | dir) + 1, 0 = empty.
//    Every live connection is findable from both directions at all times.
//  * TCP/UDP tuples are 5-tuples; ICMP echo uses the identifier as both ports; every other
//    protocol (and other ICMP) uses ports 0, i.e. (saddr, daddr, protocol).
//  * `limit` counts connections (one slot each). Full, malformed, (with stateful_tcp)
//    out-of-state packets, and new packets whose reply tuple is already another connection's
//    key are invalid: track() drops and counts them; nothing passes untracked.
//  * Expiry runs on a 1-second timer wheel advanced by tick(nowMs); a packet only stores its new
//    deadline (the wheel re-files the connection lazily), unless the deadline moved earlier.
//    The wheel slot's deadline (linkedExp) is never later than the stored deadline.
//  * The stack's ICMP errors about the packet being processed (Time Exceeded, ...) are related
//    to that packet's connection even when it is half translated (see related()).
//  * Nothing allocates per packet; the arrays grow by doubling up to the cap (reserve pre-sizes).
//  * The router does not reassemble forwarded datagrams: a first fragment (offset 0, MF) is
//    tracked normally and recorded in a small direct-mapped map (source, destination, id,
//    protocol); later fragments take its connection (NAT rewrites their addresses only).
//    A fragment with no recorded first fragment is invalid.

import { ICMP_ECHO_REPLY, ICMP_HEADER_LEN, ICMP_ID, ICMP_QUOTE_PAYLOAD, ICMP_TYPE, isIcmpError, isIcmpQuery } from './wire/icmp.js';
import { formatIpv4, IP_DADDR, IP_FLAG_MF, IP_FRAG, IP_ID, IP_MIN_HEADER_LEN, IP_PROTO, IP_SADDR, IP_VER_IHL, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from './wire/ipv4.js';
import { ACCEPT, CT_ESTABLISHED, CT_INVALID, CT_NEW, CT_RELATED, DROP, DIR_ORIGINAL, DIR_REPLY, type ConnHooks, type Pkt } from './wire/pkt.js';
import { TCP_ACK, TCP_DOFF, TCP_FIN, TCP_FLAGS, TCP_MIN_HEADER_LEN, TCP_RST, TCP_SYN } from './wire/tcp.js';
import { L4_DPORT, L4_SPORT, UDP_HEADER_LEN, UDP_LEN } from './wire/udp.js';
import { rd16, rd32 } from './wire/view.js';

/** TCP tracker states (stateful_tcp). */
export const TCP_NONE = 0;
export const TCP_SYN_SENT = 1;
export const TCP_SYN_RECV = 2;
export const TCP_ESTABLISHED = 3;
export const TCP_FIN_WAIT = 4;
export const TCP_LAST_ACK = 5;
export const TCP_TIME_WAIT = 6;
export const TCP_CLOSE = 7;
export const TCP_STATE_NAMES = ['none', 'syn_sent', 'syn_recv', 'established', 'fin_wait', 'last_ack', 'time_wait', 'close'];

/** Connection flag bits (Conntrack.flags). */
export const F_CONFIRMED = 1;
export const F_REPLIED = 2;
export const F_SNAT = 4;
export const F_DNAT = 8;
/** NAT could not be set up (tuple clash, pool exhausted): finish() drops its packets. */
export const F_NATFAIL = 16;
/** FIN seen in the original / reply direction. */
export const F_FIN0 = 32;
export const F_FIN1 = 64;

/** Counter indexes (Conntrack.counters). */
export const C_INSERTS = 0;
export const C_DROPS_FULL = 1;
export const C_EXPIRIES = 2;
export const C_INVALID = 3;
export const C_INVALID_MALFORMED = 4;
export const C_INVALID_TCP_STATE = 5;
export const C_INVALID_UNRELATED_ICMP = 6;
export const C_INVALID_FRAGMENT = 7;
export const C_RELATED = 8;
export const C_LOOKUPS = 9;
export const C_FOUND = 10;
export const C_REMOVED = 11;
export const C_INVALID_CLASH = 12;
const N_COUNTERS = 13;

/** Seconds per protocol. */
export interface CtTimeouts { tcp: number; udp: number; icmp: number }

export interface ConntrackConfig {
  /** Max connections; 0 = unlimited (the built-in cap still applies). */
  limit: number;
  /** Connections to pre-size for. */
  reserve: number;
  statefulTcp: boolean;
  /** Seconds per state and protocol. */
  timeout: { unconfirmed: CtTimeouts; confirmed: CtTimeouts; established: CtTimeouts };
}

export const DEFAULT_TIMEOUTS: ConntrackConfig['timeout'] = {
  unconfirmed: { tcp: 10, udp: 10, icmp: 10 },
  confirmed: { tcp: 30, udp: 10, icmp: 10 },
  established: { tcp: 300, udp: 10, icmp: 10 },
};

export interface ConntrackOptions {
  /** Cap used when limit is 0 (default 1 << 20). */
  builtinCap?: number;
  /** Clock origin in ms, on the clock tick() is given (default Date.now()). */
  nowMs?: number;
  /** Rate-limited (1/s) operational messages, e.g. "table full". */
  log?: (message: string) => void;
  /** Hash seed (default random). */
  seed?: number;
}

export interface ConnDumpTuple { src: string; dst: string; sport: number; dport: number }
export interface ConnDump {
  id: number;
  proto: number;
  state: 'new' | 'established';
  tcpState: string | null;
  confirmed: boolean;
  snat: boolean;
  dnat: boolean;
  original: ConnDumpTuple;
  reply: ConnDumpTuple;
  expiresInS: number;
}

// The connection record: REC u32 words per connection in one typed array (32 bytes, one cache
// line on a hit). A tuple is TUPLE words: source, destination, sport << 16 | dport; the reply
// tuple follows the original one, so the tuple of direction d starts at d * TUPLE.
const T_SRC = 0;
const T_DST = 1;
const T_PORTS = 2;
const TUPLE = 3;
/** Original tuple (the first packet as it arrived, before NAT) and reply tuple. */
const REC_ORIG = DIR_ORIGINAL * TUPLE;
const REC_REPLY = DIR_REPLY * TUPLE;
/** protocol | flags << META_FLAGS | TCP tracker state << META_TCP. */
const REC_META = 6;
const META_FLAGS = 8;
const META_TCP = 16;
/** Deadline in wheel seconds. */
const REC_DEADLINE = 7;
const REC = 8;

// Timeouts (seconds): TMO_CLASSES per state row, rows unconfirmed, confirmed, established.
const TMO_TCP = 0;
const TMO_UDP = 1;
const TMO_OTHER = 2;
const TMO_CLASSES = 3;
const TMO_UNCONFIRMED = 0;
const TMO_CONFIRMED = 1 * TMO_CLASSES;
const TMO_ESTABLISHED = 2 * TMO_CLASSES;

const WHEEL = 1024;
const FRAG_SLOTS = 4096;
const FRAG_MASK = FRAG_SLOTS - 1;
/** Seconds a first fragment vouches for the rest of its datagram. */
const FRAG_TTL = 30;
const WHEEL_MASK = WHEEL - 1;

function pow2AtLeast(n: number): number {
  let p = 16;
  while (p < n) p *= 2;
  return p;
}

export class Conntrack implements ConnHooks {
  /** The connection records (layout above); reallocated on growth. */
  private tab = new Uint32Array(0);
  /** The deadline the wheel slot was chosen for. */
  private linkedExp = new Uint32Array(0);
  private wNext = new Int32Array(0);
  private wPrev = new Int32Array(0);
  /** 1 = slot in use. */
  live = new Uint8Array(0);
  private free = new Int32Array(0);
  private freeTop = 0;

  private index = new Int32Array(0);
  // Fragment map (direct-mapped, overwritten on collision): first fragment key -> connection.
  private readonly fSrc = new Uint32Array(FRAG_SLOTS);
  private readonly fDst = new Uint32Array(FRAG_SLOTS);
  private readonly fIdProto = new Uint32Array(FRAG_SLOTS);
  private readonly fConn = new Int32Array(FRAG_SLOTS);
  private readonly fStamp = new Uint32Array(FRAG_SLOTS);
  private mask = 0;
  private wheelHead = new Int32Array(WHEEL).fill(-1);

  capacity = 0;
  /** Live connections. */
  entries = 0;
  readonly counters = new Float64Array(N_COUNTERS);

  limit = 0;
  statefulTcp = false;
  private maxCap: number;
  private readonly builtinCap: number;
  /** Timeouts (seconds), TMO_* layout. */
  private readonly tmo = new Uint32Array(3 * TMO_CLASSES);

  private epochMs: number;
  /** Current time in wheel seconds. */
  now = 0;
  private wheelSec = 0;
  private readonly seed: number;
  private readonly log: ((m: string) => void) | null;
  private lastFullLog = -1;
  private fullSuppressed = 0;

  /** The last received packet classify() accepted (the stack's reusable descriptor): an ICMP
   *  error the router generates about it is related to its connection. */
  private lastPkt: Pkt | null = null;
  /** Set by classify(): the connection was created by this packet. */
  created = false;
  /** Called just before a connection is removed (expiry or remove()). */
  onRemove: ((c: number) => void) | null = null;

  constructor(cfg: Partial<ConntrackConfig> = {}, opts: ConntrackOptions = {}) {
    this.builtinCap = opts.builtinCap ?? 1 << 20;
    this.epochMs = opts.nowMs ?? Date.now();
    // int32, never a heap number: every instance keeps the same field representation, so code
    // optimized for one (the warm-up router) stays valid for the next.
    this.seed = (opts.seed ?? (Math.random() * 0x100000000)) | 0;
    this.log = opts.log ?? null;
    this.maxCap = this.builtinCap;
    this.configure(cfg);
    this.grow(Math.max(1024, Math.min(cfg.reserve ?? 0, this.maxCap)));
  }

  // ---- record accessors ----------------------------------------------------------------

  oSrc(c: number): number { return this.tab[c * REC + REC_ORIG + T_SRC]; }
  oDst(c: number): number { return this.tab[c * REC + REC_ORIG + T_DST]; }
  oSp(c: number): number { return this.tab[c * REC + REC_ORIG + T_PORTS] >>> 16; }
  oDp(c: number): number { return this.tab[c * REC + REC_ORIG + T_PORTS] & 0xffff; }
  rSrc(c: number): number { return this.tab[c * REC + REC_REPLY + T_SRC]; }
  rDst(c: number): number { return this.tab[c * REC + REC_REPLY + T_DST]; }
  rSp(c: number): number { return this.tab[c * REC + REC_REPLY + T_PORTS] >>> 16; }
  rDp(c: number): number { return this.tab[c * REC + REC_REPLY + T_PORTS] & 0xffff; }
  proto(c: number): number { return this.tab[c * REC + REC_META] & 0xff; }
  flags(c: number): number { return (this.tab[c * REC + REC_META] >>> META_FLAGS) & 0xff; }
  setFlags(c: number, bits: number): void { this.tab[c * REC + REC_META] |= bits << META_FLAGS; }
  clearFlags(c: number, bits: number): void { this.tab[c * REC + REC_META] &= ~(bits << META_FLAGS); }
  tcpState(c: number): number { return (this.tab[c * REC + REC_META] >>> META_TCP) & 0xff; }
  setTcpState(c: number, st: number): void {
    const i = c * REC + REC_META;
    this.tab[i] = (this.tab[i] & ~(0xff << META_TCP)) | (st << META_TCP);
  }
  /** Deadline in wheel seconds (compare with `now`). */
  expiry(c: number): number { return this.tab[c * REC + REC_DEADLINE]; }

  /** Apply (new) settings; keeps every entry (reload). */
  configure(cfg: Partial<ConntrackConfig>): void {
    this.limit = cfg.limit ?? 0;
    this.statefulTcp = cfg.statefulTcp ?? false;
    this.maxCap = this.limit > 0 ? this.limit : this.builtinCap;
    const t = cfg.timeout ?? DEFAULT_TIMEOUTS;
    const rows: Array<[number, CtTimeouts]> = [[TMO_UNCONFIRMED, t.unconfirmed], [TMO_CONFIRMED, t.confirmed], [TMO_ESTABLISHED, t.established]];
    for (const [row, v] of rows) {
      this.tmo[row + TMO_TCP] = Math.max(1, v.tcp);
      this.tmo[row + TMO_UDP] = Math.max(1, v.udp);
      this.tmo[row + TMO_OTHER] = Math.max(1, v.icmp);
    }
    if ((cfg.reserve ?? 0) > this.capacity) this.grow(Math.min(cfg.reserve ?? 0, this.maxCap));
  }

  // ---- table ----------------------------------------------------------------------------

  private grow(newCap: number): void {
    const old = this.capacity;
    if (newCap <= old) return;
    const cp32 = (a: Uint32Array) => { const n = new Uint32Array(newCap); n.set(a); return n; };
    const cp8 = (a: Uint8Array) => { const n = new Uint8Array(newCap); n.set(a); return n; };
    const cpi = (a: Int32Array) => { const n = new Int32Array(newCap); n.set(a); return n; };
    const tab = new Uint32Array(newCap * REC);
    tab.set(this.tab);
    this.tab = tab;
    this.linkedExp = cp32(this.linkedExp);
    this.wNext = cpi(this.wNext); this.wPrev = cpi(this.wPrev);
    this.live = cp8(this.live);
    const free = new Int32Array(newCap);
    free.set(this.free.subarray(0, this.freeTop));
    let top = this.freeTop;
    for (let c = newCap - 1; c >= old; c--) free[top++] = c;
    this.free = free;
    this.freeTop = top;
    this.capacity = newCap;
    const size = pow2AtLeast(newCap * 4);
    this.index = new Int32Array(size);
    this.mask = size - 1;
    for (let c = 0; c < old; c++) {
      if (!this.live[c]) continue;
      this.indexInsert(c, DIR_ORIGINAL);
      this.indexInsert(c, DIR_REPLY);
    }
  }

  private hash(s: number, d: number, sp: number, dp: number, pr: number): number {
    let h = Math.imul(s ^ this.seed, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ d, 0x85ebca77);
    h = Math.imul(h ^ (h >>> 13) ^ ((sp << 16) | dp), 0xc2b2ae3d);
    h = Math.imul(h ^ (h >>> 16) ^ pr, 0x27d4eb2f);
    return (h ^ (h >>> 15)) >>> 0;
  }

  private keyHash(c: number, dir: number): number {
    const t = this.tab;
    const b = c * REC + dir * TUPLE;
    const ports = t[b + T_PORTS];
    return this.hash(t[b + T_SRC], t[b + T_DST], ports >>> 16, ports & 0xffff, t[c * REC + REC_META] & 0xff);
  }

  private indexInsert(c: number, dir: number): void {
    const idx = this.index, m = this.mask;
    let i = this.keyHash(c, dir) & m;
    while (idx[i] !== 0) i = (i + 1) & m;
    idx[i] = ((c << 1) | dir) + 1;
  }

  private indexRemove(c: number, dir: number): void {
    const idx = this.index, m = this.mask;
    const want = ((c << 1) | dir) + 1;
    let i = this.keyHash(c, dir) & m;
    while (idx[i] !== want) {
      if (idx[i] === 0) return;
      i = (i + 1) & m;
    }
    // Backward-shift deletion: pull later members of the probe run into the hole.
    let hole = i;
    let j = (i + 1) & m;
    while (idx[j] !== 0) {
      const v = idx[j] - 1;
      const home = this.keyHash(v >>> 1, v & 1) & m;
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (!inRange) {
        idx[hole] = idx[j];
        hole = j;
      }
      j = (j + 1) & m;
    }
    idx[hole] = 0;
  }

  /** (c << 1 | dir) of the connection that has this tuple as a key, or -1. */
  find(s: number, d: number, sp: number, dp: number, pr: number): number {
    const idx = this.index, m = this.mask, t = this.tab;
    const ports = ((sp << 16) | dp) >>> 0;
    let i = this.hash(s, d, sp, dp, pr) & m;
    for (;;) {
      const e = idx[i];
      if (e === 0) return -1;
      const v = e - 1;
      const r = (v >>> 1) * REC;
      const b = r + (v & 1) * TUPLE;
      if (t[b + T_SRC] === s && t[b + T_DST] === d && t[b + T_PORTS] === ports && (t[r + REC_META] & 0xff) === pr) return v;
      i = (i + 1) & m;
    }
  }

  /** Create a connection from an original tuple (reply = its inverse). -1 when full.
   *  The caller makes sure neither tuple is a key yet. */
  insert(s: number, d: number, sp: number, dp: number, pr: number): number {
    if (this.entries >= this.maxCap) return -1;
    if (this.freeTop === 0) this.grow(Math.min(this.capacity * 2, this.maxCap));
    if (this.freeTop === 0) return -1;
    const c = this.free[--this.freeTop];
    const t = this.tab;
    const r = c * REC;
    const ports = ((sp << 16) | dp) >>> 0;
    t[r + REC_ORIG + T_SRC] = s; t[r + REC_ORIG + T_DST] = d; t[r + REC_ORIG + T_PORTS] = ports;
    t[r + REC_REPLY + T_SRC] = d; t[r + REC_REPLY + T_DST] = s; t[r + REC_REPLY + T_PORTS] = ((dp << 16) | sp) >>> 0;
    t[r + REC_META] = pr;
    this.live[c] = 1;
    this.indexInsert(c, DIR_ORIGINAL);
    this.indexInsert(c, DIR_REPLY);
    const exp = this.now + this.timeoutOf(c);
    t[r + REC_DEADLINE] = exp;
    this.link(c, exp);
    this.entries++;
    this.counters[C_INSERTS]++;
    return c;
  }

  /** Replace the reply tuple (NAT). False (and unchanged) when another connection owns it. */
  setReply(c: number, s: number, d: number, sp: number, dp: number): boolean {
    const t = this.tab;
    const b = c * REC + REC_REPLY;
    const ports = ((sp << 16) | dp) >>> 0;
    if (t[b + T_SRC] === s && t[b + T_DST] === d && t[b + T_PORTS] === ports) return true;
    if (this.find(s, d, sp, dp, t[c * REC + REC_META] & 0xff) >= 0) return false;
    this.indexRemove(c, DIR_REPLY);
    t[b + T_SRC] = s; t[b + T_DST] = d; t[b + T_PORTS] = ports;
    this.indexInsert(c, DIR_REPLY);
    return true;
  }

  remove(c: number): void {
    if (!this.live[c]) return;
    if (this.onRemove !== null) this.onRemove(c);
    this.indexRemove(c, DIR_ORIGINAL);
    this.indexRemove(c, DIR_REPLY);
    this.unlink(c);
    this.live[c] = 0;
    this.free[this.freeTop++] = c;
    this.entries--;
    this.counters[C_REMOVED]++;
  }

  // ---- timers ---------------------------------------------------------------------------

  private link(c: number, exp: number): void {
    const slot = exp & WHEEL_MASK;
    const h = this.wheelHead[slot];
    this.wPrev[c] = -1;
    this.wNext[c] = h;
    if (h >= 0) this.wPrev[h] = c;
    this.wheelHead[slot] = c;
    this.linkedExp[c] = exp;
  }

  private unlink(c: number): void {
    const p = this.wPrev[c], n = this.wNext[c];
    if (p >= 0) this.wNext[p] = n;
    else this.wheelHead[this.linkedExp[c] & WHEEL_MASK] = n;
    if (n >= 0) this.wPrev[n] = p;
  }

  /** Timeout (s) for the connection's current state. */
  timeoutOf(c: number): number {
    const pr = this.proto(c);
    const cls = pr === PROTO_TCP ? TMO_TCP : pr === PROTO_UDP ? TMO_UDP : TMO_OTHER;
    const f = this.flags(c);
    if (pr === PROTO_TCP && this.statefulTcp) {
      const st = this.tcpState(c);
      if (st === TCP_ESTABLISHED) return this.tmo[TMO_ESTABLISHED + TMO_TCP];
      if (st === TCP_CLOSE || st === TCP_TIME_WAIT) return this.tmo[TMO_UNCONFIRMED + TMO_TCP];
      return this.tmo[((f & (F_CONFIRMED | F_REPLIED)) !== 0 ? TMO_CONFIRMED : TMO_UNCONFIRMED) + TMO_TCP];
    }
    if ((f & F_REPLIED) !== 0) return this.tmo[TMO_ESTABLISHED + cls];
    if ((f & F_CONFIRMED) !== 0) return this.tmo[TMO_CONFIRMED + cls];
    return this.tmo[TMO_UNCONFIRMED + cls];
  }

  /** Refresh the deadline after a packet or a state change. */
  touch(c: number): void {
    const exp = this.now + this.timeoutOf(c);
    const at = c * REC + REC_DEADLINE;
    // linkedExp <= the stored deadline always holds, so only an earlier deadline needs a look.
    const prev = this.tab[at];
    this.tab[at] = exp;
    if (exp < prev && exp < this.linkedExp[c]) {
      this.unlink(c);
      this.link(c, exp);
    }
  }

  /** Advance the clock; expires connections whose deadline has passed. */
  tick(nowMs: number): void {
    const sec = Math.floor((nowMs - this.epochMs) / 1000);
    if (sec <= this.now) return;
    this.now = sec;
    let from = this.wheelSec + 1;
    if (sec - this.wheelSec >= WHEEL) from = sec - WHEEL + 1;
    for (let t = from; t <= sec; t++) {
      const slot = t & WHEEL_MASK;
      let c = this.wheelHead[slot];
      while (c >= 0) {
        const next = this.wNext[c];
        const exp = this.expiry(c);
        if (exp <= sec) {
          this.counters[C_EXPIRIES]++;
          this.remove(c);
        } else if ((exp & WHEEL_MASK) !== slot) {
          this.unlink(c);
          this.link(c, exp);
        } else {
          this.linkedExp[c] = exp;
        }
        c = next;
      }
    }
    this.wheelSec = sec;
  }

  // ---- packets --------------------------------------------------------------------------

  private invalid(p: Pkt, reason: number): number {
    p.ctState = CT_INVALID;
    p.conn = -1;
    this.counters[C_INVALID]++;
    this.counters[reason]++;
    return DROP;
  }

  private full(p: Pkt): number {
    this.counters[C_DROPS_FULL]++;
    p.ctState = CT_INVALID;
    p.conn = -1;
    if (this.log !== null) {
      if (this.now !== this.lastFullLog) {
        const sup = this.fullSuppressed;
        this.lastFullLog = this.now;
        this.fullSuppressed = 0;
        this.log(`conntrack: table full (${this.entries}/${this.maxCap} connections), dropping packet` +
          (sup > 0 ? ` (${sup} similar messages suppressed)` : ''));
      } else {
        this.fullSuppressed++;
      }
    }
    return DROP;
  }

  /** Find or create the packet's connection; sets p.conn, p.dir, p.ctState and this.created.
   *  DROP (counted) for invalid packets and a full table. No NAT. */
  classify(p: Pkt): number {
    this.created = false;
    this.counters[C_LOOKUPS]++;
    if (p.frag) return this.fragment(p);
    const pr = p.proto;
    const b = p.buf;
    let sp = p.sport, dp = p.dport;
    let thFlags = 0;
    const more = (rd16(b, p.l3 + IP_FRAG) & IP_FLAG_MF) !== 0;
    if (pr === PROTO_TCP) {
      const hl = (b[p.l4 + TCP_DOFF] >>> 4) << 2;
      if (hl < TCP_MIN_HEADER_LEN || hl > p.l4Len) return this.invalid(p, C_INVALID_MALFORMED);
      thFlags = b[p.l4 + TCP_FLAGS];
      if ((thFlags & (TCP_SYN | TCP_FIN)) === (TCP_SYN | TCP_FIN) || (thFlags & (TCP_SYN | TCP_RST)) === (TCP_SYN | TCP_RST) ||
          (thFlags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) === 0) {
        return this.invalid(p, C_INVALID_MALFORMED);
      }
    } else if (pr === PROTO_UDP) {
      const ulen = rd16(b, p.l4 + UDP_LEN);
      if (ulen < UDP_HEADER_LEN || (p.gsoType === 0 && ulen > p.l4Len && !more)) return this.invalid(p, C_INVALID_MALFORMED);
    } else if (pr === PROTO_ICMP) {
      if (p.l4Len < ICMP_HEADER_LEN) return this.invalid(p, C_INVALID_MALFORMED);
      const type = b[p.l4 + ICMP_TYPE];
      if (isIcmpError(type)) return this.related(p);
      if (isIcmpQuery(type)) { sp = rd16(b, p.l4 + ICMP_ID); dp = sp; } else { sp = 0; dp = 0; }
    } else {
      sp = 0; dp = 0;
    }

    const v = this.find(p.saddr, p.daddr, sp, dp, pr);
    if (v >= 0) {
      this.counters[C_FOUND]++;
      const c = v >>> 1;
      const dir = v & 1;
      if (pr === PROTO_TCP && this.statefulTcp) {
        if (!this.tcpStep(c, dir, thFlags)) return this.invalid(p, C_INVALID_TCP_STATE);
      } else if (dir === DIR_REPLY) {
        this.setFlags(c, F_REPLIED);
      }
      this.touch(c);
      p.conn = c;
      p.dir = dir;
      p.ctState = (this.flags(c) & F_REPLIED) !== 0 ? CT_ESTABLISHED : CT_NEW;
      if (!p.local) this.lastPkt = p;
      if (more) this.fragRecord(p);
      return ACCEPT;
    }

    if (pr === PROTO_TCP && this.statefulTcp && (thFlags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) !== TCP_SYN) {
      return this.invalid(p, C_INVALID_TCP_STATE);
    }
    if (pr === PROTO_ICMP && sp !== 0 && b[p.l4 + ICMP_TYPE] === ICMP_ECHO_REPLY) {
      return this.invalid(p, C_INVALID_UNRELATED_ICMP);
    }
    // The new reply key must be free too: a packet whose inverse is another connection's key
    // (e.g. one mimicking the untranslated reply of a NATed connection) cannot get an entry.
    if ((p.saddr === p.daddr && sp === dp) || this.find(p.daddr, p.saddr, dp, sp, pr) >= 0) {
      return this.invalid(p, C_INVALID_CLASH);
    }
    const c = this.insert(p.saddr, p.daddr, sp, dp, pr);
    if (c < 0) return this.full(p);
    if (pr === PROTO_TCP && this.statefulTcp) {
      this.setTcpState(c, TCP_SYN_SENT);
      this.touch(c);
    }
    this.created = true;
    p.conn = c;
    p.dir = DIR_ORIGINAL;
    p.ctState = CT_NEW;
    if (!p.local) this.lastPkt = p;
    if (more) this.fragRecord(p);
    return ACCEPT;
  }

  private fragSlot(s: number, d: number, idProto: number): number {
    return this.hash(s, d, idProto >>> 16, idProto & 0xffff, 0) & FRAG_MASK;
  }

  /** First fragment (offset 0, MF): remember its connection for the fragments that follow. */
  private fragRecord(p: Pkt): void {
    const idp = ((rd16(p.buf, p.l3 + IP_ID) << 8) | p.proto) >>> 0;
    const i = this.fragSlot(p.saddr, p.daddr, idp);
    this.fSrc[i] = p.saddr;
    this.fDst[i] = p.daddr;
    this.fIdProto[i] = idp;
    this.fConn[i] = ((p.conn << 1) | p.dir) + 1;
    this.fStamp[i] = this.now;
  }

  /** Non-first fragment: the connection of its first fragment (seen within FRAG_TTL s), else
   *  invalid (fragments ahead of their first one are dropped; the router does not reassemble). */
  private fragment(p: Pkt): number {
    const idp = ((rd16(p.buf, p.l3 + IP_ID) << 8) | p.proto) >>> 0;
    const i = this.fragSlot(p.saddr, p.daddr, idp);
    const v = this.fConn[i] - 1;
    if (v < 0 || this.fSrc[i] !== p.saddr || this.fDst[i] !== p.daddr || this.fIdProto[i] !== idp ||
        this.now - this.fStamp[i] > FRAG_TTL || this.live[v >>> 1] === 0) {
      return this.invalid(p, C_INVALID_FRAGMENT);
    }
    const c = v >>> 1;
    p.conn = c;
    p.dir = v & 1;
    p.ctState = (this.flags(c) & F_REPLIED) !== 0 ? CT_ESTABLISHED : CT_NEW;
    return ACCEPT;
  }

  /** ICMP error: find the connection of the quoted packet. The quoted packet left the router
   *  after NAT, so its inverse is a key; the error travels in that key's direction. */
  private related(p: Pkt): number {
    const b = p.buf;
    const in3 = p.l4 + ICMP_HEADER_LEN;
    const end = p.l3 + p.ipLen;
    if (in3 + IP_MIN_HEADER_LEN > end) return this.invalid(p, C_INVALID_MALFORMED);
    const vihl = b[in3 + IP_VER_IHL];
    const ihl = (vihl & 15) << 2;
    if (vihl >>> 4 !== 4 || ihl < IP_MIN_HEADER_LEN || in3 + ihl + ICMP_QUOTE_PAYLOAD > end) return this.invalid(p, C_INVALID_MALFORMED);
    const ipr = b[in3 + IP_PROTO];
    const isrc = rd32(b, in3 + IP_SADDR);
    const idst = rd32(b, in3 + IP_DADDR);
    const in4 = in3 + ihl;
    let isp = 0, idp = 0;
    if (ipr === PROTO_TCP || ipr === PROTO_UDP) {
      isp = rd16(b, in4 + L4_SPORT);
      idp = rd16(b, in4 + L4_DPORT);
    } else if (ipr === PROTO_ICMP && isIcmpQuery(b[in4 + ICMP_TYPE])) {
      isp = rd16(b, in4 + ICMP_ID);
      idp = isp;
    }
    const v = this.find(idst, isrc, idp, isp, ipr);
    if (v >= 0) {
      p.conn = v >>> 1;
      p.dir = v & 1;
    } else {
      // The router's own error about the packet it is processing: that packet may be half
      // translated (DNAT done, SNAT not yet), so no key matches; take its connection.
      const q = this.lastPkt;
      if (!p.local || q === null || q.conn < 0 || this.live[q.conn] === 0 || q.proto !== ipr || q.saddr !== isrc ||
          q.daddr !== idst || q.sport !== isp || q.dport !== idp) {
        return this.invalid(p, C_INVALID_UNRELATED_ICMP);
      }
      p.conn = q.conn;
      p.dir = q.dir ^ 1;
    }
    this.counters[C_RELATED]++;
    p.ctState = CT_RELATED;
    return ACCEPT;
  }

  /** The stateful TCP machine (no sequence window tracking). False = invalid packet. */
  private tcpStep(c: number, dir: number, fl: number): boolean {
    const st = this.tcpState(c);
    const syn = (fl & TCP_SYN) !== 0, ack = (fl & TCP_ACK) !== 0, rst = (fl & TCP_RST) !== 0, fin = (fl & TCP_FIN) !== 0;
    if (rst) {
      this.setTcpState(c, TCP_CLOSE);
      return true;
    }
    switch (st) {
      case TCP_SYN_SENT:
        if (dir === DIR_ORIGINAL) return syn && !ack;
        if (!syn) return false;
        this.setTcpState(c, TCP_SYN_RECV);
        this.setFlags(c, F_REPLIED);
        return true;
      case TCP_SYN_RECV:
        if (syn) return dir === DIR_ORIGINAL ? !ack : true;
        if (dir === DIR_ORIGINAL && ack) this.setTcpState(c, TCP_ESTABLISHED);
        if (fin) this.finStep(c, dir);
        return true;
      case TCP_ESTABLISHED:
      case TCP_FIN_WAIT:
      case TCP_LAST_ACK:
        if (syn) return dir === DIR_REPLY && ack;
        if (fin) this.finStep(c, dir);
        else if (st === TCP_LAST_ACK && ack) this.setTcpState(c, TCP_TIME_WAIT);
        return true;
      case TCP_TIME_WAIT:
      case TCP_CLOSE:
        if (syn && !ack && dir === DIR_ORIGINAL) {
          this.setTcpState(c, TCP_SYN_SENT);
          this.clearFlags(c, (F_REPLIED | F_FIN0 | F_FIN1));
        }
        return !syn || (!ack && dir === DIR_ORIGINAL) || (ack && dir === DIR_REPLY);
      default:
        return false;
    }
  }

  private finStep(c: number, dir: number): void {
    this.setFlags(c, dir === DIR_ORIGINAL ? F_FIN0 : F_FIN1);
    const f = this.flags(c);
    this.setTcpState(c, (f & (F_FIN0 | F_FIN1)) === (F_FIN0 | F_FIN1) ? TCP_LAST_ACK : TCP_FIN_WAIT);
  }

  /** A connection in both directions already (as if its first packet and a reply had crossed),
   *  without NAT: what `trace ... ct established` starts from. Returns the connection, or -1
   *  when the table is full or either tuple is another connection's key. */
  establish(s: number, d: number, sp: number, dp: number, pr: number): number {
    const v = this.find(s, d, sp, dp, pr);
    if (v >= 0) return v >>> 1;
    if (this.find(d, s, dp, sp, pr) >= 0) return -1;
    const c = this.insert(s, d, sp, dp, pr);
    if (c < 0) return -1;
    this.setFlags(c, F_CONFIRMED | F_REPLIED);
    if (pr === PROTO_TCP && this.statefulTcp) this.setTcpState(c, TCP_ESTABLISHED);
    this.touch(c);
    return c;
  }

  /** Forget every connection (each removal runs onRemove: NAT ports go back to their pools) and
   *  zero the counters: a table as new, with its size and settings kept, its clock starting
   *  again at nowMs. */
  clear(nowMs = Date.now()): void {
    for (let c = 0; c < this.capacity; c++) if (this.live[c]) this.remove(c);
    this.epochMs = nowMs;
    this.now = 0;
    this.wheelSec = 0;
    this.fConn.fill(0);
    this.counters.fill(0);
    this.lastPkt = null;
    this.created = false;
  }

  /** Mark the connection confirmed (it left the router once). */
  confirm(c: number): void {
    if ((this.flags(c) & F_CONFIRMED) === 0) {
      this.setFlags(c, F_CONFIRMED);
      this.touch(c);
    }
  }

  // ---- ConnHooks without NAT (stack/nat.ts wraps these with translation) ----------------

  track(p: Pkt): number {
    return this.classify(p);
  }

  local(p: Pkt): number {
    return this.classify(p);
  }

  finish(p: Pkt): number {
    if (p.conn >= 0 && p.ctState !== CT_RELATED) this.confirm(p.conn);
    return ACCEPT;
  }

  // ---- observability --------------------------------------------------------------------

  stats(): { entries: number; limit: number; capacity: number; inserts: number; dropsFull: number; expiries: number; invalid: number; related: number } {
    const k = this.counters;
    return {
      entries: this.entries, limit: this.maxCap, capacity: this.capacity, inserts: k[C_INSERTS],
      dropsFull: k[C_DROPS_FULL], expiries: k[C_EXPIRIES], invalid: k[C_INVALID], related: k[C_RELATED],
    };
  }

  /** The live connections as plain objects (for `ctl conntrack`); at most `max`. */
  dump(max = Infinity): ConnDump[] {
    const out: ConnDump[] = [];
    for (let c = 0; c < this.capacity && out.length < max; c++) {
      if (!this.live[c]) continue;
      const f = this.flags(c);
      out.push({
        id: c,
        proto: this.proto(c),
        state: (f & F_REPLIED) !== 0 ? 'established' : 'new',
        tcpState: this.proto(c) === PROTO_TCP && this.statefulTcp ? TCP_STATE_NAMES[this.tcpState(c)] : null,
        confirmed: (f & F_CONFIRMED) !== 0,
        snat: (f & F_SNAT) !== 0,
        dnat: (f & F_DNAT) !== 0,
        original: { src: formatIpv4(this.oSrc(c)), dst: formatIpv4(this.oDst(c)), sport: this.oSp(c), dport: this.oDp(c) },
        reply: { src: formatIpv4(this.rSrc(c)), dst: formatIpv4(this.rDst(c)), sport: this.rSp(c), dport: this.rDp(c) },
        expiresInS: this.expiry(c) - this.now,
      });
    }
    return out;
  }

  /** Internal consistency check for tests: every live connection findable from both sides,
   *  index holds exactly two keys per live connection. Returns a problem description or null. */
  verify(): string | null {
    let keys = 0;
    for (let i = 0; i < this.index.length; i++) if (this.index[i] !== 0) keys++;
    if (keys !== this.entries * 2) return `index holds ${keys} keys for ${this.entries} connections`;
    let n = 0;
    for (let c = 0; c < this.capacity; c++) {
      if (!this.live[c]) continue;
      n++;
      const pr = this.proto(c);
      if (this.find(this.oSrc(c), this.oDst(c), this.oSp(c), this.oDp(c), pr) !== (c << 1)) return `conn ${c} not found by original tuple`;
      if (this.find(this.rSrc(c), this.rDst(c), this.rSp(c), this.rDp(c), pr) !== ((c << 1) | 1)) return `conn ${c} not found by reply tuple`;
    }
    if (n !== this.entries) return `entries ${this.entries} but ${n} live`;
    return null;
  }
}
