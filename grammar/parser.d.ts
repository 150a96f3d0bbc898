// Types of the parser that `npm run build:parser` generates from grammar/nacl.peggy.
import type { ItemNode } from './ast.js';

export interface PeggyLocation {
  start: { offset: number; line: number; column: number };
  end: { offset: number; line: number; column: number };
}

export interface PeggyExpectation {
  type: 'literal' | 'class' | 'any' | 'end' | 'other';
  text?: string;
  description?: string;
  parts?: unknown[];
  inverted?: boolean;
}

export declare class SyntaxError extends Error {
  expected: PeggyExpectation[] | null;
  found: string | null;
  location: PeggyLocation;
}

/** A statement or item the grammar skipped in recovery mode (see grammar/nacl.peggy). */
export interface SkippedPiece {
  at: number;
  rule: 'Stmt' | 'Item';
}

export interface ParseOptions {
  /** Start, Stmt, Item, Token, Reserved or Braces. */
  startRule?: string;
  /** Skip bad statements and items instead of stopping at the first, noting them in `errors`. */
  recover?: boolean;
  errors?: SkippedPiece[];
}

export declare function parse(input: string, options?: ParseOptions): ItemNode[];
