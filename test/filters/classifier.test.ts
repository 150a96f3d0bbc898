// The multi-field classifier against a brute-force scan: random rules (prefixes, ranges, several
// intervals per field, wildcards, the small dimensions, rules that never match, definite and
// non-definite ones) and ClassBench-style sets; every packet gets the same first match for every
// starting rule, through the flow cache and without it, also after the tables went through
// structuredClone (as they do between threads).

import t from 'tap';
import { Classifier, classifierStats, DIM_MAX, DIMS, type ClassifierRules } from '../../filters/classifier.js';
import { buildPacket } from '../../src/control/packet-spec.js';
import { ICMP_TYPE } from '../../stack/wire/icmp.js';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP } from '../../stack/wire/ipv4.js';
import type { Pkt } from '../../stack/wire/pkt.js';
import { TCP_FLAGS } from '../../stack/wire/tcp.js';
import { classbenchTrace, FAMILIES, generateClassbench } from '../../bench/gen/classbench.js';
import { rng } from './random.js';
import { compileRuleset } from '../../filters/compile.js';
import { and, cmp, F, inSet, ModelBuilder, V } from './model-builder.js';

type Groups = Array<Array<[number, number]> | null>;

function flatten(rules: Groups[], definite: number[], never: number[]): ClassifierRules {
  const n = rules.length;
  const cStart = new Int32Array(n + 1);
  const cDim: number[] = [], cLo: number[] = [], cHi: number[] = [];
  rules.forEach((g, j) => {
    cStart[j] = cDim.length;
    g.forEach((iv, d) => {
      if (iv === null) return;
      iv.forEach(([a, b], k) => { cDim.push(d | (k === iv.length - 1 ? 128 : 0)); cLo.push(a); cHi.push(b); });
    });
  });
  cStart[n] = cDim.length;
  return {
    n, cStart, cDim: Uint8Array.from(cDim), cLo: Uint32Array.from(cLo), cHi: Uint32Array.from(cHi),
    definite: Uint8Array.from(definite), never: Uint8Array.from(never),
  };
}

/** The packet's value in each dimension (the classifier's reading). */
function values(p: Pkt): number[] {
  const l4 = !p.frag, ports = l4 && (p.proto === PROTO_TCP || p.proto === PROTO_UDP);
  return [p.proto, p.saddr, p.daddr, ports ? p.sport : 0, ports ? p.dport : 0, l4 && p.proto === PROTO_ICMP ? p.buf[p.l4 + ICMP_TYPE]! : 0,
    l4 && p.proto === PROTO_TCP ? p.buf[p.l4 + TCP_FLAGS]! : 0, p.ctState];
}

function brute(rules: Groups[], never: number[], v: number[], from: number): number {
  for (let j = from; j < rules.length; j++) {
    if (never[j]) continue;
    if (rules[j]!.every((iv, d) => iv === null || iv.some(([a, b]) => v[d]! >= a && v[d]! <= b))) return j;
  }
  return -1;
}

const POOL = [0x0a000001, 0x0a000002, 0x0a0000ff, 0x0a010000, 0xc0a80001, 0x08080808, 0];
const PORTS = [0, 22, 53, 80, 443, 1024, 8080, 65535];

function randomRule(r: () => number): Groups {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const g: Groups = new Array(DIMS).fill(null);
  const addr = (): Array<[number, number]> => {
    const len = pick([8, 16, 24, 30, 32]);
    const size = 2 ** (32 - len);
    const a = Math.floor(pick(POOL) / size) * size;
    return [[a, a + size - 1]];
  };
  if (r() < 0.6) g[1] = addr();
  if (r() < 0.6) g[2] = addr();
  if (r() < 0.5) g[0] = [[pick([1, 6, 17]), 0]].map(([p]) => [p!, p!] as [number, number]);
  const port = (): Array<[number, number]> => {
    const k = r();
    if (k < 0.4) { const x = pick(PORTS); return [[x, x]]; }
    if (k < 0.7) { const x = pick(PORTS); return [[x, Math.min(65535, x + Math.floor(r() * 3000))]]; }
    return [[20, 25], [80, 80], [443, 450]];
  };
  if (r() < 0.4) g[3] = port();
  if (r() < 0.5) g[4] = port();
  if (r() < 0.1) g[5] = [[0, 0], [8, 8]];
  if (r() < 0.1) g[6] = [[2, 2]];
  if (r() < 0.15) g[7] = [[0, 1]];
  return g;
}

