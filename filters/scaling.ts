// Rule dispatch that stays flat as rules grow: a run of sibling `if (A and B ...) { ... }` rules
// (no else) whose conditions all test the same fields for equality (`field == const`, or
// `field in` a small list of exact values) becomes one hash lookup on those fields.
// Invariants: the lookup yields, for the packet's key tuple, the rules that can match in source
// order; each is then checked for its residual condition (the atoms not used as keys) and run,
// so first-match order, fall-through bodies and verdicts are exactly those of the linear code.
// Tables are typed arrays (open addressing, CSR rule lists); a lookup allocates nothing.

import type { Cond, Field, Stmt } from '../src/config/model.js';
import { normalizeSet } from './sets.js';

type IfStmt = Extract<Stmt, { kind: 'if' }>;

/** Shortest run worth a table. */
export const MIN_RUN = 4;
/** `in` atoms with at most this many exact values (and no ranges) become key alternatives. */
const MAX_IN_KEYS = 16;
/** Cap on key tuples one rule may expand to. */
const MAX_TUPLES = 64;

export interface KeyedRule {
  /** Key fields, sorted (interned: rules with the same fields share the array). */
  sig: Field[];
  /** Alternative key tuples, flattened (tuple i = vals[i * sig.length ...]); the rule can
   *  only match one of them. */
  vals: number[];
  /** Remaining condition, or null. */
  residual: Cond | null;
}

const sigs = new Map<string, Field[]>();
const sig1 = new Map<Field, Field[]>();
const sig2 = new Map<Field, Map<Field, Field[]>>();
function internSig(fields: Field[]): Field[] {
  if (fields.length === 1) {
    let s = sig1.get(fields[0]!);
    if (s === undefined) { s = internSig2(fields); sig1.set(fields[0]!, s); }
    return s;
  }
  if (fields.length === 2) {
    let m = sig2.get(fields[0]!);
    if (m === undefined) { m = new Map(); sig2.set(fields[0]!, m); }
    let s = m.get(fields[1]!);
    if (s === undefined) { s = internSig2(fields); m.set(fields[1]!, s); }
    return s;
  }
  return internSig2(fields);
}
function internSig2(fields: Field[]): Field[] {
  const key = fields.join(',');
  let s = sigs.get(key);
  if (s === undefined) { s = fields; sigs.set(key, s); }
  return s;
}

/** The top-level `and` terms of c, in order. */
function conjuncts(c: Cond): readonly Cond[] {
  return c.kind === 'and' ? c.terms : [c];
}

function eqAtom(a: Cond): [Field, number] | null {
  if (a.kind !== 'cmp' || a.op !== '==') return null;
  if (a.left.kind === 'field' && a.right.kind === 'const') return [a.left.field, a.right.value];
  if (a.right.kind === 'field' && a.left.kind === 'const') return [a.right.field, a.left.value];
  return null;
}

/** Key analysis of one rule, or null when it is not keyable. */
export function analyzeRule(s: Stmt): KeyedRule | null {
  if (s.kind !== 'if' || s.else !== null) return null;
  const c = s.cond;
  // Fast paths for the common shapes: `f == v` and `f == v and g == w`.
  const one = eqAtom(c);
  if (one !== null) {
    let sig = sig1.get(one[0]);
    if (sig === undefined) sig = internSig([one[0]]);
    return { sig, vals: [one[1]], residual: null };
  }
  if (c.kind === 'and' && c.terms.length === 2) {
    const x = eqAtom(c.terms[0]!), y = eqAtom(c.terms[1]!);
    if (x !== null && y !== null && x[0] !== y[0]) {
      const [p, q] = x[0] < y[0] ? [x, y] : [y, x];
      const sig = sig2.get(p[0])?.get(q[0]) ?? internSig([p[0], q[0]]);
      return { sig, vals: [p[1], q[1]], residual: null };
    }
  }
  const atoms = conjuncts(c);
  const keyVals = new Map<Field, number[]>();
  const rest: Cond[] = [];
  for (const a of atoms) {
    const e = eqAtom(a);
    if (e !== null && !keyVals.has(e[0])) { keyVals.set(e[0], [e[1]]); continue; }
    if (a.kind === 'in' && a.left.kind === 'field' && !keyVals.has(a.left.field)) {
      const n = normalizeSet(a.set);
      if (n.ranges.length === 0 && n.exact.length > 0 && n.exact.length <= MAX_IN_KEYS) { keyVals.set(a.left.field, n.exact); continue; }
    }
    rest.push(a);
  }
  if (keyVals.size === 0) return null;
  const sig = [...keyVals.keys()].sort();
  let tuples: number[][] = [[]];
  for (const f of sig) {
    const vs = keyVals.get(f)!;
    const next: number[][] = [];
    for (const t of tuples) for (const v of vs) next.push([...t, v]);
    tuples = next;
    if (tuples.length > MAX_TUPLES) return null;
  }
  const residual: Cond | null = rest.length === 0 ? null : rest.length === 1 ? rest[0]! : { kind: 'and', terms: rest };
  return { sig: internSig(sig), vals: tuples.flat(), residual };
}

