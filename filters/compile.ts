// The rule compiler: Model function IR -> one plain JS function per hook, `(p: Pkt) => verdict`,
// generated as source text and instantiated once with `new Function` (Part A2 semantics).
//
// Invariants:
// * A chain runs its functions in order; ACCEPT passes to the next, the first DROP ends it; an
//   empty chain accepts. A top-level function returns at its first accept/drop/dnat/snat, even
//   from inside nested blocks; one that falls off its end (a Nat, or a TCP/UDP/ICMP function
//   given another protocol) accepts. Nested blocks and inlined calls fall through.
// * Inside generated code a statement list either `return`s a verdict (0/1) or falls through;
//   helper functions (size chunks, dispatch bodies) return the verdict or -1 to continue, so
//   splitting code across functions never changes behaviour.
// * No generated function body exceeds ~CHUNK_CHARS of source (V8 stops optimising huge
//   functions); long lists are split into chunk functions, recursively.
// * Runs of sibling equality rules go through scaling.ts hash dispatch, runs of sibling rules
//   keyed on CIDRs/ranges/values of a few fields through intervals.ts interval dispatch (both
//   visit candidates in source order); large `in` sets through sets.ts. Per packet nothing is
//   allocated: counters are typed arrays, values are numbers.
// * Linear code stays small so V8 optimises it soon after a (re)compile: a simple rule
//   (`if (c) { accept|drop }`) is one line ending in the shared HIT(), and each function reads a
//   repeated packet field once into a local (hoistReads). Optionally (tableMin) long runs of
//   simple rules are data for one shared interpreter instead (table.ts).
// * Counters (by rule id): an `if` counts when its condition held, a block when entered, an
//   action when executed; bytes are the IPv4 total length (p.ipLen).
// * Trace code exists only when opts.trace is given.

import type { CmpOp, Cond, Field, FunctionDef, LogArg, Model, Operand, Stmt, ValueSet } from '../src/config/model.js';
import { SUBTYPE_PROTO } from '../src/config/model.js';
import type { HookFn, LogSink, NatActions } from '../stack/wire/pkt.js';
import { fieldExpr } from './fields.js';
import { RuleLogger, LOG_SEVERITY, type LogLimitOptions } from './log.js';
import { analyzeIntervalRule, findIntervalRuns, IntervalIndex, MIN_INTERVAL_RUN, type IntervalRun } from './intervals.js';
import { RuleTable, runTable, tableRule } from './table.js';
import { DispatchTable, findRuns, hashStatements, type Run } from './scaling.js';
import { inlineSetTest, normalizeSet, NumberSet } from './sets.js';
import type { TraceSink } from './trace.js';

export interface CompileOptions {
  nat: NatActions;
  log: LogSink;
  trace?: TraceSink;
  logLimit?: LogLimitOptions;
  /** Hash dispatch for runs of equality rules (default true; false = plain linear code). */
  scaling?: boolean;
  /** Runs of at least this many simple rules that no dispatch takes become a rule table
   *  (table.ts) instead of generated code; 0 = never. Default TABLE_MIN; no tables with trace. */
  tableMin?: number;
}

/** Default shortest run kept as a rule table: 0 (off). Measured (bench/rules.ts, shape f): the
 *  table runs at ~10 ns/rule from the first packets, optimised generated code at ~1 ns/rule
 *  once V8 has compiled it (about 5 s of warm-up at 10,000 rules on a loaded 2-core machine). */
export const TABLE_MIN = 0;

export interface HookSet { prerouting: HookFn; input: HookFn; output: HookFn; postrouting: HookFn }

export interface Ruleset {
  /** Same order as model.ifaces. */
  ifaces: HookSet[];
  forward: HookFn;
  counters: { packets: Float64Array; bytes: Float64Array };
  ruleCount: number;
  /** Each top-level function that some chain uses, compiled on its own. */
  functions: Record<string, HookFn>;
  /** The log/syslog limiter (call flush() from a timer to send pending summaries). */
  logger: RuleLogger;
  stats: {
    dispatchRuns: number; dispatchedRules: number; helperFunctions: number; sourceChars: number;
    /** Interval dispatch runs (CIDR/range keys) and the rules they cover. */
    intervalRuns: number; intervalRules: number;
    /** Rule tables and the rules they hold. */
    tables: number; tableRules: number;
    /** Largest generated function body (characters of source). */
    maxFunctionChars: number;
  };
}

