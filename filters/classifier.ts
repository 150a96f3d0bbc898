// The multi-field packet classifier: for a run of rules whose keys are conjunctions of
// `dimension in set-of-intervals`, find the first rule (in source order) whose key matches a packet.
//
// Algorithm: decision trees after CutSplit (W. Li et al., INFOCOM 2018): rule subsets separated
// as in EffiCuts (Vamanan et al. 2010), each a tree of HiCuts/HyperCuts-style cuts (Gupta &
// McKeown 1999; Singh et al. 2003):
//   * Rules are separated by whether their source / destination address is small (a /16 or
//     longer): rules small in the source form a tree whose root cuts the source, the others
//     small in the destination one whose root cuts the destination, the rest (large in both) a
//     third tree. A root never cuts finely a field in which some of its rules are large, so it
//     does not replicate wide rules: at most three trees, whatever the rule count.
//   * A node cuts one dimension, either into up to 2^maxBits equal parts over the range its rules
//     actually cover there (HyperCuts' region compaction; values outside it match nothing):
//     child = kids[base + ((value - lo) >>> shift)], or, where rules are few, at up to
//     MAX_BOUNDS rule endpoints chosen so the children hold balanced numbers of rules (HyperSplit's
//     endpoint splits, several at once; the child is found by a short binary search). The
//     dimension and cut are chosen so the fullest child holds as few rules as possible while the
//     children hold at most `spfac` times the node's rules in total (HiCuts' space factor);
//     children with equal rule lists share one subtree, built for the span of all of them (in
//     effect EffiCuts' equi-dense cuts); a budget per tree stops cutting before replication can
//     blow up memory.
//   * A region that a "definite" rule (no residual, body always returns) covers completely keeps
//     no rule after it (HiCuts' redundancy removal); leaves hold at most `binth` rules unless
//     nothing separates them; leaves with equal rule lists are stored once.
// Why a decision tree: per packet it is a fixed small loop over typed arrays (a walk of a few
// nodes per tree, a short scan of the boxes stored inside the leaf) that V8 optimises once for every ruleset, with
// no warm-up per configuration; its cost depends on depth and leaf size, not on the rule count.
// It answers "first match at or after rule j" directly (leaves are in source order), which the
// compiler needs for fall-through bodies and residual conditions. Tuple space search (OVS,
// TupleMerge in VPP) probes every tuple table on a miss, tens of them for ClassBench-like sets;
// bit vectors (Lakshman-Stiliadis) cost O(rules / 32) words per packet.
//
// Dimensions (DIM_*) are packet values with the exact semantics of the NaCl fields they come
// from: ip.protocol, ip.saddr, ip.daddr, the TCP/UDP source and destination port (0 for other
// protocols and non-first fragments), icmp.type and tcp.flags (0 unless ICMP/TCP and not a
// non-first fragment), ct.state. rule-keys.ts maps conditions onto them.
//
// In front of the trees sits an exact-match flow cache (as Open vSwitch's microflow cache): a
// direct-mapped table from the packet's dimension values to the answer of match(p, 0), so a
// packet of a flow seen before costs one hash probe. It only ever holds answers the trees gave for
// exactly those values (rules never change inside a Classifier), so it cannot change a result;
// headers that miss it (every packet distinct, as in a scan) pay the trees plus one store.
//
// Invariants: match(p, from) returns the smallest rule index j >= from whose key holds for p, or -1,
// as long as no definite rule below `from` holds for p (the compiler never asks past one);
// nothing is allocated per packet; all tables are typed arrays (ClassifierTables), which can be
// built on another thread and transferred: `Classifier.build()` is pure, `new Classifier(tables)`
// only allocates the cache.

import { ICMP_TYPE } from '../stack/wire/icmp.js';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../stack/wire/ipv4.js';
import type { Pkt } from '../stack/wire/pkt.js';
import { TCP_FLAGS } from '../stack/wire/tcp.js';

export const DIM_PROTO = 0;
export const DIM_SADDR = 1;
export const DIM_DADDR = 2;
export const DIM_SPORT = 3;
export const DIM_DPORT = 4;
export const DIM_ICMP_TYPE = 5;
export const DIM_TCP_FLAGS = 6;
export const DIM_CT_STATE = 7;
export const DIMS = 8;
/** Width of each dimension in bits (values are 0 .. 2^bits - 1). */
export const DIM_BITS: readonly number[] = [8, 32, 32, 16, 16, 8, 8, 2];
export const DIM_MAX: readonly number[] = DIM_BITS.map((b) => 2 ** b - 1);

/** Build parameters (measured on ClassBench-style sets, see bench/rules.ts). */
export interface ClassifierOptions {
  /** Leaves hold at most this many rules unless nothing separates them. */
  binth?: number;
  /** Most children of a node: 2^maxBits. */
  maxBits?: number;
  /** HiCuts space factor: a node's children (and their rule lists) at most spfac x its rules. */
  spfac?: number;
}

const DEFAULTS: Required<ClassifierOptions> = { binth: 4, maxBits: 16, spfac: 2 };
/** An address range of at most 2^SMALL_BITS addresses (a /16 or longer) is small. */
const SMALL_BITS = 16;
/** Deeper than this a node becomes a leaf whatever its size. */
const MAX_DEPTH = 32;
/** Memory budget, in table entries (child pointers + leaf rule lists) per rule. */
const BUDGET_PER_RULE = 24;
/** Most boundaries of an endpoint node, and the most rules a node may have to be one. */
const MAX_BOUNDS = 7;
const ENDPOINT_MAX_RULES = 64;

