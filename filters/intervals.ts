// Interval dispatch for runs of sibling rules keyed on value ranges: `if (ip.saddr in 10.1.2.0/24)`,
// `if (tcp.dport in 8000-8100 and ct.state == new)`, `if (ip.saddr == X)`, mixed, on a few fields.
// Each rule's key is one conjunct `field == c` / `field in SET` (its intervals), the narrowest;
// the other conjuncts are its residual. Per key field, the value line [0, 2^32) is cut into elementary
// intervals at every key boundary; each elementary interval lists, in source order, the rules
// whose key covers it, cut after the first "definite" rule (no residual, body always ends the
// function): later rules can never run for such values.
// Invariants: for any value v the list of v's elementary interval is exactly the rules of that
// field, in order, whose key contains v, up to and including the first definite one; merging the
// lists of all key fields by rule index therefore visits the candidates in source order, so
// first-match order, fall-through bodies and verdicts are those of the linear code. Lookups are
// a bucket index plus a short search over typed arrays and allocate nothing.

import type { Cond, Field, Stmt } from '../src/config/model.js';
import { bucketShift, normalizeSet, type NormalSet } from './sets.js';
import { conjuncts } from './scaling.js';

type IfStmt = Extract<Stmt, { kind: 'if' }>;

/** Shortest run worth a table. */
export const MIN_INTERVAL_RUN = 4;
/** Distinct key fields per run (each is one lookup per packet). */
export const MAX_RUN_FIELDS = 3;
const MAX_U32 = 0xffffffff;

export interface IntervalRule {
  field: Field;
  /** Inclusive, sorted, disjoint intervals of the key (exact values as [v, v]). */
  ranges: Array<[number, number]>;
  residual: Cond | null;
}

/** The field and member set an atom tests, when it is `f == c`, `f in SET` or an `or` of those
 *  on one field; null otherwise. */
function keyAtom(a: Cond): { field: Field; exact: number[]; ranges: Array<[number, number]> } | null {
  if (a.kind === 'cmp' && a.op === '==') {
    if (a.left.kind === 'field' && a.right.kind === 'const') return { field: a.left.field, exact: [a.right.value], ranges: [] };
    if (a.right.kind === 'field' && a.left.kind === 'const') return { field: a.right.field, exact: [a.left.value], ranges: [] };
    return null;
  }
  if (a.kind === 'in') return a.left.kind === 'field' ? { field: a.left.field, exact: a.set.exact, ranges: a.set.ranges } : null;
  if (a.kind === 'or') {
    const x = keyAtom(a.a), y = keyAtom(a.b);
    if (x === null || y === null || x.field !== y.field) return null;
    return { field: x.field, exact: [...x.exact, ...y.exact], ranges: [...x.ranges, ...y.ranges] };
  }
  return null;
}

/** normalizeSet() of a one-member set, without its allocations (the common blocklist case). */
function single(exact: number[], ranges: Array<[number, number]>): NormalSet | null {
  if (exact.length + ranges.length !== 1) return null;
  if (exact.length === 1) {
    const v = exact[0]!;
    return { exact: Number.isInteger(v) && v >= 0 && v <= MAX_U32 ? [v] : [], ranges: [] };
  }
  const [a0, b0] = ranges[0]!;
  const a = Math.max(0, Math.ceil(Math.min(a0, b0))), b = Math.min(MAX_U32, Math.floor(Math.max(a0, b0)));
  return { exact: [], ranges: a <= b ? [[a, b]] : [] };
}

/** Interval key of one rule, or null when it is not an else-less `if` with a keyable conjunct.
 *  The key is the conjunct covering the fewest values, among fields in `prefer` when any is
 *  there (fewer lookups per packet); a narrow key keeps candidate lists short. */
export function analyzeIntervalRule(s: Stmt, prefer: readonly Field[] = []): IntervalRule | null {
  if (s.kind !== 'if' || s.else !== null) return null;
  const atoms: Cond[] = [];
  conjuncts(s.cond, atoms);
  let pick = -1;
  let best: { field: Field; ranges: Array<[number, number]>; span: number; preferred: boolean } | null = null;
  for (let i = 0; i < atoms.length; i++) {
    const k = keyAtom(atoms[i]!);
    if (k === null) continue;
    const n = single(k.exact, k.ranges) ?? normalizeSet({ exact: k.exact, ranges: k.ranges });
    let span = n.exact.length;
    for (const [a, b] of n.ranges) span += b - a + 1;
    const preferred = prefer.includes(k.field);
    if (best !== null && (best.preferred && !preferred || best.preferred === preferred && best.span <= span)) continue;
    const ranges: Array<[number, number]> = n.ranges.map(([a, b]) => [a, b]);
    for (const v of n.exact) ranges.push([v, v]);
    if (n.ranges.length > 0 && n.exact.length > 0) ranges.sort((x, y) => x[0] - y[0]);
    best = { field: k.field, ranges, span, preferred };
    pick = i;
  }
  if (best === null) return null;
  let residual: Cond | null = null;
  for (let i = atoms.length - 1; i >= 0; i--) {
    if (i === pick) continue;
    residual = residual === null ? atoms[i]! : { kind: 'and', a: atoms[i]!, b: residual };
  }
  return { field: best.field, ranges: best.ranges, residual };
}

export interface IntervalRun { start: number; end: number; fields: Field[]; rules: IntervalRule[] }

/** Maximal runs (at least MIN_INTERVAL_RUN long) of interval-keyable sibling rules over at most
 *  MAX_RUN_FIELDS key fields, inside list[from, to). */
