// log(...) and syslog(SEVERITY, ...) actions: per-rule templates, a per-rule token-bucket rate
// limit and the formatted message handed to the LogSink.
// Invariants: the bucket is checked BEFORE anything is formatted, so a suppressed message costs
// a clock read and a few typed-array operations; when a rule's bucket lets a message through
// again after suppression, an "N messages suppressed" summary for that rule goes out first
// (flush() does the same from a timer). Arguments: addresses dotted, other fields decimal,
// strings verbatim with `\n` escapes turned into newlines; trailing newlines are dropped
// (every call is one message).

import { ADDRESS_FIELDS, type LogArg } from '../src/config/model.js';
import type { LogSink, Pkt } from '../stack/wire/pkt.js';
import { fieldReader, type FieldReader } from './fields.js';
import { formatIpv4 } from '../stack/wire/ipv4.js';

export interface LogLimitOptions {
  /** Messages per second per rule (default 10). */
  rate?: number;
  /** Bucket size (default 20). */
  burst?: number;
  /** Clock in milliseconds (default performance.now). */
  now?: () => number;
}

/** log(...) goes out as severity 6 (info). */
export const LOG_SEVERITY = 6;

type Part = string | { read: FieldReader; addr: boolean };

interface Template { kind: 'log' | 'syslog'; severity: number; parts: Part[] }

export function unescapeLogText(s: string): string {
  return s.replace(/\\(n|t|\\|")/g, (_m, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
}

export class RuleLogger {
  private readonly templates: Array<Template | undefined> = [];
  // Per-rule bucket state, indexed by rule id, as long as the highest id of a log action (a
  // ruleset of 100,000 rules without logging keeps none).
  private tokens = new Float64Array(0);
  private last = new Float64Array(0);
  private suppressed = new Float64Array(0);
  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(private readonly sink: LogSink, _ruleCount: number, opts: LogLimitOptions = {}) {
    this.rate = opts.rate ?? 10;
    this.burst = opts.burst ?? 20;
    this.now = opts.now ?? (() => performance.now());
  }

  private sizeFor(id: number): void {
    if (id < this.tokens.length) return;
    const n = Math.max(id + 1, this.tokens.length * 2);
    const grow = (a: Float64Array, fill: number) => { const b = new Float64Array(n).fill(fill); b.set(a); return b; };
    this.tokens = grow(this.tokens, this.burst);
    this.last = grow(this.last, Number.NaN);
    this.suppressed = grow(this.suppressed, 0);
  }

  /** Every rule's bucket full again, nothing suppressed (a router reset after its warm-up). */
  reset(): void {
    this.tokens.fill(this.burst);
    this.last.fill(Number.NaN);
    this.suppressed.fill(0);
  }

  /** Register the action with rule id `id`. */
  prepare(id: number, kind: 'log' | 'syslog', severity: number, args: LogArg[]): void {
    this.sizeFor(id);
    const parts: Part[] = [];
    for (const a of args) {
      if (a.kind === 'str') {
        const s = unescapeLogText(a.text);
        if (typeof parts[parts.length - 1] === 'string') parts[parts.length - 1] += s;
        else parts.push(s);
      } else {
        parts.push({ read: fieldReader(a.field), addr: ADDRESS_FIELDS.has(a.field) });
      }
    }
    this.templates[id] = { kind, severity, parts };
  }

  /** Run the action of rule `id` for packet p. */
  emit(id: number, p: Pkt): void {
    if (!this.take(id)) return;
    const t = this.templates[id]!;
    let msg = '';
    for (const part of t.parts) {
      if (typeof part === 'string') msg += part;
      else {
        const v = part.read(p);
        msg += part.addr ? formatIpv4(v) : String(v);
      }
    }
    this.sink.emit(t.kind, t.severity, msg.replace(/\n+$/, ''), id);
  }

  /** Token bucket: true when a message may go out now (and sends a pending summary first). */
  private take(id: number): boolean {
    const now = this.now();
    const last = this.last[id]!;
    let tok = this.tokens[id]!;
    if (last === last) tok = Math.min(this.burst, tok + ((now - last) * this.rate) / 1000);
    this.last[id] = now;
    if (tok < 1) {
      this.tokens[id] = tok;
      this.suppressed[id]!++;
      return false;
    }
    this.tokens[id] = tok - 1;
    if (this.suppressed[id]! > 0) this.summary(id);
    return true;
  }

  private summary(id: number): void {
    const t = this.templates[id]!;
    const n = this.suppressed[id]!;
    this.suppressed[id] = 0;
    this.sink.emit(t.kind, t.severity, `${n} message${n === 1 ? '' : 's'} suppressed`, id);
  }

  /** Send the summaries of rules whose bucket has refilled (call from a timer). */
  flush(): void {
    const now = this.now();
    for (let id = 0; id < this.suppressed.length; id++) {
      if (this.suppressed[id] === 0) continue;
      const tok = Math.min(this.burst, this.tokens[id]! + ((now - this.last[id]!) * this.rate) / 1000);
      if (tok >= 1) this.summary(id);
    }
  }

  /** Messages currently held back, per rule. */
  pending(id: number): number {
    return this.suppressed[id] ?? 0;
  }
}
