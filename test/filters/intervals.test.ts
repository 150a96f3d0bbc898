import t from 'tap';
import { compileRuleset } from '../../filters/compile.js';
import { analyzeIntervalRule, findIntervalRuns, IntervalIndex, MAX_RUN_FIELDS } from '../../filters/intervals.js';
import { buildPacket, type PacketSpec } from '../../filters/packet-spec.js';
import type { Field, Stmt } from '../../src/config/model.js';
import { F, ModelBuilder, V, and, cmp, eq, inSet, ip, not, or } from './model-builder.js';
import { rng } from './random.js';
import { Reference } from './reference.js';

const b = new ModelBuilder();
const cidr = (s: string, len: number): [number, number] => {
  const a = ip(s);
  const size = 2 ** (32 - len);
  return [a, a + size - 1];
};

t.test('analyzeIntervalRule: key conjunct, residual, or-merging', (t) => {
  const r1 = analyzeIntervalRule(b.if(inSet(F('ip.saddr'), { exact: [], ranges: [cidr('10.1.2.0', 24)] }), [b.drop()]))!;
  t.same([r1.field, r1.ranges, r1.residual], ['ip.saddr', [cidr('10.1.2.0', 24)], null]);
  const r2 = analyzeIntervalRule(b.if(and(cmp(F('ip.ttl'), '>', V(3)), and(inSet(F('tcp.dport'), { exact: [22], ranges: [[8000, 8100]] }), eq('ip.saddr', 9))), [b.drop()]))!;
  t.equal(r2.field, 'ip.saddr', 'the narrowest keyable conjunct is the key');
  t.same(r2.ranges, [[9, 9]]);
  t.equal(r2.residual?.kind, 'and', 'ttl and dport tests stay residual');
  const r3 = analyzeIntervalRule(b.if(inSet(F('tcp.dport'), { exact: [22], ranges: [[8000, 8100]] }), [b.drop()]), ['tcp.dport'])!;
  t.same(r3.ranges, [[22, 22], [8000, 8100]], 'exact values and ranges, sorted');
  const r4 = analyzeIntervalRule(b.if(and(eq('ip.saddr', 1), eq('tcp.dport', 80)), [b.drop()]), ['tcp.dport'])!;
  t.equal(r4.field, 'tcp.dport', 'a field already in the run is preferred');
  const r5 = analyzeIntervalRule(b.if(or(eq('ip.saddr', 5), inSet(F('ip.saddr'), { exact: [], ranges: [[100, 200]] })), [b.drop()]))!;
  t.same(r5.ranges, [[5, 5], [100, 200]], 'or over one field is one key');
  t.equal(analyzeIntervalRule(b.if(or(eq('ip.saddr', 1), eq('ip.ttl', 2)), [b.drop()])), null, 'or over two fields');
  t.equal(analyzeIntervalRule(b.if(not(eq('ip.saddr', 1)), [b.drop()])), null, 'negation');
  t.equal(analyzeIntervalRule(b.if(eq('ip.saddr', 1), [b.drop()], [b.accept()])), null, 'if with else');
  t.end();
});

t.test('findIntervalRuns: runs end at non-keyable rules and at too many fields', (t) => {
  const fields: Field[] = ['ip.saddr', 'ip.daddr', 'tcp.dport', 'tcp.sport', 'udp.dport'];
  const list: Stmt[] = [];
  for (let i = 0; i < 6; i++) list.push(b.if(inSet(F('ip.saddr'), { exact: [], ranges: [[i, i + 10]] }), [b.drop()]));
  list.push(b.log());
  for (let i = 0; i < 8; i++) list.push(b.if(eq(fields[i % 3]!, i), [b.drop()]));
  for (let i = 0; i < 8; i++) list.push(b.if(eq(fields[3 + (i % 2)]!, i), [b.drop()]));
  const runs = findIntervalRuns(list, 0, list.length);
  t.same(runs.map((r) => [r.start, r.end, r.fields.length]), [[0, 6, 1], [7, 15, MAX_RUN_FIELDS], [15, 23, 2]]);
  t.end();
});

t.test('IntervalIndex: each value finds exactly the covering rules, in order, up to the first definite one', (t) => {
  const r = rng(7);
  for (let round = 0; round < 20; round++) {
    const rules: Array<[number, Array<[number, number]>]> = [];
    const n = 1 + Math.floor(r() * 60);
    const definite = new Uint8Array(n);
    for (let j = 0; j < n; j++) {
      const rs: Array<[number, number]> = [];
      const k = 1 + Math.floor(r() * 3);
      for (let i = 0; i < k; i++) {
        const a = Math.floor(r() * 1000);
        rs.push([a, a + Math.floor(r() * (r() < 0.2 ? 2000 : 30))]);
      }
      if (r() < 0.05) rs.push([0, 0xffffffff]);
      rs.sort((x, y) => x[0] - y[0]);
      const merged: Array<[number, number]> = [];
      for (const x of rs) {
        const last = merged[merged.length - 1];
        if (last && x[0] <= last[1] + 1) last[1] = Math.max(last[1], x[1]);
        else merged.push([x[0], x[1]]);
      }
      rules.push([j, merged]);
      definite[j] = r() < 0.5 ? 1 : 0;
    }
    const ix = IntervalIndex.build(rules, definite, 1e6)!;
    let bad = 0;
    for (const v of [0, 1, 999, 1000, 3000, 0xffffffff, ...Array.from({ length: 300 }, () => Math.floor(r() * 3100))]) {
      const want: number[] = [];
      for (const [j, rs] of rules) {
        if (!rs.some(([a, b]) => v >= a && v <= b)) continue;
        want.push(j);
        if (definite[j]) break;
      }
      const e = ix.find(v);
      const got = Array.from(ix.list.subarray(ix.start[e]!, ix.start[e + 1]!));
      if (JSON.stringify(got) !== JSON.stringify(want)) { bad++; t.same(got, want, `round ${round} value ${v}`); }
    }
    t.equal(bad, 0, `round ${round}: ${n} rules`);
  }
  t.equal(IntervalIndex.build([[0, [[0, 100]]], [1, [[0, 100]]]], new Uint8Array(2), 1), null, 'over budget');
  const z = IntervalIndex.build([[0, [[0, 0]]]], new Uint8Array(1), 10)!;
  const ez = z.find(undefined as unknown as number);
  t.equal(z.start[ez + 1]! - z.start[ez]!, 0, 'a value that is no number has no candidates');
  t.end();
});

