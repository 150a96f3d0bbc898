// Hand-written recursive-descent reader for NaCl: the fast path in front of the Peggy parser.
// Invariant: when fastParse returns an AST it is exactly the AST grammar/parser.js builds for the
// same text (same nodes, same key order, same locations, same Loc behaviour). It decides each
// ordered choice of grammar/nacl.peggy by lookahead and gives up (returns null) on anything it
// is not sure about: syntax errors, errors raised by grammar actions, deep nesting. The caller
// then runs the Peggy parser, which owns every syntax error and its message.

import type { CmpOpText, CondNode, FunctionNode, ItemNode, Pair, SrcLoc, StmtNode, Value } from './ast.js';

const RESERVED = new Set(['if', 'else', 'and', 'or', 'not', 'in', 'IN', 'true', 'false']);
/** Nesting (parentheses, not, blocks, lists, objects) beyond which Peggy decides (and may overflow). */
const MAX_DEPTH = 200;

const WORD = new Uint8Array(128); // [a-zA-Z0-9_-]
const STRCH = new Uint8Array(128); // StringChar's class
for (let c = 0; c < 128; c++) {
  const alpha = (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  const digit = c >= 48 && c <= 57;
  if (alpha || digit || c === 95 || c === 45) WORD[c] = 1;
  if (alpha || digit || ' _\t\r\n./:,{}()<>!=&|[]-'.includes(String.fromCharCode(c))) STRCH[c] = 1;
}
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isWordChar = (c: number): boolean => c < 128 && WORD[c] === 1;

class Bail {}
const BAIL = new Bail();

type Num = Value & { kind: 'int' | 'dec' | 'ip' };

/** Line starts of one input; most lookups are for the line of the previous one (a node's line, then its column). */
class LineIndex {
  private last = 0;
  constructor(readonly starts: number[]) {}
  lineOf(off: number): number {
    const st = this.starts;
    const l = this.last;
    if (off >= st[l] && (l + 1 === st.length || off < st[l + 1])) return l;
    let lo = 0, hi = st.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (st[mid] <= off) lo = mid; else hi = mid - 1;
    }
    this.last = lo;
    return lo;
  }
}

/**
 * Behaves as the Loc of the Peggy grammar's initializer (line and column computed on use, same
 * JSON). One class for all parses, so every AST location has one hidden class; the line index
 * is a third field, which JSON (toJSON) and the SrcLoc type do not show.
 */
class Loc {
  declare offset: number;
  declare length: number;
  declare ix: LineIndex;
  constructor(offset: number, length: number, ix: LineIndex) {
    this.offset = offset;
    this.length = length;
    this.ix = ix;
  }
  get line(): number { return this.ix.lineOf(this.offset) + 1; }
  get col(): number { return this.offset - this.ix.starts[this.ix.lineOf(this.offset)] + 1; }
  toJSON() { return { line: this.line, col: this.col, offset: this.offset, length: this.length }; }
}

