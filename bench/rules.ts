// `npm run bench:rules [-- --quick] [-- --shapes a,b]`: cost per packet of compiled chains as the
// rule count grows from 10 to 100,000, per rule shape, in process (no links):
//   a  N x `if (ip.saddr == X) { drop }`                       (miss / last rule)
//   b  N x `if (ip.saddr == X and tcp.dport == P) { drop }`     (miss / last rule)
//   c  one `if (ip.saddr in [N addresses, 1/4 ranges]) { drop }` (miss / last member)
//   d  N x `if (ip.saddr in A.B.C.0/24) { drop }`              (miss / last rule)
//   e  like d, every 4th rule `if (tcp.dport in P-P+1) { drop }` (miss / last rule)
//   tcp-drop, udp-drop, tcp-accept, udp-accept: N x `Filter::TCP { if (ip.saddr == X and
//      tcp.dport == P) { drop } }`, one protocol block per rule (miss / last rule)
//   acl, fw, ipc: ClassBench-style rule sets (bench/gen/classbench.ts), mixed accept/drop, TCP/UDP/ICMP
//      rules in protocol blocks where consecutive: a header trace that hits rules all over the
//      list (1,024 headers, so the classifier's flow cache holds them) / 65,536 distinct random
//      headers over the same addresses (every packet misses the flow cache, the trees' paths
//      mostly miss the CPU caches) / the trace with the flow cache off (the trees alone)
// The target: for every shape, ns/packet at 100,000 rules <= 2x the same shape at 10 rules.
// Also: compile time (CPU) and classifier table memory per point; check + compile of a
// 100,000-rule ClassBench-style NaCl file next to iptables-legacy-restore of the same rules
// (when run as root; `--check N` runs only this, for N rules); the linear fallback's warm-up
// (f: rules no dispatch takes).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileRuleset, planRuleset, type Ruleset } from '../filters/compile.js';
import { buildPacket, type PacketSpec } from '../src/control/packet-spec.js';
import type { Cond, Model, Stmt, Subtype } from '../src/config/model.js';
import type { Pkt } from '../stack/wire/pkt.js';
import { loadConfig } from '../src/config/index.js';
import { classbenchTrace, FAMILIES, generateClassbench, iptablesLines, naclBody, rng, type CbRule, type Family, type Header } from './gen/classbench.js';

const FULL_NS = [10, 100, 1000, 10000, 100000];
const loc = { file: 'bench.nacl', line: 1, col: 1 };

type Shape = 'a' | 'b' | 'c' | 'd' | 'e' | 'tcp-drop' | 'udp-drop' | 'tcp-accept' | 'udp-accept' | Family;
const ALL: Shape[] = ['a', 'b', 'c', 'd', 'e', 'tcp-drop', 'udp-drop', 'tcp-accept', 'udp-accept', 'acl', 'fw', 'ipc'];
const COLUMNS: Record<string, string[]> = { classbench: ['trace', 'random', 'trace-nocache'], other: ['miss', 'last'] };

function addrOf(i: number): number {
  return (0x0b000000 + i * 7 + 1) >>> 0; // 11.x.y.z, spread out
}

/** Block i of shapes d/e: a /24 (every other one), from 80.0.0.0 up; misses come from 12.x. */
function cidrOf(i: number): [number, number] {
  const a = (0x50000000 + i * 512) >>> 0;
  return [a, a + 255];
}

/** Shape e: rule i is a port range when (n - 1 - i) % 4 === 0 (so the last rule is one), else a CIDR. */
function eIsPort(n: number, i: number): boolean {
  return (n - 1 - i) % 4 === 0;
}
function ePort(n: number, i: number): number {
  return 1024 + 2 * ((n - 1 - i) / 4);
}