/** Split generated statement lists larger than this (characters of source). Measured: about
 *  1.1 bytes of bytecode per character at worst (byte-level field reads), so functions stay well
 *  under V8's 60 KB optimisation limit; fewer, larger functions reach optimised code sooner
 *  (10,000 rules: ~2-3 s instead of ~5-6 s with 6,000-character chunks). */
const CHUNK_CHARS = 30000;
/** log2 of the rules per helper function in dispatch residual/body switches. */
const CASE_SHIFT = 5;

const ACCEPT_ALL: HookFn = () => 0;
const PROLOGUE = 'const b = p.buf, o3 = p.l3, o4 = p.l4; let t = 0, h = 0, v = 0;';

type Env = { proto: number };

function num(v: number): string {
  if (Object.is(v, -0)) return '0';
  return v < 0 ? `(${v})` : String(v);
}

const q = (s: string): string => JSON.stringify(s);

class Gen {
  readonly consts: unknown[] = [];
  readonly helpers: string[] = [];
  private readonly setNames = new Map<ValueSet, string>();
  dispatchRuns = 0;
  dispatchedRules = 0;

  constructor(readonly trace: boolean, readonly scaling: boolean, readonly logger: Pick<RuleLogger, 'prepare'>, readonly tableMin: number) {}

  tables = 0;
  tableRules = 0;

  constant(v: unknown): string {
    this.consts.push(v);
    return `K${this.consts.length - 1}`;
  }

  maxFunctionChars = 0;

  helper(params: string, body: string): string {
    const name = `H${this.helpers.length}`;
    body = hoistReads(body);
    this.maxFunctionChars = Math.max(this.maxFunctionChars, body.length);
    this.helpers.push(`function ${name}(${params}) { ${PROLOGUE}\n${body}\n}`);
    return name;
  }

  tr(kind: string, id: number | string, detail = "''"): string {
    return this.trace ? `TR.event(${q(kind)}, ${id}, p, ${detail});` : '';
  }

  // ---- conditions ----

  operand(o: Operand, env: Env): string {
    return o.kind === 'const' ? num(o.value) : fieldExpr(o.field, env.proto);
  }

  cond(c: Cond, env: Env): string {
    switch (c.kind) {
      case 'const':
        return c.value ? 'true' : 'false';
      case 'not':
        return `!${this.cond(c.c, env)}`;
      case 'cmp': {
        const op = c.op === '==' ? '===' : c.op === '!=' ? '!==' : c.op;
        if (c.left.kind === 'const' && c.right.kind === 'const') return String(compareConsts(c.op, c.left.value, c.right.value));
        return `(${this.operand(c.left, env)} ${op} ${this.operand(c.right, env)})`;
      }
      case 'in':
        return this.inTest(c.left, c.set, env);
      case 'and':
      case 'or': {
        const terms: Cond[] = [];
        const stack: Cond[] = [c];
        while (stack.length > 0) {
          const x = stack.pop()!;
          if (x.kind === c.kind) stack.push(x.b, x.a);
          else terms.push(x);
        }
        if (c.kind === 'or') {
          const merged = mergeOrTerms(terms);
          if (merged) return this.inTest({ kind: 'field', field: merged.field }, merged.set, env);
        }
        return `(${terms.map((x) => this.cond(x, env)).join(c.kind === 'and' ? ' && ' : ' || ')})`;
      }
    }
  }

  inTest(left: Operand, set: ValueSet, env: Env): string {
    const norm = normalizeSet(set);
    if (left.kind === 'const') return String(new NumberSet(norm).has(left.value));
    const lv = this.operand(left, env);
    const inline = inlineSetTest(norm, 't');
    if (inline !== null) return `((t = ${lv}), ${inline})`;
    let name = this.setNames.get(set);
    if (name === undefined) {
      name = this.constant(new NumberSet(norm));
      this.setNames.set(set, name);
    }
    return `${name}.has(${lv})`;
  }

  // ---- statements ----

  count(id: number): string {
    return `P[${id}]++; B[${id}] += p.ipLen;`;
  }

