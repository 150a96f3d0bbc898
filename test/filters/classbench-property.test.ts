// Property test on ClassBench-style rule sets of all three families (thousands of 5-tuple rules
// with prefixes and port ranges, in protocol blocks where consecutive, mixed accept/drop), dressed
// as real configurations are: rules with extra tests the classifier cannot take (residuals), log
// and syslog before a verdict or instead of one (fall-through), else-ladders, a Nat function with
// dnat/snat. The compiled chains (classifier with and without its flow cache, with and without
// trace, and plain linear code) must do what the reference interpreter does for trace-driven and
// random packets: the same verdict, NAT and log calls, the same rules counted in the same order
// (checked per packet under trace), the same counters. Time-bounded.

import t from 'tap';
import { compileRuleset, type CompileOptions } from '../../filters/compile.js';
import { TraceRecorder } from '../../filters/trace.js';
import { buildPacket } from '../../src/control/packet-spec.js';
import type { Cond, Stmt, Subtype } from '../../src/config/model.js';
import type { Pkt } from '../../stack/wire/pkt.js';
import { classbenchTrace, FAMILIES, generateClassbench, type CbRule } from '../../bench/gen/classbench.js';
import { and, cmp, eq, F, inSet, ModelBuilder, str, fld, V } from './model-builder.js';
import { rng } from './random.js';
import { Reference, type RefCall } from './reference.js';

const BUDGET_MS = Number(process.env.NACL_PROPERTY_MS ?? 4000);
const RULES = 3000;

function ruleCond(r: CbRule, inBlock: boolean): Cond {
  const terms: Cond[] = [];
  if (r.proto >= 0 && !inBlock) terms.push(eq('ip.protocol', r.proto));
  const range = (f: 'ip.saddr' | 'ip.daddr', x: [number, number], len: number): void => {
    if (len === 32) terms.push(eq(f, x[0]));
    else if (len > 0) terms.push(inSet(F(f), { exact: [], ranges: [x] }));
  };
  range('ip.saddr', r.src, r.srcLen);
  range('ip.daddr', r.dst, r.dstLen);
  if (r.proto === 6 || r.proto === 17) {
    const p = r.proto === 6 ? 'tcp' : 'udp';
    for (const [f, x] of [[`${p}.sport`, r.sport], [`${p}.dport`, r.dport]] as Array<['tcp.sport', [number, number]]>) {
      if (x[0] === 0 && x[1] === 65535) continue;
      terms.push(x[0] === x[1] ? eq(f, x[0]) : inSet(F(f), { exact: [], ranges: [x] }));
    }
  }
  return terms.length === 0 ? { kind: 'const', value: true, loc: { file: '', line: 0, col: 0 } } : and(...terms);
}

/** A configuration around the rules: blocks, residuals, logs, fall-through bodies, ladders, NAT. */
function build(family: (typeof FAMILIES)[number], seed: number): { b: ModelBuilder; rules: CbRule[] } {
  const r = rng(seed * 31 + 7);
  const rules = generateClassbench(family, RULES, seed, { actions: 'mixed' });
  const b = new ModelBuilder();
  const SUB: Record<number, Subtype> = { 6: 'tcp', 17: 'udp', 1: 'icmp' };
  const body: Stmt[] = [];
  const natBody: Stmt[] = [];
  let block: { sub: Subtype; stmts: Stmt[] } | null = null;
  const flush = (): void => {
    if (block !== null) body.push(b.block(block.sub, block.stmts));
    block = null;
  };
  for (const [i, x] of rules.entries()) {
    const sub = SUB[x.proto];
    let cond = ruleCond(x, sub !== undefined);
    const k = r();
    // About one rule in ten tests something the classifier cannot take.
    if (k < 0.04) cond = and(cond, cmp(F('ip.ttl'), '>', V(10 + Math.floor(r() * 100))));
    else if (k < 0.07) cond = and(cond, eq('ct.state', Math.floor(r() * 3)));
    else if (k < 0.1 && x.proto === 6) cond = and(cond, eq('tcp.flags', 2));
    const v = r();
    const verdict = x.action === 'accept' ? b.accept() : b.drop();
    const then: Stmt[] = v < 0.03 ? [b.log(str('hit '), fld('ip.saddr')), verdict]
      : v < 0.05 ? [b.syslog(4, str('seen '), fld('ip.daddr'))] // falls through
        : v < 0.06 ? [] // counts and falls through
          : [verdict];
    const stmt = v > 0.995 && i > 0 ? b.if(cond, [verdict], [b.if(eq('ip.ttl', 1), [b.drop()])]) : b.if(cond, then);
    if (sub === undefined) { flush(); body.push(stmt); continue; }
    if (block === null || block.sub !== sub) { flush(); block = { sub, stmts: [] }; }
    block.stmts.push(stmt);
    if (i % 500 === 0) natBody.push(b.if(cond, [b.nat(r() < 0.5 ? 'dnat' : 'snat', x.dst[0], r() < 0.5 ? 8080 : null)]));
  }
  flush();
  body.push(b.accept());
  b.fn('f', 'filter', 'ip', body);
  b.fn('n', 'nat', 'ip', natBody);
  b.iface('eth0', 0x0a000001, 24, { input: ['n', 'f'], prerouting: ['n'] });
  b.gateway(['f']);
  return { b, rules };
}

