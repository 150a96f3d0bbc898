// Filter and Nat functions: checks each function body once (actions, calls, nested blocks,
// property namespaces, conditions) into a template, detects recursion between functions, and
// instantiates the Stmt IR of every top-level function with called functions inlined as blocks.
// Every instantiated statement gets a fresh rule id with its RuleInfo. and/or chains stay n-ary
// (one Cond with all their terms; parenthesised chains of the same kind are spliced in).

import type { CondNode, FunctionNode, Span, StmtNode, Value } from '../../grammar/ast.js';
import {
  SEVERITIES, type Cond, type Field, type FunctionType, type LogArg, type Operand, type RuleInfo, type Stmt, type Subtype,
} from './model.js';
import { didYouMean, tok, type Diagnostics } from './diagnostics.js';
import { describeValue, type Resolver, type RVal, type ValueCtx } from './values.js';

export const SUBTYPES: Record<string, Subtype> = { ip: 'ip', tcp: 'tcp', udp: 'udp', icmp: 'icmp' };

const ACTIONS: Record<FunctionType, string[]> = {
  filter: ['accept', 'drop', 'log', 'syslog'],
  nat: ['dnat', 'snat', 'log', 'syslog'],
};
const ALL_ACTIONS = new Set(['accept', 'drop', 'log', 'syslog', 'dnat', 'snat']);

/** Which subtypes may be nested in (or called from) a function of a given subtype. */
const NESTABLE: Record<Subtype, Subtype[]> = {
  ip: ['ip', 'tcp', 'udp', 'icmp'],
  tcp: ['ip', 'tcp'],
  udp: ['ip', 'udp'],
  icmp: ['ip', 'icmp'],
};

const MAX_RULES = 2_000_000;

/** Fields compared with port numbers: every constant they meet must be one. */
const PORT_FIELDS: ReadonlySet<Field> = new Set<Field>(['tcp.sport', 'tcp.dport', 'udp.sport', 'udp.dport']);
const isPort = (v: number): boolean => Number.isInteger(v) && v >= 0 && v <= 65535;

/** A checked statement, before rule ids are assigned. */
export type Tmpl =
  | { k: 'if'; cond: Cond; then: Tmpl[]; else: Tmpl[] | null; loc: Span; text: string }
  | { k: 'accept' | 'drop'; loc: Span; text: string }
  | { k: 'log'; args: LogArg[]; loc: Span; text: string }
  | { k: 'syslog'; severity: number; args: LogArg[]; loc: Span; text: string }
  | { k: 'dnat' | 'snat'; addr: number | null; port: number | null; loc: Span; text: string }
  | { k: 'block'; subtype: Subtype; body: Tmpl[]; loc: Span; text: string }
  | { k: 'call'; name: string; loc: Span; text: string };

export interface CheckedFunction {
  name: string;
  type: FunctionType;
  subtype: Subtype;
  node: FunctionNode;
  body: Tmpl[];
  /** Calls made anywhere in the body (callee name, call site). */
  calls: Array<{ name: string; loc: Span }>;
  /** Last body statement is literally `accept` or `drop` (the reference's textual check). */
  endsInVerdict: boolean;
}

interface Ctx extends ValueCtx {
  type: FunctionType;
  sub: Subtype;
  fn: CheckedFunction;
}

const TYPE_TITLE: Record<FunctionType, string> = { filter: 'Filter', nat: 'Nat' };

function namespaces(sub: Subtype, parent: ReadonlySet<string> | null): Set<string> {
  const s = new Set(parent ?? ['ip', 'ct']);
  if (sub !== 'ip') s.add(sub);
  return s;
}

export class FunctionChecker {
  readonly functions = new Map<string, CheckedFunction>();

  constructor(
    private readonly res: Resolver,
    private readonly diags: Diagnostics,
    private readonly text: string,
    /** Known top-level function names with their type and subtype (filled before checking). */
    private readonly signatures: Map<string, { type: FunctionType; subtype: Subtype }>,
  ) {}