function randomPacket(r: () => number): Pkt {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const near = (a: number): number => (a + Math.floor(r() * 512) - 256) >>> 0;
  return buildPacket({
    proto: pick([1, 6, 6, 17, 17, 47]), saddr: near(pick(POOL)), daddr: near(pick(POOL)),
    sport: Math.min(65535, pick(PORTS) + Math.floor(r() * 3)), dport: Math.min(65535, pick(PORTS) + Math.floor(r() * 3)), inIface: null,
    tcpFlags: pick([2, 0x12, 0x10]), ctState: Math.floor(r() * 4), ttl: 64, len: null, icmpType: pick([0, 3, 8]),
    icmpCode: 0, id: 1, dscp: 0, ecn: 0, fragOff: r() < 0.1 ? 5 : 0, seq: 1, ackSeq: 0, window: 1024,
  });
}

t.test('random rule sets: the first match from every rule agrees with a scan', (t) => {
  let checks = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed);
    const n = [3, 10, 40, 150, 600][seed % 5]!;
    const rules = Array.from({ length: n }, () => randomRule(r));
    const never = rules.map(() => (r() < 0.03 ? 1 : 0));
    const definite = rules.map(() => (r() < 0.8 ? 1 : 0));
    const tables = Classifier.build(flatten(rules, definite, never), seed % 2 === 0 ? {} : { binth: 2, spfac: 4 });
    const cached = new Classifier(tables, 6);
    const plain = new Classifier(structuredClone(tables), 0);
    for (let k = 0; k < 300; k++) {
      const p = randomPacket(r);
      const v = values(p);
      // Packets repeat (cache hits) and every start point is asked.
      for (let rep = 0; rep < 2; rep++) {
        const want = brute(rules, never, v, 0);
        const got = cached.match(p, 0);
        if (got !== want || plain.match(p, 0) !== want) {
          t.fail(`seed ${seed} n ${n} packet ${k}: ${got} / ${plain.match(p, 0)} vs ${want}`, { v });
          return t.end();
        }
        // Past a non-definite match only (the compiler never asks past a definite one).
        for (let prev = want; prev >= 0 && !definite[prev]; prev = brute(rules, never, v, prev + 1)) {
          const from = prev + 1;
          const w = brute(rules, never, v, from);
          if (plain.match(p, from) !== w || cached.match(p, from) !== w) {
            t.fail(`seed ${seed}: from ${from}: ${plain.match(p, from)} vs ${w}`);
            return t.end();
          }
          checks++;
        }
        checks++;
      }
    }
  }
  t.pass(`${checks} lookups agree`);
  t.end();
});

t.test('ClassBench-style sets of all three families: trees stay shallow and agree with a scan', (t) => {
  for (const family of FAMILIES) {
    const cb = generateClassbench(family, 4000, 3, {});
    const rules: Groups[] = cb.map((x) => {
      const g: Groups = new Array(DIMS).fill(null);
      if (x.proto >= 0) g[0] = [[x.proto, x.proto]];
      if (x.srcLen > 0) g[1] = [x.src];
      if (x.dstLen > 0) g[2] = [x.dst];
      if (x.proto === 6 || x.proto === 17) {
        if (x.sport[0] > 0 || x.sport[1] < 65535) g[3] = [x.sport];
        if (x.dport[0] > 0 || x.dport[1] < 65535) g[4] = [x.dport];
      }
      return g;
    });
    const never = rules.map(() => 0);
    const tables = Classifier.build(flatten(rules, rules.map(() => 1), never));
    const c = new Classifier(tables);
    const st = classifierStats(tables);
    t.ok(st.trees <= 7, `${family}: ${st.trees} trees`);
    t.ok(st.maxDepth <= 32, `${family}: depth ${st.maxDepth}`);
    t.ok(st.bytes < 200 * cb.length, `${family}: ${st.bytes} bytes of tables for ${cb.length} rules`);
    let bad = 0;
    const trace = classbenchTrace(cb, 3000, 5);
    for (const h of trace) {
      const p = buildPacket({
        proto: h.proto, saddr: h.saddr, daddr: h.daddr, sport: h.sport, dport: h.dport, inIface: null, tcpFlags: 2,
        ctState: 0, ttl: 64, len: null, icmpType: 8, icmpCode: 0, id: 1, dscp: 0, ecn: 0, fragOff: 0, seq: 1, ackSeq: 0, window: 1,
      });
      const want = brute(rules, never, values(p), 0);
      if (c.match(p, 0) !== want || c.match(p, 0) !== want) bad++;
    }
    t.equal(bad, 0, `${family}: ${trace.length} trace headers find the same first rule`);
  }
  t.end();
});