// The nodes every rule produces are built by constructors, not object literals: V8 tracks an
// allocation site per literal and, when it decides to pretenure one (typically during the first
// reloads), throws away the optimised code of every function allocating there. Same own keys in
// the same order as the literals of the Peggy grammar, so the AST (and its JSON) is identical.
class IntNode {
  declare kind: 'int';
  declare value: number;
  declare text: string;
  declare loc: SrcLoc;
  constructor(value: number, text: string, loc: SrcLoc) {
    this.kind = 'int';
    this.value = value;
    this.text = text;
    this.loc = loc;
  }
}
class IpNode {
  declare kind: 'ip';
  declare bytes: [number, number, number, number];
  declare text: string;
  declare loc: SrcLoc;
  constructor(b0: number, b1: number, b2: number, b3: number, text: string, loc: SrcLoc) {
    this.kind = 'ip';
    this.bytes = Array.of(b0, b1, b2, b3) as [number, number, number, number];
    this.text = text;
    this.loc = loc;
  }
}
class NameNode {
  declare kind: 'name';
  declare parts: string[];
  declare loc: SrcLoc;
  constructor(parts: string[], loc: SrcLoc) {
    this.kind = 'name';
    this.parts = parts;
    this.loc = loc;
  }
}
class CmpNode {
  declare kind: 'cmp';
  declare op: CmpOpText;
  declare opLoc: SrcLoc;
  declare left: Value;
  declare right: Value;
  declare loc: SrcLoc;
  constructor(op: CmpOpText, opLoc: SrcLoc, left: Value, right: Value, loc: SrcLoc) {
    this.kind = 'cmp';
    this.op = op;
    this.opLoc = opLoc;
    this.left = left;
    this.right = right;
    this.loc = loc;
  }
}
class ActionNode {
  declare kind: 'action';
  declare name: string;
  declare nameLoc: SrcLoc;
  declare args: Value[] | null;
  declare loc: SrcLoc;
  constructor(name: string, nameLoc: SrcLoc, args: Value[] | null, loc: SrcLoc) {
    this.kind = 'action';
    this.name = name;
    this.nameLoc = nameLoc;
    this.args = args;
    this.loc = loc;
  }
}
class IfNode {
  declare kind: 'if';
  declare cond: CondNode;
  declare then: StmtNode[];
  declare else: StmtNode[] | null;
  declare elseLoc: SrcLoc | null;
  declare headLength: number;
  declare loc: SrcLoc;
  constructor(cond: CondNode, then: StmtNode[], els: StmtNode[] | null, elseLoc: SrcLoc | null, headLength: number, loc: SrcLoc) {
    this.kind = 'if';
    this.cond = cond;
    this.then = then;
    this.else = els;
    this.elseLoc = elseLoc;
    this.headLength = headLength;
    this.loc = loc;
  }
}

// Reader state: module level, so the functions below are created once and their optimised code
// is reused from one parse (a reload) to the next. fastParse is not re-entrant; it resets all of it.
let input = '';
let n = 0;
let ix = new LineIndex([0]);
const at = (s: number, e: number): SrcLoc => new Loc(s, e - s > 1 ? e - s : 1, ix) as unknown as SrcLoc;

let pos = 0;
let depth = 0;
// Elements of the lists being read (nested lists stack up); each list is copied out at its
// exact length, so arrays in the AST carry no spare capacity.
const stack: unknown[] = [];
let top = 0;
const take = <T>(base: number): T[] => {
  const a = stack.slice(base, top) as T[];
  top = base;
  return a;
};
const ch = (p: number): number => input.charCodeAt(p);
const fail = (): never => { throw BAIL; };
const expect = (c: number): void => { if (ch(pos) !== c) fail(); pos++; };
const enter = (): void => { if (++depth > MAX_DEPTH) fail(); };

// Identifiers repeat (ip, saddr, drop...): short ones are shared instead of sliced anew.
const words: Array<string | undefined> = new Array(1024).fill(undefined);
const names: Array<string[] | undefined> = new Array(256).fill(undefined);
function wordText(p: number, q: number): string {
  const len = q - p;
  if (len > 12) return input.slice(p, q);
  const key = (ch(p) * 31 + ch(q - 1) * 7 + len * 131) & 1023;
  const w = words[key];
  if (w !== undefined && w.length === len && input.startsWith(w, p)) return w;
  return (words[key] = input.slice(p, q));
}

function skip(): void {
  let p = pos;
  for (;;) {
    const c = input.charCodeAt(p);
    if (c === 32 || c === 9 || c === 10 || c === 13) { p++; continue; }
    if (c === 35 || (c === 47 && input.charCodeAt(p + 1) === 47)) {
      const e = input.indexOf('\n', p);
      p = e < 0 ? n : e;
      continue;
    }
    if (c === 47 && input.charCodeAt(p + 1) === 42) {
      const e = input.indexOf('*/', p + 2);
      if (e < 0) break;
      p = e + 2;
      continue;
    }
    break;
  }
  pos = p;
}

