// The checked Model: everything later stages need from a NaCl file, with names resolved,
// values numeric (IPv4 addresses as uint32, host order), defaults applied and locations kept.
// Produced by src/config (check), consumed by filters/ (compile), src/router.ts and `show`.
// Later stages never look at the AST.

import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../../stack/wire/ipv4.js';

export interface Loc {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  severity: Severity;
  message: string;
  loc: Loc;
  /** Length of the offending token (for the caret line); at least 1. */
  length: number;
  hint?: string;
}

/** Packet properties a condition or log argument can read (Part B section 5). */
export type Field =
  | 'ip.version' | 'ip.hdrlength' | 'ip.dscp' | 'ip.ecn' | 'ip.length' | 'ip.id'
  | 'ip.frag-off' | 'ip.ttl' | 'ip.protocol' | 'ip.checksum' | 'ip.saddr' | 'ip.daddr'
  | 'tcp.sport' | 'tcp.dport' | 'tcp.sequence' | 'tcp.ackseq' | 'tcp.doff' | 'tcp.reserved'
  | 'tcp.flags' | 'tcp.window' | 'tcp.checksum' | 'tcp.urgptr'
  | 'udp.sport' | 'udp.dport' | 'udp.length' | 'udp.checksum'
  | 'icmp.type'
  | 'ct.state';

/** Fields whose values are IPv4 addresses (printed dotted). */
export const ADDRESS_FIELDS: ReadonlySet<Field> = new Set<Field>(['ip.saddr', 'ip.daddr']);

/** ct.state values, as numbers in the IR and in Pkt.ctState (defined with Pkt). */
export { CT_NEW, CT_ESTABLISHED, CT_RELATED, CT_INVALID } from '../../stack/wire/pkt.js';

/** Subtype of a function or nested block: which protocol's packets it acts on. */
export type Subtype = 'ip' | 'tcp' | 'udp' | 'icmp';
/** IP protocol number for a subtype (ip = any). */
export const SUBTYPE_PROTO: Record<Subtype, number> = { ip: -1, tcp: PROTO_TCP, udp: PROTO_UDP, icmp: PROTO_ICMP };

/** A numeric operand: a packet field or a constant (addresses, ports, words all resolved to numbers;
 *  true/false become 1/0). */
export type Operand =
  | { kind: 'field'; field: Field }
  | { kind: 'const'; value: number };

/** A set for `in`: exact values plus inclusive intervals (CIDRs and ranges become intervals).
 *  Nested lists are flattened by the checker. */
export interface ValueSet {
  exact: number[];
  ranges: Array<[number, number]>;
}

export type CmpOp = '==' | '!=' | '<' | '>' | '<=' | '>=';

export type Cond =
  | { kind: 'cmp'; op: CmpOp; left: Operand; right: Operand; loc: Loc }
  | { kind: 'in'; left: Operand; set: ValueSet; loc: Loc }
  /** n-ary, terms in source order, at least two; a term is never of the same kind (the checker
   *  splices `a and (b and c)` into one list). */
  | { kind: 'and'; terms: Cond[] }
  | { kind: 'or'; terms: Cond[] }
  | { kind: 'not'; c: Cond }
  /** A bare value used as a condition (`if (exists)` with `exists: true`), or folded constants. */
  | { kind: 'const'; value: boolean; loc: Loc };

export type LogArg = { kind: 'str'; text: string } | { kind: 'field'; field: Field };

/** Syslog severities, RFC 5424 numbering: emerg 0 .. debug 7. */
export const SEVERITIES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/** Statements of a function body. Every statement has a rule id (index into Model.rules):
 *  counters, trace and `show` all use it. Inlined calls get fresh ids with the callee's locations. */
