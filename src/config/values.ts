// Name registry and value resolution for the checker.
// The registry maps each element name (typed element, constant or function) to its AST value,
// after dotted assignments have been merged into it (shortest path first). `resolve` turns an AST
// value into a resolved value: numbers (addresses as uint32), sets (ranges, CIDRs, lists and
// objects flattened into a ValueSet), strings, booleans or packet fields. Names resolve in the
// reference's order: user element, then packet property (`ip.ttl`), then predefined word; user
// names shadow predefined words. Results of names are cached per context class, so a large
// list referenced by many rules is flattened once.

import type { Pair, Span, Value, FunctionNode } from '../../grammar/ast.js';
import { CT_ESTABLISHED, CT_INVALID, CT_NEW, CT_RELATED, type Field, type ValueSet } from './model.js';
import { didYouMean, tok, type Diagnostics } from './diagnostics.js';
import { formatIpv4, prefixMask } from '../../stack/wire/ipv4.js';

export type NumKind = 'int' | 'dec' | 'addr' | 'word';

export type RVal =
  | { t: 'num'; v: number; k: NumKind; loc: Span }
  | { t: 'set'; set: ValueSet; loc: Span }
  | { t: 'bool'; v: boolean; loc: Span }
  | { t: 'str'; v: string; loc: Span }
  | { t: 'field'; f: Field; loc: Span }
  /** An error was already reported for this value. */
  | { t: 'err'; loc: Span };

export interface Element {
  name: string;
  /** 'const' for untyped elements; lower-case type otherwise. */
  type: string;
  kind: 'const' | 'typed' | 'function';
  value: Value | null;
  fn: FunctionNode | null;
  nameLoc: Span;
  loc: Span;
  /** Keys are matched case-insensitively for Iface, Gateway and Timer. */
  ciKeys: boolean;
}

/** Where a value is used: outside functions packet properties are meaningless. */
export interface ValueCtx {
  /** Namespaces usable in this function context (ip, ct, tcp, ...); null outside functions. */
  allowed: ReadonlySet<string> | null;
  /** Subtype name for messages, e.g. 'UDP'. */
  subtype: string;
}

export const STATIC_CTX: ValueCtx = { allowed: null, subtype: '' };
/** Used to resolve the value behind a name once; the use site then checks field namespaces. */
const ANY_CTX: ValueCtx = { allowed: new Set(['ip', 'tcp', 'udp', 'icmp', 'ct']), subtype: '' };

const PROPERTIES: Record<string, Record<string, Field>> = {
  ip: {
    version: 'ip.version', hdrlength: 'ip.hdrlength', dscp: 'ip.dscp', ecn: 'ip.ecn', length: 'ip.length',
    id: 'ip.id', 'frag-off': 'ip.frag-off', ttl: 'ip.ttl', protocol: 'ip.protocol', checksum: 'ip.checksum',
    saddr: 'ip.saddr', daddr: 'ip.daddr',
  },
  tcp: {
    sport: 'tcp.sport', dport: 'tcp.dport', sequence: 'tcp.sequence', ackseq: 'tcp.ackseq', doff: 'tcp.doff',
    reserved: 'tcp.reserved', flags: 'tcp.flags', window: 'tcp.window', checksum: 'tcp.checksum', urgptr: 'tcp.urgptr',
  },
  udp: { sport: 'udp.sport', dport: 'udp.dport', length: 'udp.length', checksum: 'udp.checksum' },
  icmp: { type: 'icmp.type' },
  ct: { state: 'ct.state' },
};

const FIELD_NS = new Map<string, string>();
for (const ns of Object.keys(PROPERTIES)) for (const f of Object.values(PROPERTIES[ns])) FIELD_NS.set(f, ns);

export const RESERVED_NAMES = new Set(['ip', 'tcp', 'udp', 'icmp', 'ct']);

/** Predefined words (case-insensitive) and their numeric meaning. */
export const PREDEFINED: ReadonlyMap<string, number> = new Map<string, number>([
  ['fin', 1], ['syn', 2], ['rst', 4], ['psh', 8], ['ack', 16], ['urg', 32], ['ece', 64], ['cwr', 128], ['ns', 256],
  ['ssh', 22], ['dns', 53], ['http', 80], ['https', 443],
  ['tcp', 6], ['udp', 17], ['icmp', 1], ['ip', 4],
  ['echo-reply', 0], ['destination-unreachable', 3], ['redirect', 5], ['echo-request', 8], ['time-exceeded', 11],
  ['parameter-problem', 12], ['timestamp-request', 13], ['timestamp-reply', 14],
  ['established', CT_ESTABLISHED], ['new', CT_NEW], ['related', CT_RELATED], ['invalid', CT_INVALID],
]);