/** `kw` at pos, not followed by an identifier character. */
function keyword(kw: string): boolean {
  return input.startsWith(kw, pos) && !isWordChar(ch(pos + kw.length));
}

/** Word: null when there is no word (or a reserved one) at pos; pos unchanged then. */
function word(): { text: string; loc: SrcLoc } | null {
  const p = pos;
  if (!isAlpha(ch(p))) return null;
  let q = p + 1;
  while (q < n && isWordChar(ch(q))) q++;
  const w = wordText(p, q);
  if (q - p <= 5 && RESERVED.has(w)) return null;
  pos = q;
  return { text: w, loc: at(p, q) };
}
function needWord(): { text: string; loc: SrcLoc } {
  return word() ?? fail();
}

function digitsEnd(p: number): number {
  while (p < n && isDigit(ch(p))) p++;
  return p;
}

/** Value of the digits input[s..e) (as Number() of that text). */
function digitsValue(s: number, e: number): number {
  if (e - s > 15) return Number(input.slice(s, e));
  let v = 0;
  for (let i = s; i < e; i++) v = v * 10 + (ch(i) - 48);
  return v;
}

function numLit(): Num {
  const start = pos;
  if (!isDigit(ch(start))) return fail();
  let p = digitsEnd(start);
  // Start and end of up to four dot-separated digit runs.
  let count = 1, s1 = 0, e1 = 0, s2 = 0, e2 = 0, s3 = 0, e3 = 0;
  while (count < 4) {
    pos = p;
    skip();
    if (ch(pos) !== 46) break;
    pos++;
    skip();
    const r = pos;
    const e = digitsEnd(r);
    if (e === r) break;
    if (count === 1) { s1 = r; e1 = e; } else if (count === 2) { s2 = r; e2 = e; } else { s3 = r; e3 = e; }
    count++;
    p = e;
  }
  const c = ch(p);
  if (count === 3 || isAlpha(c) || isDigit(c) || c === 95) return fail();
  const e0 = digitsEnd(start);
  pos = p;
  const loc = at(start, p);
  if (count === 1) {
    const t = input.slice(start, e0);
    return new IntNode(digitsValue(start, e0), t, loc);
  }
  if (count === 2) {
    const t = input.slice(start, e0) + '.' + input.slice(s1, e1);
    return { kind: 'dec', value: Number(t), text: t, loc };
  }
  const b0 = digitsValue(start, e0), b1 = digitsValue(s1, e1), b2 = digitsValue(s2, e2), b3 = digitsValue(s3, e3);
  const normal = s1 === e0 + 1 && s2 === e1 + 1 && s3 === e2 + 1
    && !(ch(start) === 48 && e0 - start > 1) && !(ch(s1) === 48 && e1 - s1 > 1)
    && !(ch(s2) === 48 && e2 - s2 > 1) && !(ch(s3) === 48 && e3 - s3 > 1) && e3 - start <= 15;
  const text = normal ? input.slice(start, e3) : `${b0}.${b1}.${b2}.${b3}`;
  return new IpNode(b0, b1, b2, b3, text, loc);
}

function negative(): Value {
  const start = pos;
  expect(40);
  skip();
  expect(45);
  skip();
  const v = numLit();
  skip();
  expect(41);
  if (v.kind === 'ip') return fail();
  return { kind: v.kind, value: -v.value, text: '-' + v.text, loc: at(start, pos) } as Value;
}

function scalar(): Value {
  return isDigit(ch(pos)) ? numLit() : negative();
}

function integer(): (Value & { kind: 'int' }) | null {
  const s = pos;
  const e = digitsEnd(s);
  if (e === s) return null;
  const c = ch(e);
  if (isAlpha(c) || isDigit(c) || c === 95) return null;
  pos = e;
  const d = input.slice(s, e);
  return new IntNode(Number(d), d, at(s, e));
}

