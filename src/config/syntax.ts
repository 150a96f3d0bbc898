// Syntax: runs the Peggy parser (grammar/parser.js, the only NaCl parser) and turns its
// failures into diagnostics. A valid file is parsed once. An invalid one is parsed with the
// grammar's error recovery on, which skips each bad statement or item and notes where it
// started; each of those pieces is then parsed again strictly (startRule Stmt or Item) so its
// message is Peggy's own "expected ... but found ...". A missing `}` is reported at the block
// it leaves open rather than at the end of the file; IPv6 literals get a message of their own.
// Everything lexical here is asked of the grammar (start rules Token, Reserved, Braces).

import { parse, SyntaxError as PeggySyntaxError, type PeggyExpectation, type SkippedPiece } from '../../grammar/parser.js';
import type { ItemNode } from '../../grammar/ast.js';
import { tok, type Diagnostics } from './diagnostics.js';

/** At most this many syntax errors are reported for one file. */
const MAX_SYNTAX_ERRORS = 10;

function describeExpected(e: PeggyExpectation): string | null {
  switch (e.type) {
    case 'literal': return ['#', '//', '/*'].includes(e.text ?? '') ? null : `'${e.text}'`;
    case 'other': return e.description === 'whitespace' ? null : e.description ?? null;
    case 'end': return 'end of input';
    case 'any': return 'any character';
    case 'class': return e.description === '[0-9]' ? 'a digit' : null;
  }
}

/** The token at `offset`, as the grammar reads it. */
function tokenAt(text: string, offset: number): { text: string; length: number } {
  if (offset >= text.length) return { text: 'end of input', length: 1 };
  const t = parse(text.slice(offset, offset + 200), { startRule: 'Token' }) as unknown as string;
  if (t === '\n' || t === '\r') return { text: 'end of line', length: 1 };
  return { text: `'${t}'`, length: t.length };
}

export function isReserved(word: string): boolean {
  try {
    parse(word, { startRule: 'Reserved' });
    return true;
  } catch {
    return false;
  }
}

/** An IPv6 literal around `off` (hex groups with at least two colons), or null. */
function ipv6Around(text: string, off: number): { at: number; text: string } | null {
  const isHexOrColon = (c: string) => /[0-9a-fA-F:.]/.test(c);
  let a = off;
  while (a > 0 && isHexOrColon(text[a - 1])) a--;
  let b = off;
  while (b < text.length && isHexOrColon(text[b])) b++;
  const lit = text.slice(a, b);
  if ((lit.match(/:/g) ?? []).length >= 2 && /^[0-9a-fA-F:.]+$/.test(lit) && /[0-9a-fA-F]/.test(lit)) return { at: a, text: lit };
  return null;
}