const FIELD = (field: 'ip.saddr' | 'ip.daddr' | 'ip.protocol' | 'tcp.dport' | 'tcp.sport' | 'udp.dport' | 'udp.sport') => ({ kind: 'field' as const, field });
const eq = (f: Parameters<typeof FIELD>[0], v: number): Cond => ({ kind: 'cmp', op: '==', left: FIELD(f), right: { kind: 'const', value: v }, loc });
const inRange = (f: Parameters<typeof FIELD>[0], a: number, b: number): Cond => ({ kind: 'in', left: FIELD(f), set: { exact: [], ranges: [[a, b]] }, loc });

/** A Model with function f (IP) on eth0's input chain; body statements from `fill`. */
function makeModel(fill: (rid: (text: string) => number, body: Stmt[]) => void, last: 'accept' | 'drop' = 'accept', subtype: Subtype = 'ip'): Model {
  let id = 0;
  const rules: Model['rules'] = [];
  const rid = (text: string): number => {
    rules.push({ id, loc: { ...loc, line: id + 2 }, text, fn: 'f' });
    return id++;
  };
  const body: Stmt[] = [];
  fill(rid, body);
  body.push({ kind: last, id: rid(last), loc });
  return {
    file: 'bench.nacl',
    ifaces: [{
      name: 'eth0', index: 0, vlan: null, config: 'static', address: 0x0a000001, netmask: 0xffffff00, gateway: null,
      dns: null, masquerade: false, sendQueueLimit: null, bufferLimit: null,
      chains: { prerouting: [], input: ['f'], output: [], postrouting: [] }, loc,
    }],
    gateway: null,
    conntrack: {
      declared: false, limit: 0, reserve: 0, statefulTcp: false, loc: null,
      timeout: { unconfirmed: { tcp: 1, udp: 1, icmp: 1 }, confirmed: { tcp: 1, udp: 1, icmp: 1 }, established: { tcp: 1, udp: 1, icmp: 1 } },
    },
    syslog: null, timers: [], loadBalancers: [],
    functions: { f: { name: 'f', type: 'filter', subtype, body, loc } },
    rules, writtenRules: rules.length, warnings: [],
  };
}

const ifDo = (rid: (t: string) => number, cond: Cond, action: 'accept' | 'drop'): Stmt =>
  ({ kind: 'if', id: rid('if'), cond, then: [{ kind: action, id: rid(action), loc }], else: null, loc });

/** The statements of a ClassBench rule list: consecutive TCP/UDP/ICMP rules in one block. */
function classbenchStmts(rules: CbRule[], rid: (t: string) => number, body: Stmt[]): void {
  const SUB: Record<number, Subtype> = { 6: 'tcp', 17: 'udp', 1: 'icmp' };
  let block: Extract<Stmt, { kind: 'block' }> | null = null;
  for (const r of rules) {
    const sub = SUB[r.proto];
    const terms: Cond[] = [];
    if (r.proto >= 0 && sub === undefined) terms.push(eq('ip.protocol', r.proto));
    if (r.srcLen > 0) terms.push(r.srcLen === 32 ? eq('ip.saddr', r.src[0]) : inRange('ip.saddr', r.src[0], r.src[1]));
    if (r.dstLen > 0) terms.push(r.dstLen === 32 ? eq('ip.daddr', r.dst[0]) : inRange('ip.daddr', r.dst[0], r.dst[1]));
    if (sub === 'tcp' || sub === 'udp') {
      for (const [f, x] of [[`${sub}.sport`, r.sport], [`${sub}.dport`, r.dport]] as Array<[Parameters<typeof FIELD>[0], [number, number]]>) {
        if (x[0] === 0 && x[1] === 65535) continue;
        terms.push(x[0] === x[1] ? eq(f, x[0]) : inRange(f, x[0], x[1]));
      }
    }
    const cond: Cond = terms.length === 0 ? { kind: 'const', value: true, loc } : terms.length === 1 ? terms[0]! : { kind: 'and', terms };
    if (sub === undefined) { block = null; body.push(ifDo(rid, cond, r.action)); continue; }
    if (block === null || block.subtype !== sub) {
      block = { kind: 'block', id: rid(`Filter::${sub.toUpperCase()}`), subtype: sub, body: [], call: null, loc };
      body.push(block);
    }
    block.body.push(ifDo(rid, cond, r.action));
  }
}