/** Words the reference knows but that mean nothing at run time (rejected, Part A3). */
const DEAD_WORDS = new Set(['iif', 'iifname', 'oif', 'oifname']);

/** The name of a one-word name value (`eth0`), else null. */
export function wordOf(v: Value): string | null {
  return v.kind === 'name' && !v.name.includes('.') ? v.name : null;
}

/** The span of an object member's key. */
export function keySpan(p: Pair): Span {
  return tok(p.keyAt, p.key.length);
}

export function nameText(parts: readonly string[]): string {
  return parts.join('.');
}

/** Packet properties by their full name (`ip.saddr`). */
const FIELD_BY_NAME = new Map<string, Field>();
for (const ns of Object.keys(PROPERTIES)) for (const [k, f] of Object.entries(PROPERTIES[ns])) FIELD_BY_NAME.set(`${ns}.${k}`, f);

export function describeValue(v: Value): string {
  switch (v.kind) {
    case 'int': case 'dec': return String(v.value);
    case 'ip': return v.addr < 0 ? 'an invalid address' : formatIpv4(v.addr);
    case 'cidr': return `${describeValue(v.base)}/${v.prefix}`;
    case 'bool': return String(v.value);
    case 'string': return JSON.stringify(v.value);
    case 'name': return v.name;
    case 'range': return `${describeValue(v.from)}-${describeValue(v.to)}`;
    case 'list': return 'a list';
    case 'object': return 'an object';
  }
}

/** Per-object key indexes (exact and lower-cased), so member lookups and assignments stay
 *  O(1) even for objects with many members. Kept in step by addPair. */
const pairIndex = new WeakMap<object, { exact: Map<string, Pair>; lower: Map<string, Pair>; size: number }>();

function indexOf(obj: Value & { kind: 'object' }): { exact: Map<string, Pair>; lower: Map<string, Pair>; size: number } {
  let ix = pairIndex.get(obj);
  if (!ix || ix.size !== obj.pairs.length) {
    ix = { exact: new Map(), lower: new Map(), size: obj.pairs.length };
    for (const p of obj.pairs) {
      if (!ix.exact.has(p.key)) ix.exact.set(p.key, p);
      const k = p.key.toLowerCase();
      if (!ix.lower.has(k)) ix.lower.set(k, p);
    }
    pairIndex.set(obj, ix);
  }
  return ix;
}

export function findPair(obj: Value & { kind: 'object' }, key: string, ci: boolean): Pair | undefined {
  if (obj.pairs.length < 8) {
    for (const p of obj.pairs) if (p.key === key) return p;
    if (ci) {
      const k = key.toLowerCase();
      for (const p of obj.pairs) if (p.key.toLowerCase() === k) return p;
    }
    return undefined;
  }
  const ix = indexOf(obj);
  return ix.exact.get(key) ?? (ci ? ix.lower.get(key.toLowerCase()) : undefined);
}

export function addPair(obj: Value & { kind: 'object' }, pair: Pair): void {
  const ix = pairIndex.get(obj);
  obj.pairs.push(pair);
  if (ix && ix.size === obj.pairs.length - 1) {
    ix.size++;
    if (!ix.exact.has(pair.key)) ix.exact.set(pair.key, pair);
    const k = pair.key.toLowerCase();
    if (!ix.lower.has(k)) ix.lower.set(k, pair);
  }
}

export class Resolver {
  readonly elements = new Map<string, Element>();
  private readonly cache = new Map<string, RVal>();
  private readonly resolving: string[] = [];

  constructor(readonly diags: Diagnostics) {}

  /** Follows names of user elements (and their members) to the AST value they stand for.
   *  Returns the value itself when it is not such a name, or null after reporting an error. */
  deref(v: Value): Value | null {
    let cur = v;
    for (let hops = 0; cur.kind === 'name'; hops++) {
      const parts = cur.name.split('.');
      const el = this.elements.get(parts[0]);
      if (!el || hops > 64) return cur;
      if (el.kind === 'function') return cur;
      const target = this.member(el, parts, cur);
      if (!target) return null;
      cur = target;
    }
    return cur;
  }