/** The key constraints of a run's rules, flat. Rule j's constraints are entries
 *  cStart[j] .. cStart[j + 1]: per constrained dimension a group of inclusive intervals (entry i
 *  tests dimension cDim[i] & 127; bit 128 marks the last entry of a group). A rule matches when
 *  every group has an interval holding the packet's value. A rule with `never` set matches nothing. */
export interface ClassifierRules {
  n: number;
  cStart: Int32Array;
  cDim: Uint8Array;
  cLo: Uint32Array;
  cHi: Uint32Array;
  /** 1: the rule ends the search when it matches (no later rule can run for that packet). */
  definite: Uint8Array;
  /** 1: the rule can never match (an empty key); it is in no tree. */
  never: Uint8Array;
}

/** Words per leaf entry in ClassifierTables.lData. */
const ENTRY = 11;
/** Bit of an entry's first word: the rule is not exactly its box. */
const XTRA = 0x80000000;

/** Everything match() reads: typed arrays only (structured-cloneable, transferable). */
export interface ClassifierTables extends ClassifierRules {
  /** Root pointer of each tree (>= 0 internal node, < 0: leaf ~pointer). */
  roots: Int32Array;
  /** Node x cuts dimension nDim[x]. With nCnt[x] > 0 (equal parts) a value v has child
   *  kids[nBase[x] + ((v - nLo[x]) >>> nShift[x])] when v >= nLo[x] and that index is below
   *  nCnt[x] (otherwise no rule matches); with nCnt[x] = -m (endpoints) the boundaries are
   *  bounds[nLo[x] .. nLo[x] + m), ascending, and v's child is kids[nBase[x] + (boundaries <= v)]. */
  nDim: Uint8Array;
  nLo: Float64Array;
  nShift: Uint8Array;
  nCnt: Int32Array;
  nBase: Int32Array;
  bounds: Float64Array;
  kids: Int32Array;
  /** Entries of leaf l: lStart[l] .. lStart[l + 1], in rule order; entry e is lData[e * 11 ...]:
   *  the rule index (bit 31: the rule is more than its box, check its groups too), then its
   *  smallest enclosing box: saddr lo/hi, daddr lo/hi, dport lo/hi, sport lo/hi, protocol lo/hi.
   *  A leaf's rules are one contiguous run of memory. */
  lStart: Int32Array;
  lData: Uint32Array;
}

export interface ClassifierStats {
  trees: number;
  nodes: number;
  leaves: number;
  maxDepth: number;
  maxLeaf: number;
  /** Bytes of all typed arrays. */
  bytes: number;
}

/** Packet values by dimension; written and read only inside match() (never re-entered). */
const V = new Float64Array(DIMS);

/** log2 of the flow cache entries for a classifier of n rules: room for a few thousand flows
 *  where the trees are deep, a few hundred where they are small (5 KB to 320 KB per run). */
export function cacheBits(n: number): number {
  return n < 64 ? 8 : n < 1024 ? 12 : 14;
}

export class Classifier {
  private readonly n: number;
  private readonly roots: Int32Array;
  private readonly nDim: Uint8Array;
  private readonly nLo: Float64Array;
  private readonly nShift: Uint8Array;
  private readonly nCnt: Int32Array;
  private readonly nBase: Int32Array;
  private readonly bounds: Float64Array;
  private readonly kids: Int32Array;
  private readonly lStart: Int32Array;
  private readonly lData: Uint32Array;
  private readonly cStart: Int32Array;
  private readonly cDim: Uint8Array;
  private readonly cLo: Uint32Array;
  private readonly cHi: Uint32Array;
  /** Flow cache: 4 key words per entry, and the answer + 2 (0: empty). */
  private readonly fKey: Int32Array;
  private readonly fVal: Int32Array;
  private readonly fMask: number;

  /** `cache`: log2 of the flow cache entries (0: none). */
  constructor(readonly tables: ClassifierTables, cache = cacheBits(tables.n)) {
    this.n = tables.n;
    this.roots = tables.roots;
    this.nDim = tables.nDim;
    this.nLo = tables.nLo;
    this.nShift = tables.nShift;
    this.nCnt = tables.nCnt;
    this.nBase = tables.nBase;
    this.bounds = tables.bounds;
    this.kids = tables.kids;
    this.lStart = tables.lStart;
    this.lData = tables.lData;
    this.cStart = tables.cStart;
    this.cDim = tables.cDim;
    this.cLo = tables.cLo;
    this.cHi = tables.cHi;
    this.fMask = cache > 0 ? (1 << cache) - 1 : -1;
    this.fKey = new Int32Array(cache > 0 ? 4 << cache : 0);
    this.fVal = new Int32Array(cache > 0 ? 1 << cache : 0);
  }

  /** Builds the trees for `rules` (pure: the result can be sent to another thread). */
  static build(rules: ClassifierRules, opts: ClassifierOptions = {}): ClassifierTables {
    return new TreeBuilder(rules, { ...DEFAULTS, ...opts }).build();
  }

