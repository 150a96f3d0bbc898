// Builds checked Models by hand for compiler tests: statements get rule ids and locations
// (one line per statement, in creation order) the way the checker assigns them.

import type {
  CmpOp, Cond, Field, FunctionDef, FunctionType, Hook, IfaceModel, LogArg, Model, Operand, RouteModel,
  Stmt, Subtype, ValueSet,
} from '../../src/config/model.js';
import { parseIpv4, prefixMask } from '../../stack/wire/ipv4.js';

export const FILE = 'test.nacl';

export class ModelBuilder {
  readonly model: Model;
  private line = 1;

  constructor() {
    this.model = {
      file: FILE, ifaces: [], gateway: null,
      conntrack: {
        declared: false, limit: 0, reserve: 0, statefulTcp: false,
        timeout: {
          unconfirmed: { tcp: 10, udp: 10, icmp: 10 },
          confirmed: { tcp: 30, udp: 30, icmp: 30 },
          established: { tcp: 300, udp: 30, icmp: 30 },
        },
        loc: null,
      },
      syslog: null, timers: [], loadBalancers: [], functions: {}, rules: [], writtenRules: 0, warnings: [],
    };
  }

  private next(text: string, fn = ''): { id: number; loc: { file: string; line: number; col: number } } {
    const id = this.model.rules.length;
    const loc = { file: FILE, line: this.line++, col: 3 };
    this.model.rules.push({ id, loc, text, fn });
    return { id, loc };
  }

  if(cond: Cond, then: Stmt[], els: Stmt[] | null = null): Stmt {
    return { kind: 'if', ...this.next(`if (${condText(cond)})`), cond, then, else: els };
  }
  accept(): Stmt { return { kind: 'accept', ...this.next('accept') }; }
  drop(): Stmt { return { kind: 'drop', ...this.next('drop') }; }
  log(...args: LogArg[]): Stmt { return { kind: 'log', ...this.next('log(...)'), args }; }
  syslog(severity: number, ...args: LogArg[]): Stmt {
    return { kind: 'syslog', ...this.next('syslog(...)'), severity, args };
  }
  nat(kind: 'dnat' | 'snat', addr: number | null, port: number | null): Stmt {
    return { kind, ...this.next(`${kind}(...)`), addr, port };
  }
  block(subtype: Subtype, body: Stmt[], call: string | null = null): Stmt {
    return { kind: 'block', ...this.next(call ?? `Filter::${subtype.toUpperCase()}`), subtype, body, call };
  }

  fn(name: string, type: FunctionType, subtype: Subtype, body: Stmt[]): FunctionDef {
    const f: FunctionDef = { name, type, subtype, body, loc: { file: FILE, line: this.line++, col: 1 } };
    this.model.functions[name] = f;
    return f;
  }

  iface(name: string, address: number, prefix: number, chains: Partial<Record<Hook, string[]>> = {}): IfaceModel {
    const i: IfaceModel = {
      name, index: this.model.ifaces.length, vlan: null, config: 'static', address,
      netmask: prefixMask(prefix), gateway: null, dns: null, masquerade: false,
      sendQueueLimit: null, bufferLimit: null,
      chains: { prerouting: [], input: [], output: [], postrouting: [], ...chains },
      loc: { file: FILE, line: this.line++, col: 1 },
    };
    this.model.ifaces.push(i);
    return i;
  }

  gateway(forward: string[], routes: Array<Omit<RouteModel, 'loc' | 'name' | 'netmask' | 'cost'> & { cost?: number }> = []): void {
    this.model.gateway = {
      name: 'gw', forward, sendTimeExceeded: true, loc: { file: FILE, line: this.line++, col: 1 },
      routes: routes.map((r) => ({
        name: null, cost: r.cost ?? 100, ...r, netmask: prefixMask(r.prefix),
        loc: { file: FILE, line: this.line++, col: 1 },
      })),
    };
  }
}

// ---- condition helpers ----
export const F = (field: Field): Operand => ({ kind: 'field', field });
export const V = (value: number): Operand => ({ kind: 'const', value });
const L = { file: FILE, line: 0, col: 0 };
export const cmp = (left: Operand, op: CmpOp, right: Operand): Cond => ({ kind: 'cmp', op, left, right, loc: L });
export const eq = (field: Field, value: number): Cond => cmp(F(field), '==', V(value));
export const inSet = (left: Operand, set: ValueSet): Cond => ({ kind: 'in', left, set, loc: L });
/** n-ary and/or as the checker builds them: a term of the same kind is spliced in. */
function nary(kind: 'and' | 'or', terms: Cond[]): Cond {
  const flat: Cond[] = [];
  for (const x of terms) if (x.kind === kind) flat.push(...x.terms); else flat.push(x);
  return flat.length === 1 ? flat[0]! : { kind, terms: flat };
}
export const and = (...terms: Cond[]): Cond => nary('and', terms);
export const or = (...terms: Cond[]): Cond => nary('or', terms);
export const not = (c: Cond): Cond => ({ kind: 'not', c });
export const bool = (value: boolean): Cond => ({ kind: 'const', value, loc: L });
export const str = (text: string): LogArg => ({ kind: 'str', text });
export const fld = (field: Field): LogArg => ({ kind: 'field', field });

export const ip = (s: string): number => parseIpv4(s)!;

export function condText(c: Cond): string {
  const op = (o: Operand): string => (o.kind === 'field' ? o.field : String(o.value));
  switch (c.kind) {
    case 'cmp': return `${op(c.left)} ${c.op} ${op(c.right)}`;
    case 'in': return `${op(c.left)} in [${c.set.exact.length + c.set.ranges.length} items]`;
    case 'and': return c.terms.map(condText).join(' and ');
    case 'or': return `(${c.terms.map(condText).join(' or ')})`;
    case 'not': return `not (${condText(c.c)})`;
    case 'const': return String(c.value);
  }
}
