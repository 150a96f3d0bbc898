// Chain normalisation, before code generation: the statement list of a function becomes a flat,
// ordered list of rules wherever the language allows it, so runs of rules reach the classifier
// and hash dispatch whatever blocks the user wrote them in.
//   * A protocol subtype block (`Filter::TCP { ... }`, or an inlined call of a TCP function) is
//     dissolved: each else-less `if` in it gets the guard `ip.protocol == 6` as its first `and`
//     term; statements that cannot carry a guard (bare actions, if/else) stay in a guard block,
//     and adjacent guard blocks of the same protocol merge. A block whose protocol the context
//     already guarantees (or an IP block) is spliced in as it is; one that cannot run there is
//     dropped.
//   * `if (c) { T } else { E }` with T always ending the function becomes `if (c) { T }` then E.
//   * Conditions are simplified: and/or stay n-ary (nested ones spliced), constant terms fold.
// Invariants: first-match order, fall-through bodies, log/syslog, NAT actions, rule ids (so
// counters) and locations are those of the source. A block is not a rule: it has no counter and
// no trace event of its own (its rules carry the guard); the user's rules as counters list them
// (ruleIds) are the `if`s and the actions that stand outside any `if`.

import type { Cond, Model, Stmt } from '../src/config/model.js';
import { SUBTYPE_PROTO } from '../src/config/model.js';

type Block = Extract<Stmt, { kind: 'block' }>;
type If = Extract<Stmt, { kind: 'if' }>;

/** Protocol the enclosing code guarantees (-1: any). */
export interface Env { proto: number }

/** The guard term of a protocol, one shared object per protocol. */
const GUARDS = new Map<number, Cond>();
function guard(proto: number): Cond {
  let g = GUARDS.get(proto);
  if (g === undefined) {
    g = { kind: 'cmp', op: '==', left: { kind: 'field', field: 'ip.protocol' }, right: { kind: 'const', value: proto }, loc: { file: '', line: 0, col: 0 } };
    GUARDS.set(proto, g);
  }
  return g;
}

/** True when the block's body runs in this context. */
export function blockRuns(s: Block, env: Env): boolean {
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

export function listTerminates(list: Stmt[], env: Env): boolean {
  for (const s of list) if (terminates(s, env)) return true;
  return false;
}

/** Condition with constant terms folded and nested and/or of the same kind spliced. */
export function simplify(c: Cond): Cond {
  switch (c.kind) {
    case 'not': {
      const x = simplify(c.c);
      if (x.kind === 'const') return { kind: 'const', value: !x.value, loc: x.loc };
      return x === c.c ? c : { kind: 'not', c: x };
    }
    case 'and': case 'or': {
      const absorbing = c.kind === 'or';
      let out: Cond[] | null = null;
      for (let i = 0; i < c.terms.length; i++) {
        const t: Cond = c.terms[i]!;
        const x: Cond = t.kind === 'and' || t.kind === 'or' || t.kind === 'not' ? simplify(t) : t;
        if (x.kind === 'const') {
          if (x.value === absorbing) return x;
          out ??= c.terms.slice(0, i);
          continue;
        }
        if (x.kind === c.kind) {
          out ??= c.terms.slice(0, i);
          out.push(...x.terms);
          continue;
        }
        if (x !== t) out ??= c.terms.slice(0, i);
        out?.push(x);
      }
      if (out === null) return c;
      if (out.length === 0) return { kind: 'const', value: !absorbing, loc: { file: '', line: 0, col: 0 } };
      return out.length === 1 ? out[0]! : { kind: c.kind, terms: out };
    }
    default: return c;
  }
}

/** The normalised statement list of a body running in `env`. */
export function normalizeList(list: Stmt[], env: Env): Stmt[] {
  // Most lists (rule bodies) hold only actions: nothing to do.
  let plain = true;
  for (const s of list) if (s.kind === 'if' || s.kind === 'block') { plain = false; break; }
  if (plain) return list;
  const out: Stmt[] = [];
  // Iterative over else-ladders (flattened in place) so long ladders do not recurse.
  const stack: Array<{ l: Stmt[]; i: number }> = [{ l: list, i: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.i >= top.l.length) { stack.pop(); continue; }
    const s = top.l[top.i++]!;
    switch (s.kind) {
      case 'if': {
        if (s.else !== null && listTerminates(s.then, env)) {
          out.push(normalizeIf(s, null, env));
          stack.push({ l: s.else, i: 0 });
        } else out.push(normalizeIf(s, s.else, env));
        break;
      }
      case 'block': {
        const proto = SUBTYPE_PROTO[s.subtype];
        if (proto < 0 || proto === env.proto) {
          stack.push({ l: s.body, i: 0 });
          break;
        }
        if (env.proto >= 0) break; // another protocol's block: never runs here
        const g = guard(proto);
        for (const x of normalizeList(s.body, { proto })) {
          if (x.kind === 'if' && x.else === null) {
            const terms = x.cond.kind === 'and' ? [g, ...x.cond.terms] : [g, x.cond];
            out.push({ ...x, cond: { kind: 'and', terms } });
            continue;
          }
          const last = out[out.length - 1];
          if (last !== undefined && last.kind === 'block' && last.subtype === s.subtype && last.id === -1) last.body.push(x);
          else out.push({ kind: 'block', id: -1, subtype: s.subtype, body: [x], call: null, loc: s.loc });
        }
        break;
      }
      default:
        out.push(s);
    }
  }
  return out;
}

function normalizeIf(s: If, els: Stmt[] | null, env: Env): Stmt {
  const cond = simplify(s.cond);
  const then = normalizeList(s.then, env);
  const e = els === null ? null : normalizeList(els, env);
  if (cond === s.cond && then === s.then && e === s.else) return s;
  return { kind: 'if', id: s.id, cond, then, else: e, loc: s.loc };
}

const RULE_IDS = new WeakMap<Model, number[]>();

/** Ids of the user's rules: every `if`, and every action that is not inside an `if` (blocks are
 *  not rules; what they hold is). In statement order, each function of the Model once. */
export function ruleIds(model: Model): number[] {
  const known = RULE_IDS.get(model);
  if (known !== undefined) return known;
  const out: number[] = [];
  RULE_IDS.set(model, out);
  const walk = (list: Stmt[], inIf: boolean): void => {
    for (const s of list) {
      if (s.kind === 'if') {
        out.push(s.id);
        walk(s.then, true);
        if (s.else !== null) walk(s.else, true);
      } else if (s.kind === 'block') walk(s.body, inIf);
      else if (!inIf) out.push(s.id);
    }
  };
  for (const f of Object.values(model.functions)) walk(f.body, false);
  return out;
}