  /** The smallest rule index j >= from whose key holds for p, or -1 (`from` not past a definite
   *  rule that holds for p). */
  match(p: Pkt, from: number): number {
    const pr = p.proto;
    const l4 = !p.frag;
    const ports = l4 && (pr === PROTO_TCP || pr === PROTO_UDP);
    const sa = p.saddr, da = p.daddr, sp = ports ? p.sport : 0, dp = ports ? p.dport : 0;
    V[0] = pr;
    V[1] = sa;
    V[2] = da;
    V[3] = sp;
    V[4] = dp;
    V[5] = l4 && pr === PROTO_ICMP ? p.buf[p.l4 + ICMP_TYPE]! : 0;
    V[6] = l4 && pr === PROTO_TCP ? p.buf[p.l4 + TCP_FLAGS]! : 0;
    V[7] = p.ctState;
    let slot = -1, w2 = 0, w3 = 0;
    if (from === 0 && this.fMask >= 0) {
      w2 = (sp << 16) | dp;
      w3 = (pr << 24) | (V[5]! << 16) | (V[6]! << 8) | V[7]!;
      let h = Math.imul(sa, 0x9e3779b1) ^ Math.imul(da, 0x85ebca77) ^ Math.imul(w2, 0xc2b2ae3d) ^ Math.imul(w3, 0x27d4eb2f);
      h = (h ^ (h >>> 15)) & this.fMask;
      const k = this.fKey, o = h << 2;
      if (this.fVal[h] !== 0 && k[o] === (sa | 0) && k[o + 1] === (da | 0) && k[o + 2] === w2 && k[o + 3] === w3) return this.fVal[h]! - 2;
      slot = h;
    }
    const roots = this.roots, nDim = this.nDim, nLo = this.nLo, nShift = this.nShift, nCnt = this.nCnt, nBase = this.nBase;
    const bounds = this.bounds, kids = this.kids, lStart = this.lStart, ld = this.lData;
    let best = this.n;
    for (let t = 0; t < roots.length; t++) {
      let x = roots[t]!;
      while (x >= 0) {
        const v = V[nDim[x]!]!;
        const c = nCnt[x]!;
        if (c > 0) {
          const q = v - nLo[x]!;
          const i = q >>> nShift[x]!;
          x = q >= 0 && i < c ? kids[nBase[x]! + i]! : ~0;
        } else {
          const b0 = nLo[x]!;
          let lo = b0, hi = b0 - c;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (bounds[mid]! <= v) lo = mid + 1;
            else hi = mid;
          }
          x = kids[nBase[x]! + lo - b0]!;
        }
      }
      for (let e = lStart[~x]!, end = lStart[~x + 1]!; e < end; e++) {
        const o = e * ENTRY;
        const w = ld[o]!;
        const j = w & 0x7fffffff;
        if (j >= best) break;
        if (j < from) continue;
        if (sa < ld[o + 1]! || sa > ld[o + 2]! || da < ld[o + 3]! || da > ld[o + 4]! || dp < ld[o + 5]! || dp > ld[o + 6]! ||
          sp < ld[o + 7]! || sp > ld[o + 8]! || pr < ld[o + 9]! || pr > ld[o + 10]!) continue;
        if (w >= XTRA && !this.groups(j)) continue;
        best = j;
        break;
      }
    }
    const found = best < this.n ? best : -1;
    if (slot >= 0) {
      const k = this.fKey, o = slot << 2;
      k[o] = sa | 0;
      k[o + 1] = da | 0;
      k[o + 2] = w2;
      k[o + 3] = w3;
      this.fVal[slot] = found + 2;
    }
    return found;
  }

  /** Rule j's groups against the values in V. */
  private groups(j: number): boolean {
    const cDim = this.cDim, cLo = this.cLo, cHi = this.cHi;
    let i = this.cStart[j]!;
    const e = this.cStart[j + 1]!;
    while (i < e) {
      let hit = false;
      for (;;) {
        const d = cDim[i]!;
        const v = V[d & 127]!;
        if (v >= cLo[i]! && v <= cHi[i]!) hit = true;
        i++;
        if (d >= 128) break;
      }
      if (!hit) return false;
    }
    return true;
  }
}

/** Bytes held by the typed arrays of a table set. */
export function tableBytes(t: ClassifierTables): number {
  let b = 0;
  for (const v of Object.values(t)) if (ArrayBuffer.isView(v)) b += v.byteLength;
  return b;
}

/** Shape of built tables (for stats and tests). */
export function classifierStats(t: ClassifierTables): ClassifierStats {
  let maxDepth = 0, maxLeaf = 0;
  for (let l = 0; l + 1 < t.lStart.length; l++) maxLeaf = Math.max(maxLeaf, t.lStart[l + 1]! - t.lStart[l]!);
  const stack: Array<[number, number]> = [];
  for (const r of t.roots) stack.push([r, 0]);
  const seen = new Set<number>();
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x < 0) { maxDepth = Math.max(maxDepth, d); continue; }
    if (seen.has(x)) continue;
    seen.add(x);
    const nk = t.nCnt[x]! > 0 ? t.nCnt[x]! : 1 - t.nCnt[x]!;
    const kidSeen = new Set<number>();
    for (let c = 0; c < nk; c++) {
      const k = t.kids[t.nBase[x]! + c]!;
      if (!kidSeen.has(k)) { kidSeen.add(k); stack.push([k, d + 1]); }
    }
  }
  return { trees: t.roots.length, nodes: t.nDim.length, leaves: t.lStart.length - 1, maxDepth, maxLeaf, bytes: tableBytes(t) };
}

