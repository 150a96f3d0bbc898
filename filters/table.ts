// Rule tables: long runs of simple rules that no dispatch handles (`if (COND) { accept|drop }`,
// any condition) kept as data, a decision graph in typed arrays, walked by one shared
// interpreter loop instead of thousands of lines of generated code. The loop is hot from the
// first packet, so it is optimised at once, where generated code for 10,000+ rules spends tens
// of thousands of packets interpreted before V8 optimises its many functions.
// Invariants: rules are tried in source order and the first whose condition holds counts (its
// `if` and its action, as the generated code does) and returns its verdict; -1 when none holds.
// Conditions keep their exact semantics (and/or short-circuit, not, comparisons on the same
// field values as generated code, `in` through sets.ts). Nothing is allocated per packet.

import type { CmpOp, Cond, Field, Stmt } from '../src/config/model.js';
import type { Pkt } from '../stack/wire/pkt.js';
import { ALL_FIELDS, fieldReader, type FieldReader } from './fields.js';
import { normalizeSet, NumberSet } from './sets.js';

const FIELD_ID = new Map<Field, number>(ALL_FIELDS.map((f, i) => [f, i]));
const READERS: FieldReader[] = ALL_FIELDS.map((f) => fieldReader(f));
const vals = new Float64Array(ALL_FIELDS.length);

/** Node kinds: value of field fa within [lo, hi]; in set SETS[aux]; fa OP vals[aux >> 3]. */
const K_RANGE = 0, K_SET = 1, K_FIELDS = 2;
/** Small `in` sets become chains of range nodes. */
const CHAIN_MAX = 6;
const CMP: Record<CmpOp, number> = { '==': 0, '!=': 1, '<': 2, '>': 3, '<=': 4, '>=': 5 };
const SWAP: Record<CmpOp, CmpOp> = { '==': '==', '!=': '!=', '<': '>', '>': '<', '<=': '>=', '>=': '<=' };

/** A rule the table can hold: an else-less `if` whose body is one accept or drop. */
export function tableRule(s: Stmt): boolean {
  if (s.kind !== 'if' || s.else !== null || s.then.length !== 1) return false;
  const a = s.then[0]!;
  return a.kind === 'accept' || a.kind === 'drop';
}

function cmpConst(op: number, x: number, y: number): boolean {
  switch (op) {
    case 0: return x === y;
    case 1: return x !== y;
    case 2: return x < y;
    case 3: return x > y;
    case 4: return x <= y;
    default: return x >= y;
  }
}

/** All rules of a table as one decision graph: every node tests one field and names its
 *  successor for true and for false; a negative successor -(i + 1) means "rule i matched"
 *  (i = n: none did). Rule i's false exits lead to rule i + 1's entry, so a packet walks the
 *  graph from `entry` to the first matching rule. Field values are integers, so each
 *  comparison with a constant is a range test. */
export class RuleTable {
  readonly kind: Uint8Array;
  readonly fa: Int32Array;
  readonly aux: Int32Array;
  readonly lo: Float64Array;
  readonly hi: Float64Array;
  readonly tn: Int32Array;
  readonly fn: Int32Array;
  readonly sets: NumberSet[] = [];
  readonly entry: number;
  readonly ids: Int32Array;
  readonly actIds: Int32Array;
  readonly verdicts: Int8Array;
  /** Field ids the conditions read (loaded once per packet). */
  readonly fields: Int32Array;
  readonly n: number;