  /** Code for a statement list (flattened, dispatched and chunked). */
  list(stmts: Stmt[], env: Env): string {
    const flat = flattenElse(stmts, env);
    const runs = this.scaling ? planRuns(flat) : [];
    const pieces: string[] = [];
    let r = 0;
    for (let i = 0; i < flat.length; i++) {
      const run = runs[r];
      if (run !== undefined && run.start === i) {
        pieces.push('sig' in run ? this.run(run, flat, env) : this.intervalRun(run, flat, env));
        i = run.end - 1;
        r++;
        continue;
      }
      if (this.tableMin > 0 && tableRule(flat[i]!)) {
        const stop = run?.start ?? flat.length;
        let j = i + 1;
        while (j < stop && tableRule(flat[j]!)) j++;
        if (j - i >= this.tableMin) {
          pieces.push(this.table(flat.slice(i, j) as IfStmt[]));
          i = j - 1;
          continue;
        }
      }
      const s = flat[i]!;
      pieces.push(this.stmt(s, env));
      if (terminates(s, env)) break;
    }
    return this.chunk(pieces);
  }

  /** Keep any single function body small: move groups of pieces into helper functions. */
  chunk(pieces: string[]): string {
    let total = 0;
    for (const x of pieces) total += x.length;
    while (total > CHUNK_CHARS && pieces.length > 1) {
      const next: string[] = [];
      let cur: string[] = [];
      let size = 0;
      const flush = (): void => {
        if (cur.length === 0) return;
        const name = this.helper('p', `${cur.join('\n')}\nreturn -1;`);
        next.push(`if ((v = ${name}(p)) >= 0) return v;`);
        cur = [];
        size = 0;
      };
      for (const x of pieces) {
        if (size > 0 && size + x.length > CHUNK_CHARS) flush();
        cur.push(x);
        size += x.length;
      }
      flush();
      pieces = next;
      total = 0;
      for (const x of pieces) total += x.length;
    }
    return pieces.join('\n');
  }

  stmt(s: Stmt, env: Env): string {
    switch (s.kind) {
      case 'if': {
        const a = s.then[0];
        if (!this.trace && s.else === null && s.then.length === 1 && (a!.kind === 'accept' || a!.kind === 'drop')) {
          return `if (${this.cond(s.cond, env)}) return HIT(p, ${s.id}, ${a!.id}, ${a!.kind === 'drop' ? 1 : 0});`;
        }
        const then = this.list(s.then, env);
        const els = s.else !== null ? this.list(s.else, env) : '';
        const f = this.tr('cond-false', s.id);
        return `if (${this.cond(s.cond, env)}) { ${this.count(s.id)} ${this.tr('cond-true', s.id)}\n${then}\n}` +
          (els !== '' || f !== '' ? ` else { ${f}\n${els}\n}` : '');
      }
      case 'accept':
      case 'drop':
        return `${this.count(s.id)} ${this.tr('verdict', s.id, q(s.kind))} return ${s.kind === 'accept' ? 0 : 1};`;
      case 'log':
      case 'syslog':
        this.logger.prepare(s.id, s.kind, s.kind === 'log' ? LOG_SEVERITY : s.severity, s.args);
        return `${this.count(s.id)} ${this.tr('log', s.id)} LOG.emit(${s.id}, p);`;
      case 'dnat':
      case 'snat':
        return `${this.count(s.id)} NAT.${s.kind}(p, ${num(s.addr ?? -1)}, ${num(s.port ?? -1)}); ${this.tr('nat', s.id, q(s.kind))} return 0;`;
      case 'block': {
        const proto = SUBTYPE_PROTO[s.subtype];
        if (proto < 0 || proto === env.proto) {
          return `{ ${this.count(s.id)} ${this.tr('block-entered', s.id)}\n${this.list(s.body, env)}\n}`;
        }
        const inner = this.list(s.body, { proto });
        const skip = this.tr('block-skipped', s.id);
        return `if (p.proto === ${proto}) { ${this.count(s.id)} ${this.tr('block-entered', s.id)}\n${inner}\n}` +
          (skip ? ` else { ${skip} }` : '');
      }
    }
  }

  /** Hash dispatch over a run of keyed rules (see scaling.ts). */
  run(run: Run, list: Stmt[], env: Env): string {
    this.dispatchRuns++;
    this.dispatchedRules += run.end - run.start;
    const table = new DispatchTable(run.sig.length, run.rules);
    const cand = this.candidates(list.slice(run.start, run.end) as IfStmt[], run.rules.map((k) => k.residual), env);
    const T = this.constant(table.slots);
    const keys = table.keys.map((k) => this.constant(k));
    const ST = this.constant(table.start);
    const LS = this.constant(table.list);
    const vars = run.sig.map((_, i) => `k${i}`);
    const reads = run.sig.map((f: Field, i) => `const k${i} = ${fieldExpr(f, env.proto)};`).join(' ');
    const match = keys.map((k, i) => `${k}[e] === k${i}`).join(' && ');
    return `{ ${reads}
  ${hashStatements(vars, table.shift)}
  for (;;) {
    const e = ${T}[h];
    if (e < 0) break;
    if (${match}) {
      for (let r = ${ST}[e], end = ${ST}[e + 1]; r < end; r++) {
        const j = ${LS}[r];
        ${cand}
      }
      break;
    }
    h = (h + 1) & ${table.mask};
  }
}`;
  }