// ---- building ----

/** Growable typed buffers. */
class IntBuf {
  a = new Int32Array(1024);
  n = 0;
  push(v: number): number {
    if (this.n === this.a.length) this.grow(1);
    this.a[this.n] = v;
    return this.n++;
  }
  reserve(k: number): number {
    this.grow(k);
    const at = this.n;
    this.n += k;
    return at;
  }
  grow(k: number): void {
    if (this.n + k <= this.a.length) return;
    let size = this.a.length * 2;
    while (size < this.n + k) size *= 2;
    const b = new Int32Array(size);
    b.set(this.a.subarray(0, this.n));
    this.a = b;
  }
  done(): Int32Array { return this.a.slice(0, this.n); }
}

class FloatBuf {
  a = new Float64Array(1024);
  n = 0;
  reserve(k: number): number {
    if (this.n + k > this.a.length) {
      let size = this.a.length * 2;
      while (size < this.n + k) size *= 2;
      const b = new Float64Array(size);
      b.set(this.a.subarray(0, this.n));
      this.a = b;
    }
    const at = this.n;
    this.n += k;
    return at;
  }
}

/** The pending nodes of one tree level, as parallel arrays (no object per node). Item i: its
 *  rules are pool[start .. start + len), its region reg[i * 2 * DIMS ...] ([lo, hi] per
 *  dimension), and the kids slots its pointer goes to form a list from slot (slotNext chains it;
 *  -(t + 1) is tree t's root). */
class Level {
  readonly pool = new IntBuf();
  readonly reg = new FloatBuf();
  readonly start = new IntBuf();
  readonly len = new IntBuf();
  readonly slot = new IntBuf();
  /** Next item with the same list hash in the node being cut (-1: none). */
  readonly hashNext = new IntBuf();
  get items(): number { return this.start.n; }
  clear(): void {
    this.pool.n = 0; this.reg.n = 0; this.start.n = 0; this.len.n = 0; this.slot.n = 0; this.hashNext.n = 0;
  }
}

/** An equal cut (cnt parts of 2^shift values from lo) or, with `at`, endpoint boundaries. */
interface Cut { d: number; lo: number; hi: number; shift: number; cnt: number; at: number[] | null; max: number; sum: number }

/** Dimensions of a leaf entry's box, in order. */
const BOX_DIMS = [DIM_SADDR, DIM_DADDR, DIM_DPORT, DIM_SPORT, DIM_PROTO];
const REG = 2 * DIMS;

class TreeBuilder {
  private readonly n: number;
  /** Rule j's smallest and largest value in dimension d: [j * DIMS + d]. */
  private readonly hLo: Float64Array;
  private readonly hHi: Float64Array;
  /** Rule j's leaf entry, at entry[j * ENTRY ...] (copied into each leaf that holds j). */
  private readonly entry: Uint32Array;
  private readonly nDim: number[] = [];
  private readonly nLo: number[] = [];
  private readonly nShift: number[] = [];
  private readonly nCnt: number[] = [];
  private readonly nBase: number[] = [];
  private readonly bounds: number[] = [];
  private readonly kids = new IntBuf();
  private readonly lStart = new IntBuf();
  private readonly lRule = new IntBuf();
  /** Leaf entries (ENTRY words each), stored as int32 bits. */
  private readonly lData = new IntBuf();
  /** Leaves by list hash: first leaf, then leafNext chains. */
  private readonly leafIndex = new Map<number, number>();
  private readonly leafNext = new IntBuf();
  private readonly roots: number[] = [];
  /** Slot lists of pending items: slot value, next entry (-1 ends). */
  private readonly slots = new IntBuf();
  private readonly slotNext = new IntBuf();
  /** Items of the node being cut, by list hash. */
  private readonly childIndex = new Map<number, number>();
  /** used() above which the current tree gets no more nodes. */
  private limit = 0;
  /** Bit d: some rule of the current tree constrains dimension d. */
  private constrained = 0;
  // Scratch, grown as needed.
  private counts = new Int32Array(1024);
  private firsts = new Int32Array(1024);
  private lasts = new Int32Array(1024);
  private readonly eLo = new Float64Array(ENDPOINT_MAX_RULES);
  private readonly eHi = new Float64Array(ENDPOINT_MAX_RULES);
  private readonly eCand = new Float64Array(2 * ENDPOINT_MAX_RULES);