  /** Looks up `el.a.b` inside a user element's value. */
  member(el: Element, parts: readonly string[], loc: Span): Value | null {
    let cur: Value | null = el.value;
    for (let i = 1; i < parts.length; i++) {
      if (cur && cur.kind === 'name') cur = this.deref(cur);
      if (!cur || cur.kind !== 'object') {
        this.diags.error(loc, `Could not identify ${nameText(parts)}`);
        return null;
      }
      const p = findPair(cur, parts[i], el.ciKeys || i > 1);
      if (!p) {
        this.diags.error(loc, `Could not identify ${nameText(parts)}`,
          didYouMean(parts[i], cur.pairs.map((x) => x.key)));
        return null;
      }
      cur = p.value;
    }
    return cur;
  }

  resolve(v: Value, ctx: ValueCtx): RVal {
    switch (v.kind) {
      case 'int': return { t: 'num', v: v.value, k: 'int', loc: v };
      case 'dec': return { t: 'num', v: v.value, k: 'dec', loc: v };
      case 'ip': {
        if (v.addr < 0) {
          this.diags.error(v, `IPv4 addr ${this.text(v)} contains bytes greater than 255`);
          return { t: 'err', loc: v };
        }
        return { t: 'num', v: v.addr, k: 'addr', loc: v };
      }
      case 'cidr': {
        const base = v.base;
        if (base.kind !== 'ip') {
          this.diags.error(v, `Invalid CIDR ${this.text(v)}: a CIDR needs an IPv4 address before '/'`, 'write a network as 10.0.0.0/8');
          return { t: 'err', loc: v };
        }
        if (base.addr < 0) {
          this.diags.error(v, `IPv4 cidr ${this.text(v)} contains bytes greater than 255`);
          return { t: 'err', loc: v };
        }
        if (v.prefix > 32) {
          this.diags.error(v, `IPv4 cidr mask in ${this.text(v)} is greater than 32`);
          return { t: 'err', loc: v };
        }
        const mask = prefixMask(v.prefix);
        const net = (base.addr & mask) >>> 0;
        const bcast = (net | (~mask >>> 0)) >>> 0;
        return { t: 'set', set: { exact: [], ranges: [[net, bcast]] }, loc: v };
      }
      case 'range': {
        const a = this.resolve(v.from, ctx);
        const b = this.resolve(v.to, ctx);
        if (a.t === 'err' || b.t === 'err') return { t: 'err', loc: v };
        if (a.t !== 'num' || b.t !== 'num' || a.k !== b.k) {
          this.diags.error(v, `A range's values need to be of the same type (${describeValue(v)})`);
          return { t: 'err', loc: v };
        }
        if (a.v > b.v) this.diags.warn(v, `Range ${describeValue(v)} is empty: its start is greater than its end`);
        return { t: 'set', set: { exact: [], ranges: [[a.v, b.v]] }, loc: v };
      }
      case 'bool': return { t: 'bool', v: v.value, loc: v };
      case 'string': return { t: 'str', v: v.value, loc: v };
      case 'list': {
        const set: ValueSet = { exact: [], ranges: [] };
        let bad = false;
        for (const item of v.items) {
          const r = this.resolve(item, ctx);
          if (!this.addToSet(set, r)) bad = true;
        }
        return bad ? { t: 'err', loc: v } : { t: 'set', set, loc: v };
      }
      case 'object': {
        const set: ValueSet = { exact: [], ranges: [] };
        let bad = false;
        for (const p of v.pairs) {
          const r = this.resolve(p.value, ctx);
          if (!this.addToSet(set, r)) bad = true;
        }
        return bad ? { t: 'err', loc: v } : { t: 'set', set, loc: v };
      }
      case 'name': return this.resolveName(v.name, v, ctx);
    }
  }

  private addToSet(set: ValueSet, r: RVal): boolean {
    switch (r.t) {
      case 'num': set.exact.push(r.v); return true;
      case 'bool': set.exact.push(r.v ? 1 : 0); return true;
      case 'set':
        for (const x of r.set.exact) set.exact.push(x);
        for (const x of r.set.ranges) set.ranges.push(x);
        return true;
      case 'err': return false;
      case 'str':
        this.diags.error(r.loc, 'A string cannot be part of a set of values');
        return false;
      case 'field':
        this.diags.error(r.loc, `A packet property (${r.f}) cannot be part of a set of values`);
        return false;
    }
  }