  /** Code run for candidate rule `j` of a dispatch run (residual test, counters, verdict or
   *  body); `continue`s to the next candidate when the rule does not match or falls through. */
  candidates(stmts: IfStmt[], residuals: Array<Cond | null>, env: Env): string {
    const n = stmts.length;
    const ids = new Int32Array(n);
    const act = new Int8Array(n);
    const actId = new Int32Array(n);
    const hasRes = new Uint8Array(n);
    const resCases: string[][] = [];
    const bodyCases: string[][] = [];
    for (let j = 0; j < n; j++) {
      const s = stmts[j]!;
      const residual = residuals[j]!;
      ids[j] = s.id;
      if (residual !== null) {
        hasRes[j] = 1;
        (resCases[j >> CASE_SHIFT] ??= []).push(`case ${j}: return ${this.cond(residual, env)};`);
      }
      const first = s.then[0];
      if (s.then.length === 0) act[j] = 2;
      else if (first !== undefined && (first.kind === 'accept' || first.kind === 'drop') && !this.trace) {
        act[j] = first.kind === 'accept' ? 0 : 1;
        actId[j] = first.id;
      } else {
        act[j] = 3;
        (bodyCases[j >> CASE_SHIFT] ??= []).push(`case ${j}: {\n${this.list(s.then, env)}\nreturn -1; }`);
      }
    }
    const dispatcher = (cases: string[][], fallback: string): string | null => {
      const fns: string[] = [];
      let used = 0;
      for (let c = 0; c < cases.length; c++) {
        const cs = cases[c];
        if (cs === undefined) { fns.push('null'); continue; }
        used++;
        fns.push(this.helper('j, p', `switch (j) {\n${cs.join('\n')}\n}\nreturn ${fallback};`));
      }
      if (used === 0) return null;
      if (fns.length === 1) return fns[0]!;
      return this.fnTable(fns);
    };
    const resFn = dispatcher(resCases, 'false');
    const bodyFn = dispatcher(bodyCases, '-1');
    const call = (f: string | null, argJ: string): string =>
      f === null ? 'false' : f.startsWith('FT') ? `${f}[${argJ} >> ${CASE_SHIFT}](${argJ}, p)` : `${f}(${argJ}, p)`;
    const ID = this.constant(ids);
    const ACT = this.constant(act);
    const AID = this.constant(actId);
    const RES = this.constant(hasRes);
    return `${resFn === null ? '' : `if (${RES}[j] !== 0 && !${call(resFn, 'j')}) { ${this.tr('cond-false', `${ID}[j]`)} continue; }`}
        const id = ${ID}[j]; P[id]++; B[id] += p.ipLen; ${this.tr('cond-true', 'id')}
        const a = ${ACT}[j];
        if (a <= 1) { const x = ${AID}[j]; P[x]++; B[x] += p.ipLen; return a; }
        ${bodyFn === null ? '' : `if (a === 3 && (v = ${call(bodyFn, 'j')}) >= 0) return v;`}`;
  }

  /** A rule table run by the shared interpreter (see table.ts). */
  table(rules: IfStmt[]): string {
    this.tables++;
    this.tableRules += rules.length;
    const t = this.constant(new RuleTable(rules));
    if (this.runTableName === null) this.runTableName = this.constant(runTable);
    return `if ((v = ${this.runTableName}(${t}, p, P, B)) >= 0) return v;`;
  }

  private runTableName: string | null = null;

  intervalRuns = 0;
  intervalRules = 0;

