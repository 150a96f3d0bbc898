// Rules without the Model: what the packet thread needs per rule id (location, source text,
// top-level function) in typed arrays a worker thread can transfer, and the rule identities that
// carry counters across a reload and drive `ctl reload --dry-run`'s diff.
//
// Identity (ruleUnits, the one place that decides it): a unit is a statement of a function or
// block body, with everything nested in it (an `if` with its bodies, an action; a block's own
// statement is a unit of its own and its body's statements are units too). Its key is its
// top-level function, the source texts of all its statements, and which occurrence of that
// text it is in that function. A unit whose key is in both the old and the new ruleset is
// unchanged: its counters carry over, whichever lines it moved to.

import type { Loc, Model, Stmt } from './model.js';
import { ruleIds } from '../../filters/normalize.js';

export interface RuleIndexData {
  file: string;
  count: number;
  line: Int32Array;
  col: Int32Array;
  /** Index into fnNames. */
  fn: Int32Array;
  fnNames: string[];
  /** Rule texts, UTF-8, rule i at bytes [textAt[i], textAt[i + 1]). */
  text: Uint8Array;
  textAt: Int32Array;
  /** Each rule's own file (inlined calls keep their callee's), when it differs from `file`. */
  files: Map<number, string>;
  /** 1: the statement is one of the user's rules (an `if`, or an action outside any `if`), the
   *  ones `ctl counters` and the metrics list; 0: a block, or an action inside an `if`. */
  isRule: Uint8Array;
}

export function ruleIndexData(model: Model): RuleIndexData {
  const n = model.rules.length;
  const line = new Int32Array(n);
  const col = new Int32Array(n);
  const fn = new Int32Array(n);
  const fnNames: string[] = [];
  const fnIx = new Map<string, number>();
  const textAt = new Int32Array(n + 1);
  const enc = new TextEncoder();
  let chars = 0;
  for (const r of model.rules) chars += r.text.length;
  let text = new Uint8Array(chars + 16);
  const files = new Map<number, string>();
  let at = 0;
  for (let i = 0; i < n; i++) {
    const r = model.rules[i]!;
    line[i] = r.loc.line;
    col[i] = r.loc.col;
    if (r.loc.file !== model.file) files.set(i, r.loc.file);
    let f = fnIx.get(r.fn);
    if (f === undefined) {
      f = fnNames.length;
      fnNames.push(r.fn);
      fnIx.set(r.fn, f);
    }
    fn[i] = f;
    textAt[i] = at;
    if (text.length - at < r.text.length * 3) {
      const bigger = new Uint8Array(text.length * 2 + r.text.length * 3);
      bigger.set(text);
      text = bigger;
    }
    at += enc.encodeInto(r.text, text.subarray(at)).written;
  }
  textAt[n] = at;
  const isRule = new Uint8Array(n);
  for (const id of ruleIds(model)) isRule[id] = 1;
  return { file: model.file, count: n, line, col, fn, fnNames, text, textAt, files, isRule };
}

export function ruleIndexTransfer(d: RuleIndexData): ArrayBuffer[] {
  return [d.line.buffer, d.col.buffer, d.fn.buffer, d.text.buffer, d.textAt.buffer, d.isRule.buffer] as ArrayBuffer[];
}

const decoder = new TextDecoder();

export class RuleIndex {
  constructor(readonly data: RuleIndexData) {}

  get count(): number {
    return this.data.count;
  }

  loc(id: number): Loc {
    return { file: this.data.files.get(id) ?? this.data.file, line: this.data.line[id]!, col: this.data.col[id]! };
  }

  /** `file:line` of a rule. */
  where(id: number): string {
    return `${this.data.files.get(id) ?? this.data.file}:${this.data.line[id]}`;
  }

  text(id: number): string {
    const d = this.data;
    return decoder.decode(d.text.subarray(d.textAt[id]!, d.textAt[id + 1]!));
  }

  fn(id: number): string {
    return this.data.fnNames[this.data.fn[id]!]!;
  }

  /** One of the user's rules (see RuleIndexData.isRule). */
  isRule(id: number): boolean {
    return this.data.isRule[id] === 1;
  }
}

/** One unit of rule identity (see the header). `first..last` are its rule ids (a subtree's ids
 *  are consecutive: they are given in pre-order). */
export interface RuleUnit {
  key: string;
  first: number;
  last: number;
  where: string;
  text: string;
}

