// Seeded random rule sets and packets for the property tests. Values come from small pools so
// that conditions match often and hash-dispatch runs see duplicate keys.

import type { Cond, Field, Operand, Stmt, Subtype } from '../../src/config/model.js';
import { ALL_FIELDS } from '../../filters/fields.js';
import { buildPacket, type PacketSpec } from '../../src/control/packet-spec.js';
import type { Pkt } from '../../stack/wire/pkt.js';
import { rng } from '../../bench/gen/classbench.js';
import { and, F, ModelBuilder, V, cmp, inSet, ip, not, or, bool, str, fld } from './model-builder.js';

export { rng };

const ADDRS = ['10.0.0.1', '10.0.0.2', '10.0.1.7', '192.168.0.10', '8.8.8.8'].map(ip);
const PORTS = [22, 53, 80, 443, 8080, 40000];

export class Gen {
  constructor(readonly r: () => number) {}
  int(n: number): number { return Math.floor(this.r() * n); }
  pick<T>(xs: readonly T[]): T { return xs[this.int(xs.length)]!; }
  chance(p: number): boolean { return this.r() < p; }

  /** A plausible constant for field f. */
  value(f: Field): number {
    switch (f) {
      case 'ip.saddr': case 'ip.daddr': return this.pick(ADDRS);
      case 'tcp.sport': case 'tcp.dport': case 'udp.sport': case 'udp.dport': return this.pick(PORTS);
      case 'ip.protocol': return this.pick([1, 6, 17, 47]);
      case 'ip.ttl': return this.pick([1, 63, 64, 128]);
      case 'ct.state': return this.int(4);
      case 'tcp.flags': return this.pick([0x02, 0x12, 0x10, 0x11, 0x04]);
      case 'icmp.type': return this.pick([0, 3, 8, 11]);
      case 'ip.frag-off': return this.pick([0, 1, 100]);
      case 'ip.version': return this.pick([4, 6]);
      case 'ip.hdrlength': return this.pick([20, 24]);
      case 'ip.dscp': return this.int(4);
      case 'ip.ecn': return this.int(4);
      case 'ip.length': return this.pick([20, 28, 40, 60, 100]);
      case 'ip.id': return this.pick([1, 2, 300]);
      case 'tcp.doff': return 5;
      case 'tcp.reserved': return 0x50;
      case 'tcp.window': return this.pick([65535, 1024]);
      case 'udp.length': return this.pick([8, 20, 40]);
      case 'tcp.sequence': return this.pick([1000, 2000]);
      case 'tcp.ackseq': return this.pick([0, 1]);
      default: return this.int(3);
    }
  }

  field(): Field {
    return this.chance(0.6) ? this.pick(['ip.saddr', 'ip.daddr', 'tcp.dport', 'udp.dport', 'ct.state', 'ip.protocol', 'ip.ttl'] as Field[])
      : this.pick(ALL_FIELDS);
  }

  operand(f: Field): Operand {
    return this.chance(0.9) ? V(this.value(f)) : this.chance(0.5) ? F(this.field()) : V(this.value(f) + this.int(3) - 1);
  }

  cond(depth: number): Cond {
    const k = depth <= 0 ? this.int(3) : this.int(7);
    const f = this.field();
    switch (k) {
      case 0: {
        const op = this.pick(['==', '==', '!=', '<', '>', '<=', '>='] as const);
        return this.chance(0.85) ? cmp(F(f), op, this.operand(f)) : cmp(this.operand(f), op, F(f));
      }
      case 1: {
        const n = this.pick([1, 3, 10, 40]);
        const exact: number[] = [];
        const ranges: Array<[number, number]> = [];
        for (let i = 0; i < n; i++) {
          if (this.chance(0.3)) {
            const a = this.value(f);
            ranges.push(this.chance(0.5) ? [a, a + this.int(300)] : [a - this.int(5), a]);
          } else exact.push(this.chance(0.9) ? this.value(f) : this.int(1 << 30));
        }
        return inSet(this.chance(0.95) ? F(f) : V(this.value(f)), { exact, ranges });
      }
      case 2: return this.chance(0.8) ? cmp(F(f), '==', V(this.value(f))) : bool(this.chance(0.5));
      case 3: return and(this.cond(depth - 1), this.cond(depth - 1));
      case 4: return or(this.cond(depth - 1), this.cond(depth - 1));
      case 5: return not(this.cond(depth - 1));
      default: return or(cmp(F(f), '==', V(this.value(f))), cmp(F(f), '==', V(this.value(f))));
    }
  }