  /** Interval dispatch over a run of range-keyed rules (see intervals.ts). */
  intervalRun(run: IntervalRun, list: Stmt[], env: Env): string {
    const n = run.end - run.start;
    const stmts = list.slice(run.start, run.end) as IfStmt[];
    const definite = new Uint8Array(n);
    for (let j = 0; j < n; j++) definite[j] = run.rules[j]!.residual === null && listTerminates(stmts[j]!.then, env) ? 1 : 0;
    const indexes: IntervalIndex[] = [];
    for (const f of run.fields) {
      const rs: Array<[number, Array<[number, number]>]> = [];
      run.rules.forEach((k, j) => { if (k.field === f) rs.push([j, k.ranges]); });
      const ix = IntervalIndex.build(rs, definite, 8 * n + 65536);
      if (ix === null) return this.splitIntervalRun(run, list, env);
      indexes.push(ix);
    }
    this.intervalRuns++;
    this.intervalRules += n;
    const cand = this.candidates(stmts, run.rules.map((k) => k.residual), env);
    const X = indexes.map((ix) => this.constant(ix));
    const S = indexes.map((ix) => this.constant(ix.start));
    const L = indexes.map((ix) => this.constant(ix.list));
    if (run.fields.length === 1) {
      return `{ const e = ${X[0]}.find(${fieldExpr(run.fields[0]!, env.proto)});
  for (let r = ${S[0]}[e], end = ${S[0]}[e + 1]; r < end; r++) {
    const j = ${L[0]}[r];
    ${cand}
  }
}`;
    }
    const m = run.fields.length;
    const setup = run.fields.map((f, i) => `e = ${X[i]}.find(${fieldExpr(f, env.proto)}); let i${i} = ${S[i]}[e], n${i} = ${S[i]}[e + 1];`).join('\n  ');
    const pick = run.fields.map((_, i) => `if (i${i} < n${i} && ${L[i]}[i${i}] < j) { j = ${L[i]}[i${i}]; w = ${i}; }`).join('\n    ');
    const advance = Array.from({ length: m }, (_, i) => `if (w === ${i}) i${i}++;`).join(' else ');
    return `{ let e = 0;
  ${setup}
  for (;;) {
    let j = ${n}, w = -1;
    ${pick}
    if (w < 0) break;
    ${advance}
    ${cand}
  }
}`;
  }

  /** A run whose candidate lists would be too large: two half runs (or linear code). */
  splitIntervalRun(run: IntervalRun, list: Stmt[], env: Env): string {
    const n = run.end - run.start;
    if (n < 2 * MIN_INTERVAL_RUN) {
      const out: string[] = [];
      for (let i = run.start; i < run.end; i++) out.push(this.stmt(list[i]!, env));
      return this.chunk(out);
    }
    const mid = run.start + (n >> 1);
    const half = (a: number, b: number): IntervalRun => {
      const rules = run.rules.slice(a - run.start, b - run.start);
      const fields: Field[] = [];
      for (const k of rules) if (!fields.includes(k.field)) fields.push(k.field);
      return { start: a, end: b, fields, rules };
    };
    return this.chunk([this.intervalRun(half(run.start, mid), list, env), this.intervalRun(half(mid, run.end), list, env)]);
  }

  private fnTables = 0;
  fnTable(names: string[]): string {
    const name = `FT${this.fnTables++}`;
    this.helpers.push(`const ${name} = [${names.join(', ')}];`);
    return name;
  }
}

type IfStmt = Extract<Stmt, { kind: 'if' }>;

/** Dispatch runs of a statement list, in order: hash runs (scaling.ts) where they form, interval
 *  runs (intervals.ts) in between. A single-field hash run next to another interval-keyable rule
 *  is left to the interval run around it, so interleaved `==` and CIDR rules stay one run. */
function planRuns(list: Stmt[]): Array<Run | IntervalRun> {
  const hash = findRuns(list).filter((h) => {
    if (h.sig.length > 1) return true;
    const before = h.start > 0 ? list[h.start - 1]! : null;
    const after = h.end < list.length ? list[h.end]! : null;
    return !(before !== null && analyzeIntervalRule(before) !== null) && !(after !== null && analyzeIntervalRule(after) !== null);
  });
  const out: Array<Run | IntervalRun> = [];
  let at = 0;
  for (const h of hash) {
    out.push(...findIntervalRuns(list, at, h.start), h);
    at = h.end;
  }
  out.push(...findIntervalRuns(list, at, list.length));
  return out;
}

/** Packet reads worth one local per function (Pkt properties, alone or behind their L4 guard),
 *  longest first so a guarded read is replaced as a whole. */