  /** Source text of a rule on one line, whitespace runs collapsed, at most 80 characters. */
  private src(from: number, to: number): string {
    const t = this.text;
    const end = Math.min(t.length, to);
    // Common case: printable ASCII separated by single spaces, maybe followed by whitespace,
    // at most 80 characters: the result is a plain slice of the source.
    let last = from - 1;
    let gap = 0;
    let plain = true;
    for (let i = from; i < end; i++) {
      const c = t.charCodeAt(i);
      if (c === 32 || c === 9 || c === 10 || c === 13) {
        gap = c === 32 && gap === 0 ? 1 : 2;
        continue;
      }
      if (c < 33 || c > 126 || (gap !== 0 && (gap !== 1 || last < from)) || i - from >= 80) {
        plain = false;
        break;
      }
      gap = 0;
      last = i;
    }
    if (plain) return t.slice(from, last + 1);
    let out = '';
    let runStart = from;
    let space = false;
    for (let i = from; i < end; i++) {
      const c = t.charCodeAt(i);
      const ws = c === 32 || c === 9 || c === 10 || c === 13;
      if (ws && !space) {
        out += t.slice(runStart, i);
        space = true;
      } else if (!ws && space) {
        out += ' ';
        runStart = i;
        space = false;
      }
      if (out.length > 80) break;
    }
    if (!space && out.length <= 80) out += t.slice(runStart, Math.min(end, runStart + 81));
    out = out.trim();
    return out.length > 80 ? out.slice(0, 77) + '...' : out;
  }

  check(name: string, node: FunctionNode, type: FunctionType, subtype: Subtype): CheckedFunction {
    const fn: CheckedFunction = { name, type, subtype, node, body: [], calls: [], endsInVerdict: false };
    const ctx: Ctx = { type, sub: subtype, allowed: namespaces(subtype, null), subtype: subtype.toUpperCase(), fn };
    fn.body = this.body(node.body, ctx);
    const last = node.body[node.body.length - 1];
    fn.endsInVerdict = !!last && last.kind === 'action' && last.args === null && (last.name === 'accept' || last.name === 'drop');
    this.functions.set(name, fn);
    return fn;
  }

  private body(stmts: StmtNode[], ctx: Ctx): Tmpl[] {
    if (stmts.length === 1) {
      const t = this.stmt(stmts[0], ctx);
      return t ? [t] : [];
    }
    const out: Tmpl[] = [];
    let final: string | null = null;
    for (let i = 0; i < stmts.length; i++) {
      const s = stmts[i];
      if (final) {
        this.diags.warn(s, `This statement can never run: it follows an unconditional '${final}'`);
        final = '';
      }
      const t = this.stmt(s, ctx);
      if (!t) continue;
      out.push(t);
      if (final === null && (t.k === 'accept' || t.k === 'drop' || t.k === 'dnat' || t.k === 'snat')) final = t.k;
    }
    return exact(out);
  }

  private stmt(s: StmtNode, ctx: Ctx): Tmpl | null {
    switch (s.kind) {
      case 'if': {
        const cond = this.cond(s.cond, ctx);
        const then = this.body(s.then, ctx);
        const els = s.else ? this.body(s.else, ctx) : null;
        if (!cond) return null;
        return { k: 'if', cond, then, else: els, loc: s, text: this.src(s.at, s.headEnd) };
      }
      case 'function': return this.nested(s, ctx);
      case 'action': return this.action(s, ctx);
    }
  }

  private nested(s: FunctionNode, ctx: Ctx): Tmpl | null {
    const type = s.type.toLowerCase();
    const sub = SUBTYPES[s.subtype.toLowerCase()];
    if (type !== 'filter' && type !== 'nat') {
      this.diags.error(tok(s.typeAt, s.type.length), type === 'rewrite' ? 'Rewrite functions are not supported'
        : `Undefined function type ${s.type}`, didYouMean(s.type, ['Filter', 'Nat']));
      return null;
    }
    if (type !== ctx.type) {
      this.diags.error(tok(s.typeAt, s.type.length), `You cannot create a function of type ${TYPE_TITLE[type]} inside a function of type ${TYPE_TITLE[ctx.type]}`);
      return null;
    }
    if (!sub) {
      this.diags.error(tok(s.subtypeAt, s.subtype.length), `Unknown subtype ${s.subtype}. Valid subtypes are IP, TCP, UDP, ICMP`,
        didYouMean(s.subtype, ['IP', 'TCP', 'UDP', 'ICMP']));
      return null;
    }
    if (!NESTABLE[ctx.sub].includes(sub)) {
      this.diags.error(tok(s.subtypeAt, s.subtype.length), `You cannot create a function of subtype ${sub.toUpperCase()} inside a function of subtype ${ctx.sub.toUpperCase()}`);
      return null;
    }
    const inner: Ctx = { ...ctx, sub, allowed: namespaces(sub, ctx.allowed), subtype: sub.toUpperCase() };
    const body = this.body(s.body, inner);
    return { k: 'block', subtype: sub, body, loc: s, text: this.src(s.at, s.bodyAt) };
  }