function lastId(s: Stmt): number {
  let last = s.id;
  const kids = s.kind === 'if' ? [...s.then, ...(s.else ?? [])] : s.kind === 'block' ? s.body : [];
  for (const k of kids) last = Math.max(last, lastId(k));
  return last;
}

export function ruleUnits(model: Model): RuleUnit[] {
  const out: RuleUnit[] = [];
  for (const f of Object.values(model.functions)) {
    const seen = new Map<string, number>();
    const visit = (body: Stmt[]): void => {
      for (const s of body) {
        const last = s.kind === 'block' ? s.id : lastId(s);
        let texts = '';
        for (let i = s.id; i <= last; i++) texts += `${model.rules[i]!.text}\u0001`;
        const base = `${f.name}\u0000${texts}`;
        const k = (seen.get(base) ?? 0) + 1;
        seen.set(base, k);
        const r = model.rules[s.id]!;
        out.push({ key: `${base}#${k}`, first: s.id, last, where: `${r.loc.file || model.file}:${r.loc.line}`, text: r.text });
        if (s.kind === 'block') visit(s.body);
      }
    };
    visit(f.body);
  }
  return out;
}

/** Counter carry-over from `prev` to `next`: triples (old first id, new first id, length) for
 *  the unchanged units, neighbours merged into one run (an unchanged file is one triple). */
export function unitMapping(prev: readonly RuleUnit[], next: readonly RuleUnit[]): Int32Array {
  const old = new Map<string, RuleUnit>();
  for (const u of prev) old.set(u.key, u);
  const out: number[] = [];
  for (const u of next) {
    const o = old.get(u.key);
    if (!o || o.last - o.first !== u.last - u.first) continue;
    const n = u.last - u.first + 1;
    const k = out.length - 3;
    if (k >= 0 && out[k]! + out[k + 2]! === o.first && out[k + 1]! + out[k + 2]! === u.first) out[k + 2]! += n;
    else out.push(o.first, u.first, n);
  }
  return Int32Array.from(out);
}

export interface RuleDiff {
  added: Array<{ where: string; text: string }>;
  removed: Array<{ where: string; text: string }>;
  changed: Array<{ where: string; from: string; to: string }>;
  unchanged: number;
}

/** What a reload from `prev` to `next` changes, by location: units only in `next` are added,
 *  only in `prev` removed; a removed and an added unit at the same file:line are one change. */
export function diffUnits(prev: readonly RuleUnit[], next: readonly RuleUnit[]): RuleDiff {
  const oldKeys = new Set(prev.map((u) => u.key));
  const newKeys = new Set(next.map((u) => u.key));
  const removed = prev.filter((u) => !newKeys.has(u.key));
  const added = next.filter((u) => !oldKeys.has(u.key));
  const removedAt = new Map<string, RuleUnit>();
  for (const u of removed) if (!removedAt.has(u.where)) removedAt.set(u.where, u);
  const changed: RuleDiff['changed'] = [];
  const paired = new Set<RuleUnit>();
  const addedOut: RuleDiff['added'] = [];
  for (const u of added) {
    const o = removedAt.get(u.where);
    if (o && !paired.has(o)) {
      paired.add(o);
      changed.push({ where: u.where, from: o.text, to: u.text });
    } else addedOut.push({ where: u.where, text: u.text });
  }
  return {
    added: addedOut,
    removed: removed.filter((u) => !paired.has(u)).map((u) => ({ where: u.where, text: u.text })),
    changed,
    unchanged: next.length - added.length,
  };
}

/** The diff as `ctl reload --dry-run` prints it. */
export function formatDiff(d: RuleDiff, max = 200): string {
  const lines: string[] = [];
  for (const c of d.changed) lines.push(`~ ${c.where}: ${c.from}  ->  ${c.to}`);
  for (const a of d.added) lines.push(`+ ${a.where}: ${a.text}`);
  for (const r of d.removed) lines.push(`- ${r.where}: ${r.text}`);
  lines.sort((a, b) => locOrder(a) - locOrder(b));
  const shown = lines.slice(0, max);
  if (lines.length > max) shown.push(`... ${lines.length - max} more`);
  shown.push(`${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged`);
  return shown.join('\n') + '\n';
}

function locOrder(line: string): number {
  const m = /:(\d+):/.exec(line);
  return m ? Number(m[1]) : 0;
}