const HOISTED: string[] = (() => {
  const out = new Set<string>();
  for (const f of ['ip.saddr', 'ip.daddr', 'ip.protocol', 'ct.state', 'tcp.sport', 'tcp.dport', 'udp.sport', 'udp.dport'] as Field[]) {
    for (const proto of [-1, 1, 6, 17]) out.add(fieldExpr(f, proto));
  }
  return [...out].sort((a, b) => b.length - a.length);
})();

/** A function body with each repeated packet read done once, into a local, at its start:
 *  fewer bytecodes per rule, so long rule lists run faster unoptimised and optimise sooner.
 *  The reads are side-effect free and the packet does not change before a verdict. */
function hoistReads(body: string): string {
  const decls: string[] = [];
  for (const e of HOISTED) {
    const first = body.indexOf(e);
    if (first < 0 || body.indexOf(e, first + e.length) < 0) continue;
    const x = `x${decls.length}`;
    decls.push(`${x} = ${e}`);
    body = body.split(e).join(x);
  }
  return decls.length === 0 ? body : `const ${decls.join(', ')};\n${body}`;
}

function compareConsts(op: CmpOp, a: number, b: number): boolean {
  switch (op) {
    case '==': return a === b;
    case '!=': return a !== b;
    case '<': return a < b;
    case '>': return a > b;
    case '<=': return a <= b;
    case '>=': return a >= b;
  }
}

/** `a == 1 or a == 2 or a in [...]` over one field becomes one set test. */
function mergeOrTerms(terms: Cond[]): { field: Field; set: ValueSet } | null {
  if (terms.length < 2) return null;
  let field: Field | null = null;
  const set: ValueSet = { exact: [], ranges: [] };
  for (const t of terms) {
    let f: Field;
    if (t.kind === 'cmp' && t.op === '==' && t.left.kind === 'field' && t.right.kind === 'const') {
      f = t.left.field;
      set.exact.push(t.right.value);
    } else if (t.kind === 'cmp' && t.op === '==' && t.right.kind === 'field' && t.left.kind === 'const') {
      f = t.right.field;
      set.exact.push(t.left.value);
    } else if (t.kind === 'in' && t.left.kind === 'field') {
      f = t.left.field;
      set.exact.push(...t.set.exact);
      set.ranges.push(...t.set.ranges);
    } else return null;
    if (field !== null && f !== field) return null;
    field = f;
  }
  return field === null ? null : { field, set };
}

function blockRuns(s: Extract<Stmt, { kind: 'block' }>, env: Env): boolean {
  const proto = SUBTYPE_PROTO[s.subtype];
  return proto < 0 || proto === env.proto;
}

/** True when the statement always ends the top-level function (for this context). */
export function terminates(s: Stmt, env: Env): boolean {
  switch (s.kind) {
    case 'accept': case 'drop': case 'dnat': case 'snat': return true;
    case 'log': case 'syslog': return false;
    case 'if': return s.else !== null && listTerminates(s.then, env) && listTerminates(s.else, env);
    case 'block': return blockRuns(s, env) && listTerminates(s.body, env);
  }
}

function listTerminates(list: Stmt[], env: Env): boolean {
  for (const s of list) if (terminates(s, env)) return true;
  return false;
}

/** `if (c) { T } else { E }; R` with T always ending the function is `if (c) { T }; E; R`:
 *  flattening exposes else-if ladders to hash dispatch. */
function flattenElse(list: Stmt[], env: Env): Stmt[] {
  let any = false;
  for (const s of list) if (s.kind === 'if' && s.else !== null) { any = true; break; }
  if (!any) return list;
  const out: Stmt[] = [];
  const stack: Array<{ l: Stmt[]; i: number }> = [{ l: list, i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.l.length) { stack.pop(); continue; }
    const s = top.l[top.i++]!;
    if (s.kind === 'if' && s.else !== null && listTerminates(s.then, env)) {
      out.push({ ...s, else: null });
      stack.push({ l: s.else, i: 0 });
      continue;
    }
    out.push(s);
  }
  return out;
}

function maxRuleId(model: Model): number {
  let max = model.rules.length - 1;
  const stack: Stmt[] = [];
  for (const f of Object.values(model.functions)) for (const s of f.body) stack.push(s);
  while (stack.length > 0) {
    const s = stack.pop()!;
    if (s.id > max) max = s.id;
    if (s.kind === 'if') { for (const x of s.then) stack.push(x); if (s.else) for (const x of s.else) stack.push(x); }
    else if (s.kind === 'block') for (const x of s.body) stack.push(x);
  }
  return max;
}

