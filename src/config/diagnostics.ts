// Diagnostics: collecting located errors and warnings while checking one file, and rendering
// them as `FILE:LINE:COL: error: MESSAGE`, the source line, a caret line and an optional hint.
// The collector stops the check (throws TooManyErrors) once MAX_ERRORS errors are recorded.

import type { Diagnostic, Loc, Severity } from './model.js';
import type { SrcLoc } from '../../grammar/ast.js';

export const MAX_ERRORS = 20;
const WINDOW = 100;

export class TooManyErrors extends Error {}

export class Diagnostics {
  readonly list: Diagnostic[] = [];
  errors = 0;

  constructor(readonly file: string) {}

  loc(at: SrcLoc): Loc {
    return { file: this.file, line: at.line, col: at.col };
  }

  add(severity: Severity, at: SrcLoc, message: string, hint?: string): void {
    const d: Diagnostic = { severity, message, loc: this.loc(at), length: Math.max(1, at.length) };
    if (hint) d.hint = hint;
    this.list.push(d);
    if (severity === 'error' && ++this.errors >= MAX_ERRORS) throw new TooManyErrors();
  }

  error(at: SrcLoc, message: string, hint?: string): void {
    this.add('error', at, message, hint);
  }

  warn(at: SrcLoc, message: string, hint?: string): void {
    this.add('warning', at, message, hint);
  }
}

/** Levenshtein distance, bounded work for short words. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const m = a.length;
  const n = b.length;
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    [prev, cur] = [cur, prev];
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