  constructor(private readonly r: ClassifierRules, private readonly o: Required<ClassifierOptions>) {
    const n = r.n;
    this.n = n;
    const hLo = this.hLo = new Float64Array(n * DIMS);
    const hHi = this.hHi = new Float64Array(n * DIMS);
    const entry = this.entry = new Uint32Array(n * ENTRY);
    for (let j = 0; j < n; j++) {
      for (let d = 0; d < DIMS; d++) hHi[j * DIMS + d] = DIM_MAX[d]!;
      let i = r.cStart[j]!;
      const e = r.cStart[j + 1]!;
      while (i < e) {
        const d = r.cDim[i]! & 127;
        let lo = Infinity, hi = -Infinity, k = 0;
        for (;;) {
          const x = r.cDim[i]!;
          if (r.cLo[i]! < lo) lo = r.cLo[i]!;
          if (r.cHi[i]! > hi) hi = r.cHi[i]!;
          i++;
          k++;
          if (x >= 128) break;
        }
        hLo[j * DIMS + d] = lo;
        hHi[j * DIMS + d] = hi;
        if (k > 1 || d >= DIM_ICMP_TYPE) entry[j * ENTRY] = XTRA;
      }
      entry[j * ENTRY] = (entry[j * ENTRY]! | j) >>> 0;
      for (let k = 0; k < BOX_DIMS.length; k++) {
        entry[j * ENTRY + 1 + 2 * k] = hLo[j * DIMS + BOX_DIMS[k]!]!;
        entry[j * ENTRY + 2 + 2 * k] = hHi[j * DIMS + BOX_DIMS[k]!]!;
      }
    }
    this.lStart.push(0);
    this.lStart.push(0);
    this.leafNext.push(-1);
  }

  build(): ClassifierTables {
    let cur = new Level(), next = new Level();
    for (const g of this.subsets()) {
      const t = this.roots.length;
      this.roots.push(~0);
      // Each tree has its own share of the memory budget; breadth first, so a tree that meets
      // it has its leaves at even depths.
      this.limit = this.used() + BUDGET_PER_RULE * g.rules.length + 2 ** this.o.maxBits;
      this.constrained = 0;
      for (const j of g.rules) {
        for (let d = 0; d < DIMS; d++) if (this.hLo[j * DIMS + d]! > 0 || this.hHi[j * DIMS + d]! < DIM_MAX[d]!) this.constrained |= 1 << d;
      }
      cur.clear();
      const at = cur.pool.reserve(g.rules.length);
      cur.pool.a.set(g.rules, at);
      cur.start.push(at);
      cur.len.push(g.rules.length);
      cur.hashNext.push(-1);
      const rg = cur.reg.reserve(REG);
      for (let d = 0; d < DIMS; d++) { cur.reg.a[rg + 2 * d] = 0; cur.reg.a[rg + 2 * d + 1] = DIM_MAX[d]!; }
      this.slots.n = 0;
      this.slotNext.n = 0;
      cur.slot.push(this.addSlot(-(t + 1), -1));
      for (let depth = 0; cur.items > 0; depth++) {
        next.clear();
        for (let i = 0; i < cur.items; i++) this.grow(cur, i, next, depth, depth === 0 ? g.cut : -1);
        [cur, next] = [next, cur];
      }
    }
    const r = this.r;
    return {
      n: r.n, cStart: r.cStart, cDim: r.cDim, cLo: r.cLo, cHi: r.cHi, definite: r.definite, never: r.never,
      roots: Int32Array.from(this.roots),
      nDim: Uint8Array.from(this.nDim), nLo: Float64Array.from(this.nLo), nShift: Uint8Array.from(this.nShift),
      nCnt: Int32Array.from(this.nCnt), nBase: Int32Array.from(this.nBase), bounds: Float64Array.from(this.bounds),
      kids: this.kids.done(),
      lStart: this.lStart.done(), lData: new Uint32Array(this.lData.done().buffer),
    };
  }

  private span(j: number, d: number): number {
    return this.hHi[j * DIMS + d]! - this.hLo[j * DIMS + d]! + 1;
  }

  /** CutSplit subsets, refined: each rule goes to the tree of the class in which it is
   *  relatively smallest: source or destination address small (at most 2^16 addresses) or
   *  medium (at most 2^24), destination or source port small (at most 4,096 ports); a rule in
   *  none of them goes to the last tree. A tree's root cuts its field, in which all its rules
   *  are small for the class, so the root replicates next to nothing. A medium class too small
   *  for a tree of its own joins the small class of its field, a small one the last tree. */
  private subsets(): Array<{ rules: Int32Array; cut: number }> {
    // [field, largest span, class that takes the rules of a subset too small for a tree]
    const classes: Array<[number, number, number]> = [
      [DIM_SADDR, 2 ** 16, 6], [DIM_DADDR, 2 ** 16, 6], [DIM_DPORT, 4096, 6], [DIM_SPORT, 4096, 6],
      [DIM_SADDR, 2 ** 24, 0], [DIM_DADDR, 2 ** 24, 1],
    ];
    const lists: number[][] = classes.map(() => []);
    lists.push([]);
    for (let j = 0; j < this.n; j++) {
      if (this.r.never[j]) continue;
      let pick = classes.length, share = Infinity;
      for (let i = 0; i < classes.length; i++) {
        const [d, max] = classes[i]!;
        const sp = this.span(j, d);
        if (sp <= max && sp / (DIM_MAX[d]! + 1) < share) { share = sp / (DIM_MAX[d]! + 1); pick = i; }
      }
      lists[pick]!.push(j);
    }
    const min = this.o.binth * 8;
    // Medium address classes first: too small, they join the small class of their field (whose
    // root spreads them over a few more parts).
    for (const i of [4, 5, 0, 1, 2, 3]) {
      const list = lists[i]!;
      if (list.length >= min) continue;
      lists[classes[i]![2]]!.push(...list);
      list.length = 0;
    }
    const out: Array<{ rules: Int32Array; cut: number }> = [];
    classes.forEach(([d], i) => {
      const list = lists[i]!;
      if (list.length > 0) out.push({ rules: Int32Array.from(list.sort((a, b) => a - b)), cut: d });
    });
    const rest = lists[classes.length]!;
    if (rest.length > 0) out.push({ rules: Int32Array.from(rest.sort((a, b) => a - b)), cut: -1 });
    return out;
  }