/** What planRuleset builds and instantiateRuleset turns into a Ruleset: generated source, the
 *  constants it reads (typed arrays and plain data objects, structured-cloneable), the log
 *  templates to register, and the counter arrays. A plan can be built in a worker thread and
 *  posted to the packet thread (transferList names its buffers); instantiating it is one
 *  `new Function` over the source plus re-attaching the constants' classes. */
export interface RulesetPlan {
  src: string;
  consts: unknown[];
  ruleCount: number;
  logs: Array<{ id: number; kind: 'log' | 'syslog'; severity: number; args: LogArg[] }>;
  used: string[];
  trace: boolean;
  counters: { packets: Float64Array; bytes: Float64Array };
  stats: Ruleset['stats'];
}

export interface PlanOptions {
  trace?: boolean;
  scaling?: boolean;
  tableMin?: number;
  /** Counter arrays over a SharedArrayBuffer, so another thread can read them live. */
  sharedCounters?: boolean;
}

/** Classes whose instances appear among a plan's constants (revived after a thread hop). */
const CONST_CLASSES: Record<string, { prototype: object }> = { NumberSet, RuleTable, IntervalIndex };
/** Functions a plan refers to by name. */
const CONST_FUNCTIONS: Record<string, unknown> = { runTable };

function portable(v: unknown): unknown {
  if (typeof v === 'function') {
    const name = Object.keys(CONST_FUNCTIONS).find((k) => CONST_FUNCTIONS[k] === v);
    if (!name) throw new Error('compile: a constant function has no name');
    return { $fn: name };
  }
  for (const [name, C] of Object.entries(CONST_CLASSES)) {
    if (v instanceof (C as unknown as new () => object)) return { $class: name, v };
  }
  return v;
}

function revive(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const o = v as { $fn?: string; $class?: string; v?: object };
  if (o.$fn !== undefined) return CONST_FUNCTIONS[o.$fn];
  if (o.$class !== undefined) {
    const C = CONST_CLASSES[o.$class]!;
    const x = o.v!;
    if (Object.getPrototypeOf(x) !== C.prototype) {
      Object.setPrototypeOf(x, C.prototype);
      if (x instanceof RuleTable) for (const s of x.sets) Object.setPrototypeOf(s, NumberSet.prototype);
    }
    return x;
  }
  return v;
}

/** The ArrayBuffers of a plan, for postMessage's transfer list (shared ones are not listed). */
export function transferList(plan: RulesetPlan): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object' || depth > 6) return;
    if (ArrayBuffer.isView(v)) {
      if (v.buffer instanceof ArrayBuffer) out.add(v.buffer);
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(v)) visit(x, depth + 1);
  };
  visit(plan.consts, 0);
  visit(plan.counters, 0);
  return [...out];
}

function counterArray(n: number, shared: boolean): Float64Array {
  return shared ? new Float64Array(new SharedArrayBuffer(Math.max(8, n * 8))).subarray(0, n) : new Float64Array(n);
}

