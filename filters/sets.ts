// Sets for `field in SET`: exact values in an open-addressing hash table over a Float64Array,
// ranges and CIDRs as merged, sorted, disjoint intervals searched by bisection.
// Invariants: field values are integers in [0, 2^32); set members that no field value can equal
// (negative, fractional, >= 2^32) are dropped at build time, exact members inside an interval
// are folded into it, and intervals are clamped to [0, 2^32 - 1]. `has` allocates nothing.

import type { ValueSet } from '../src/config/model.js';

const MAX_U32 = 0xffffffff;
/** Empty slot marker in the exact-value table (no field value is negative). */
const EMPTY = -1;

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

/** A compiled `in` set. */
export class NumberSet {
  readonly size: number;
  private readonly table: Float64Array;
  private readonly mask: number;
  private readonly shift: number;
  private readonly los: Float64Array;
  private readonly his: Float64Array;
  private readonly nr: number;

  constructor(set: NormalSet) {
    const n = set.exact.length;
    let bits = 1;
    while ((1 << bits) < n * 2) bits++;
    this.table = new Float64Array(1 << bits).fill(EMPTY);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
    for (const v of set.exact) {
      let h = hashU32(v, this.shift);
      while (this.table[h] !== EMPTY) h = (h + 1) & this.mask;
      this.table[h] = v;
    }
    this.nr = set.ranges.length;
    this.los = new Float64Array(this.nr);
    this.his = new Float64Array(this.nr);
    set.ranges.forEach(([a, b], i) => { this.los[i] = a; this.his[i] = b; });
    this.size = n + this.nr;
  }

  has(v: number): boolean {
    const t = this.table;
    let h = Math.imul(v, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const k = t[h]!;
      if (k === v) return true;
      if (k === EMPTY) break;
      h = (h + 1) & this.mask;
    }
    if (this.nr === 0) return false;
    const los = this.los;
    let lo = 0, hi = this.nr - 1;
    if (!(v >= los[0]!)) return false;
    // Last interval whose start is <= v.
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (los[mid]! <= v) lo = mid;
      else hi = mid - 1;
    }
    return v <= this.his[lo]!;
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