  private used(): number {
    return this.kids.n + this.lData.n;
  }

  private addSlot(value: number, next: number): number {
    this.slotNext.push(next);
    return this.slots.push(value);
  }

  private scratch(n: number): void {
    if (this.firsts.length >= n) return;
    this.firsts = new Int32Array(2 * n);
    this.lasts = new Int32Array(2 * n);
  }

  /** Makes the node (or leaf) of item i of `cur` and adds its children to `next`. */
  private grow(cur: Level, i: number, next: Level, depth: number, only: number): void {
    const pool = cur.pool.a;
    const start = cur.start.a[i]!;
    const rg = i * REG;
    const reg = cur.reg.a;
    const n = this.truncate(pool, start, cur.len.a[i]!, reg, rg);
    const cut = n <= this.o.binth || depth >= MAX_DEPTH || this.used() > this.limit ? null
      : this.chooseCut(pool, start, n, reg, rg, only);
    if (cut === null) {
      const leaf = this.leaf(pool, start, n);
      for (let s = cur.slot.a[i]!; s >= 0; s = this.slotNext.a[s]!) this.place(this.slots.a[s]!, leaf);
      return;
    }
    const { d, lo, hi, shift, cnt, at } = cut;
    const x = this.nDim.length;
    this.nDim.push(d);
    this.nShift.push(shift);
    if (at === null) {
      this.nLo.push(lo);
      this.nCnt.push(cnt);
    } else {
      this.nLo.push(this.bounds.length);
      this.nCnt.push(-at.length);
      for (const t of at) this.bounds.push(t);
    }
    const base = this.kids.reserve(cnt);
    this.nBase.push(base);
    for (let s = cur.slot.a[i]!; s >= 0; s = this.slotNext.a[s]!) this.place(this.slots.a[s]!, x);
    // The parts each rule falls in; child lists into next.pool (CSR), rule order kept.
    this.scratch(n);
    const firsts = this.firsts, lasts = this.lasts, hLo = this.hLo, hHi = this.hHi;
    const inv = 2 ** -shift;
    if (this.counts.length < cnt + 1) this.counts = new Int32Array(2 * cnt + 2);
    const off = this.counts;
    off.fill(0, 0, cnt + 1);
    for (let k = 0; k < n; k++) {
      const j = pool[start + k]! * DIMS + d;
      const vlo = hLo[j]! > lo ? hLo[j]! : lo, vhi = hHi[j]! < hi ? hHi[j]! : hi;
      let a: number, b: number;
      if (at === null) {
        a = Math.floor((vlo - lo) * inv);
        b = Math.min(cnt - 1, Math.floor((vhi - lo) * inv));
      } else {
        a = 0;
        while (a < at.length && at[a]! <= vlo) a++;
        b = a;
        while (b < at.length && at[b]! <= vhi) b++;
      }
      firsts[k] = a;
      lasts[k] = b;
      for (let c = a; c <= b; c++) off[c + 1]!++;
    }
    for (let c = 0; c < cnt; c++) off[c + 1]! += off[c]!;
    const total = off[cnt]!;
    const p0 = next.pool.reserve(total);
    const np = next.pool.a;
    for (let k = 0; k < n; k++) {
      const j = pool[start + k]!;
      for (let c = firsts[k]!; c <= lasts[k]!; c++) np[p0 + off[c]!++] = j;
    }
    // off[c] now ends part c. Children with equal rule lists share one subtree, built for the
    // span of them all; small lists are leaves at once.
    const index = this.childIndex;
    index.clear();
    for (let c = 0, from = 0; c < cnt; c++) {
      const a = p0 + from, len = off[c]! - from;
      from = off[c]!;
      if (len === 0) { this.kids.a[base + c] = ~0; continue; }
      if (len <= this.o.binth) { this.kids.a[base + c] = this.leaf(np, a, len); continue; }
      const cLo = at === null ? lo + c * 2 ** shift : c === 0 ? lo : at[c - 1]!;
      const cHi = at === null ? Math.min(hi, lo + (c + 1) * 2 ** shift - 1) : c === at.length ? hi : at[c]! - 1;
      const h = listHash(np, a, len);
      const first = index.get(h);
      let same = -1;
      for (let q = first ?? -1; q >= 0; q = next.hashNext.a[q]!) {
        if (sameList(np, next.start.a[q]!, next.len.a[q]!, np, a, len)) { same = q; break; }
      }
      if (same >= 0) {
        next.slot.a[same] = this.addSlot(base + c, next.slot.a[same]!);
        const rq = same * REG + 2 * d;
        next.reg.a[rq] = Math.min(next.reg.a[rq]!, cLo);
        next.reg.a[rq + 1] = Math.max(next.reg.a[rq + 1]!, cHi);
        continue;
      }
      const q = next.start.push(a);
      next.len.push(len);
      next.hashNext.push(first ?? -1);
      index.set(h, q);
      next.slot.push(this.addSlot(base + c, -1));
      const r2 = next.reg.reserve(REG);
      for (let k = 0; k < REG; k++) next.reg.a[r2 + k] = reg[rg + k]!;
      next.reg.a[r2 + 2 * d] = cLo;
      next.reg.a[r2 + 2 * d + 1] = cHi;
    }
  }

