// The rule compiler: Model function IR -> one plain JS function per hook, `(p: Pkt) => verdict`,
// generated as source text and instantiated once with `new Function` (Part A2 semantics).
//
// Two steps, so the heavy one can run on another thread (a worker) and its result be transferred:
//   planRuleset(model, {trace, scaling, flowCache, sharedCounters}) -> RulesetPlan: pure data
//     (the generated source, typed arrays and tables of typed arrays, log templates, the counter
//     arrays); every ArrayBuffer in it that can move is listed by transferList(). It never
//     touches the packet thread's objects (src/control/build.ts runs it in the build worker).
//   instantiateRuleset(plan, {nat, log, trace, logLimit}) -> Ruleset: wraps the tables (O(1) per
//     table; the classifiers' flow caches are allocated here) and calls `new Function` on the
//     source (small: the rules' data is in the tables, not in the code). compileRuleset() does
//     both.
//
// Invariants:
// * A chain runs its functions in order; ACCEPT passes to the next, the first DROP ends it; an
//   empty chain accepts. A top-level function returns at its first accept/drop/dnat/snat, even
//   from inside nested blocks; one that falls off its end (a Nat, or a TCP/UDP/ICMP function
//   given another protocol) accepts. Nested blocks and inlined calls fall through.
// * Bodies are normalised first (normalize.ts): protocol blocks become guards on flat rule lists.
// * Inside generated code a statement list either `return`s a verdict (0/1) or falls through;
//   helper functions (size chunks, dispatch bodies) return the verdict or -1 to continue, so
//   splitting code across functions never changes behaviour.
// * No generated function body exceeds ~CHUNK_CHARS of source (V8 stops optimising huge
//   functions); long lists are split into chunk functions, recursively.
// * Runs of sibling rules keyed on classifier fields (rule-keys.ts) go through the multi-field
//   classifier (classifier.ts); a run whose rules all test the same fields for equality through
//   hash dispatch (scaling.ts); large `in` sets through sets.ts. Both visit candidates in source
//   order, so first match, fall-through bodies and residual conditions behave as linear code.
//   Per packet nothing is allocated: counters are typed arrays, values are numbers.
// * Linear code stays small so V8 optimises it soon after a (re)compile: a simple rule
//   (`if (c) { accept|drop }`) is one line ending in the shared HIT(), and each function reads a
//   repeated packet field once into a local (hoistReads).
// * Counters (by rule id): an `if` counts when its condition held, an action when executed;
//   blocks have none (normalize.ts); bytes are the IPv4 total length (p.ipLen).
// * Trace code exists only when the plan was made with trace.

import type { CmpOp, Cond, Field, LogArg, Model, Operand, Stmt, ValueSet } from '../src/config/model.js';
import { SUBTYPE_PROTO } from '../src/config/model.js';
import type { HookFn, LogSink, NatActions } from '../stack/wire/pkt.js';
import { cacheBits, Classifier, classifierStats, tableBytes, type ClassifierOptions, type ClassifierTables } from './classifier.js';
import { fieldExpr } from './fields.js';
import { RuleLogger, LOG_SEVERITY, type LogLimitOptions } from './log.js';
import { listTerminates, normalizeList, terminates, type Env } from './normalize.js';
import { classifierRules, ruleKey, type RuleKey } from './rule-keys.js';
import { analyzeRule, DispatchTable, findRuns, hashStatements, type KeyedRule, type Run } from './scaling.js';
import { inlineSetTest, normalizeSet, NumberSet, type NumberSetTables } from './sets.js';
import type { TraceSink } from './trace.js';

export interface PlanOptions {
  /** Compile trace events into the chains. */
  trace?: boolean;
  /** Classifier and hash dispatch for runs of rules (default true; false = plain linear code). */
  scaling?: boolean;
  /** The classifiers' flow caches (default true; false: every packet searches the trees). */
  flowCache?: boolean;
  /** Classifier build parameters (tests and measurements; defaults otherwise). */
  classifier?: ClassifierOptions;
  /** Counter arrays over a SharedArrayBuffer, so another thread can read them live. */
  sharedCounters?: boolean;
}

export interface CompileOptions {
  nat: NatActions;
  log: LogSink;
  trace?: TraceSink;
  logLimit?: LogLimitOptions;
  /** As in PlanOptions. */
  scaling?: boolean;
  flowCache?: boolean;
  classifier?: ClassifierOptions;
}