export function planRuleset(model: Model, opts: PlanOptions = {}): RulesetPlan {
  const ruleCount = maxRuleId(model) + 1;
  const logs: RulesetPlan['logs'] = [];
  const trace = opts.trace === true;
  const gen = new Gen(trace, opts.scaling ?? true, { prepare: (id, kind, severity, args) => logs.push({ id, kind, severity, args }) }, trace ? 0 : opts.tableMin ?? TABLE_MIN);
  const used: string[] = [];
  const fnIndex = new Map<string, number>();
  const use = (name: string): number => {
    let i = fnIndex.get(name);
    if (i === undefined) {
      if (model.functions[name] === undefined) throw new Error(`compile: chain names unknown function '${name}'`);
      i = used.length;
      used.push(name);
      fnIndex.set(name, i);
    }
    return i;
  };
  const chains: string[][] = [];
  for (const ifc of model.ifaces) {
    chains.push(ifc.chains.prerouting, ifc.chains.input, ifc.chains.output, ifc.chains.postrouting);
  }
  chains.push(model.gateway?.forward ?? []);
  for (const c of chains) for (const name of c) use(name);

  const fnSrc: string[] = [];
  for (let i = 0; i < used.length; i++) {
    const f: FunctionDef = model.functions[used[i]!]!;
    const proto = SUBTYPE_PROTO[f.subtype];
    const env: Env = { proto };
    const body = hoistReads(gen.list(f.body, env));
    gen.maxFunctionChars = Math.max(gen.maxFunctionChars, body.length);
    const skip = proto >= 0 ? ` if (p.proto !== ${proto}) { ${gen.tr('block-skipped', -1, q(f.subtype))} return 0; }` : '';
    fnSrc.push(`function F${i}(p) { ${PROLOGUE}${skip}\n${body}\nreturn 0; }`);
  }
  const chainSrc: string[] = [];
  const chainExpr = (names: string[]): string => {
    if (names.length === 0) return 'ACCEPT_ALL';
    if (names.length === 1 && !trace) return `F${fnIndex.get(names[0]!)}`;
    const steps = names.map((n) => {
      const i = fnIndex.get(n)!;
      if (!trace) return `if (F${i}(p) === 1) return 1;`;
      return `TR.event('function', -1, p, ${q(n)}); v = F${i}(p); TR.event('function-end', -1, p, ${q(n)} + (v === 1 ? ' drop' : ' accept')); if (v === 1) return 1;`;
    });
    const name = `C${chainSrc.length}`;
    chainSrc.push(`function ${name}(p) { let v = 0; ${steps.join(' ')} return 0; }`);
    return name;
  };
  const ifaceExprs = model.ifaces.map((ifc) =>
    `{ prerouting: ${chainExpr(ifc.chains.prerouting)}, input: ${chainExpr(ifc.chains.input)}, ` +
    `output: ${chainExpr(ifc.chains.output)}, postrouting: ${chainExpr(ifc.chains.postrouting)} }`);
  const forwardExpr = chainExpr(model.gateway?.forward ?? []);

  const header = gen.consts.map((_, i) => `const K${i} = K[${i}];`).join('\n');
  const src = `'use strict';
const P = E.P, B = E.B, NAT = E.NAT, LOG = E.LOG, TR = E.TR, ACCEPT_ALL = E.ACCEPT_ALL;
function HIT(p, a, x, v) { const l = p.ipLen; P[a]++; B[a] += l; P[x]++; B[x] += l; return v; }
${header}
${gen.helpers.join('\n')}
${fnSrc.join('\n')}
${chainSrc.join('\n')}
return { ifaces: [${ifaceExprs.join(', ')}], forward: ${forwardExpr}, fns: [${used.map((_, i) => `F${i}`).join(', ')}] };`;
  return {
    src, consts: gen.consts.map(portable), ruleCount, logs, used, trace,
    counters: { packets: counterArray(ruleCount, opts.sharedCounters === true), bytes: counterArray(ruleCount, opts.sharedCounters === true) },
    stats: {
      dispatchRuns: gen.dispatchRuns, dispatchedRules: gen.dispatchedRules, helperFunctions: gen.helpers.length,
      intervalRuns: gen.intervalRuns, intervalRules: gen.intervalRules, tables: gen.tables, tableRules: gen.tableRules,
      sourceChars: src.length, maxFunctionChars: gen.maxFunctionChars,
    },
  };
}

/** Runs a plan's generated code against this thread's NAT, log sink and trace. */
export function instantiateRuleset(plan: RulesetPlan, opts: CompileOptions): Ruleset {
  if (plan.trace !== (opts.trace !== undefined)) throw new Error('compile: the plan was built with a different trace setting');
  const { packets, bytes } = plan.counters;
  const logger = new RuleLogger(opts.log, plan.ruleCount, opts.logLimit);
  for (const l of plan.logs) logger.prepare(l.id, l.kind, l.severity, l.args);
  const factory = new Function('E', 'K', plan.src) as (e: unknown, k: unknown[]) => { ifaces: HookSet[]; forward: HookFn; fns: HookFn[] };
  const built = factory({ P: packets, B: bytes, NAT: opts.nat, LOG: logger, TR: opts.trace ?? null, ACCEPT_ALL }, plan.consts.map(revive));
  const functions: Record<string, HookFn> = {};
  plan.used.forEach((n, i) => { functions[n] = built.fns[i]!; });
  return {
    ifaces: built.ifaces,
    forward: built.forward,
    counters: { packets, bytes },
    ruleCount: plan.ruleCount,
    functions,
    logger,
    stats: plan.stats,
  };
}

export function compileRuleset(model: Model, opts: CompileOptions): Ruleset {
  return instantiateRuleset(planRuleset(model, { trace: opts.trace !== undefined, scaling: opts.scaling, tableMin: opts.tableMin }), opts);
}