function modelOf(shape: Shape, n: number): Model {
  switch (shape) {
    case 'c':
      return makeModel((rid, body) => {
        const exact: number[] = [];
        const ranges: Array<[number, number]> = [];
        for (let i = 0; i < n; i++) {
          if ((n - 1 - i) % 4 === 0) ranges.push([addrOf(i), addrOf(i) + 3]);
          else exact.push(addrOf(i));
        }
        body.push(ifDo(rid, { kind: 'in', left: FIELD('ip.saddr'), set: { exact, ranges }, loc }, 'drop'));
      });
    case 'd': case 'e':
      return makeModel((rid, body) => {
        for (let i = 0; i < n; i++) {
          const port = shape === 'e' && eIsPort(n, i);
          body.push(ifDo(rid, port ? inRange('tcp.dport', ePort(n, i), ePort(n, i) + 1) : inRange('ip.saddr', ...cidrOf(i)), 'drop'));
        }
      }, 'accept', shape === 'e' ? 'tcp' : 'ip');
    case 'a': case 'b':
      return makeModel((rid, body) => {
        for (let i = 0; i < n; i++) {
          const a = eq('ip.saddr', addrOf(i));
          body.push(ifDo(rid, shape === 'a' ? a : { kind: 'and', terms: [a, eq('tcp.dport', 1000 + (i % 50000))] }, 'drop'));
        }
      }, 'accept', shape === 'b' ? 'tcp' : 'ip');
    case 'tcp-drop': case 'udp-drop': case 'tcp-accept': case 'udp-accept': {
      const sub: Subtype = shape.startsWith('tcp') ? 'tcp' : 'udp';
      const action = shape.endsWith('drop') ? 'drop' : 'accept';
      return makeModel((rid, body) => {
        for (let i = 0; i < n; i++) {
          const blk: Stmt = { kind: 'block', id: rid(`Filter::${sub.toUpperCase()}`), subtype: sub, body: [], call: null, loc };
          blk.body.push(ifDo(rid, { kind: 'and', terms: [eq('ip.saddr', addrOf(i)), eq(`${sub}.dport`, 1000 + (i % 50000))] }, action));
          body.push(blk);
        }
      }, action === 'accept' ? 'drop' : 'accept');
    }
    default:
      return makeModel((rid, body) => classbenchStmts(classbenchRules(shape, n), rid, body));
  }
}

const cbCache = new Map<string, CbRule[]>();
function classbenchRules(family: Family, n: number): CbRule[] {
  const k = `${family} ${n}`;
  let r = cbCache.get(k);
  if (r === undefined) { r = generateClassbench(family, n, 1, { actions: 'mixed' }); cbCache.set(k, r); }
  return r;
}

function spec(h: Partial<PacketSpec>): PacketSpec {
  return {
    proto: 6, saddr: 0x0c000001, daddr: 0x0a000001, sport: 40000, dport: 443, inIface: null, tcpFlags: 2, ctState: 0, ttl: 64,
    len: 60, icmpType: 8, icmpCode: 0, id: 1, dscp: 0, ecn: 0, fragOff: 0, seq: 1, ackSeq: 0, window: 1024, ...h,
  };
}

const fromHeader = (h: Header): Pkt => buildPacket(spec({ proto: h.proto, saddr: h.saddr, daddr: h.daddr, sport: h.sport, dport: h.dport }));

/** Packets for the two columns of a shape. Other shapes: 64 that match nothing (different
 *  sources) / 64 that match the last rule. ClassBench: a 1,024-header trace / 65,536 random headers. */