export interface HookSet { prerouting: HookFn; input: HookFn; output: HookFn; postrouting: HookFn }

export interface CompileStats {
  /** Hash dispatch runs and the rules they cover. */
  dispatchRuns: number; dispatchedRules: number;
  /** Classifier runs, the rules they cover, their trees and the bytes of their tables. */
  classifierRuns: number; classifierRules: number; classifierTrees: number; classifierBytes: number;
  helperFunctions: number; sourceChars: number;
  /** Largest generated function body (characters of source). */
  maxFunctionChars: number;
}

/** A constant of the generated code: a typed array, or the tables of a set or classifier. */
export type PlanConst =
  | Int32Array | Int8Array | Uint8Array | Float64Array
  | { kind: 'set'; tables: NumberSetTables }
  /** cache: log2 of the flow cache entries (0: none). */
  | { kind: 'classifier'; tables: ClassifierTables; cache: number };

export interface LogTemplate { id: number; kind: 'log' | 'syslog'; severity: number; args: LogArg[] }

/** The compiled form of a Model as plain data (structured-cloneable). */
export interface RulesetPlan {
  /** Body of `new Function('E', 'K', source)`; returns { ifaces, forward, fns }. */
  source: string;
  consts: PlanConst[];
  logs: LogTemplate[];
  /** Size of the counter arrays (largest rule id + 1). */
  ruleCount: number;
  /** The rules' counters (shared when the plan was made with sharedCounters). */
  counters: { packets: Float64Array; bytes: Float64Array };
  /** Names of the compiled top-level functions, in the order of the factory's `fns`. */
  functions: string[];
  trace: boolean;
  stats: CompileStats;
}

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
  stats: CompileStats;
}

/** Split generated statement lists larger than this (characters of source). Measured: about
 *  1.1 bytes of bytecode per character at worst (byte-level field reads), so functions stay well
 *  under V8's 60 KB optimisation limit; fewer, larger functions reach optimised code sooner
 *  (10,000 rules: ~2-3 s instead of ~5-6 s with 6,000-character chunks). */
const CHUNK_CHARS = 30000;
/** log2 of the rules per helper function in dispatch residual/body switches. */
const CASE_SHIFT = 5;
/** Shortest run of keyed rules worth a classifier (shorter ones stay linear code). */
export const CLASSIFIER_MIN_RUN = 8;

const ACCEPT_ALL: HookFn = () => 0;
const PROLOGUE = 'const b = p.buf, o3 = p.l3, o4 = p.l4; let t = 0, h = 0, v = 0;';

function num(v: number): string {
  if (Object.is(v, -0)) return '0';
  return v < 0 ? `(${v})` : String(v);
}

const q = (s: string): string => JSON.stringify(s);

type IfStmt = Extract<Stmt, { kind: 'if' }>;

/** A dispatched stretch of a statement list. */
type Piece =
  | { kind: 'hash'; start: number; end: number; run: Run }
  | { kind: 'classifier'; start: number; end: number; keys: RuleKey[] };

class Gen {
  readonly consts: PlanConst[] = [];
  readonly helpers: string[] = [];
  readonly logs: LogTemplate[] = [];
  private readonly setNames = new Map<ValueSet, string>();
  readonly stats: CompileStats = {
    dispatchRuns: 0, dispatchedRules: 0, classifierRuns: 0, classifierRules: 0, classifierTrees: 0, classifierBytes: 0,
    helperFunctions: 0, sourceChars: 0, maxFunctionChars: 0,
  };

  constructor(readonly trace: boolean, readonly scaling: boolean, readonly flowCache: boolean, readonly cls: ClassifierOptions) {}

  constant(v: PlanConst): string {
    this.consts.push(v);
    return `K${this.consts.length - 1}`;
  }

