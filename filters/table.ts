// Rule tables: long runs of simple rules that no dispatch handles (`if (COND) { accept|drop }`,
// any condition) kept as data, a tiny branch code per rule in typed arrays, run by one shared
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

/** Instructions are 4 int32 words: [op, a, b, c]; the condition result lives in `r`. */
const OP_CMP_K = 0; // r = vals[a] OP(c) K[b]
const OP_CMP_F = 1; // r = vals[a] OP(c) vals[b]
const OP_IN = 2; // r = SETS[b].has(vals[a])
const OP_CONST = 3; // r = a !== 0
const OP_NOT = 4; // r = !r
const OP_JF = 5; // if (!r) pc = a
const OP_JT = 6; // if (r) pc = a
const W = 4;

const CMP: Record<CmpOp, number> = { '==': 0, '!=': 1, '<': 2, '>': 3, '<=': 4, '>=': 5 };
const SWAP: Record<CmpOp, CmpOp> = { '==': '==', '!=': '!=', '<': '>', '>': '<', '<=': '>=', '>=': '<=' };

const FIELD_ID = new Map<Field, number>(ALL_FIELDS.map((f, i) => [f, i]));
const READERS: FieldReader[] = ALL_FIELDS.map((f) => fieldReader(f));
const vals = new Float64Array(ALL_FIELDS.length);

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

export class RuleTable {
  readonly code: Int32Array;
  readonly k: Float64Array;
  readonly sets: NumberSet[] = [];
  /** Code of rule i: code[start[i] .. start[i + 1]). */
  readonly start: Int32Array;
  readonly ids: Int32Array;
  readonly actIds: Int32Array;
  readonly verdicts: Int8Array;
  /** Field ids the conditions read (loaded once per packet). */
  readonly fields: Int32Array;
  readonly n: number;

  constructor(rules: Array<Extract<Stmt, { kind: 'if' }>>) {
    const code: number[] = [];
    const k: number[] = [];
    const used = new Set<number>();
    const setIds = new Map<unknown, number>();
    const n = rules.length;
    this.n = n;
    this.start = new Int32Array(n + 1);
    this.ids = new Int32Array(n);
    this.actIds = new Int32Array(n);
    this.verdicts = new Int8Array(n);
    const field = (f: Field): number => { const id = FIELD_ID.get(f)!; used.add(id); return id; };
    const emit = (op: number, a: number, b: number, c: number): number => { code.push(op, a, b, c); return code.length - W; };
    const gen = (c: Cond): void => {
      switch (c.kind) {
        case 'const': emit(OP_CONST, c.value ? 1 : 0, 0, 0); return;
        case 'not': gen(c.c); emit(OP_NOT, 0, 0, 0); return;
        case 'and': case 'or': {
          gen(c.a);
          const j = emit(c.kind === 'and' ? OP_JF : OP_JT, 0, 0, 0);
          gen(c.b);
          code[j + 1] = code.length;
          return;
        }
        case 'in': {
          if (c.left.kind === 'const') { emit(OP_CONST, new NumberSet(normalizeSet(c.set)).has(c.left.value) ? 1 : 0, 0, 0); return; }
          let s = setIds.get(c.set);
          if (s === undefined) { s = this.sets.length; this.sets.push(new NumberSet(normalizeSet(c.set))); setIds.set(c.set, s); }
          emit(OP_IN, field(c.left.field), s, 0);
          return;
        }
        case 'cmp': {
          const { left, right } = c;
          if (left.kind === 'const' && right.kind === 'const') { emit(OP_CONST, cmpConst(CMP[c.op], left.value, right.value) ? 1 : 0, 0, 0); return; }
          if (left.kind === 'field' && right.kind === 'field') { emit(OP_CMP_F, field(left.field), field(right.field), CMP[c.op]); return; }
          const [f, v, op] = left.kind === 'field' ? [left.field, (right as { value: number }).value, c.op]
            : [(right as { field: Field }).field, left.value, SWAP[c.op]];
          k.push(v);
          emit(OP_CMP_K, field(f), k.length - 1, CMP[op]);
        }
      }
    };
    for (let i = 0; i < n; i++) {
      const s = rules[i]!;
      this.start[i] = code.length;
      gen(s.cond);
      const a = s.then[0]!;
      this.ids[i] = s.id;
      this.actIds[i] = a.id;
      this.verdicts[i] = a.kind === 'drop' ? 1 : 0;
    }
    this.start[n] = code.length;
    this.code = Int32Array.from(code);
    this.k = Float64Array.from(k);
    this.fields = Int32Array.from([...used].sort((x, y) => x - y));
  }
}

/** Runs table t on packet p: the verdict of the first matching rule (counted in P/B), or -1. */
export function runTable(t: RuleTable, p: Pkt, P: Float64Array, B: Float64Array): number {
  const fs = t.fields;
  for (let i = 0; i < fs.length; i++) vals[fs[i]!] = READERS[fs[i]!]!(p);
  const code = t.code, k = t.k, start = t.start, n = t.n;
  let pc = start[0]!;
  for (let i = 0; i < n; i++) {
    const end = start[i + 1]!;
    let r = false;
    while (pc < end) {
      const a = code[pc + 1]!;
      switch (code[pc]) {
        case OP_CMP_K: {
          const x = vals[a]!, y = k[code[pc + 2]!]!;
          switch (code[pc + 3]) {
            case 0: r = x === y; break;
            case 1: r = x !== y; break;
            case 2: r = x < y; break;
            case 3: r = x > y; break;
            case 4: r = x <= y; break;
            default: r = x >= y;
          }
          break;
        }
        case OP_CMP_F: {
          const x = vals[a]!, y = vals[code[pc + 2]!]!;
          switch (code[pc + 3]) {
            case 0: r = x === y; break;
            case 1: r = x !== y; break;
            case 2: r = x < y; break;
            case 3: r = x > y; break;
            case 4: r = x <= y; break;
            default: r = x >= y;
          }
          break;
        }
        case OP_IN: r = t.sets[code[pc + 2]!]!.has(vals[a]!); break;
        case OP_CONST: r = a !== 0; break;
        case OP_NOT: r = !r; break;
        case OP_JF: if (!r) { pc = a; continue; } break;
        default: if (r) { pc = a; continue; }
      }
      pc += W;
    }
    pc = end;
    if (r) {
      const len = p.ipLen;
      const id = t.ids[i]!, x = t.actIds[i]!;
      P[id]++; B[id] += len; P[x]++; B[x] += len;
      return t.verdicts[i]!;
    }
  }
  return -1;
}