function packets(shape: Shape, n: number, second: boolean): Pkt[] {
  if (shape === 'acl' || shape === 'fw' || shape === 'ipc') {
    const rules = classbenchRules(shape, n);
    if (!second) return classbenchTrace(rules, 1024, 7).map(fromHeader);
    // Random headers: the trace's protocols and ports, addresses drawn anew around the rules'.
    const r = rng(11);
    return classbenchTrace(rules, 65536, 13).map((h) => fromHeader({
      ...h, saddr: (h.saddr ^ Math.floor(r() * 2 ** 16)) >>> 0, daddr: (h.daddr ^ Math.floor(r() * 2 ** 12)) >>> 0,
    }));
  }
  const last = Math.max(0, n - 1);
  const out: Pkt[] = [];
  for (let k = 0; k < 64; k++) {
    const s = spec({ saddr: second ? addrOf(last) : (0x0c000001 + k * 977) >>> 0, sport: 40000 + k });
    if (shape === 'b' && second) s.dport = 1000 + (last % 50000);
    if (shape.endsWith('drop') || shape.endsWith('accept')) {
      s.proto = shape.startsWith('udp') ? 17 : 6;
      if (second) s.dport = 1000 + (last % 50000);
    }
    if (shape === 'c' && second) s.saddr = addrOf(last) + 2;
    if (shape === 'd' && second) s.saddr = cidrOf(last)[0] + 1 + k;
    if (shape === 'e' && second) { s.saddr = (0x0c000001 + k * 977) >>> 0; s.dport = ePort(n, last) + (k & 1); }
    out.push(buildPacket(s));
  }
  return out;
}

const nop = { dnat() {}, snat() {} };
const sink = { emit() {} };

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

interface Case { fn: (p: Pkt) => number; p: Pkt[]; loop: (fn: (p: Pkt) => number, p: Pkt[], n: number) => number; best: number }

/** Many packets: one reused descriptor whose header mirrors (what the classifier and the
 *  generated code read) are set from typed arrays before each call, as the stack refills its one
 *  Pkt, so the cost is the rules' and not that of 65,536 packet buffers out of cache. */
function makeCase(fn: (p: Pkt) => number, p: Pkt[]): Case {
  if (p.length <= 1024) {
    // One loop function per case keeps its call site monomorphic, as a hook call site is.
    const loop = new Function('fn', 'ps', 'n', `let a = 0; for (let i = 0; i < n; i++) a += fn(ps[i & ${p.length - 1}]); return a;`) as Case['loop'];
    loop(fn, p, 200_000);
    return { fn, p, loop, best: Infinity };
  }
  const cols = ['proto', 'saddr', 'daddr', 'sport', 'dport'] as const;
  const arrays = cols.map((c) => Float64Array.from(p, (x) => x[c]));
  const one = buildPacket(spec({}));
  const inner = new Function('fn', 'p', 'n', 'PR', 'SA', 'DA', 'SP', 'DP', `let a = 0;
    for (let i = 0; i < n; i++) { const k = i & ${p.length - 1}; p.proto = PR[k]; p.saddr = SA[k]; p.daddr = DA[k]; p.sport = SP[k]; p.dport = DP[k]; a += fn(p); }
    return a;`) as (fn: (p: Pkt) => number, p: Pkt, n: number, ...cols: Float64Array[]) => number;
  const loop: Case['loop'] = (f, _ps, n) => inner(f, one, n, ...arrays);
  loop(fn, p, 200_000);
  return { fn, p, loop, best: Infinity };
}

/** Interleaved short rounds, minimum wall time per case: on a loaded machine the minimum is
 *  the round that ran undisturbed (CPU time would also count V8's background compiler threads). */