  /** A value's source text, whitespace removed (`10 . 0 . 0 . 300` -> `10.0.0.300`). */
  private text(v: Value): string {
    return this.diags.source(v).replace(/\s+/g, '');
  }

  private resolveName(text: string, loc: Span, ctx: ValueCtx): RVal {
    const dot = text.indexOf('.');
    const el = this.elements.get(dot < 0 ? text : text.slice(0, dot));
    if (!el) {
      const f = FIELD_BY_NAME.get(text);
      if (f !== undefined) return this.checkField(f, loc, ctx);
    }
    const parts = text.split('.');
    if (el) {
      if (el.kind === 'function') {
        if (parts.length > 1) this.diags.error(loc, `A function (${el.name}) does not have any named attributes`);
        else this.diags.error(loc, `The name of a function (${el.name}) cannot be used as a value`);
        return { t: 'err', loc };
      }
      const cached = this.cache.get(text);
      if (cached) return cached.t === 'field' ? this.checkField(cached.f, loc, ctx) : { ...cached, loc };
      if (this.resolving.includes(text)) {
        this.diags.error(loc, `Circular definition: ${[...this.resolving.slice(this.resolving.indexOf(text)), text].join(' -> ')}`);
        return { t: 'err', loc };
      }
      const target = this.member(el, parts, loc);
      if (!target) return { t: 'err', loc };
      if (el.kind === 'typed' && parts.length === 1) {
        this.diags.error(loc, `${el.name} is ${el.type === 'iface' ? 'an Iface' : `a ${el.type}`} and cannot be used as a value here`);
        return { t: 'err', loc };
      }
      this.resolving.push(text);
      let r: RVal;
      try {
        r = this.resolve(target, ANY_CTX);
      } finally {
        this.resolving.pop();
      }
      this.cache.set(text, r);
      return r.t === 'field' ? this.checkField(r.f, loc, ctx) : { ...r, loc };
    }
    const ns = parts[0].toLowerCase();
    if (parts.length >= 2 && PROPERTIES[ns]) {
      if (parts.length > 2) {
        this.diags.error(loc, `Undefined protocol object properties: ${text}`);
        return { t: 'err', loc };
      }
      const f = PROPERTIES[ns][parts[1].toLowerCase()];
      if (!f) {
        this.diags.error(loc, `Unknown property ${text}`,
          didYouMean(parts[1], Object.keys(PROPERTIES[ns])) ?? `${ns} properties are ${Object.keys(PROPERTIES[ns]).join(', ')}`);
        return { t: 'err', loc };
      }
      return this.checkField(f, loc, ctx);
    }
    if (parts.length === 1) {
      const w = parts[0].toLowerCase();
      const n = PREDEFINED.get(w);
      if (n !== undefined) return { t: 'num', v: n, k: 'word', loc };
      if (DEAD_WORDS.has(w)) {
        this.diags.error(loc, `'${parts[0]}' is not supported: the reference runtime has no such property (nacl-router rejects it)`);
        return { t: 'err', loc };
      }
      this.diags.error(loc, `Undefined value ${text}`, didYouMean(parts[0], this.nameCandidates()));
      return { t: 'err', loc };
    }
    this.diags.error(loc, `Could not identify ${text}`, didYouMean(parts[0], this.nameCandidates()));
    return { t: 'err', loc };
  }

  private checkField(f: Field, loc: Span, ctx: ValueCtx): RVal {
    const ns = FIELD_NS.get(f) ?? f.slice(0, f.indexOf('.'));
    if (!ctx.allowed) {
      this.diags.error(loc, `The packet property ${f} can only be used inside a function`);
      return { t: 'err', loc };
    }
    if (!ctx.allowed.has(ns)) {
      this.diags.error(loc, `A function of subtype ${ctx.subtype} cannot test on ${ns} properties`,
        `wrap the test in a Filter::${ns.toUpperCase()} { ... } block`);
      return { t: 'err', loc };
    }
    return { t: 'field', f, loc };
  }

  private candidates: string[] | null = null;
  nameCandidates(): string[] {
    if (!this.candidates) this.candidates = [...this.elements.keys(), ...PREDEFINED.keys()];
    return this.candidates;
  }
}
