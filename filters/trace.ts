// Trace mode: the events compiled chains report when built with a TraceSink, a recorder that
// keeps them, and the printer that turns a recorded path into `file:line` lines.
// Invariants: without a TraceSink no trace code exists in the chains (zero cost). Rule ids are
// indexes into Model.rules, the same ids `show` and the counters use; events that are not about
// a rule (function start/end) carry rule id -1 and the function name as detail.

import type { Model } from '../src/config/model.js';
import type { Pkt } from '../stack/wire/pkt.js';

export type TraceKind =
  | 'function' // a chain starts a top-level function (detail: name)
  | 'function-end' // it returned (detail: `name accept|drop`)
  | 'cond-true'
  | 'cond-false'
  | 'block-entered'
  | 'block-skipped' // rule id -1: a TCP/UDP/ICMP top-level function skipped (detail: subtype)
  | 'verdict' // accept/drop action (detail: accept|drop)
  | 'log'
  | 'nat'; // dnat/snat action (detail: dnat|snat)

export interface TraceSink {
  event(kind: TraceKind, ruleId: number, p: Pkt, detail: string): void;
}

export interface TraceEvent { kind: TraceKind; ruleId: number; detail: string }

/** Keeps every event (for tests and the offline `trace` command). */
export class TraceRecorder implements TraceSink {
  events: TraceEvent[] = [];
  event(kind: TraceKind, ruleId: number, _p: Pkt, detail: string): void {
    this.events.push({ kind, ruleId, detail });
  }
  clear(): void {
    this.events = [];
  }
}

/** Where a rule is, as `file:line`. */
export function ruleLocation(model: Model, id: number): string {
  const r = model.rules[id];
  return r ? `${r.loc.file || model.file}:${r.loc.line}` : `rule ${id}`;
}

const KIND_TEXT: Record<TraceKind, string> = {
  'function': 'function',
  'function-end': 'result',
  'cond-true': 'true',
  'cond-false': 'false',
  'block-entered': 'enter',
  'block-skipped': 'skip',
  'verdict': 'verdict',
  'log': 'log',
  'nat': 'nat',
};

/** One printable line per event, indented under its function. */
export function formatTrace(model: Model, events: TraceEvent[], indent = '  '): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.kind === 'function') {
      const fn = model.functions[e.detail];
      const where = fn ? `${fn.loc.file}:${fn.loc.line}` : '?';
      out.push(`${indent}${where}: ${fn ? `${cap(fn.type)}::${fn.subtype.toUpperCase()} ` : ''}${e.detail}`);
      continue;
    }
    if (e.kind === 'function-end') {
      out.push(`${indent}  -> ${e.detail}`);
      continue;
    }
    if (e.ruleId < 0) {
      out.push(`${indent}  (not ${e.detail.toUpperCase()}: function skipped)`);
      continue;
    }
    const r = model.rules[e.ruleId];
    const text = r ? r.text : '';
    const extra = e.kind === 'verdict' || e.kind === 'nat' || e.kind === 'log' ? '' : ` [${KIND_TEXT[e.kind]}]`;
    out.push(`${indent}  ${ruleLocation(model, e.ruleId)}: ${text}${extra}`);
  }
  return out;
}

const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);