  /** The cut with the fewest rules in its fullest child (then the fewest copies) within the
   *  space factor; null when no cut separates anything. `only`: the dimension a root must cut. */
  private chooseCut(pool: Int32Array, start: number, n: number, reg: Float64Array, rg: number, only: number): Cut | null {
    // A root cuts a field all its rules are small in: it may spread them wider.
    const budget = (only >= 0 ? 2 : 1) * this.o.spfac * n;
    const hLo = this.hLo, hHi = this.hHi;
    let bd = -1, blo = 0, bhi = 0, bshift = 0, bcnt = 0, bmax = n, bsum = 0;
    for (let d = 0; d < DIMS; d++) {
      if ((only >= 0 && d !== only) || (this.constrained & (1 << d)) === 0) continue;
      const rlo = reg[rg + 2 * d]!, rhi = reg[rg + 2 * d + 1]!;
      // The range the rules cover inside the region (region compaction), and whether any rule
      // is narrower than it (else this dimension separates nothing).
      let a = Infinity, b = -Infinity, maxLo = -Infinity, minHi = Infinity;
      for (let i = 0; i < n; i++) {
        const j = pool[start + i]! * DIMS + d;
        const x = hLo[j]! > rlo ? hLo[j]! : rlo, y = hHi[j]! < rhi ? hHi[j]! : rhi;
        if (x < a) a = x;
        if (x > maxLo) maxLo = x;
        if (y > b) b = y;
        if (y < minHi) minHi = y;
      }
      if (maxLo === a && minHi === b) continue;
      const width = b - a + 1;
      const wbits = Math.ceil(Math.log2(width));
      let lk = 1, hk = Math.min(wbits, this.o.maxBits);
      if (hk < 1) continue;
      while (lk < hk) {
        const mid = (lk + hk + 1) >> 1;
        if (this.spread(pool, start, n, d, a, b, wbits - mid) <= budget) lk = mid;
        else hk = mid - 1;
      }
      const shift = wbits - lk, inv = 2 ** -shift;
      const cnt = Math.ceil(width * inv);
      if (this.counts.length < cnt + 1) this.counts = new Int32Array(2 * cnt + 2);
      const diff = this.counts;
      diff.fill(0, 0, cnt + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const j = pool[start + i]! * DIMS + d;
        const x = hLo[j]! > a ? hLo[j]! : a, y = hHi[j]! < b ? hHi[j]! : b;
        const f = Math.floor((x - a) * inv), l = Math.floor((y - a) * inv);
        diff[f]!++;
        diff[l + 1]!--;
        total += l - f + 1;
      }
      let run = 0, max = 0;
      for (let c = 0; c < cnt; c++) { run += diff[c]!; if (run > max) max = run; }
      if (max < bmax || (max === bmax && bd >= 0 && total < bsum)) {
        bd = d; blo = a; bhi = b; bshift = shift; bcnt = cnt; bmax = max; bsum = total;
      }
    }
    if (bd < 0) return null;
    const best: Cut = { d: bd, lo: blo, hi: bhi, shift: bshift, cnt: bcnt, at: null, max: bmax, sum: bsum };
    // Few rules that equal parts separate poorly: try boundaries at their endpoints instead.
    if (n <= ENDPOINT_MAX_RULES && only < 0 && 2 * bmax > n) {
      const e = this.endpointCut(pool, start, n, bd, blo, bhi, budget);
      if (e !== null && better(e.max, e.sum, best)) return e;
    }
    return best;
  }

  /** Parts plus copies when [a, b] of dimension d is cut into parts of 2^shift values. */
  private spread(pool: Int32Array, start: number, n: number, d: number, a: number, b: number, shift: number): number {
    const hLo = this.hLo, hHi = this.hHi, inv = 2 ** -shift;
    let s = Math.ceil((b - a + 1) * inv);
    for (let i = 0; i < n; i++) {
      const j = pool[start + i]! * DIMS + d;
      const x = hLo[j]! > a ? hLo[j]! : a, y = hHi[j]! < b ? hHi[j]! : b;
      s += Math.floor((y - a) * inv) - Math.floor((x - a) * inv) + 1;
    }
    return s;
  }