function measure(cases: Case[], rounds: number, iters = 50_000): void {
  for (let r = 0; r < rounds; r++) {
    for (const c of cases) {
      const t0 = process.hrtime.bigint();
      c.loop(c.fn, c.p, iters);
      const dt = Number(process.hrtime.bigint() - t0) / iters;
      if (dt < c.best) c.best = dt;
    }
  }
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string => r.map((c, i) => (i < 1 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [fmt(head), ...rows.map(fmt)].join('\n');
}

function naclFile(rules: CbRule[]): string {
  return ['Iface eth0 {', '  index: 0,', '  address: 10.0.0.1,', '  netmask: 255.255.255.0', '}', '', 'Filter::IP f {', ...naclBody(rules), '  accept', '}', '', 'eth0.input: f', ''].join('\n');
}

/** Wall ms of iptables-legacy-restore of these rules in a scratch namespace, or why not. */
function iptablesRestore(rules: CbRule[]): number | string {
  if (process.getuid?.() !== 0) return 'not root';
  const dir = mkdtempSync(join(tmpdir(), 'nacl-bench-ipt-'));
  const ns = `nbr${process.pid}`;
  try {
    const file = join(dir, 'rules.v4');
    writeFileSync(file, ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...iptablesLines(rules, 'FORWARD'),
      '-A FORWARD -j ACCEPT', 'COMMIT', ''].join('\n'));
    execFileSync('ip', ['netns', 'add', ns]);
    const t0 = process.hrtime.bigint();
    execFileSync('ip', ['netns', 'exec', ns, 'sh', '-c', `iptables-legacy-restore < ${file}`], { stdio: 'ignore', timeout: 600_000 });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  } catch (e) {
    return `failed: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }); } catch { /* not made */ }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const ci = argv.indexOf('--check');
  if (ci >= 0) {
    await checkCompile(Number(argv[ci + 1] ?? 100000));
    return;
  }
  const si = argv.indexOf('--shapes');
  const shapes = si >= 0 ? (argv[si + 1] ?? '').split(',').filter((x): x is Shape => (ALL as string[]).includes(x)) : ALL;
  const NS = quick ? [10, 1000, 10000] : FULL_NS;
  const rounds = quick ? 20 : 60;
  const rows: string[][] = [];
  const verdicts: string[] = [];
  for (const shape of shapes) {
    const cb = shape === 'acl' || shape === 'fw' || shape === 'ipc';
    const names = COLUMNS[cb ? 'classbench' : 'other']!;
    const cases: Array<{ n: number; ms: number; kb: number; trees: number; cols: Case[] }> = [];
    for (const n of NS) {
      const model = modelOf(shape, n);
      const t0 = process.cpuUsage();
      const rs: Ruleset = compileRuleset(model, { nat: nop, log: sink });
      const ms = cpuMs(t0);
      const fn = rs.ifaces[0]!.input;
      const cols = [makeCase(fn, packets(shape, n, false)), makeCase(fn, packets(shape, n, true))];
      // ClassBench: the trace again without the flow cache (the trees alone, their paths in cache).
      if (cb) cols.push(makeCase(compileRuleset(model, { nat: nop, log: sink, flowCache: false }).ifaces[0]!.input, packets(shape, n, false)));
      cases.push({ n, ms, kb: rs.stats.classifierBytes / 1024, trees: rs.stats.classifierTrees, cols });
    }
    measure(cases.flatMap((c) => c.cols), rounds);
    const base = cases[0]!;
    for (const c of cases) {
      rows.push([shape, String(c.n), c.ms.toFixed(1), c.kb.toFixed(0), String(c.trees), ...names.map((x, i) => `${x} ${c.cols[i]!.best.toFixed(1)}`),
        ...(cb ? [] : [''])]);
    }
    const top = cases[cases.length - 1]!;
    const ratios = names.map((_, i) => top.cols[i]!.best / base.cols[i]!.best);
    verdicts.push(`${shape.padEnd(10)} ${top.n}/${base.n}: ${ratios.map((x, i) => `${x.toFixed(2)}x (${names[i]})`).join(', ')}` +
      `${ratios.every((x) => x <= 2) ? '  ok' : '  OVER the 2x target'}`);
  }
  console.log('Shapes (see the opening comment of bench/rules.ts):');
  console.log('  a..e: blocklists, CIDRs, ranges, one large set;  tcp/udp-drop/accept: one protocol block per rule;');
  console.log('  acl, fw, ipc: ClassBench-style sets, ns/pkt for a header trace and for random headers.');
  console.log(`(ns/pkt: minimum over ${rounds} interleaved rounds of 50,000 packets; compile = CPU ms of compileRuleset;`);
  console.log(' tables = classifier table memory in KB; machine may be shared: compare within a shape)');
  console.log(table(['shape', 'N', 'compile ms', 'tables KB', 'trees', 'ns/pkt', 'ns/pkt', 'ns/pkt'], rows));
  console.log('\nns/pkt at the largest N over the smallest (target <= 2x):');
  for (const v of verdicts) console.log(`  ${v}`);

  // Linear fallback (shape f): no dispatch applies, so the cost grows with N; what matters is the
  // steady state per rule and how soon V8 gets there after a compile.
  console.log('\n(f) N x `if (ip.saddr == X or tcp.dport == P) { drop }` (no dispatch), packets matching nothing:');
  console.log('    ns per rule per packet, averaged over windows of packets after the compile; wall ms to reach each point');
  for (const n of quick ? [1000] : [1000, 10000]) {
    const model = makeModel((rid, body) => {
      for (let i = 0; i < n; i++) body.push(ifDo(rid, { kind: 'or', terms: [eq('ip.saddr', addrOf(i)), eq('tcp.dport', 1000 + (i % 50000))] }, 'drop'));
    });
    const fn = compileRuleset(model, { nat: nop, log: sink }).ifaces[0]!.input;
    const ps = packets('a', n, false);
    const cells: string[] = [];
    let done = 0;
    const t0 = process.hrtime.bigint();
    let prev = t0;
    const marks = [1000, 18000, 50000, 100000];
    marks.forEach((m, k) => {
      for (; done < m; done++) fn(ps[done & 63]!);
      const now = process.hrtime.bigint();
      cells.push(`<=${m}: ${(Number(now - prev) / (m - (marks[k - 1] ?? 0)) / n).toFixed(1)} ns/rule (${(Number(now - t0) / 1e6).toFixed(0)} ms)`);
      prev = now;
    });
    console.log(`  N=${String(n).padStart(6)}  ${cells.join('  ')}`);
  }

  await checkCompile(quick ? 10000 : 100000);
}

/** Check + compile of a ClassBench-style NaCl file of `big` rules per family, and
 *  iptables-legacy-restore of the same rules, in the same run. */
async function checkCompile(big: number): Promise<void> {
  console.log(`\nCheck + compile of ${big.toLocaleString('en-US')} ClassBench-style rules (NaCl text) vs iptables-legacy-restore of the same rules:`);
  for (const family of FAMILIES) {
    const rules = generateClassbench(family, big, 2, {});
    const text = naclFile(rules);
    const c0 = process.cpuUsage(), w0 = process.hrtime.bigint();
    const res = loadConfig(text, `${family}.nacl`);
    const check = cpuMs(c0), checkWall = Number(process.hrtime.bigint() - w0) / 1e6;
    if (res.model === null) { console.log(`  ${family}: check failed: ${res.diagnostics[0]?.message}`); continue; }
    const c1 = process.cpuUsage(), w1 = process.hrtime.bigint();
    const plan = planRuleset(res.model);
    const comp = cpuMs(c1), compWall = Number(process.hrtime.bigint() - w1) / 1e6;
    const ipt = iptablesRestore(rules);
    console.log(`  ${family}: ${(text.length / 1e6).toFixed(1)} MB; parse+check ${check.toFixed(0)} ms CPU (${checkWall.toFixed(0)} wall), ` +
      `compile ${comp.toFixed(0)} ms CPU (${compWall.toFixed(0)} wall), total ${(checkWall + compWall).toFixed(0)} ms wall; ` +
      `classifier tables ${(plan.stats.classifierBytes / 1e6).toFixed(1)} MB in ${plan.stats.classifierTrees} trees; ` +
      `iptables-legacy-restore ${typeof ipt === 'number' ? `${ipt.toFixed(0)} ms wall` : `(${ipt})`}`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