  constructor(rules: Array<Extract<Stmt, { kind: 'if' }>>) {
    const kind: number[] = [], fa: number[] = [], aux: number[] = [], lo: number[] = [], hi: number[] = [], tn: number[] = [], fn: number[] = [];
    const used = new Set<number>();
    const setIds = new Map<unknown, number>();
    const n = rules.length;
    this.n = n;
    this.ids = new Int32Array(n);
    this.actIds = new Int32Array(n);
    this.verdicts = new Int8Array(n);
    const field = (f: Field): number => { const id = FIELD_ID.get(f)!; used.add(id); return id; };
    const node = (k: number, f: number, x: number, a: number, b: number, t: number, e: number): number => {
      kind.push(k); fa.push(f); aux.push(x); lo.push(a); hi.push(b); tn.push(t); fn.push(e);
      return kind.length - 1;
    };
    const range = (f: Field, a: number, b: number, t: number, e: number): number => (a > b ? e : node(K_RANGE, field(f), 0, a, b, t, e));
    const gen = (c: Cond, t: number, e: number): number => {
      switch (c.kind) {
        case 'const': return c.value ? t : e;
        case 'not': return gen(c.c, e, t);
        case 'and': return gen(c.a, gen(c.b, t, e), e);
        case 'or': return gen(c.a, t, gen(c.b, t, e));
        case 'in': {
          const set = normalizeSet(c.set);
          if (c.left.kind === 'const') return new NumberSet(set).has(c.left.value) ? t : e;
          const f = c.left.field;
          if (set.exact.length + set.ranges.length <= CHAIN_MAX) {
            let x = e;
            for (let i = set.ranges.length - 1; i >= 0; i--) x = range(f, set.ranges[i]![0], set.ranges[i]![1], t, x);
            for (let i = set.exact.length - 1; i >= 0; i--) x = range(f, set.exact[i]!, set.exact[i]!, t, x);
            return x;
          }
          let s = setIds.get(c.set);
          if (s === undefined) { s = this.sets.length; this.sets.push(new NumberSet(set)); setIds.set(c.set, s); }
          return node(K_SET, field(f), s, 0, 0, t, e);
        }
        case 'cmp': {
          const { left, right } = c;
          if (left.kind === 'const' && right.kind === 'const') return cmpConst(CMP[c.op], left.value, right.value) ? t : e;
          if (left.kind === 'field' && right.kind === 'field') return node(K_FIELDS, field(left.field), field(right.field) * 8 + CMP[c.op], 0, 0, t, e);
          const [f, v, op] = left.kind === 'field' ? [left.field, (right as { value: number }).value, c.op]
            : [(right as { field: Field }).field, left.value, SWAP[c.op]];
          switch (op) {
            case '==': return Number.isInteger(v) ? range(f, v, v, t, e) : e;
            case '!=': return Number.isInteger(v) ? range(f, v, v, e, t) : t;
            case '<': return range(f, -Infinity, Math.ceil(v) - 1, t, e);
            case '<=': return range(f, -Infinity, Math.floor(v), t, e);
            case '>': return range(f, Math.floor(v) + 1, Infinity, t, e);
            case '>=': return range(f, Math.ceil(v), Infinity, t, e);
          }
        }
      }
    };
    let next = -(n + 1);
    for (let i = n - 1; i >= 0; i--) {
      const s = rules[i]!;
      next = gen(s.cond, -(i + 1), next);
      const a = s.then[0]!;
      this.ids[i] = s.id;
      this.actIds[i] = a.id;
      this.verdicts[i] = a.kind === 'drop' ? 1 : 0;
    }
    this.entry = next;
    this.kind = Uint8Array.from(kind);
    this.fa = Int32Array.from(fa);
    this.aux = Int32Array.from(aux);
    this.lo = Float64Array.from(lo);
    this.hi = Float64Array.from(hi);
    this.tn = Int32Array.from(tn);
    this.fn = Int32Array.from(fn);
    this.fields = Int32Array.from([...used].sort((x, y) => x - y));
  }
}

/** Runs table t on packet p: the verdict of the first matching rule (counted in P/B), or -1. */
export function runTable(t: RuleTable, p: Pkt, P: Float64Array, B: Float64Array): number {
  const fs = t.fields;
  for (let i = 0; i < fs.length; i++) vals[fs[i]!] = READERS[fs[i]!]!(p);
  const kind = t.kind, fa = t.fa, lo = t.lo, hi = t.hi, tn = t.tn, fn = t.fn;
  let x = t.entry;
  while (x >= 0) {
    let m: boolean;
    if (kind[x] === K_RANGE) {
      const v = vals[fa[x]!]!;
      m = v >= lo[x]! && v <= hi[x]!;
    } else if (kind[x] === K_SET) m = t.sets[t.aux[x]!]!.has(vals[fa[x]!]!);
    else m = cmpConst(t.aux[x]! & 7, vals[fa[x]!]!, vals[t.aux[x]! >> 3]!);
    x = m ? tn[x]! : fn[x]!;
  }
  const i = -x - 1;
  if (i >= t.n) return -1;
  const len = p.ipLen;
  const id = t.ids[i]!, a = t.actIds[i]!;
  P[id]++; B[id] += len; P[a]++; B[a] += len;
  return t.verdicts[i]!;
}