  private action(s: StmtNode & { kind: 'action' }, ctx: Ctx): Tmpl | null {
    const word = s.name.toLowerCase();
    const text = this.src(s.at, s.end);
    const nameLoc = tok(s.at, s.name.length);
    const args = s.args ?? [];
    if (ALL_ACTIONS.has(word)) {
      if (!ACTIONS[ctx.type].includes(word)) {
        this.diags.error(nameLoc, `Error transpiling action ${s.name}: Legal actions for a function of type ${TYPE_TITLE[ctx.type]} are: ${ACTIONS[ctx.type].join(', ')}`);
        return null;
      }
      switch (word) {
        case 'accept': case 'drop':
          if (args.length > 0) {
            this.diags.error(args[0], `${word === 'accept' ? 'An accept' : 'A drop'} action takes no parameters`);
            return null;
          }
          return { k: word, loc: s, text };
        case 'log': {
          const la = this.logArgs(args, ctx);
          return la ? { k: 'log', args: la, loc: s, text } : null;
        }
        case 'syslog': {
          if (args.length < 2) {
            this.diags.error(s, 'Too few arguments (syslog takes at least 2)');
            return null;
          }
          const sev = args[0];
          const sevIdx = sev.kind === 'name' && !sev.name.includes('.')
            ? (SEVERITIES as readonly string[]).indexOf(sev.name.toLowerCase()) : -1;
          if (sevIdx < 0) {
            this.diags.error(sev, `Invalid syslog severity level. Valid severity levels are ${SEVERITIES.join(', ')}`,
              sev.kind === 'name' ? didYouMean(sev.name, SEVERITIES) : undefined);
            return null;
          }
          const la = this.logArgs(args.slice(1), ctx);
          return la ? { k: 'syslog', severity: sevIdx, args: la, loc: s, text } : null;
        }
        default: return this.nat(word as 'dnat' | 'snat', s, args, ctx, text);
      }
    }
    const sig = this.signatures.get(s.name);
    if (!sig) {
      this.diags.error(nameLoc, `Couldn't identify action or function name ${s.name}`,
        didYouMean(s.name, [...ACTIONS[ctx.type], ...this.signatures.keys()]));
      return null;
    }
    if (args.length > 0) {
      this.diags.error(args[0], 'A function call takes no parameters');
      return null;
    }
    if (sig.type !== ctx.type) {
      this.diags.error(nameLoc, `Error transpiling call to ${s.name}: A function of type ${TYPE_TITLE[ctx.type]} can only call functions of the same type`);
      return null;
    }
    if (!NESTABLE[ctx.sub].includes(sig.subtype)) {
      this.diags.error(nameLoc, `Cannot call a function of subtype ${sig.subtype.toUpperCase()} inside a function of subtype ${ctx.sub.toUpperCase()}`);
      return null;
    }
    ctx.fn.calls.push({ name: s.name, loc: nameLoc });
    return { k: 'call', name: s.name, loc: s, text };
  }

  private nat(word: 'dnat' | 'snat', s: StmtNode & { kind: 'action' }, args: Value[], ctx: Ctx, text: string): Tmpl | null {
    if (args.length === 0) {
      this.diags.error(s, `No arguments provided to ${word}`);
      return null;
    }
    if (args.length > 2) this.diags.warn(args[2], `${word} uses at most two arguments (address, port); the rest are ignored`);
    const vals = args.slice(0, 2).map((a) => this.res.resolve(a, ctx));
    if (vals.some((v) => v.t === 'err')) return null;
    let addr: number | null = null;
    let port: number | null = null;
    const natPort = (v: RVal): v is RVal & { t: 'num' } => v.t === 'num' && (v.k === 'int' || v.k === 'word') && isPort(v.v);
    const first = vals[0];
    if (vals.length === 1) {
      if (first.t === 'num' && first.k === 'addr') addr = first.v;
      else if (natPort(first)) port = first.v;
      else {
        this.diags.error(args[0], `Invalid ${word} argument ${describeValue(args[0])}: expected an IPv4 address or a port number`);
        return null;
      }
    } else {
      const second = vals[1];
      if (!(first.t === 'num' && first.k === 'addr')) {
        this.diags.error(args[0], `Invalid ${word} address ${describeValue(args[0])}: expected an IPv4 address`);
        return null;
      }
      if (!natPort(second)) {
        this.diags.error(args[1], `Invalid ${word} port ${describeValue(args[1])}: expected a port number (0-65535)`);
        return null;
      }
      addr = first.v;
      port = second.v;
    }
    return { k: word, addr, port, loc: s, text };
  }