function numeric(): Value {
  const start = pos;
  const a = scalar();
  const after = pos;
  skip();
  const c = ch(pos);
  if (c === 47) {
    pos++;
    skip();
    const p = integer();
    if (p) {
      if (a.kind !== 'ip') return fail();
      return { kind: 'cidr', bytes: a.bytes, prefix: p.value, text: input.slice(start, pos), loc: at(start, pos) };
    }
  } else if (c === 45) {
    pos++;
    skip();
    const c2 = ch(pos);
    if (isDigit(c2) || c2 === 40) {
      const b = scalar();
      return { kind: 'range', from: a, to: b, loc: at(start, pos) };
    }
  }
  pos = after;
  return a;
}

function string(): Value {
  const start = pos;
  pos++;
  let value = '';
  let run = pos;
  for (;;) {
    const c = ch(pos);
    if (c === 34) break;
    if (c === 92) {
      if (ch(pos + 1) !== 110) fail();
      value += input.slice(run, pos) + '\n';
      pos += 2;
      run = pos;
      continue;
    }
    if (c === 47 && (ch(pos + 1) === 47 || ch(pos + 1) === 42)) fail();
    if (!(c < 128 && STRCH[c] === 1)) fail();
    pos++;
  }
  value += input.slice(run, pos);
  pos++;
  return { kind: 'string', value, loc: at(start, pos) };
}

/** End of the (non-reserved) word at pos, or -1. */
function wordEnd(): number {
  const p = pos;
  if (!isAlpha(ch(p))) return -1;
  let q = p + 1;
  while (q < n && isWordChar(ch(q))) q++;
  if (q - p <= 5 && RESERVED.has(wordText(p, q))) return -1;
  return q;
}

function nameValue(): Value {
  const start = pos;
  let e = wordEnd();
  if (e < 0) return fail();
  const base = top;
  stack[top++] = wordText(start, e);
  pos = e;
  for (;;) {
    const save = pos;
    skip();
    if (ch(pos) !== 46) { pos = save; break; }
    pos++;
    skip();
    const s = pos;
    e = wordEnd();
    if (e < 0) { pos = save; break; }
    stack[top++] = wordText(s, e);
    pos = e;
  }
  let parts: string[];
  if (top - base === 2) {
    // Two-part names (ip.saddr) repeat: nothing changes name parts, so equal ones share an array.
    const a = stack[base] as string, b = stack[base + 1] as string;
    const key = (a.charCodeAt(0) * 7 + a.length * 31 + b.charCodeAt(0) * 3 + b.length * 131 + b.charCodeAt(b.length - 1)) & 255;
    const hit = names[key];
    if (hit !== undefined && hit[0] === a && hit[1] === b) {
      top = base;
      parts = hit;
    } else parts = names[key] = take<string>(base);
  } else parts = take<string>(base);
  return new NameNode(parts, at(start, pos));
}

function value(): Value {
  const c = ch(pos);
  if (isDigit(c) || c === 40) return numeric();
  if (c === 116 && keyword('true')) { const s = pos; pos += 4; return { kind: 'bool', value: true, loc: at(s, pos) }; }
  if (c === 102 && keyword('false')) { const s = pos; pos += 5; return { kind: 'bool', value: false, loc: at(s, pos) }; }
  if (c === 34) return string();
  if (isAlpha(c)) return nameValue();
  if (c === 91) {
    enter();
    const start = pos;
    pos++;
    skip();
    const base = top;
    stack[top++] = value();
    listTail(value, 93);
    const items = take<Value>(base);
    depth--;
    return { kind: 'list', items, loc: at(start, pos) };
  }
  if (c === 123) {
    enter();
    const start = pos;
    pos++;
    skip();
    const base = top;
    stack[top++] = pair();
    listTail(pair, 125);
    const pairs = take<Pair>(base);
    depth--;
    return { kind: 'object', pairs, loc: at(start, pos) };
  }
  return fail();
}

