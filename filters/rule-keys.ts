// What the classifier (classifier.ts) can take from a rule: its condition as a conjunction of
// `dimension in set-of-intervals` keys plus a residual of whatever else it tests.
// Each `and` term that tests one classifier field against constants (`==`, `!=`, `<`, `<=`, `>`,
// `>=`, `in` a list/range/CIDR set of at most MAX_KEY_INTERVALS intervals, `not` or an `or` of such
// tests on the same field) becomes the set of that field's values it accepts; terms on the same
// dimension are intersected. Everything else (other fields, field-to-field comparisons, larger
// sets, `or` across fields) stays in the residual, tested by generated code after the key matched.
// Invariants: for every packet, key(p) && residual(p) == cond(p), with the field values of
// fields.ts: tcp.* ports read 0 for other protocols, so a port test is a key only when it rejects
// 0 (then it also implies the protocol), and icmp.type, tcp.flags keep their 0-elsewhere reading
// in their own dimensions.

import type { CmpOp, Cond, Field, Operand, Stmt } from '../src/config/model.js';
import {
  DIM_CT_STATE, DIM_DADDR, DIM_DPORT, DIM_ICMP_TYPE, DIM_MAX, DIM_PROTO, DIM_SADDR, DIM_SPORT, DIM_TCP_FLAGS, DIMS,
  type ClassifierRules,
} from './classifier.js';
import { normalizeSet } from './sets.js';

/** Sets with more intervals than this are tested by residual code (a NumberSet). */
export const MAX_KEY_INTERVALS = 16;

/** Sorted, disjoint, non-adjacent inclusive intervals. */
export type Intervals = Array<[number, number]>;

/** Where a field's values live: its dimension and, for ports, the protocol the value implies. */
const FIELD_DIM: Partial<Record<Field, { dim: number; proto: number }>> = {
  'ip.protocol': { dim: DIM_PROTO, proto: -1 },
  'ip.saddr': { dim: DIM_SADDR, proto: -1 },
  'ip.daddr': { dim: DIM_DADDR, proto: -1 },
  'tcp.sport': { dim: DIM_SPORT, proto: 6 },
  'tcp.dport': { dim: DIM_DPORT, proto: 6 },
  'udp.sport': { dim: DIM_SPORT, proto: 17 },
  'udp.dport': { dim: DIM_DPORT, proto: 17 },
  'icmp.type': { dim: DIM_ICMP_TYPE, proto: -1 },
  'tcp.flags': { dim: DIM_TCP_FLAGS, proto: -1 },
  'ct.state': { dim: DIM_CT_STATE, proto: -1 },
};

export interface RuleKey {
  /** Accepted values per dimension (null: any). An empty list: the rule never matches. */
  dims: Array<Intervals | null>;
  residual: Cond | null;
}

const all = (d: number): Intervals => [[0, DIM_MAX[d]!]];

export function intersect(a: Intervals, b: Intervals): Intervals {
  const out: Intervals = [];
  let i = 0, j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i]![0], b[j]![0]), hi = Math.min(a[i]![1], b[j]![1]);
    if (lo <= hi) out.push([lo, hi]);
    if (a[i]![1] < b[j]![1]) i++; else j++;
  }
  return out;
}

