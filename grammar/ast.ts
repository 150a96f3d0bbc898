// Located AST produced by grammar/nacl.peggy (via the generated grammar/parser.js).
// Every node carries `loc`: 1-based line and column, 0-based offset and the length of its source
// text. Names keep their source spelling; case rules are applied by the checker (src/config).

export interface SrcLoc {
  line: number;
  col: number;
  offset: number;
  length: number;
}

export type Value =
  | { kind: 'int'; value: number; text: string; loc: SrcLoc }
  | { kind: 'dec'; value: number; text: string; loc: SrcLoc }
  | { kind: 'ip'; bytes: [number, number, number, number]; text: string; loc: SrcLoc }
  | { kind: 'cidr'; bytes: [number, number, number, number]; prefix: number; text: string; loc: SrcLoc }
  | { kind: 'range'; from: Value; to: Value; loc: SrcLoc }
  | { kind: 'bool'; value: boolean; loc: SrcLoc }
  | { kind: 'string'; value: string; loc: SrcLoc }
  | { kind: 'name'; parts: string[]; loc: SrcLoc }
  | { kind: 'list'; items: Value[]; loc: SrcLoc }
  | { kind: 'object'; pairs: Pair[]; loc: SrcLoc };

export interface Pair {
  key: string;
  keyLoc: SrcLoc;
  value: Value;
  loc: SrcLoc;
}

export type CmpOpText = '==' | '!=' | '<' | '>' | '<=' | '>=' | 'in';

export type CondNode =
  | { kind: 'or'; items: CondNode[]; loc: SrcLoc }
  | { kind: 'and'; items: CondNode[]; loc: SrcLoc }
  | { kind: 'not'; c: CondNode; loc: SrcLoc }
  | { kind: 'cmp'; op: CmpOpText; opLoc: SrcLoc; left: Value; right: Value; loc: SrcLoc }
  | { kind: 'value'; value: Value; loc: SrcLoc };

export interface FunctionNode {
  kind: 'function';
  type: string;
  typeLoc: SrcLoc;
  subtype: string;
  subtypeLoc: SrcLoc;
  name: string | null;
  nameLoc: SrcLoc | null;
  body: StmtNode[];
  loc: SrcLoc;
}

export type StmtNode =
  | {
      kind: 'if';
      cond: CondNode;
      then: StmtNode[];
      else: StmtNode[] | null;
      elseLoc: SrcLoc | null;
      /** Length of `if (...)` in the source. */
      headLength: number;
      loc: SrcLoc;
    }
  | FunctionNode
  /** An action or a call; `args` is null when written without parentheses. */
  | { kind: 'action'; name: string; nameLoc: SrcLoc; args: Value[] | null; loc: SrcLoc };

export type ItemNode =
  | FunctionNode
  | { kind: 'typed'; type: string; typeLoc: SrcLoc; name: string; nameLoc: SrcLoc; value: Value; loc: SrcLoc }
  | { kind: 'assign'; path: string[]; pathLoc: SrcLoc; value: Value; loc: SrcLoc }
  /** A bare integer at top level: accepted and ignored, as in the reference. */
  | { kind: 'int'; loc: SrcLoc };