/** `(_ "," _ @X)* _ close`, with pos after the first element. */
function listTail(item: () => unknown, close: number): void {
  for (;;) {
    skip();
    if (ch(pos) === 44) {
      pos++;
      skip();
      stack[top++] = item();
      continue;
    }
    expect(close);
    return;
  }
}

function pair(): Pair {
  const start = pos;
  const key = needWord();
  skip();
  expect(58);
  skip();
  const v = value();
  return { key: key.text, keyLoc: key.loc, value: v, loc: at(start, pos) };
}

// ---- conditions

function cond(): CondNode {
  const start = pos;
  const first = andCond();
  const base = top;
  stack[top++] = first;
  for (;;) {
    const save = pos;
    skip();
    if (keyword('or')) pos += 2;
    else if (ch(pos) === 124 && ch(pos + 1) === 124) pos += 2;
    else { pos = save; break; }
    skip();
    stack[top++] = andCond();
  }
  if (top - base === 1) { top = base; return first; }
  return { kind: 'or', items: take<CondNode>(base), loc: at(start, pos) };
}

function andCond(): CondNode {
  const start = pos;
  const first = notCond();
  const base = top;
  stack[top++] = first;
  for (;;) {
    const save = pos;
    skip();
    if (keyword('and')) pos += 3;
    else if (ch(pos) === 38 && ch(pos + 1) === 38) pos += 2;
    else { pos = save; break; }
    skip();
    stack[top++] = notCond();
  }
  if (top - base === 1) { top = base; return first; }
  return { kind: 'and', items: take<CondNode>(base), loc: at(start, pos) };
}

function notCond(): CondNode {
  const start = pos;
  const c = ch(pos);
  let op = 0;
  if (c === 110 && keyword('not')) op = 3;
  else if (c === 33 && ch(pos + 1) !== 61) op = 1;
  if (op) {
    enter();
    pos += op;
    skip();
    const inner = notCond();
    depth--;
    return { kind: 'not', c: inner, loc: at(start, pos) };
  }
  if (c === 40) {
    const save = pos;
    pos++;
    skip();
    if (ch(pos) !== 45) {
      enter();
      const inner = cond();
      skip();
      expect(41);
      depth--;
      return inner;
    }
    pos = save;
  }
  return comparison();
}

/** Reads a comparison operator at pos (advancing past it), or returns null. */
function cmpOp(): CmpOpText | null {
  const s = pos;
  const c = ch(s);
  const c2 = ch(s + 1);
  let op: CmpOpText | null = null;
  if (c === 61 && c2 === 61) op = '==';
  else if (c === 33 && c2 === 61) op = '!=';
  else if (c === 60) op = c2 === 61 ? '<=' : '<';
  else if (c === 62) op = c2 === 61 ? '>=' : '>';
  else if ((c === 105 && c2 === 110) || (c === 73 && c2 === 78)) {
    if (isWordChar(ch(s + 2))) return null;
    op = 'in';
  }
  if (!op) return null;
  pos = s + (op.length === 1 ? 1 : 2);
  return op;
}

function comparison(): CondNode {
  const start = pos;
  const left = value();
  const save = pos;
  skip();
  const opStart = pos;
  const op = cmpOp();
  if (!op) {
    pos = save;
    return { kind: 'value', value: left, loc: at(start, pos) };
  }
  const opLoc = at(opStart, pos);
  skip();
  const right = value();
  return new CmpNode(op, opLoc, left, right, at(start, pos));
}

// ---- statements

function functionTail(): FunctionNode {
  expect(58);
  skip();
  expect(58);
  skip();
  const sub = needWord();
  skip();
  const name = word();
  if (name) skip();
  expect(123);
  skip();
  enter();
  const body = bodyStmts();
  depth--;
  expect(125);
  return {
    kind: 'function', type: '', typeLoc: null as unknown as SrcLoc, subtype: sub.text, subtypeLoc: sub.loc,
    name: name ? name.text : null, nameLoc: name ? name.loc : null, body, loc: null as unknown as SrcLoc,
  };
}