  verdict(b: ModelBuilder, nat: boolean): Stmt {
    if (nat) return b.nat(this.pick(['dnat', 'snat'] as const), this.chance(0.7) ? this.pick(ADDRS) : null, this.chance(0.5) ? this.pick(PORTS) : null);
    return this.chance(0.5) ? b.accept() : b.drop();
  }

  stmts(b: ModelBuilder, depth: number, nat: boolean, n: number): Stmt[] {
    const out: Stmt[] = [];
    for (let i = 0; i < n; i++) {
      const k = this.int(10);
      if (k <= 3 || depth <= 0) {
        if (k === 0 && this.chance(0.3)) out.push(this.chance(0.5) ? b.log(str('m '), fld(this.field()), str('\\n'))
          : b.syslog(this.int(8), fld('ip.saddr'), str(' x')));
        else if (this.chance(0.5) || depth <= 0) out.push(b.if(this.cond(2), [this.verdict(b, nat)]));
        else out.push(this.verdict(b, nat));
      } else if (k <= 6) {
        out.push(b.if(this.cond(2), this.stmts(b, depth - 1, nat, 1 + this.int(3)), this.chance(0.4) ? this.stmts(b, depth - 1, nat, 1 + this.int(2)) : null));
      } else if (k === 7) {
        out.push(b.block(this.pick(['ip', 'tcp', 'udp', 'icmp'] as Subtype[]), this.stmts(b, depth - 1, nat, 1 + this.int(3))));
      } else if (k === 8) {
        out.push(...this.keyedRun(b, nat));
      } else {
        out.push(...this.intervalRun(b, nat));
      }
    }
    return out;
  }

  /** A run of sibling equality rules (hash-dispatch shape), sometimes as an else ladder. */
  keyedRun(b: ModelBuilder, nat: boolean): Stmt[] {
    const n = 4 + this.int(30);
    const fields = this.pick([['ip.saddr'], ['ip.saddr', 'tcp.dport'], ['ip.daddr', 'ct.state'], ['udp.dport']] as Field[][]);
    const rules: Stmt[] = [];
    for (let i = 0; i < n; i++) {
      let c: Cond | null = null;
      for (const f of fields) {
        const atom = this.chance(0.15)
          ? inSet(F(f), { exact: [this.value(f), this.value(f)], ranges: [] })
          : cmp(this.chance(0.9) ? F(f) : V(this.value(f)), '==', this.chance(0.9) ? V(this.value(f)) : F(f));
        c = c === null ? atom : and(c, atom);
      }
      if (this.chance(0.2)) c = and(c!, this.cond(1));
      const body = this.chance(0.75) ? [this.verdict(b, nat)] : this.stmts(b, 0, nat, 1 + this.int(2));
      rules.push(b.if(c!, body));
    }
    return this.chance(0.3) ? elseLadder(rules) : rules;
  }