function spec(over: Partial<PacketSpec>): PacketSpec {
  return {
    proto: 6, saddr: ip('10.0.0.5'), daddr: ip('192.168.0.10'), sport: 40000, dport: 443, inIface: null,
    tcpFlags: 0x12, ctState: 1, ttl: 64, len: 60, icmpType: 8, icmpCode: 0, id: 77, dscp: 3, ecn: 1,
    fragOff: 0, seq: 1, ackSeq: 2, window: 4096, ...over,
  };
}

t.test('a CIDR blocklist with overlaps, extra conjuncts and fall-through compiles to one dispatch and matches the reference', (t) => {
  const m = new ModelBuilder();
  const body: Stmt[] = [];
  body.push(m.if(inSet(F('ip.saddr'), { exact: [], ranges: [cidr('10.1.2.0', 24)] }), [m.log()]));
  body.push(m.if(and(inSet(F('ip.saddr'), { exact: [], ranges: [cidr('10.1.0.0', 16)] }), eq('tcp.dport', 22)), [m.accept()]));
  for (let i = 0; i < 2000; i++) {
    const net = cidr(`10.${1 + (i >> 8)}.${i & 255}.0`, 24);
    body.push(i % 7 === 3 ? m.if(inSet(F('tcp.dport'), { exact: [], ranges: [[9000 + i, 9000 + i]] }), [m.drop()])
      : m.if(inSet(F('ip.saddr'), { exact: [], ranges: [net] }), [i % 2 ? m.drop() : m.accept()]));
  }
  body.push(m.if(inSet(F('ip.saddr'), { exact: [], ranges: [cidr('10.0.0.0', 8)] }), [m.drop()]));
  body.push(m.accept());
  m.fn('f', 'filter', 'ip', body);
  m.iface('eth0', ip('10.0.0.1'), 24, { input: ['f'] });
  const noop = { nat: { dnat() {}, snat() {} }, log: { emit() {} } };
  const rs = compileRuleset(m.model, noop);
  const lin = compileRuleset(m.model, { ...noop, scaling: false });
  t.equal(rs.stats.intervalRuns, 1, 'one interval dispatch run');
  t.equal(rs.stats.intervalRules, 2003);
  const ref = new Reference(m.model, rs.ruleCount);
  const r = rng(3);
  let bad = 0;
  for (let k = 0; k < 3000; k++) {
    const p = buildPacket(spec({
      saddr: r() < 0.9 ? ip(`10.${1 + Math.floor(r() * 9)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`) : Math.floor(r() * 2 ** 32),
      dport: r() < 0.3 ? 9000 + Math.floor(r() * 2000) : r() < 0.5 ? 22 : 443,
    }));
    const want = ref.chain(['f'], p);
    if (rs.ifaces[0]!.input(p) !== want || lin.ifaces[0]!.input(p) !== want) bad++;
  }
  t.equal(bad, 0, 'verdicts agree on 3000 packets');
  for (let i = 0; i < rs.ruleCount; i++) {
    if (rs.counters.packets[i] !== ref.packets[i] || lin.counters.packets[i] !== ref.packets[i]) { t.fail(`counter ${i}`); break; }
  }
  t.end();
});

t.test('runs whose candidate lists would be too large are split, same verdicts', (t) => {
  const m = new ModelBuilder();
  const body: Stmt[] = [];
  // Rule i covers [i, 100000] and has a residual: no rule ends a list, so lists grow as n^2 / 2.
  for (let i = 0; i < 600; i++) body.push(m.if(and(inSet(F('ip.saddr'), { exact: [], ranges: [[i * 3, 100000]] }), cmp(F('ip.ttl'), '>', V(i & 255))), [m.drop()]));
  body.push(m.accept());
  m.fn('f', 'filter', 'ip', body);
  m.iface('eth0', ip('10.0.0.1'), 24, { input: ['f'] });
  const rs = compileRuleset(m.model, { nat: { dnat() {}, snat() {} }, log: { emit() {} } });
  t.ok(rs.stats.intervalRuns > 1, `${rs.stats.intervalRuns} runs`);
  t.equal(rs.stats.intervalRules, 600);
  const ref = new Reference(m.model, rs.ruleCount);
  const r = rng(5);
  let bad = 0;
  for (let k = 0; k < 2000; k++) {
    const p = buildPacket(spec({ saddr: Math.floor(r() * 2000), ttl: Math.floor(r() * 256) }));
    if (rs.ifaces[0]!.input(p) !== ref.chain(['f'], p)) bad++;
  }
  t.equal(bad, 0, 'verdicts agree');
  t.end();
});