function union(a: Intervals, b: Intervals): Intervals {
  const xs = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const out: Intervals = [];
  for (const [lo, hi] of xs) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(a: Intervals, max: number): Intervals {
  const out: Intervals = [];
  let at = 0;
  for (const [lo, hi] of a) {
    if (lo > at) out.push([at, lo - 1]);
    at = hi + 1;
  }
  if (at <= max) out.push([at, max]);
  return out;
}

const SWAP: Record<CmpOp, CmpOp> = { '==': '==', '!=': '!=', '<': '>', '>': '<', '<=': '>=', '>=': '<=' };

/** Values v in [0, max] with `v OP c`. */
function cmpSet(op: CmpOp, c: number, max: number): Intervals {
  const clip = (lo: number, hi: number): Intervals => {
    lo = Math.max(0, lo);
    hi = Math.min(max, hi);
    return lo <= hi ? [[lo, hi]] : [];
  };
  switch (op) {
    case '==': return Number.isInteger(c) ? clip(c, c) : [];
    case '!=': return Number.isInteger(c) ? complement(clip(c, c), max) : [[0, max]];
    case '<': return clip(0, Math.ceil(c) - 1);
    case '<=': return clip(0, Math.floor(c));
    case '>': return clip(Math.floor(c) + 1, max);
    case '>=': return clip(Math.ceil(c), max);
  }
}

/** The field a term tests and the values of that field it accepts, or null. */
function fieldTest(c: Cond): { field: Field; set: Intervals } | null {
  switch (c.kind) {
    case 'cmp': {
      let f: Operand = c.left, k: Operand = c.right, op = c.op;
      if (f.kind === 'const') { [f, k] = [k, f]; op = SWAP[op]; }
      if (f.kind !== 'field' || k.kind !== 'const') return null;
      const fd = FIELD_DIM[f.field];
      if (fd === undefined) return null;
      return { field: f.field, set: cmpSet(op, k.value, DIM_MAX[fd.dim]!) };
    }
    case 'in': {
      if (c.left.kind !== 'field') return null;
      const fd = FIELD_DIM[c.left.field];
      if (fd === undefined) return null;
      const max = DIM_MAX[fd.dim]!;
      // One range (a CIDR, `a-b`): the common case, without normalizeSet's sorting.
      if (c.set.exact.length === 0 && c.set.ranges.length === 1) {
        const [a0, b0] = c.set.ranges[0]!;
        const a = Math.max(0, Math.ceil(Math.min(a0, b0))), b = Math.min(max, Math.floor(Math.max(a0, b0)));
        return { field: c.left.field, set: a <= b ? [[a, b]] : [] };
      }
      const s = normalizeSet(c.set);
      if (s.exact.length + s.ranges.length > MAX_KEY_INTERVALS) return null;
      const xs: Intervals = [];
      for (const [a, b] of s.ranges) if (a <= max) xs.push([a, Math.min(b, max)]);
      for (const v of s.exact) if (v <= max) xs.push([v, v]);
      return { field: c.left.field, set: union(xs, []) };
    }
    case 'not': {
      const x = fieldTest(c.c);
      return x === null ? null : { field: x.field, set: complement(x.set, DIM_MAX[FIELD_DIM[x.field]!.dim]!) };
    }
    case 'or': {
      let field: Field | null = null;
      let set: Intervals = [];
      for (const t of c.terms) {
        const x = fieldTest(t);
        if (x === null || (field !== null && x.field !== field)) return null;
        field = x.field;
        set = union(set, x.set);
        if (set.length > MAX_KEY_INTERVALS) return null;
      }
      return field === null ? null : { field, set };
    }
    default: return null;
  }
}

function constrain(dims: Array<Intervals | null>, d: number, set: Intervals): void {
  const cur = dims[d];
  dims[d] = cur === null || cur === undefined ? set : intersect(cur, set);
}

/** The key of an else-less `if` in a context that guarantees protocol `proto` (-1: any), or
 *  null when no term of its condition is a key. */
export function ruleKey(s: Stmt, proto = -1): RuleKey | null {
  if (s.kind !== 'if' || s.else !== null) return null;
  const c = s.cond;
  const n = c.kind === 'and' ? c.terms.length : 1;
  const dims: Array<Intervals | null> = [null, null, null, null, null, null, null, null];
  if (proto >= 0) dims[DIM_PROTO] = [[proto, proto]];
  let rest: Cond[] | null = null;
  let ports: Array<{ t: Cond; dim: number; proto: number; set: Intervals }> | null = null;
  let keyed = false;
  for (let i = 0; i < n; i++) {
    const t = c.kind === 'and' ? c.terms[i]! : c;
    if (t.kind === 'const') {
      if (!t.value) constrain(dims, DIM_PROTO, []);
      keyed = true;
      continue;
    }
    const x = fieldTest(t);
    if (x === null) { (rest ??= []).push(t); continue; }
    const fd = FIELD_DIM[x.field]!;
    if (fd.proto >= 0) (ports ??= []).push({ t, dim: fd.dim, proto: fd.proto, set: x.set });
    else constrain(dims, fd.dim, x.set);
    keyed = true;
  }
  // A port test: the port of another protocol reads 0, so a test that accepts 0 is a key only
  // where the protocol is known to be the port's own.
  if (ports !== null) {
    for (const x of ports) {
      const p = dims[DIM_PROTO];
      const known = p !== null && p !== undefined && p.length === 1 && p[0]![0] === x.proto && p[0]![1] === x.proto;
      if (!known && x.set.length > 0 && x.set[0]![0] === 0) { (rest ??= []).push(x.t); continue; }
      constrain(dims, DIM_PROTO, [[x.proto, x.proto]]);
      constrain(dims, x.dim, x.set);
    }
  }
  if (!keyed) return null;
  for (let d = 0; d < DIMS; d++) {
    const x = dims[d];
    if (x !== null && x !== undefined && x.length === 1 && x[0]![0] === 0 && x[0]![1] === DIM_MAX[d]) dims[d] = null;
  }
  const residual = rest === null ? null : rest.length === 1 ? rest[0]! : { kind: 'and' as const, terms: rest };
  return { dims, residual };
}

/** Flat constraint arrays for Classifier.build(): groups in order of selectivity (the dimension
 *  whose accepted share is smallest first), so most non-matching rules fail on their first test. */
export function classifierRules(keys: RuleKey[], definite: ArrayLike<number>): ClassifierRules {
  const n = keys.length;
  let m = 0;
  for (const k of keys) for (const x of k.dims) if (x !== null) m += Math.max(1, x.length);
  const cStart = new Int32Array(n + 1);
  const cDim = new Uint8Array(m);
  const cLo = new Uint32Array(m);
  const cHi = new Uint32Array(m);
  const never = new Uint8Array(n);
  const defs = new Uint8Array(n);
  let at = 0;
  // Per rule: its constrained dimensions, sorted by the share of values they accept.
  const od = new Int32Array(DIMS), os = new Float64Array(DIMS);
  for (let j = 0; j < n; j++) {
    const k = keys[j]!;
    cStart[j] = at;
    defs[j] = definite[j]! ? 1 : 0;
    let no = 0;
    for (let d = 0; d < DIMS; d++) {
      const x = k.dims[d];
      if (x === null) continue;
      if (x.length === 0) { never[j] = 1; break; }
      let span = 0;
      for (const [a, b] of x) span += b - a + 1;
      const share = span / (DIM_MAX[d]! + 1);
      let i = no++;
      while (i > 0 && os[i - 1]! > share) { od[i] = od[i - 1]!; os[i] = os[i - 1]!; i--; }
      od[i] = d;
      os[i] = share;
    }
    if (never[j]) continue;
    for (let q = 0; q < no; q++) {
      const d = od[q]!;
      const x = k.dims[d]!;
      for (let i = 0; i < x.length; i++) {
        cDim[at] = d | (i === x.length - 1 ? 128 : 0);
        cLo[at] = x[i]![0];
        cHi[at] = x[i]![1];
        at++;
      }
    }
  }
  cStart[n] = at;
  return { n, cStart, cDim: cDim.slice(0, at), cLo: cLo.slice(0, at), cHi: cHi.slice(0, at), definite: defs, never };
}