  helper(params: string, body: string): string {
    const name = `H${this.helpers.length}`;
    body = hoistReads(body);
    this.stats.maxFunctionChars = Math.max(this.stats.maxFunctionChars, body.length);
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
      case 'and': {
        // After a protocol test (a block's guard) the rest knows the protocol.
        let e = env;
        const parts: string[] = [];
        for (const x of c.terms) {
          parts.push(this.cond(x, e));
          const p = protocolTest(x);
          if (p >= 0 && e.proto < 0) e = { proto: p };
        }
        return `(${parts.join(' && ')})`;
      }
      case 'or': {
        const merged = mergeOrTerms(c.terms);
        if (merged) return this.inTest({ kind: 'field', field: merged.field }, merged.set, env);
        return `(${c.terms.map((x) => this.cond(x, env)).join(' || ')})`;
      }
    }
  }

  inTest(left: Operand, set: ValueSet, env: Env): string {
    const norm = normalizeSet(set);
    if (left.kind === 'const') return String(NumberSet.of(norm).has(left.value));
    const lv = this.operand(left, env);
    const inline = inlineSetTest(norm, 't');
    if (inline !== null) return `((t = ${lv}), ${inline})`;
    let name = this.setNames.get(set);
    if (name === undefined) {
      name = this.constant({ kind: 'set', tables: NumberSet.build(norm) });
      this.setNames.set(set, name);
    }
    return `${name}.has(${lv})`;
  }

  // ---- statements ----

  count(id: number): string {
    return `P[${id}]++; B[${id}] += p.ipLen;`;
  }

  /** Code for a normalised statement list (dispatched and chunked). */
  list(list: Stmt[], env: Env): string {
    const pieces = this.scaling ? planPieces(list, env) : [];
    const out: string[] = [];
    let r = 0;
    for (let i = 0; i < list.length; i++) {
      const piece = pieces[r];
      if (piece !== undefined && piece.start === i) {
        out.push(piece.kind === 'hash' ? this.run(piece.run, list, env) : this.classifierRun(piece, list, env));
        i = piece.end - 1;
        r++;
        continue;
      }
      const s = list[i]!;
      out.push(this.stmt(s, env));
      if (terminates(s, env)) break;
    }
    return this.chunk(out);
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
        const then = this.list(s.then, narrow(s.cond, env));
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
        this.logs.push({ id: s.id, kind: s.kind, severity: s.kind === 'log' ? LOG_SEVERITY : s.severity, args: s.args });
        return `${this.count(s.id)} ${this.tr('log', s.id)} LOG.emit(${s.id}, p);`;
      case 'dnat':
      case 'snat':
        return `${this.count(s.id)} NAT.${s.kind}(p, ${num(s.addr ?? -1)}, ${num(s.port ?? -1)}); ${this.tr('nat', s.id, q(s.kind))} return 0;`;
      case 'block': {
        // A guard (normalize.ts): no counter, no trace event.
        const proto = SUBTYPE_PROTO[s.subtype];
        if (proto < 0 || proto === env.proto) return `{\n${this.list(s.body, env)}\n}`;
        return `if (p.proto === ${proto}) {\n${this.list(s.body, { proto })}\n}`;
      }
    }
  }

  /** Hash dispatch over a run of keyed rules (see scaling.ts). */
  run(run: Run, list: Stmt[], env: Env): string {
    this.stats.dispatchRuns++;
    this.stats.dispatchedRules += run.end - run.start;
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

  /** The multi-field classifier over a run of keyed rules (see classifier.ts): candidates come
   *  in source order, each is then tested for its residual and run. */
  classifierRun(piece: Extract<Piece, { kind: 'classifier' }>, list: Stmt[], env: Env): string {
    const stmts = list.slice(piece.start, piece.end) as IfStmt[];
    const n = stmts.length;
    const definite = new Uint8Array(n);
    for (let j = 0; j < n; j++) definite[j] = piece.keys[j]!.residual === null && listTerminates(stmts[j]!.then, env) ? 1 : 0;
    const tables = Classifier.build(classifierRules(piece.keys, definite), this.cls);
    this.stats.classifierRuns++;
    this.stats.classifierRules += n;
    this.stats.classifierTrees += tables.roots.length;
    this.stats.classifierBytes += tableBytes(tables);
    if (tables.roots.length === 0) return '';
    const CL = this.constant({ kind: 'classifier', tables, cache: this.flowCache ? cacheBits(n) : 0 });
    const cand = this.candidates(stmts, piece.keys.map((k) => k.residual), env);
    return `for (let j = ${CL}.match(p, 0); j >= 0; j = ${CL}.match(p, j + 1)) {
  ${cand}
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
      else if (first !== undefined && s.then.length === 1 && (first.kind === 'accept' || first.kind === 'drop') && !this.trace) {
        act[j] = first.kind === 'accept' ? 0 : 1;
        actId[j] = first.id;
      } else {
        act[j] = 3;
        (bodyCases[j >> CASE_SHIFT] ??= []).push(`case ${j}: {\n${this.list(s.then, narrow(s.cond, env))}\nreturn -1; }`);
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

  private fnTables = 0;
  fnTable(names: string[]): string {
    const name = `FT${this.fnTables++}`;
    this.helpers.push(`const ${name} = [${names.join(', ')}];`);
    return name;
  }
}

/** Dispatched stretches of a normalised statement list, in order: maximal runs of at least
 *  CLASSIFIER_MIN_RUN classifier-keyed rules go to the classifier, unless the whole run is one
 *  hash run (every rule tests the same fields for equality: a hash lookup is cheaper); between
 *  them, hash runs where they form. */
function planPieces(list: Stmt[], env: Env): Piece[] {
  const out: Piece[] = [];
  const hash = (from: number, to: number): void => {
    for (const run of findRuns(list, from, to)) out.push({ kind: 'hash', start: run.start, end: run.end, run });
  };
  let gap = 0;
  let i = 0;
  while (i < list.length) {
    const first = ruleKey(list[i]!, env.proto);
    if (first === null) { i++; continue; }
    const keys: RuleKey[] = [first];
    let j = i + 1;
    for (; j < list.length; j++) {
      const k = ruleKey(list[j]!, env.proto);
      if (k === null) break;
      keys.push(k);
    }
    if (j - i >= CLASSIFIER_MIN_RUN) {
      hash(gap, i);
      const run = wholeRun(list, i, j);
      if (run !== null) out.push({ kind: 'hash', start: i, end: j, run });
      else out.push({ kind: 'classifier', start: i, end: j, keys });
      gap = j;
    }
    i = j;
  }
  hash(gap, list.length);
  return out;
}

/** The context inside `if (c)`: a leading protocol test (a block's guard) fixes the protocol. */
function narrow(c: Cond, env: Env): Env {
  if (env.proto >= 0) return env;
  const p = protocolTest(c.kind === 'and' ? c.terms[0]! : c);
  return p >= 0 ? { proto: p } : env;
}

/** list[from, to) as one hash run (every rule keyed on the same fields), or null; stops at the
 *  first rule that does not fit. */
function wholeRun(list: Stmt[], from: number, to: number): Run | null {
  const first = analyzeRule(list[from]!);
  if (first === null) return null;
  const rules: KeyedRule[] = [first];
  for (let i = from + 1; i < to; i++) {
    const k = analyzeRule(list[i]!);
    if (k === null || k.sig !== first.sig) return null;
    rules.push(k);
  }
  return { start: from, end: to, sig: first.sig, rules };
}

/** The protocol a term fixes (`ip.protocol == K`), or -1. */
function protocolTest(c: Cond): number {
  if (c.kind !== 'cmp' || c.op !== '==') return -1;
  const [f, k] = c.left.kind === 'field' ? [c.left, c.right] : [c.right, c.left];
  return f.kind === 'field' && f.field === 'ip.protocol' && k.kind === 'const' ? k.value : -1;
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
function mergeOrTerms(terms: readonly Cond[]): { field: Field; set: ValueSet } | null {
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

/** Compiles a Model into plain data (see the module comment). */
export function planRuleset(model: Model, opts: PlanOptions = {}): RulesetPlan {
  const trace = opts.trace ?? false;
  const gen = new Gen(trace, opts.scaling ?? true, opts.flowCache ?? true, opts.classifier ?? {});

  const used: string[] = [];
  const fnIndex = new Map<string, number>();
  const use = (name: string): void => {
    if (fnIndex.has(name)) return;
    if (model.functions[name] === undefined) throw new Error(`compile: chain names unknown function '${name}'`);
    fnIndex.set(name, used.length);
    used.push(name);
  };
  for (const ifc of model.ifaces) for (const c of [ifc.chains.prerouting, ifc.chains.input, ifc.chains.output, ifc.chains.postrouting]) for (const n of c) use(n);
  for (const n of model.gateway?.forward ?? []) use(n);

  const fnSrc: string[] = [];
  for (let i = 0; i < used.length; i++) {
    const f = model.functions[used[i]!]!;
    const proto = SUBTYPE_PROTO[f.subtype];
    const env: Env = { proto };
    const body = hoistReads(gen.list(normalizeList(f.body, env), env));
    gen.stats.maxFunctionChars = Math.max(gen.stats.maxFunctionChars, body.length);
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
  const source = `'use strict';
const P = E.P, B = E.B, NAT = E.NAT, LOG = E.LOG, TR = E.TR, ACCEPT_ALL = E.ACCEPT_ALL;
function HIT(p, a, x, v) { const l = p.ipLen; P[a]++; B[a] += l; P[x]++; B[x] += l; return v; }
${header}
${gen.helpers.join('\n')}
${fnSrc.join('\n')}
${chainSrc.join('\n')}
return { ifaces: [${ifaceExprs.join(', ')}], forward: ${forwardExpr}, fns: [${used.map((_, i) => `F${i}`).join(', ')}] };`;
  gen.stats.helperFunctions = gen.helpers.length;
  gen.stats.sourceChars = source.length;
  const ruleCount = maxRuleId(model) + 1;
  const shared = opts.sharedCounters === true;
  return {
    source, consts: gen.consts, logs: gen.logs, ruleCount, functions: used, trace, stats: gen.stats,
    counters: { packets: counterArray(ruleCount, shared), bytes: counterArray(ruleCount, shared) },
  };
}

function counterArray(n: number, shared: boolean): Float64Array {
  return shared ? new Float64Array(new SharedArrayBuffer(Math.max(8, n * 8))).subarray(0, n) : new Float64Array(n);
}

/** The ArrayBuffers of a plan, for postMessage's transfer list (shared ones are not listed). */
export function transferList(plan: RulesetPlan): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  const add = (o: object): void => {
    for (const v of Object.values(o)) if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) out.add(v.buffer);
  };
  for (const c of plan.consts) {
    if (ArrayBuffer.isView(c)) add({ c });
    else add(c.tables);
  }
  add(plan.counters);
  return [...out];
}

/** Makes the hook functions of a plan (on the thread that runs them). */
export function instantiateRuleset(plan: RulesetPlan, opts: CompileOptions): Ruleset {
  if (plan.trace !== (opts.trace !== undefined)) throw new Error('compile: the plan was made ' + (plan.trace ? 'with' : 'without') + ' trace');
  const { packets, bytes } = plan.counters;
  const logger = new RuleLogger(opts.log, plan.ruleCount, opts.logLimit);
  for (const l of plan.logs) logger.prepare(l.id, l.kind, l.severity, l.args);
  const consts = plan.consts.map((c) => {
    if (ArrayBuffer.isView(c)) return c;
    return c.kind === 'set' ? new NumberSet(c.tables) : new Classifier(c.tables, c.cache);
  });
  const factory = new Function('E', 'K', plan.source) as (e: unknown, k: unknown[]) => { ifaces: HookSet[]; forward: HookFn; fns: HookFn[] };
  const built = factory({ P: packets, B: bytes, NAT: opts.nat, LOG: logger, TR: opts.trace ?? null, ACCEPT_ALL }, consts);
  const functions: Record<string, HookFn> = {};
  plan.functions.forEach((n, i) => { functions[n] = built.fns[i]!; });
  return {
    ifaces: built.ifaces, forward: built.forward, counters: { packets, bytes }, ruleCount: plan.ruleCount,
    functions, logger, stats: plan.stats,
  };
}

export function compileRuleset(model: Model, opts: CompileOptions): Ruleset {
  return instantiateRuleset(planRuleset(model, {
    trace: opts.trace !== undefined, scaling: opts.scaling, flowCache: opts.flowCache, classifier: opts.classifier,
  }), opts);
}

/** Shape of the classifier tables of a plan (trees, nodes, depth, leaf sizes, bytes), per run. */
export function planClassifiers(plan: RulesetPlan): ReturnType<typeof classifierStats>[] {
  const out: ReturnType<typeof classifierStats>[] = [];
  for (const c of plan.consts) if (!ArrayBuffer.isView(c) && c.kind === 'classifier') out.push(classifierStats(c.tables));
  return out;
}