function packet(r: () => number, h: { proto: number; saddr: number; daddr: number; sport: number; dport: number }): Pkt {
  return buildPacket({
    proto: h.proto, saddr: h.saddr, daddr: h.daddr, sport: h.sport, dport: h.dport, inIface: null,
    tcpFlags: r() < 0.5 ? 2 : 0x10, ctState: Math.floor(r() * 4), ttl: [1, 9, 64, 128][Math.floor(r() * 4)]!, len: null,
    icmpType: [0, 8, 3][Math.floor(r() * 3)]!, icmpCode: 0, id: 1, dscp: 0, ecn: 0, fragOff: r() < 0.03 ? 4 : 0,
    seq: 1, ackSeq: 0, window: 1024,
  });
}

const norm = (cs: RefCall[]): string[] =>
  cs.map((c) => (c.kind === 'dnat' || c.kind === 'snat' ? `${c.kind} ${c.a} ${c.b}` : `${c.kind} ${c.id} ${c.a} ${JSON.stringify(c.msg)}`));

t.test('ClassBench-style configurations: compiled chains agree with the reference', (t) => {
  const start = Date.now();
  const VARIANTS = ['classifier', 'no flow cache', 'trace', 'linear'] as const;
  let sets = 0, evals = 0, classifierRules = 0;
  const seen = new Set<string>();
  for (let seed = 1; !(Date.now() - start > BUDGET_MS && seen.size === FAMILIES.length * VARIANTS.length); seed++) {
    const family = FAMILIES[(seed - 1) % FAMILIES.length]!;
    const variant = VARIANTS[Math.floor((seed - 1) / FAMILIES.length) % VARIANTS.length]!;
    seen.add(`${family} ${variant}`);
    const { b, rules } = build(family, seed);
    const model = b.model;
    const calls: RefCall[] = [];
    const tr = new TraceRecorder();
    const opts: CompileOptions = {
      nat: { dnat: (_p, a, x) => { calls.push({ kind: 'dnat', id: -1, a, b: x }); }, snat: (_p, a, x) => { calls.push({ kind: 'snat', id: -1, a, b: x }); } },
      log: { emit: (kind, severity, msg, id) => { calls.push({ kind, id, a: severity, b: 0, msg }); } },
      logLimit: { rate: 1e9, burst: 1e9 },
      scaling: variant !== 'linear', flowCache: variant !== 'no flow cache', trace: variant === 'trace' ? tr : undefined,
    };
    const rs = compileRuleset(model, opts);
    classifierRules += rs.stats.classifierRules;
    const ref = new Reference(model, rs.ruleCount);
    const hooks = [[rs.ifaces[0]!.input, ['n', 'f']], [rs.ifaces[0]!.prerouting, ['n']], [rs.forward, ['f']]] as const;
    const r = rng(seed);
    const trace = classbenchTrace(rules, 160, seed);
    const random = trace.map((h) => ({ ...h, saddr: (h.saddr ^ Math.floor(r() * 2 ** 20)) >>> 0, daddr: (h.daddr ^ Math.floor(r() * 2 ** 20)) >>> 0 }));
    // Each header twice (the second time through the flow cache).
    const headers = [...trace, ...random, ...trace.slice(0, 60)];
    for (const [k, h] of headers.entries()) {
      const p = packet(r, h);
      for (const [fn, names] of hooks) {
        calls.length = 0;
        ref.calls = [];
        ref.hits = [];
        tr.clear();
        const got = fn(p);
        const want = ref.chain([...names], p);
        evals++;
        const a = norm(calls), e = norm(ref.calls);
        const counted = tr.events.filter((x) => x.kind === 'cond-true' || x.kind === 'verdict' || x.kind === 'log' || x.kind === 'nat').map((x) => x.ruleId);
        if (got !== want || JSON.stringify(a) !== JSON.stringify(e) || (variant === 'trace' && JSON.stringify(counted) !== JSON.stringify(ref.hits))) {
          t.fail(`${family} seed ${seed} ${variant}, header ${k} (${JSON.stringify(h)}): verdict ${got} vs ${want}`, { got: a, want: e, counted, hits: ref.hits });
          return t.end();
        }
      }
    }
    for (let i = 0; i < rs.ruleCount; i++) {
      if (rs.counters.packets[i] !== ref.packets[i] || rs.counters.bytes[i] !== ref.bytes[i]) {
        t.fail(`${family} seed ${seed} ${variant}: counter of rule ${i} (${model.rules[i]?.text}): ${rs.counters.packets[i]} vs ${ref.packets[i]}`);
        return t.end();
      }
    }
    sets++;
  }
  t.pass(`${sets} rule sets of ${RULES} rules (${[...seen].join(', ')}), ${evals} packet-chain evaluations agree`);
  t.ok(classifierRules > 0, `${classifierRules} rules went through the classifier`);
  t.end();
});