  private logArgs(args: Value[], ctx: Ctx): LogArg[] | null {
    const out: LogArg[] = [];
    let ok = true;
    for (const a of args) {
      if (a.kind === 'string') {
        out.push({ kind: 'str', text: a.value });
        continue;
      }
      const r = this.res.resolve(a, ctx);
      if (r.t === 'field') out.push({ kind: 'field', field: r.f });
      else {
        if (r.t !== 'err') this.diags.error(a, 'This value can not be printed', 'log and syslog print strings and packet properties');
        ok = false;
      }
    }
    return ok ? out : null;
  }

  // ---- conditions

  private cond(c: CondNode, ctx: Ctx): Cond | null {
    switch (c.kind) {
      case 'or': case 'and': {
        const parts: Cond[] = [];
        let ok = true;
        for (let i = 0; i < c.items.length; i++) {
          const x = this.cond(c.items[i], ctx);
          if (!x) ok = false;
          else if (x.kind === c.kind) for (const y of x.terms) parts.push(y);
          else parts.push(x);
        }
        return ok ? (parts.length === 1 ? parts[0] : { kind: c.kind, terms: parts }) : null;
      }
      case 'not': {
        const x = this.cond(c.c, ctx);
        return x ? { kind: 'not', c: x } : null;
      }
      case 'value': {
        const r = this.res.resolve(c.value, ctx);
        const loc = this.res.diags.loc(c);
        switch (r.t) {
          case 'err': return null;
          case 'bool': return { kind: 'const', value: r.v, loc };
          case 'num': return { kind: 'const', value: r.v !== 0, loc };
          case 'field': return { kind: 'cmp', op: '!=', left: { kind: 'field', field: r.f }, right: { kind: 'const', value: 0 }, loc };
          default:
            this.diags.error(c, `${describeValue(c.value)} cannot be used as a condition`);
            return null;
        }
      }
      case 'cmp': return this.cmp(c, ctx);
    }
  }

  private cmp(c: CondNode & { kind: 'cmp' }, ctx: Ctx): Cond | null {
    const l = this.res.resolve(c.left, ctx);
    const r = this.res.resolve(c.right, ctx);
    if (l.t === 'err' || r.t === 'err') return null;
    const loc = this.res.diags.loc(c);
    if (l.t === 'set') {
      this.diags.error(c.left, 'The left hand side of a comparison can not resolve to a set of values, e.g. a range, cidr, list or object');
      return null;
    }
    const left = this.operand(l, c.left);
    if (!left) return null;
    if (c.op === 'in') {
      if (r.t !== 'set') {
        this.diags.error(tok(c.opAt, 2), "The 'in' operator can only be used when comparing a property to a range, cidr, list or object");
        return null;
      }
      if (left.kind === 'field' && PORT_FIELDS.has(left.field)) {
        const bad = r.set.exact.find((v) => !isPort(v)) ?? r.set.ranges.flat().find((v) => !isPort(v));
        if (bad !== undefined) {
          this.diags.error(c.right, `${left.field} is a port (0-65535): ${describeValue(c.right)} holds ${bad}`);
          return null;
        }
      }
      return { kind: 'in', left, set: r.set, loc };
    }
    if (r.t === 'set') {
      this.diags.error(tok(c.opAt, c.op.length), `Invalid operator (${c.op}). Only the 'in' operator is valid when comparing a ${l.t === 'field' ? 'property' : 'value'} to a range, cidr, list or object`);
      return null;
    }
    const right = this.operand(r, c.right);
    if (!right) return null;
    for (const [f, v, at] of [[left, right, c.right], [right, left, c.left]] as const) {
      if (f.kind === 'field' && PORT_FIELDS.has(f.field) && v.kind === 'const' && !isPort(v.value)) {
        this.diags.error(at, `${f.field} is a port (0-65535): ${describeValue(at)}${at.kind === 'name' ? ` (${v.value})` : ''} is out of range`);
        return null;
      }
    }
    return { kind: 'cmp', op: c.op, left, right, loc };
  }