/** A hint for the common causes of a syntax error at `off`. */
function syntaxHint(text: string, off: number): string | undefined {
  const ch = text[off];
  const before = text.slice(Math.max(0, off - 60), off);
  const after = text.slice(off, off + 60);
  const open = text.lastIndexOf('/*', off);
  if (open >= 0 && text.indexOf('*/', open + 2) < 0) return "unterminated comment: '/*' is never closed with '*/'";
  if (ch === '"') {
    const close = after.indexOf('"', 1);
    const body = close > 0 ? after.slice(1, close) : after.slice(1);
    if (/#|\/\/|\/\*/.test(body)) return "a string cannot contain '#', '//' or '/*': they start comments, as in the reference";
    return "strings may contain letters, digits, spaces, '\\n' and the characters _-./:,{}()[]<>!=&|";
  }
  if (ch && /['`%;=+*@$?\\\u2018\u2019\u201c\u201d]/.test(ch)) return `'${ch}' is not part of the NaCl language`;
  const word = /^[a-zA-Z]+/.exec(after)?.[0];
  const prev = /([a-zA-Z]+)\s*$/.exec(before)?.[1];
  for (const w of [word, prev]) {
    if (w === 'NOT' || w === 'AND' || w === 'OR') return `logical operators are lower case: '${w.toLowerCase()}'`;
  }
  if (word === 'if' && prev === 'else') return "there is no 'else if': write else { if (...) { ... } }";
  if (/^[0-9]+\s*\./.test(after)) return 'numbers are written 80, 1.5 or as a full IPv4 address with four parts, 10.0.0.1';
  if (word && isReserved(word) && /^[a-z]+\s*:/i.test(after)) return `'${word}' is a reserved word and cannot be used as a name or key`;
  return undefined;
}

/** Strict parse of the piece at `at` with one start rule: where and why it fails, or null. */
function failureAt(text: string, at: number, rule: 'Stmt' | 'Item' | 'Start'): PeggySyntaxError | null {
  try {
    parse(at === 0 ? text : text.slice(at), { startRule: rule });
    return null;
  } catch (e) {
    if (e instanceof PeggySyntaxError) return e;
    throw e;
  }
}

/** The `{` whose block is never closed, when the braces of the file do not balance. Of the
 *  blocks still open at the end, the first whose `}` (by count) sits at a different indentation
 *  from its own first line is the likely culprit: that `}` was meant for an outer block. */
function unclosedBlock(text: string): number | null {
  const braces = parse(text, { startRule: 'Braces' }) as unknown as number[];
  const stack: number[] = [];
  const pairs: Array<[number, number]> = [];
  for (const b of braces) {
    if (b >= 0) stack.push(b);
    else if (stack.length) pairs.push([stack.pop()!, -b - 1]);
  }
  if (stack.length === 0) return null;
  const indent = (off: number) => {
    const ls = text.lastIndexOf('\n', off - 1) + 1;
    return /^[ \t]*/.exec(text.slice(ls, off + 1))![0].length;
  };
  const lineStart = (off: number) => text.lastIndexOf('\n', off - 1) + 1;
  pairs.sort((a, b) => a[0] - b[0]);
  for (const [o, c] of pairs) {
    if (stack[0] < o && lineStart(o) !== lineStart(c) && indent(lineStart(o)) !== indent(c)) return o;
  }
  return stack[stack.length - 1];
}

function report(diags: Diagnostics, text: string, err: PeggySyntaxError, base: number): void {
  const off = base + err.location.start.offset;
  const v6 = ipv6Around(text, Math.min(off, text.length - 1));
  if (v6) {
    diags.error(tok(v6.at, v6.text.length), `IPv6 is not supported: ${v6.text} is an IPv6 address`, 'nacl-router filters and routes IPv4 only');
    return;
  }
  const exp = [...new Set((err.expected ?? []).map(describeExpected).filter((x): x is string => !!x))].sort();
  const found = tokenAt(text, off);
  let message: string;
  if (err.expected === null) message = err.message;
  else if (exp.length === 0) message = `unexpected ${found.text}`;
  else {
    const list = exp.length === 1 ? exp[0] : `${exp.slice(0, -1).join(', ')} or ${exp[exp.length - 1]}`;
    message = `expected ${list} but found ${found.text}`;
  }
  if (off >= text.length && exp.includes("'}'")) {
    const open = unclosedBlock(text);
    if (open !== null) {
      diags.error(tok(open, 1), "syntax error: this block is never closed: its '{' has no matching '}'",
        `the file ends at line ${diags.line(text.length)} with the block still open`);
      return;
    }
  }
  diags.error(tok(off, found.length), `syntax error: ${message}`, syntaxHint(text, off));
}

/** The file's items, or null after reporting every syntax error found (up to a cap). */
export function parseItems(text: string, diags: Diagnostics): ItemNode[] | null {
  let first: PeggySyntaxError;
  try {
    return parse(text);
  } catch (e) {
    if (!(e instanceof PeggySyntaxError)) throw e;
    first = e;
  }
  // The first error is the strict parse's own (Peggy's furthest failure); the recovery parse
  // finds the ones after it.
  report(diags, text, first, 0);
  const firstAt = first.location.start.offset;
  const skipped: SkippedPiece[] = [];
  try {
    parse(text, { recover: true, errors: skipped });
  } catch (e) {
    if (!(e instanceof PeggySyntaxError)) throw e;
  }
  let reported = 1;
  let last = firstAt;
  skipped.sort((a, b) => a.at - b.at);
  for (const { at: start, rule } of skipped) {
    if (reported >= MAX_SYNTAX_ERRORS) break;
    // A piece that starts before the last reported error is that error's own.
    if (start <= last) continue;
    const err = failureAt(text, start, rule);
    if (!err) continue;
    const off = start + err.location.start.offset;
    if (off <= last) continue;
    last = off;
    report(diags, text, err, start);
    reported++;
  }
  return null;
}