export type Stmt =
  | { kind: 'if'; id: number; cond: Cond; then: Stmt[]; else: Stmt[] | null; loc: Loc }
  | { kind: 'accept'; id: number; loc: Loc }
  | { kind: 'drop'; id: number; loc: Loc }
  | { kind: 'log'; id: number; args: LogArg[]; loc: Loc }
  /** severity: index into SEVERITIES. */
  | { kind: 'syslog'; id: number; severity: number; args: LogArg[]; loc: Loc }
  /** addr/port: the new address / port, or null to keep. */
  | { kind: 'dnat' | 'snat'; id: number; addr: number | null; port: number | null; loc: Loc }
  /** A nested block (inline `Filter::TCP { ... }`) or an inlined call of a named function
   *  (`call` = its name): runs `body` only for packets of `subtype`'s protocol, then falls through. */
  | { kind: 'block'; id: number; subtype: Subtype; body: Stmt[]; call: string | null; loc: Loc };

export type FunctionType = 'filter' | 'nat';

export interface FunctionDef {
  name: string;
  type: FunctionType;
  subtype: Subtype;
  /** Fully resolved body, called functions inlined as blocks. */
  body: Stmt[];
  loc: Loc;
}

export interface RuleInfo {
  id: number;
  loc: Loc;
  /** Short source text of the rule (`if (tcp.dport in allowed_services)`, `drop`, ...). */
  text: string;
  /** Top-level function the statement belongs to (after inlining). */
  fn: string;
}

export type Hook = 'prerouting' | 'input' | 'output' | 'postrouting';
export const HOOKS: readonly Hook[] = ['prerouting', 'input', 'output', 'postrouting'];

export interface IfaceModel {
  name: string;
  /** N-th link given to the router, or the link whose MAC is this string (lower case). */
  index: number | { mac: string };
  vlan: number | null;
  config: 'static' | 'dhcp' | 'dhcp-with-fallback';
  address: number | null;
  netmask: number | null;
  gateway: number | null;
  dns: number | null;
  masquerade: boolean;
  sendQueueLimit: number | null;
  bufferLimit: number | null;
  /** Function names (keys of Model.functions) per hook, in push order. */
  chains: Record<Hook, string[]>;
  loc: Loc;
}

export interface RouteModel {
  name: string | null;
  net: number;
  netmask: number;
  prefix: number;
  /** 0 = directly connected (on-link). */
  nexthop: number;
  iface: string;
  cost: number;
  loc: Loc;
}

export interface GatewayModel {
  name: string;
  routes: RouteModel[];
  /** Filter names pushed on the forward chain. */
  forward: string[];
  sendTimeExceeded: boolean;
  loc: Loc;
}

export interface CtTimeouts { tcp: number; udp: number; icmp: number }

export interface ConntrackModel {
  /** True when a Conntrack element was written. */
  declared: boolean;
  /** Max connections; 0 = unlimited (the router still applies a built-in cap). */
  limit: number;
  reserve: number;
  statefulTcp: boolean;
  /** Seconds, per state and protocol (reference defaults applied). */
  timeout: { unconfirmed: CtTimeouts; confirmed: CtTimeouts; established: CtTimeouts };
  loc: Loc | null;
}

export interface SyslogModel { name: string; address: number; port: number; loc: Loc }

export interface TimerModel { name: string; interval: number; data: string[]; loc: Loc }

export interface LoadBalancerModel {
  name: string;
  layer: 'tcp';
  clients: { iface: string; port: number; waitQueueLimit: number; sessionLimit: number };
  servers: { iface: string; algorithm: 'round_robin'; pool: Array<{ address: number; port: number }> };
  loc: Loc;
}

export interface Model {
  file: string;
  ifaces: IfaceModel[];
  gateway: GatewayModel | null;
  conntrack: ConntrackModel;
  syslog: SyslogModel | null;
  timers: TimerModel[];
  loadBalancers: LoadBalancerModel[];
  /** Every top-level Filter/Nat function, resolved (including ones only called or unused). */
  functions: Record<string, FunctionDef>;
  /** Indexed by rule id: every statement of every instantiated function (inlined calls again). */
  rules: RuleInfo[];
  /** Rules as the user wrote and counts them (`check`, logs): each run of consecutive actions
   *  or calls in a body is one rule (`if (c) { log(..) drop }` is one, `accept` is one);
   *  `if`s and nested blocks count the rules inside them. Each function counts once. */
  writtenRules: number;
  warnings: Diagnostic[];
}