t.test('edges: empty runs, rules that never match, full ranges, the largest values', (t) => {
  const none = new Classifier(Classifier.build(flatten([], [], [])));
  const p = randomPacket(rng(7));
  t.equal(none.match(p, 0), -1, 'no rules: no match');
  const all: Groups = new Array(DIMS).fill(null);
  const top: Groups = new Array(DIMS).fill(null);
  top[1] = [[DIM_MAX[1]!, DIM_MAX[1]!]];
  const rules = [top, all, all];
  const c = new Classifier(Classifier.build(flatten(rules, [1, 1, 1], [0, 1, 0])));
  t.equal(c.match(p, 0), 2, 'a rule without constraints matches everything; a never rule nothing');
  const q = buildPacket({ proto: 6, saddr: 0xffffffff, daddr: 1, sport: 1, dport: 2, inIface: null, tcpFlags: 2, ctState: 0, ttl: 64, len: null, icmpType: 0, icmpCode: 0, id: 1, dscp: 0, ecn: 0, fragOff: 0, seq: 1, ackSeq: 0, window: 1 });
  t.equal(c.match(q, 0), 0, '255.255.255.255 is a value like any other');
  t.end();
});

t.test('compiled runs: port tests that accept 0 stay exact for packets of other protocols', (t) => {
  // tcp.dport reads 0 for a UDP packet, so `tcp.dport < 100` holds for it: such a test can only
  // be a classifier key where the protocol is known to be TCP.
  const b = new ModelBuilder();
  const rules = [];
  for (let i = 0; i < 12; i++) {
    rules.push(b.if(and(inSet(F('ip.saddr'), { exact: [], ranges: [[0x0a000000 + 4 * i, 0x0a000003 + 4 * i]] }), cmp(F('tcp.dport'), '<', V(100 + i))), [b.drop()]));
  }
  b.fn('f', 'filter', 'ip', [...rules, b.accept()]);
  b.fn('g', 'filter', 'tcp', [...rules.map((r) => b.if((r as Extract<typeof r, { kind: 'if' }>).cond, [b.drop()])), b.accept()]);
  b.iface('eth0', 0x0a0000fe, 24, { input: ['f'], output: ['g'] });
  const rs = compileRuleset(b.model, { nat: { dnat() {}, snat() {} }, log: { emit() {} } });
  t.ok(rs.stats.classifierRuns === 2, 'both runs go through the classifier');
  const pk = (proto: number, dport: number): Pkt => buildPacket({
    proto, saddr: 0x0a000003, daddr: 1, sport: 1, dport, inIface: null, tcpFlags: 2, ctState: 0, ttl: 64, len: null,
    icmpType: 0, icmpCode: 0, id: 1, dscp: 0, ecn: 0, fragOff: 0, seq: 1, ackSeq: 0, window: 1,
  });
  t.equal(rs.ifaces[0]!.input(pk(17, 5000)), 1, 'UDP: tcp.dport reads 0 < 100: dropped');
  t.equal(rs.ifaces[0]!.input(pk(6, 5000)), 0, 'TCP port 5000: not below 100');
  t.equal(rs.ifaces[0]!.input(pk(6, 50)), 1, 'TCP port 50: dropped');
  t.equal(rs.ifaces[0]!.output(pk(6, 50)), 1, 'in a TCP function the same test is a key');
  t.equal(rs.ifaces[0]!.output(pk(6, 5000)), 0);
  t.end();
});