export interface Run { start: number; end: number; sig: Field[]; rules: KeyedRule[] }

/** Maximal runs (at least MIN_RUN long) of keyable sibling rules with the same key fields,
 *  inside list[from, to). */
export function findRuns(list: Stmt[], from = 0, to = list.length): Run[] {
  const runs: Run[] = [];
  let cur: Run | null = null;
  for (let i = from; i <= to; i++) {
    const k = i < to ? analyzeRule(list[i]!) : null;
    if (cur !== null && (k === null || k.sig !== cur.sig)) {
      if (cur.end - cur.start >= MIN_RUN) runs.push(cur);
      cur = null;
    }
    if (k === null) continue;
    if (cur === null) cur = { start: i, end: i, sig: k.sig, rules: [] };
    cur.rules.push(k);
    cur.end = i + 1;
  }
  return runs;
}

const C = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f, 0x165667b1, 0xd3a2646c, 0xfd7046c5, 0xb55a4f09];

/** Hash of a key tuple; hashExpr() generates the same computation as JS source. */
export function hashKeys(keys: number[], shift: number): number {
  let h = 0;
  for (let i = 0; i < keys.length; i++) h ^= Math.imul(keys[i]!, C[i % C.length]!);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return (h ^ (h >>> 15)) >>> shift;
}

/** Statements leaving hashKeys(vars) in the local `h`. */
export function hashStatements(vars: string[], shift: number): string {
  const x = vars.map((v, i) => `Math.imul(${v}, ${C[i % C.length]})`).join(' ^ ');
  return `h = ${x}; h = Math.imul(h ^ (h >>> 16), 0x7feb352d); h = (h ^ (h >>> 15)) >>> ${shift};`;
}

/** The typed-array dispatch table of one run. */
export class DispatchTable {
  readonly slots: Int32Array;
  readonly shift: number;
  readonly mask: number;
  /** Key columns, one per signature field, by entry. */
  readonly keys: Float64Array[];
  /** Rules of entry e: list[start[e] .. start[e + 1]), in source order (run-relative). */
  readonly start: Int32Array;
  readonly list: Int32Array;
  readonly entries: number;

  constructor(width: number, rules: KeyedRule[]) {
    let total = 0;
    for (const k of rules) total += k.vals.length / width;
    let bits = 2;
    while ((1 << bits) < total * 2) bits++;
    this.slots = new Int32Array(1 << bits).fill(-1);
    this.mask = (1 << bits) - 1;
    this.shift = 32 - bits;
    const cols: Float64Array[] = Array.from({ length: width }, () => new Float64Array(total));
    const pairEntry = new Int32Array(total);
    const pairRule = new Int32Array(total);
    const t: number[] = new Array<number>(width).fill(0);
    let np = 0;
    let n = 0;
    for (let r = 0; r < rules.length; r++) {
      const vals = rules[r]!.vals;
      for (let o = 0; o < vals.length; o += width) {
        for (let i = 0; i < width; i++) t[i] = vals[o + i]!;
        let h = hashKeys(t, this.shift);
        let e: number;
        for (;;) {
          e = this.slots[h]!;
          if (e < 0) {
            e = n++;
            this.slots[h] = e;
            for (let i = 0; i < width; i++) cols[i]![e] = t[i]!;
            break;
          }
          let same = true;
          for (let i = 0; i < width; i++) if (cols[i]![e] !== t[i]) { same = false; break; }
          if (same) break;
          h = (h + 1) & this.mask;
        }
        // A rule listing the same tuple twice (`x in [1, 1]`) appears once.
        let dup = false;
        for (let q = np - 1; q >= 0 && pairRule[q] === r; q--) if (pairEntry[q] === e) { dup = true; break; }
        if (dup) continue;
        pairEntry[np] = e;
        pairRule[np] = r;
        np++;
      }
    }
    this.entries = n;
    this.keys = cols.map((c) => c.slice(0, n));
    // Stable counting sort of (entry, rule) pairs by entry: rule order is kept per entry.
    this.start = new Int32Array(n + 1);
    for (let i = 0; i < np; i++) this.start[pairEntry[i]! + 1]!++;
    for (let e = 0; e < n; e++) this.start[e + 1]! += this.start[e]!;
    const fill = this.start.slice(0, n);
    this.list = new Int32Array(np);
    for (let i = 0; i < np; i++) this.list[fill[pairEntry[i]!]!++] = pairRule[i]!;
  }
}