  /** Up to MAX_BOUNDS boundaries at rule endpoints in dimension d (rules clipped to [a, b]),
   *  placed greedily so each part holds about the same number of rules; null when no boundary
   *  separates anything. */
  private endpointCut(pool: Int32Array, start: number, n: number, d: number, a: number, b: number, budget: number): Cut | null {
    const los = this.eLo, his = this.eHi;
    for (let i = 0; i < n; i++) {
      const j = pool[start + i]! * DIMS + d;
      insert(los, i, Math.max(a, this.hLo[j]!));
      insert(his, i, Math.min(b, this.hHi[j]!) + 1);
    }
    // Candidate boundaries: distinct endpoints inside (a, b], ascending (merge of los and his).
    const cand = this.eCand;
    let nc = 0;
    for (let i = 0, k = 0; i < n || k < n;) {
      const t = k >= n || (i < n && los[i]! <= his[k]!) ? los[i++]! : his[k++]!;
      if (t > a && t <= b && (nc === 0 || cand[nc - 1] !== t)) cand[nc++] = t;
    }
    if (nc === 0) return null;
    let pick: Cut | null = null;
    for (let target = Math.max(1, Math.ceil(n / (MAX_BOUNDS + 1))); target < n; target *= 2) {
      const at: number[] = [];
      let from = a, max = 0, sum = 0;
      for (let c = 0; c < nc && at.length < MAX_BOUNDS; c++) {
        const t = cand[c]!;
        if (meeting(los, his, n, from, t) > target) {
          const m = meeting(los, his, n, from, t - 1);
          if (m === 0) continue;
          if (m > max) max = m;
          sum += m;
          at.push(t);
          from = t;
        }
      }
      if (at.length === 0) continue;
      const m = meeting(los, his, n, from, b);
      if (m > max) max = m;
      sum += m;
      if (sum + at.length + 1 <= budget && max < n && better(max, sum, pick)) {
        pick = { d, lo: a, hi: b, shift: 0, cnt: at.length + 1, at, max, sum };
      }
    }
    return pick;
  }

  private place(slot: number, ptr: number): void {
    if (slot < 0) this.roots[-slot - 1] = ptr;
    else this.kids.a[slot] = ptr;
  }

  /** The length of the list's prefix up to and including the first definite rule that covers
   *  the whole region. */
  private truncate(pool: Int32Array, start: number, n: number, reg: Float64Array, rg: number): number {
    const r = this.r;
    for (let i = 0; i < n; i++) {
      const j = pool[start + i]!;
      if (r.definite[j] === 0) continue;
      let k = r.cStart[j]!;
      const e = r.cStart[j + 1]!;
      let covers = true;
      while (k < e && covers) {
        const d = r.cDim[k]! & 127;
        const a = reg[rg + 2 * d]!, b = reg[rg + 2 * d + 1]!;
        let hit = false;
        for (;;) {
          const x = r.cDim[k]!;
          if (r.cLo[k]! <= a && r.cHi[k]! >= b) hit = true;
          k++;
          if (x >= 128) break;
        }
        covers = hit;
      }
      if (covers) return i + 1;
    }
    return n;
  }

  /** Leaf pointer for a rule list; equal lists share one leaf. */
  private leaf(pool: Int32Array, start: number, n: number): number {
    if (n === 0) return ~0;
    const h = listHash(pool, start, n);
    const first = this.leafIndex.get(h);
    for (let l = first ?? -1; l >= 0; l = this.leafNext.a[l]!) {
      const s = this.lStart.a[l]!;
      if (this.lStart.a[l + 1]! - s === n && sameList(this.lRule.a, s, n, pool, start, n)) return ~l;
    }
    const l = this.lStart.n - 1;
    const at = this.lRule.reserve(n);
    this.lRule.a.set(pool.subarray(start, start + n), at);
    const d0 = this.lData.reserve(n * ENTRY);
    const ld = this.lData.a;
    for (let i = 0; i < n; i++) {
      const j = pool[start + i]!;
      for (let k = 0; k < ENTRY; k++) ld[d0 + i * ENTRY + k] = this.entry[j * ENTRY + k]!;
    }
    this.lStart.push(this.lRule.n);
    this.leafNext.push(first ?? -1);
    this.leafIndex.set(h, l);
    return ~l;
  }
}

/** Rules meeting [s, e] given their n sorted starts and sorted ends + 1: those starting at or
 *  before e minus those ending before s. */
function meeting(los: Float64Array, his: Float64Array, n: number, s: number, e: number): number {
  return upto(los, n, e) - upto(his, n, s);
}

/** Entries of a sorted array's first n that are <= v. */
function upto(arr: Float64Array, n: number, v: number): number {
  let lo = 0, hi = n;
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (arr[m]! <= v) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** Insertion of v into the sorted first n entries of arr (for the few rules of small nodes). */
function insert(arr: Float64Array, n: number, v: number): void {
  let i = n;
  while (i > 0 && arr[i - 1]! > v) { arr[i] = arr[i - 1]!; i--; }
  arr[i] = v;
}

function listHash(a: Int32Array, start: number, n: number): number {
  let h = n;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ a[start + i]!, 0x9e3779b1);
  // A small integer: a Map key that needs no heap number.
  return h & 0x3fffffff;
}

/** Fewer rules in the fullest child, then fewer copies. */
function better(max: number, sum: number, than: { max: number; sum: number } | null): boolean {
  return than === null || max < than.max || (max === than.max && sum < than.sum);
}

function sameList(a: Int32Array, as: number, an: number, b: Int32Array, bs: number, bn: number): boolean {
  if (an !== bn) return false;
  for (let i = 0; i < an; i++) if (a[as + i] !== b[bs + i]) return false;
  return true;
}
