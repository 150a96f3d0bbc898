// Sets for `field in SET`: exact values in an open-addressing hash table over a Uint32Array,
// ranges and CIDRs as merged, sorted, disjoint intervals searched by bisection.
// Invariants: field values are integers in [0, 2^32); set members that no field value can equal
// (negative, fractional, >= 2^32) are dropped at build time, exact members inside an interval
// are folded into it, and intervals are clamped to [0, 2^32 - 1]. `has` allocates nothing.

import type { ValueSet } from '../src/config/model.js';

const MAX_U32 = 0xffffffff;

export interface NormalSet {
  /** Sorted, unique, not inside any interval. */
  exact: number[];
  /** Sorted, disjoint, non-adjacent inclusive intervals. */
  ranges: Array<[number, number]>;
}

const isMember = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= MAX_U32;

export function normalizeSet(set: ValueSet): NormalSet {
  const rs: Array<[number, number]> = [];
  for (const [a0, b0] of set.ranges) {
    let a = Math.min(a0, b0), b = Math.max(a0, b0);
    a = Math.max(0, Math.ceil(a));
    b = Math.min(MAX_U32, Math.floor(b));
    if (a <= b) rs.push([a, b]);
  }
  rs.sort((x, y) => x[0] - y[0]);
  const ranges: Array<[number, number]> = [];
  for (const r of rs) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else ranges.push([r[0], r[1]]);
  }
  const ex = Array.from(new Set(set.exact.filter(isMember))).sort((x, y) => x - y);
  const exact = ranges.length === 0 ? ex : ex.filter((v) => !inRanges(ranges, v));
  return { exact, ranges };
}

function inRanges(ranges: Array<[number, number]>, v: number): boolean {
  let lo = 0, hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (v < r[0]) hi = mid - 1;
    else if (v > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Multiplicative hash of a uint32 (or any number, via ToInt32) to `bits` bits. */
export function hashU32(v: number, shift: number): number {
  return Math.imul(v, 0x9e3779b1) >>> shift;
}

/** At most this many interval buckets (Int32Array entries) per set. */
const MAX_BUCKET_BITS = 18;

/** Shift that maps a value's offset into a span of `span` values to its bucket, for about two
 *  buckets per interval (`n` intervals), at most 2^MAX_BUCKET_BITS buckets; and their count. */
export function bucketShift(span: number, n: number): { shift: number; buckets: number } {
  let nbBits = 0;
  while ((1 << nbBits) < n * 2 && nbBits < MAX_BUCKET_BITS) nbBits++;
  let shift = 0;
  while (span / 2 ** shift > 2 ** nbBits) shift++;
  return { shift, buckets: Math.max(1, Math.ceil(span / 2 ** shift)) };
}

/** The typed arrays of a NumberSet (structured-cloneable: built on one thread, used on another). */
export interface NumberSetTables {
  /** Exact values, open addressing; 0 marks an empty slot (value 0 itself is `zero`). */
  table: Uint32Array;
  zero: boolean;
  los: Uint32Array;
  his: Uint32Array;
  /** first[k]: first interval whose end is >= the start of bucket k; first[nb] = nr - 1. */
  first: Int32Array;
  bshift: number;
}

/** A compiled `in` set. Intervals are found through a bucket index over the span they cover
 *  (value -> first interval that can contain it), then a bisection inside the bucket, so the
 *  cost does not grow with the number of intervals for evenly spread sets. */
export class NumberSet {
  private readonly table: Uint32Array;
  private readonly zero: boolean;
  private readonly mask: number;
  private readonly shift: number;
  private readonly los: Uint32Array;
  private readonly his: Uint32Array;
  private readonly nr: number;
  private readonly base: number;
  private readonly top: number;
  private readonly bshift: number;
  private readonly first: Int32Array;

  /** The tables of a normalised set. */
  static build(set: NormalSet): NumberSetTables {
    const n = set.exact.length;
    // Load factor <= 1/4: a miss usually reads one slot (each extra probe costs ~2 ns).
    let bits = 2;
    while ((1 << bits) < n * 4) bits++;
    const table = new Uint32Array(1 << bits);
    const mask = (1 << bits) - 1;
    const shift = 32 - bits;
    let zero = false;
    for (const v of set.exact) {
      if (v === 0) { zero = true; continue; }
      let h = hashU32(v, shift);
      while (table[h] !== 0) h = (h + 1) & mask;
      table[h] = v;
    }
    const nr = set.ranges.length;
    const los = new Uint32Array(nr);
    const his = new Uint32Array(nr);
    set.ranges.forEach(([a, b], i) => { los[i] = a; his[i] = b; });
    const base = nr > 0 ? los[0]! : 1;
    const top = nr > 0 ? his[nr - 1]! : 0;
    const { shift: bshift, buckets: nb } = bucketShift(top - base + 1, nr);
    const first = new Int32Array(nb + 1);
    let i = 0;
    for (let k = 0; k < nb; k++) {
      const start = base + k * 2 ** bshift;
      while (i < nr - 1 && his[i]! < start) i++;
      first[k] = i;
    }
    first[nb] = Math.max(0, nr - 1);
    return { table, zero, los, his, first, bshift };
  }

  static of(set: NormalSet): NumberSet {
    return new NumberSet(NumberSet.build(set));
  }

  constructor(readonly tables: NumberSetTables) {
    this.table = tables.table;
    this.zero = tables.zero;
    this.mask = tables.table.length - 1;
    this.shift = 32 - Math.log2(tables.table.length);
    this.los = tables.los;
    this.his = tables.his;
    this.nr = tables.los.length;
    this.base = this.nr > 0 ? this.los[0]! : 1;
    this.top = this.nr > 0 ? this.his[this.nr - 1]! : 0;
    this.bshift = tables.bshift;
    this.first = tables.first;
  }

  has(v: number): boolean {
    if (v !== 0) {
      const t = this.table;
      let h = Math.imul(v, 0x9e3779b1) >>> this.shift;
      for (;;) {
        const k = t[h]!;
        if (k === v) return true;
        if (k === 0) break;
        h = (h + 1) & this.mask;
      }
    } else if (this.zero) return true;
    if (!(v >= this.base && v <= this.top)) return false;
    const bk = (v - this.base) >>> this.bshift;
    const his = this.his;
    let lo = this.first[bk]!, hi = this.first[bk + 1]!;
    // Smallest interval index in [lo, hi] whose end is >= v (his[hi] >= v always holds).
    if (hi - lo <= 4) {
      while (his[lo]! < v) lo++;
      return this.los[lo]! <= v;
    }
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (his[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return this.los[lo]! <= v;
  }
}

/** Sets at most this large are tested inline in generated code. */
export const INLINE_EXACT = 6;
export const INLINE_RANGES = 3;

/** Inline JS test of `v in set` for small sets (`v` must be a side-effect-free expression,
 *  typically a temporary), or null when the set is too large to inline. */
export function inlineSetTest(set: NormalSet, v: string): string | null {
  if (set.exact.length > INLINE_EXACT || set.ranges.length > INLINE_RANGES) return null;
  const parts: string[] = [];
  for (const x of set.exact) parts.push(`${v} === ${x}`);
  for (const [a, b] of set.ranges) parts.push(a === b ? `${v} === ${a}` : `(${v} >= ${a} && ${v} <= ${b})`);
  return parts.length === 0 ? 'false' : `(${parts.join(' || ')})`;
}