/** `(@Stmt _)+`, stopping before `}`. */
function bodyStmts(): StmtNode[] {
  const base = top;
  do {
    const st = stmt();
    stack[top++] = st;
    skip();
  } while (pos < n && ch(pos) !== 125);
  return take<StmtNode>(base);
}

function stmt(): StmtNode {
  const start = pos;
  if (ch(pos) === 105 && keyword('if')) return ifStmt();
  const first = needWord();
  skip();
  if (ch(pos) === 58) {
    const f = functionTail();
    f.loc = at(start, pos);
    f.type = first.text;
    f.typeLoc = first.loc;
    return f;
  }
  let args: Value[] | null = null;
  if (ch(pos) === 40) {
    pos++;
    skip();
    if (ch(pos) !== 41) {
      const base = top;
      stack[top++] = value();
      listTail(value, 41);
      args = take<Value>(base);
    } else {
      args = [];
      pos++;
    }
  }
  return new ActionNode(first.text, first.loc, args, at(start, pos));
}

function ifStmt(): StmtNode {
  const start = pos;
  pos += 2;
  skip();
  expect(40);
  skip();
  const c = cond();
  skip();
  expect(41);
  const condEnd = pos;
  skip();
  expect(123);
  skip();
  enter();
  const then = bodyStmts();
  expect(125);
  let els: StmtNode[] | null = null;
  let elseLoc: SrcLoc | null = null;
  const save = pos;
  skip();
  if (ch(pos) === 101 && keyword('else')) {
    const e = pos;
    pos += 4;
    elseLoc = at(e, pos);
    skip();
    expect(123);
    skip();
    els = bodyStmts();
    expect(125);
  } else pos = save;
  depth--;
  return new IfNode(c, then, els, elseLoc, condEnd - start, at(start, pos));
}

// ---- items

function item(): ItemNode {
  const start = pos;
  const first = word();
  if (!first) {
    const i = integer();
    if (!i) fail();
    return { kind: 'int', loc: i!.loc };
  }
  skip();
  const c = ch(pos);
  if (c === 58) {
    const save = pos;
    pos++;
    skip();
    const fn = ch(pos) === 58;
    pos = save;
    if (fn) {
      const f = functionTail();
      f.loc = at(start, pos);
      f.type = first.text;
      f.typeLoc = first.loc;
      return f;
    }
  }
  if (c === 58 || c === 46) {
    const path = [first.text];
    let end = first.loc.offset + first.loc.length;
    while (ch(pos) === 46) {
      pos++;
      skip();
      const w = needWord();
      path.push(w.text);
      end = w.loc.offset + w.loc.length;
      skip();
    }
    expect(58);
    skip();
    const v = value();
    return { kind: 'assign', path, pathLoc: at(first.loc.offset, end), value: v, loc: at(start, pos) };
  }
  const name = needWord();
  skip();
  const v = value();
  return { kind: 'typed', type: first.text, typeLoc: first.loc, name: name.text, nameLoc: name.loc, value: v, loc: at(start, pos) };
}

export function fastParse(text: string): ItemNode[] | null {
  input = text;
  n = text.length;
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  ix = new LineIndex(lineStarts);
  pos = 0;
  depth = 0;
  top = 0;
  words.fill(undefined);
  names.fill(undefined);
  try {
    const items: ItemNode[] = [];
    skip();
    while (pos < n) {
      items.push(item());
      skip();
    }
    return items;
  } catch (e) {
    if (e === BAIL || e instanceof RangeError) return null;
    throw e;
  } finally {
    // Stale entries must not keep AST nodes (or the text) alive until the next parse.
    stack.length = 0;
    input = '';
  }
}
