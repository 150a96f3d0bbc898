// Reference evaluator for the compiler tests: a direct interpreter over the Model IR, written
// independently of filters/ (field reads through the stack/wire/ views, whose byte fixtures
// test/stack/wire/ checks; a linear rule walk, no dispatch).

import type { Cond, Field, Model, Operand, Stmt } from '../../src/config/model.js';
import { ADDRESS_FIELDS, SUBTYPE_PROTO } from '../../src/config/model.js';
import { IcmpView } from '../../stack/wire/icmp.js';
import { formatIpv4, Ipv4View, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../../stack/wire/ipv4.js';
import type { Pkt } from '../../stack/wire/pkt.js';
import { TCP_DOFF, TcpView } from '../../stack/wire/tcp.js';
import { UdpView } from '../../stack/wire/udp.js';

export interface RefCall { kind: string; id: number; a: number; b: number; msg?: string }

const ip4 = new Ipv4View(), tcp = new TcpView(), udp = new UdpView(), icmp = new IcmpView();

function read(p: Pkt, f: Field): number {
  const h = ip4.reset(p.buf, p.l3, p.ipLen);
  const l4 = (proto: number): boolean => p.proto === proto && !p.frag;
  const t = tcp.reset(p.buf, p.l4, p.l4Len), u = udp.reset(p.buf, p.l4, p.l4Len);
  switch (f) {
    case 'ip.version': return h.version;
    case 'ip.hdrlength': return h.headerLen;
    case 'ip.dscp': return h.dscp;
    case 'ip.ecn': return h.ecn;
    case 'ip.length': return h.totalLen;
    case 'ip.id': return h.id;
    case 'ip.frag-off': return h.fragOffset >> 3;
    case 'ip.ttl': return h.ttl;
    case 'ip.protocol': return h.proto;
    case 'ip.checksum': return h.csum;
    case 'ip.saddr': return h.saddr;
    case 'ip.daddr': return h.daddr;
    case 'tcp.sport': return l4(PROTO_TCP) ? t.sport : 0;
    case 'tcp.dport': return l4(PROTO_TCP) ? t.dport : 0;
    case 'tcp.sequence': return l4(PROTO_TCP) ? t.seq : 0;
    case 'tcp.ackseq': return l4(PROTO_TCP) ? t.ack : 0;
    case 'tcp.doff': return l4(PROTO_TCP) ? t.dataOffset : 0;
    case 'tcp.reserved': return l4(PROTO_TCP) ? p.buf[p.l4 + TCP_DOFF]! : 0;
    case 'tcp.flags': return l4(PROTO_TCP) ? t.flags : 0;
    case 'tcp.window': return l4(PROTO_TCP) ? t.window : 0;
    case 'tcp.checksum': return l4(PROTO_TCP) ? t.csum : 0;
    case 'tcp.urgptr': return l4(PROTO_TCP) ? t.urgentPtr : 0;
    case 'udp.sport': return l4(PROTO_UDP) ? u.sport : 0;
    case 'udp.dport': return l4(PROTO_UDP) ? u.dport : 0;
    case 'udp.length': return l4(PROTO_UDP) ? u.length : 0;
    case 'udp.checksum': return l4(PROTO_UDP) ? u.csum : 0;
    case 'icmp.type': return l4(PROTO_ICMP) ? icmp.reset(p.buf, p.l4, p.l4Len).type : 0;
    case 'ct.state': return p.ctState;
  }
}

const val = (p: Pkt, o: Operand): number => (o.kind === 'const' ? o.value : read(p, o.field));

export function evalCond(p: Pkt, c: Cond): boolean {
  switch (c.kind) {
    case 'const': return c.value;
    case 'not': return !evalCond(p, c.c);
    case 'and': return c.terms.every((x) => evalCond(p, x));
    case 'or': return c.terms.some((x) => evalCond(p, x));
    case 'in': {
      const v = val(p, c.left);
      return c.set.exact.includes(v) || c.set.ranges.some(([a, b]) => v >= Math.min(a, b) && v <= Math.max(a, b));
    }
    case 'cmp': {
      const a = val(p, c.left), b = val(p, c.right);
      switch (c.op) {
        case '==': return a === b;
        case '!=': return a !== b;
        case '<': return a < b;
        case '>': return a > b;
        case '<=': return a <= b;
        case '>=': return a >= b;
      }
    }
  }
}

export class Reference {
  readonly packets: Float64Array;
  readonly bytes: Float64Array;
  calls: RefCall[] = [];
  /** Ids counted, in order (cleared by the caller). */
  hits: number[] = [];

  constructor(readonly model: Model, size: number) {
    this.packets = new Float64Array(size);
    this.bytes = new Float64Array(size);
  }

  private hit(id: number, p: Pkt): void {
    this.packets[id]!++;
    this.bytes[id]! += p.ipLen;
    this.hits.push(id);
  }

  chain(names: string[], p: Pkt): number {
    for (const n of names) if (this.fn(n, p) === 1) return 1;
    return 0;
  }

  fn(name: string, p: Pkt): number {
    const f = this.model.functions[name]!;
    const proto = SUBTYPE_PROTO[f.subtype];
    if (proto >= 0 && p.proto !== proto) return 0;
    const v = this.list(f.body, p);
    return v < 0 ? 0 : v;
  }

  /** -1 = fell through. */
  list(stmts: Stmt[], p: Pkt): number {
    for (const s of stmts) {
      const v = this.stmt(s, p);
      if (v >= 0) return v;
    }
    return -1;
  }

  stmt(s: Stmt, p: Pkt): number {
    switch (s.kind) {
      case 'if':
        if (evalCond(p, s.cond)) { this.hit(s.id, p); return this.list(s.then, p); }
        return s.else ? this.list(s.else, p) : -1;
      case 'accept': this.hit(s.id, p); return 0;
      case 'drop': this.hit(s.id, p); return 1;
      case 'log':
      case 'syslog': {
        this.hit(s.id, p);
        let msg = '';
        for (const a of s.args) {
          if (a.kind === 'str') msg += a.text.replace(/\\n/g, '\n');
          else msg += ADDRESS_FIELDS.has(a.field) ? formatIpv4(read(p, a.field)) : String(read(p, a.field));
        }
        this.calls.push({ kind: s.kind, id: s.id, a: s.kind === 'log' ? 6 : s.severity, b: 0, msg: msg.replace(/\n+$/, '') });
        return -1;
      }
      case 'dnat':
      case 'snat':
        this.hit(s.id, p);
        this.calls.push({ kind: s.kind, id: s.id, a: s.addr ?? -1, b: s.port ?? -1 });
        return 0;
      case 'block': {
        const proto = SUBTYPE_PROTO[s.subtype];
        // A block is not a rule: no counter of its own.
        if (proto >= 0 && p.proto !== proto) return -1;
        return this.list(s.body, p);
      }
    }
  }
}