export function findIntervalRuns(list: Stmt[], from: number, to: number): IntervalRun[] {
  const runs: IntervalRun[] = [];
  let cur: IntervalRun | null = null;
  const close = (): void => {
    if (cur !== null && cur.end - cur.start >= MIN_INTERVAL_RUN) runs.push(cur);
    cur = null;
  };
  for (let i = from; i < to; i++) {
    let k = analyzeIntervalRule(list[i]!, cur?.fields ?? []);
    if (k === null) { close(); continue; }
    if (cur !== null && !cur.fields.includes(k.field) && cur.fields.length >= MAX_RUN_FIELDS) {
      close();
      k = analyzeIntervalRule(list[i]!);
    }
    if (cur === null) cur = { start: i, end: i, fields: [], rules: [] };
    const c: IntervalRun = cur;
    if (!c.fields.includes(k!.field)) c.fields.push(k!.field);
    c.rules.push(k!);
    c.end = i + 1;
  }
  close();
  return runs;
}

/** Value -> elementary interval -> candidate rules (run-relative indices, source order). */
export class IntervalIndex {
  /** Start of each elementary interval; pts[0] = 0, strictly increasing. */
  readonly pts: Float64Array;
  /** Candidates of elementary interval e: list[start[e] .. start[e + 1]) (e = pts.length: none). */
  readonly start: Int32Array;
  readonly list: Int32Array;
  private readonly base: number;
  private readonly top: number;
  private readonly bshift: number;
  private readonly first: Int32Array;
  private readonly last: number;
  private readonly none: number;

  /** rules: [run index, intervals] in source order; definite[j]: candidate j ends the search.
   *  Returns null when the lists would exceed maxPairs entries in total. */
  static build(rules: Array<[number, Array<[number, number]>]>, definite: ArrayLike<number>, maxPairs: number): IntervalIndex | null {
    let nb = 1;
    for (const [, rs] of rules) nb += 2 * rs.length;
    const sorted = new Float64Array(nb);
    nb = 1;
    for (const [, rs] of rules) for (const [a, b] of rs) { sorted[nb++] = a; if (b < MAX_U32) sorted[nb++] = b + 1; }
    sorted.subarray(0, nb).sort();
    let ne = 0;
    for (let i = 0; i < nb; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[ne++] = sorted[i]!;
    const pts = sorted.slice(0, ne);
    // next[e]: first elementary interval >= e not yet closed by a definite rule (path-halving find).
    const next = new Int32Array(ne + 1);
    for (let e = 0; e <= ne; e++) next[e] = e;
    const find = (e: number): number => {
      while (next[e] !== e) { next[e] = next[next[e]!]!; e = next[e]!; }
      return e;
    };
    let pe = new Int32Array(Math.min(maxPairs, 2 * nb + 16));
    let pr = new Int32Array(pe.length);
    let np = 0;
    for (const [j, rs] of rules) {
      const def = definite[j] !== 0;
      for (const [a, b] of rs) {
        const lo = lowerIndex(pts, a);
        const hi = b >= MAX_U32 ? ne : lowerIndex(pts, b + 1);
        for (let e = find(lo); e < hi; e = find(e + 1)) {
          if (np === pe.length) {
            if (np >= maxPairs) return null;
            const grow = Math.min(maxPairs, np * 2);
            const a = new Int32Array(grow); a.set(pe); pe = a;
            const c = new Int32Array(grow); c.set(pr); pr = c;
          }
          pe[np] = e;
          pr[np++] = j;
          if (def) next[e] = e + 1;
        }
      }
    }
    return new IntervalIndex(pts, pe.subarray(0, np), pr.subarray(0, np));
  }

  private constructor(pts: Float64Array, pe: Int32Array, pr: Int32Array) {
    const ne = pts.length;
    this.pts = pts;
    this.start = new Int32Array(ne + 2);
    for (let i = 0; i < pe.length; i++) this.start[pe[i]! + 1]!++;
    for (let e = 0; e < ne; e++) this.start[e + 1]! += this.start[e]!;
    this.start[ne + 1] = this.start[ne]!;
    this.none = ne;
    const fill = this.start.slice(0, ne);
    this.list = new Int32Array(pe.length);
    // Pairs were produced in rule order, so each list stays in source order.
    for (let i = 0; i < pe.length; i++) this.list[fill[pe[i]!]!++] = pr[i]!;
    this.last = ne - 1;
    this.base = ne > 1 ? pts[1]! : 1;
    this.top = pts[ne - 1]!;
    const { shift: bshift, buckets: nb } = bucketShift(this.top - this.base + 1, ne);
    this.bshift = bshift;
    this.first = new Int32Array(nb + 1);
    let e = 0;
    for (let k = 0; k <= nb; k++) {
      const at = this.base + k * 2 ** bshift;
      while (e < ne - 1 && pts[e + 1]! <= at) e++;
      this.first[k] = e;
    }
  }

  /** Elementary interval holding v (v an integer in [0, 2^32)); for a value that is no number
   *  (a read past a short buffer) an index with an empty list, as no key can equal it. */
  find(v: number): number {
    if (!(v >= this.base)) return v >= 0 ? 0 : this.none;
    if (v >= this.top) return this.last;
    const k = (v - this.base) >>> this.bshift;
    const pts = this.pts;
    let lo = this.first[k]!, hi = this.first[k + 1]!;
    // Largest e in [lo, hi] with pts[e] <= v (pts[lo] <= v holds).
    if (hi - lo <= 4) {
      while (lo < hi && pts[lo + 1]! <= v) lo++;
      return lo;
    }
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (pts[mid]! <= v) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** Smallest index i with pts[i] >= x (pts.length when none). */
function lowerIndex(pts: Float64Array, x: number): number {
  let lo = 0, hi = pts.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pts[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export type { IfStmt };
