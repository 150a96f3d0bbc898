// AST produced by grammar/nacl.peggy (via the generated grammar/parser.js).
// Locations are plain source offsets (UTF-16 code units into the parsed text): every node has
// `at` (its first character) and `end` (just after its last), inner tokens have `...At`. Line
// and column are computed only when a message or a rule's location needs them (LineIndex in
// src/config/diagnostics.ts), so parsing allocates no location objects.
// Names keep their source spelling; case rules are applied by the checker (src/config).

/** A piece of source text: [at, end). Every node is one. */
export interface Span {
  at: number;
  end: number;
}

export type Value =
  | { kind: 'int'; value: number; negative?: boolean; at: number; end: number }
  | { kind: 'dec'; value: number; negative?: boolean; at: number; end: number }
  /** `addr` is the address as a uint32, or -1 when a part is greater than 255. */
  | { kind: 'ip'; addr: number; at: number; end: number }
  /** `base` is whatever number was written before the slash (the checker wants an address). */
  | { kind: 'cidr'; base: Value; prefix: number; at: number; end: number }
  | { kind: 'range'; from: Value; to: Value; at: number; end: number }
  | { kind: 'bool'; value: boolean; at: number; end: number }
  | { kind: 'string'; value: string; at: number; end: number }
  /** A (dotted) name, dots kept, whitespace around them dropped: `ip.saddr`. */
  | { kind: 'name'; name: string; at: number; end: number }
  | { kind: 'list'; items: Value[]; at: number; end: number }
  | { kind: 'object'; pairs: Pair[]; at: number; end: number };

export interface Pair {
  key: string;
  keyAt: number;
  value: Value;
  at: number;
  end: number;
}

export type CmpOpText = '==' | '!=' | '<' | '>' | '<=' | '>=' | 'in';

export type CondNode =
  | { kind: 'or'; items: CondNode[]; at: number; end: number }
  | { kind: 'and'; items: CondNode[]; at: number; end: number }
  | { kind: 'not'; c: CondNode; at: number; end: number }
  | { kind: 'cmp'; op: CmpOpText; opAt: number; left: Value; right: Value; at: number; end: number }
  | { kind: 'value'; value: Value; at: number; end: number };

export interface FunctionNode {
  kind: 'function';
  type: string;
  typeAt: number;
  subtype: string;
  subtypeAt: number;
  name: string | null;
  /** -1 without a name. */
  nameAt: number;
  /** Offset of the body's `{`. */
  bodyAt: number;
  body: StmtNode[];
  at: number;
  end: number;
}

export type StmtNode =
  | {
      kind: 'if';
      cond: CondNode;
      then: StmtNode[];
      else: StmtNode[] | null;
      /** Offset of `else`, -1 without one. */
      elseAt: number;
      /** End of `if (...)`. */
      headEnd: number;
      at: number;
      end: number;
    }
  | FunctionNode
  /** An action or a call (its name starts at `at`); `args` is null when written without parentheses. */
  | { kind: 'action'; name: string; args: Value[] | null; at: number; end: number };

export type ItemNode =
  | FunctionNode
  | { kind: 'typed'; type: string; typeAt: number; name: string; nameAt: number; value: Value; at: number; end: number }
  /** `a.b.c: value`; [pathAt, pathEnd) is the dotted path. */
  | { kind: 'assign'; path: string[]; pathAt: number; pathEnd: number; value: Value; at: number; end: number }
  /** A bare integer at top level: accepted and ignored, as in the reference. */
  | { kind: 'int'; at: number; end: number };