  /** An interval-keyed member set around the value pool of f: CIDR-like blocks, ranges, single
   *  values, sometimes everything or nothing. */
  keySet(f: Field): { exact: number[]; ranges: Array<[number, number]> } {
    const exact: number[] = [];
    const ranges: Array<[number, number]> = [];
    const n = 1 + (this.chance(0.3) ? this.int(4) : 0);
    for (let i = 0; i < n; i++) {
      const v = this.value(f);
      const k = this.int(10);
      if (k < 4) {
        const mask = this.pick([0, 1, 3, 255, 0xffff, 0xffffff]);
        ranges.push([(v & ~mask) >>> 0, (v | mask) >>> 0]);
      } else if (k < 7) ranges.push([v - this.int(3), v + this.int(300)]);
      else if (k < 9) exact.push(v);
      else if (k === 9 && this.chance(0.5)) ranges.push([0, 0xffffffff]);
    }
    return { exact, ranges };
  }

  /** A run of sibling rules keyed on CIDRs / ranges / values of one to four fields (interval
   *  dispatch shape), with extra conjuncts, overlapping keys and fall-through bodies. */
  intervalRun(b: ModelBuilder, nat: boolean): Stmt[] {
    const n = 4 + this.int(30);
    const fields = this.pick([['ip.saddr'], ['ip.saddr'], ['ip.saddr', 'tcp.dport'], ['ip.daddr', 'udp.dport', 'ct.state'],
      ['tcp.dport'], ['ip.saddr', 'ip.daddr', 'tcp.dport', 'udp.dport']] as Field[][]);
    const rules: Stmt[] = [];
    for (let i = 0; i < n; i++) {
      const f = this.pick(fields);
      const set = this.keySet(f);
      let c: Cond;
      const k = this.int(10);
      if (k < 5) c = inSet(F(f), set);
      else if (k < 7) c = this.chance(0.5) ? cmp(F(f), '==', V(this.value(f))) : cmp(V(this.value(f)), '==', F(f));
      // Tests that accept 0, which is what a port reads for another protocol.
      else if (k < 8) c = this.chance(0.5) ? cmp(F(f), this.pick(['<', '<=', '!='] as const), V(this.value(f))) : inSet(F(f), { exact: [0], ranges: [[0, this.value(f)]] });
      else c = or(cmp(F(f), '==', V(this.value(f))), inSet(F(f), set));
      if (this.chance(0.25)) c = this.chance(0.5) ? and(c, this.cond(1)) : and(this.cond(1), c);
      const r = this.r();
      const body = r < 0.6 ? [this.verdict(b, nat)] : r < 0.7 ? [] : this.stmts(b, 0, nat, 1 + this.int(2));
      rules.push(b.if(c, body));
    }
    return this.chance(0.2) ? elseLadder(rules) : rules;
  }

  packetSpec(): PacketSpec {
    const proto = this.pick([6, 6, 17, 17, 1, 47]);
    return {
      proto, saddr: this.pick(ADDRS), daddr: this.pick(ADDRS), sport: this.pick(PORTS), dport: this.pick(PORTS),
      inIface: null, tcpFlags: this.pick([0x02, 0x12, 0x10, 0x11, 0x04]), ctState: this.int(4),
      ttl: this.pick([1, 63, 64, 128]), len: null, icmpType: this.pick([0, 3, 8, 11]), icmpCode: 0,
      id: this.pick([1, 2, 300]), dscp: this.int(4), ecn: this.int(4), fragOff: this.chance(0.1) ? this.pick([1, 100]) : 0,
      seq: this.pick([1000, 2000]), ackSeq: this.pick([0, 1]), window: this.pick([65535, 1024]),
    };
  }

  packet(): Pkt {
    const s = this.packetSpec();
    if (this.chance(0.3)) s.len = (s.proto === 6 ? 40 : 28) + this.int(60);
    return buildPacket(s);
  }
}

/** Sibling ifs as an else ladder: if (a) { v } else { if (b) { v } else { ... } }. */
function elseLadder(rules: Stmt[]): Stmt[] {
  let tail: Stmt[] | null = null;
  for (let i = rules.length - 1; i >= 0; i--) {
    const s = rules[i] as Extract<Stmt, { kind: 'if' }>;
    s.else = tail;
    tail = [s];
  }
  return tail ?? [];
}