  /** Field operands are plain read-only data: one object per field and file. */
  private readonly fieldOperands = new Map<Field, Operand>();
  private fieldOperand(f: Field): Operand {
    let o = this.fieldOperands.get(f);
    if (!o) this.fieldOperands.set(f, (o = { kind: 'field', field: f }));
    return o;
  }

  private operand(r: RVal, v: Value): Operand | null {
    switch (r.t) {
      case 'field': return this.fieldOperand(r.f);
      case 'num': return { kind: 'const', value: r.v };
      case 'bool': return { kind: 'const', value: r.v ? 1 : 0 };
      case 'str':
        this.diags.error(v, 'A string cannot be used in a comparison');
        return null;
      default: return null;
    }
  }

  // ---- call graph

  /** Reports every call cycle once; returns the names of functions on a cycle. */
  findRecursion(): Set<string> {
    const state = new Map<string, number>(); // 1 = on stack, 2 = done
    const onCycle = new Set<string>();
    for (const start of this.functions.keys()) {
      if (state.get(start)) continue;
      const stack: Array<{ name: string; i: number }> = [{ name: start, i: 0 }];
      state.set(start, 1);
      while (stack.length) {
        const top = stack[stack.length - 1];
        const fn = this.functions.get(top.name);
        const calls = fn ? fn.calls : [];
        if (top.i >= calls.length) {
          state.set(top.name, 2);
          stack.pop();
          continue;
        }
        const call = calls[top.i++];
        const st = state.get(call.name);
        if (st === 1) {
          const from = stack.findIndex((f) => f.name === call.name);
          const cycle = stack.slice(from).map((f) => f.name);
          for (const n of cycle) onCycle.add(n);
          this.diags.error(call.loc, `Recursive call: ${[...cycle, call.name].join(' -> ')}`,
            'a call is inlined, so functions cannot call themselves directly or indirectly');
        } else if (!st && this.functions.has(call.name)) {
          state.set(call.name, 1);
          stack.push({ name: call.name, i: 0 });
        }
      }
    }
    return onCycle;
  }

  // ---- instantiation

  instantiate(name: string, rules: RuleInfo[]): Stmt[] {
    const fn = this.functions.get(name);
    return fn ? this.inst(fn.body, name, rules) : [];
  }

  private inst(body: Tmpl[], top: string, rules: RuleInfo[]): Stmt[] {
    if (body.length === 1) return [this.instOne(body[0], top, rules)];
    const out: Stmt[] = [];
    for (let i = 0; i < body.length; i++) out.push(this.instOne(body[i], top, rules));
    return exact(out);
  }

  private instOne(t: Tmpl, top: string, rules: RuleInfo[]): Stmt {
    const id = rules.length;
    if (id >= MAX_RULES) throw new RangeError('too many rules after inlining function calls');
    const loc = this.res.diags.loc(t.loc);
    rules.push({ id, loc, text: t.text, fn: top });
    switch (t.k) {
      case 'if':
        return { kind: 'if', id, cond: t.cond, then: this.inst(t.then, top, rules),
          else: t.else ? this.inst(t.else, top, rules) : null, loc };
      case 'accept': case 'drop': return { kind: t.k, id, loc };
      case 'log': return { kind: 'log', id, args: t.args, loc };
      case 'syslog': return { kind: 'syslog', id, severity: t.severity, args: t.args, loc };
      case 'dnat': case 'snat': return { kind: t.k, id, addr: t.addr, port: t.port, loc };
      case 'block': return { kind: 'block', id, subtype: t.subtype, body: this.inst(t.body, top, rules), call: null, loc };
      case 'call': {
        const callee = this.functions.get(t.name);
        return { kind: 'block', id, subtype: callee ? callee.subtype : 'ip',
          body: callee ? this.inst(callee.body, top, rules) : [], call: t.name, loc };
      }
    }
  }
}

/** Short arrays built by push carry spare capacity (16 slots); bodies are kept at their size. */
function exact<T>(a: T[]): T[] {
  return a.length < 16 ? a.slice() : a;
}
