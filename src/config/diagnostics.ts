// Diagnostics: collecting located errors and warnings while checking one file, and rendering
// them as `FILE:LINE:COL: error: MESSAGE`, the source line, a caret line and an optional hint.
// The collector stops the check (throws TooManyErrors) once MAX_ERRORS errors are recorded.
// Source positions travel as offsets (grammar/ast.ts Span); LineIndex turns an offset into
// line:col only where a diagnostic or a rule location needs it. The same problem at the same
// place is recorded once.

import type { Diagnostic, Loc, Severity } from './model.js';
import type { Span } from '../../grammar/ast.js';

export const MAX_ERRORS = 20;
const WINDOW = 100;

export class TooManyErrors extends Error {}

/** Offset -> 1-based line and column, built on first use (one pass over the text). Lookups
 *  that move forward through the file (the checker's order) cost O(1) on average. */
export class LineIndex {
  private starts: Int32Array | null = null;
  private count = 0;
  private last = 0;

  constructor(readonly text: string) {}

  private build(): Int32Array {
    const t = this.text;
    let n = 1;
    for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) n++;
    const s = new Int32Array(n);
    let k = 1;
    for (let i = t.indexOf('\n'); i >= 0; i = t.indexOf('\n', i + 1)) s[k++] = i + 1;
    this.count = n;
    return (this.starts = s);
  }

  /** 0-based line of an offset. */
  private lineIx(off: number): number {
    const s = this.starts ?? this.build();
    let l = this.last;
    if (off >= s[l]) {
      // Forward scan for nearby lines, binary search for far ones.
      for (let k = 0; k < 8; k++) {
        if (l + 1 >= this.count || off < s[l + 1]) return (this.last = l);
        l++;
      }
    }
    let lo = 0;
    let hi = this.count - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid] <= off) lo = mid;
      else hi = mid - 1;
    }
    return (this.last = lo);
  }

  line(off: number): number {
    return this.lineIx(off) + 1;
  }

  col(off: number): number {
    const l = this.lineIx(off);
    return off - this.starts![l] + 1;
  }

  loc(file: string, off: number): Loc {
    const l = this.lineIx(off);
    return { file, line: l + 1, col: off - this.starts![l] + 1 };
  }
}

/** A span for an inner token (a name, a key): made only when a message needs it. */
export function tok(at: number, length: number): Span {
  return { at, end: at + Math.max(1, length) };
}

export class Diagnostics {
  readonly list: Diagnostic[] = [];
  errors = 0;
  readonly lines: LineIndex;
  private readonly seen = new Set<string>();

  constructor(readonly file: string, readonly text: string) {
    this.lines = new LineIndex(text);
  }

  loc(at: Span | number): Loc {
    return this.lines.loc(this.file, typeof at === 'number' ? at : at.at);
  }

  line(at: Span | number): number {
    return this.lines.line(typeof at === 'number' ? at : at.at);
  }

  /** The source text of a span. */
  source(s: Span): string {
    return this.text.slice(s.at, s.end);
  }

  add(severity: Severity, at: Span, message: string, hint?: string): void {
    const key = `${at.at}:${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const d: Diagnostic = { severity, message, loc: this.loc(at), length: Math.max(1, at.end - at.at) };
    if (hint) d.hint = hint;
    this.list.push(d);
    if (severity === 'error' && ++this.errors >= MAX_ERRORS) throw new TooManyErrors();
  }

  error(at: Span, message: string, hint?: string): void {
    this.add('error', at, message, hint);
  }

  warn(at: Span, message: string, hint?: string): void {
    this.add('warning', at, message, hint);
  }
}

/** Edit distance where a swap of two neighbouring letters counts as one edit (optimal string
 *  alignment), so `dorp` is one edit from `drop`. Bounded work for short words. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const m = a.length;
  const n = b.length;
  let prev2 = new Array<number>(n + 1).fill(0);
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) {
        d = Math.min(d, prev2[j - 2] + 1);
      }
      cur[j] = d;
    }
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[n];
}

/** `did you mean 'x'?` for the closest candidate within a distance that grows with the word. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const limit = Math.max(1, Math.min(3, Math.floor(w.length / 3)));
  let best: string | undefined;
  let bestD = limit + 1;
  let seen = 0;
  for (const c of candidates) {
    if (++seen > 5000) break;
    if (Math.abs(c.length - w.length) > limit) continue;
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD > 0 && bestD * 2 < w.length ? `did you mean '${best}'?` : undefined;
}

function lineAt(text: string, line: number): string {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) return '';
    start = nl + 1;
  }
  const end = text.indexOf('\n', start);
  return text.slice(start, end < 0 ? text.length : end).replace(/\r$/, '');
}

export function formatDiagnostics(diags: Diagnostic[], text: string): string {
  const out: string[] = [];
  for (const d of diags) {
    out.push(`${d.loc.file}:${d.loc.line}:${d.loc.col}: ${d.severity}: ${d.message}`);
    const src = lineAt(text, d.loc.line).replace(/\t/g, ' ');
    if (src.length > 0 || d.loc.col <= 1) {
      // Long lines (one-line configurations) are shown as a window around the column.
      let col = d.loc.col - 1;
      let shown = src;
      if (shown.length > WINDOW) {
        const from = Math.max(0, Math.min(col - 40, shown.length - WINDOW));
        const prefix = from > 0 ? '...' : '';
        const to = from + WINDOW;
        shown = prefix + shown.slice(from, to) + (to < src.length ? '...' : '');
        col = col - from + prefix.length;
      }
      out.push(shown);
      const room = Math.max(1, shown.length - col);
      const len = Math.max(1, Math.min(d.length, room, WINDOW));
      out.push(' '.repeat(Math.max(0, col)) + '^' + '~'.repeat(len - 1));
    }
    if (d.hint) out.push(`  hint: ${d.hint}`);
  }
  return out.length ? out.join('\n') + '\n' : '';
}
