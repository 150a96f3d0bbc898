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

export declare function parse(input: string, options?: { startRule?: string }): ItemNode[];
