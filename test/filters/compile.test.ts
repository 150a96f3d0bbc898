import t from 'tap';
import { compileRuleset, instantiateRuleset, planRuleset, transferList, type CompileOptions } from '../../filters/compile.js';
import { ALL_FIELDS, fieldReader } from '../../filters/fields.js';
import { IP_CSUM } from '../../stack/wire/ipv4.js';
import { TCP_CSUM } from '../../stack/wire/tcp.js';
import { UDP_CSUM } from '../../stack/wire/udp.js';
import { rd16 } from '../../stack/wire/view.js';
import { buildPacket, type PacketSpec } from '../../src/control/packet-spec.js';
import { TraceRecorder } from '../../filters/trace.js';
import type { CmpOp, Field, Hook, Model, Stmt } from '../../src/config/model.js';
import type { Pkt } from '../../stack/wire/pkt.js';
import { F, ModelBuilder, V, and, bool, cmp, eq, fld, inSet, ip, not, or, str } from './model-builder.js';

type Calls = string[];
function opts(calls: Calls, extra: Partial<CompileOptions> = {}): CompileOptions {
  return {
    nat: {
      dnat: (_p, a, b) => { calls.push(`dnat ${a} ${b}`); },
      snat: (_p, a, b) => { calls.push(`snat ${a} ${b}`); },
    },
    log: { emit: (kind, sev, msg, id) => { calls.push(`${kind} ${sev} ${id} ${msg}`); } },
    ...extra,
  };
}

function spec(over: Partial<PacketSpec> = {}): PacketSpec {
  return {
    proto: 6, saddr: ip('10.0.0.5'), daddr: ip('192.168.0.10'), sport: 40000, dport: 443, inIface: null,
    tcpFlags: 0x12, ctState: 1, ttl: 64, len: 60, icmpType: 8, icmpCode: 0, id: 77, dscp: 3, ecn: 1,
    fragOff: 0, seq: 123456789, ackSeq: 987654321, window: 4096, ...over,
  };
}

/** One Filter::IP `f` on eth0 input. */
function single(build: (b: ModelBuilder) => Stmt[], subtype: 'ip' | 'tcp' | 'udp' | 'icmp' = 'ip', type: 'filter' | 'nat' = 'filter'): Model {
  const b = new ModelBuilder();
  b.fn('f', type, subtype, build(b));
  b.iface('eth0', ip('10.0.0.1'), 24, { input: ['f'] });
  return b.model;
}

const run = (m: Model, p: Pkt, calls: Calls = [], extra: Partial<CompileOptions> = {}): number =>
  compileRuleset(m, opts(calls, extra)).ifaces[0]!.input(p);

const tcpP = buildPacket(spec());
const udpP = buildPacket(spec({ proto: 17, sport: 5353, dport: 53, len: 48 }));
const icmpP = buildPacket(spec({ proto: 1, icmpType: 11, len: 36 }));
const fragP = buildPacket(spec({ fragOff: 100, len: 60 }));

t.test('every field reads the right value', (t) => {
  const u16 = (p: Pkt, at: number): number => rd16(p.buf, at);
  const want: Record<Field, [Pkt, number]> = {
    'ip.version': [tcpP, 4], 'ip.hdrlength': [tcpP, 20], 'ip.dscp': [tcpP, 3], 'ip.ecn': [tcpP, 1],
    'ip.length': [tcpP, 60], 'ip.id': [tcpP, 77], 'ip.frag-off': [fragP, 100], 'ip.ttl': [tcpP, 64],
    'ip.protocol': [udpP, 17], 'ip.checksum': [tcpP, u16(tcpP, tcpP.l3 + IP_CSUM)],
    'ip.saddr': [tcpP, ip('10.0.0.5')], 'ip.daddr': [tcpP, ip('192.168.0.10')],
    'tcp.sport': [tcpP, 40000], 'tcp.dport': [tcpP, 443], 'tcp.sequence': [tcpP, 123456789],
    'tcp.ackseq': [tcpP, 987654321], 'tcp.doff': [tcpP, 5], 'tcp.reserved': [tcpP, 0x50], 'tcp.flags': [tcpP, 0x12],
    'tcp.window': [tcpP, 4096], 'tcp.checksum': [tcpP, u16(tcpP, tcpP.l4 + TCP_CSUM)], 'tcp.urgptr': [tcpP, 0],
    'udp.sport': [udpP, 5353], 'udp.dport': [udpP, 53], 'udp.length': [udpP, 28],
    'udp.checksum': [udpP, u16(udpP, udpP.l4 + UDP_CSUM)], 'icmp.type': [icmpP, 11], 'ct.state': [tcpP, 1],
  };
  t.equal(Object.keys(want).length, ALL_FIELDS.length, 'all fields listed');
  for (const f of ALL_FIELDS) {
    const [p, v] = want[f];
    t.equal(fieldReader(f)(p), v, `${f} reader`);
    const m = single((b) => [b.if(eq(f, v), [b.drop()]), b.accept()]);
    t.equal(run(m, p), 1, `${f} == ${v} matches`);
    const m2 = single((b) => [b.if(eq(f, v + 1), [b.drop()]), b.accept()]);
    t.equal(run(m2, p), 0, `${f} == ${v + 1} does not`);
  }
  t.not(want['ip.checksum'][1], 0, 'checksum was filled in');
  t.end();
});

t.test('L4 fields read 0 for non-first fragments and other protocols', (t) => {
  for (const f of ['tcp.sport', 'tcp.dport', 'tcp.flags', 'tcp.sequence', 'udp.dport', 'icmp.type'] as Field[]) {
    t.equal(fieldReader(f)(fragP), 0, `${f} of a fragment`);
    const m = single((b) => [b.if(eq(f, 0), [b.drop()]), b.accept()]);
    t.equal(run(m, fragP), 1, `${f} == 0 for a fragment (compiled)`);
  }
  t.equal(fieldReader('udp.dport')(tcpP), 0, 'udp.dport of a TCP packet');
  t.equal(fieldReader('icmp.type')(udpP), 0, 'icmp.type of a UDP packet');
  // Inside a TCP function the protocol guard is compiled out but the fragment guard stays.
  const m = single((b) => [b.if(eq('tcp.dport', 0), [b.drop()]), b.accept()], 'tcp');
  t.equal(run(m, fragP), 1);
  t.end();
});

t.test('every comparison operator, both operand orders', (t) => {
  const table: Array<[CmpOp, number, boolean]> = [
    ['==', 64, true], ['==', 63, false], ['!=', 63, true], ['!=', 64, false],
    ['<', 65, true], ['<', 64, false], ['>', 63, true], ['>', 64, false],
    ['<=', 64, true], ['<=', 63, false], ['>=', 64, true], ['>=', 65, false],
  ];
  const flip: Record<CmpOp, CmpOp> = { '==': '==', '!=': '!=', '<': '>', '>': '<', '<=': '>=', '>=': '<=' };
  for (const [op, c, want] of table) {
    const m = single((b) => [b.if(cmp(F('ip.ttl'), op, V(c)), [b.drop()]), b.accept()]);
    t.equal(run(m, tcpP), want ? 1 : 0, `ip.ttl ${op} ${c}`);
    const m2 = single((b) => [b.if(cmp(V(c), flip[op], F('ip.ttl')), [b.drop()]), b.accept()]);
    t.equal(run(m2, tcpP), want ? 1 : 0, `${c} ${flip[op]} ip.ttl`);
  }
  const ff = single((b) => [b.if(cmp(F('tcp.sport'), '>', F('tcp.dport')), [b.drop()]), b.accept()]);
  t.equal(run(ff, tcpP), 1, 'field against field');
  const cc = single((b) => [b.if(cmp(V(3), '<', V(2)), [b.drop()]), b.accept()]);
  t.equal(run(cc, tcpP), 0, 'constant against constant');
  t.end();
});

t.test('in: lists, ranges, CIDRs, large sets; not/and/or; bare constants', (t) => {
  const big = Array.from({ length: 5000 }, (_, i) => ip('172.16.0.0') + i * 3);
  const cases: Array<[string, Parameters<typeof single>[0], number]> = [
    ['small list', (b) => [b.if(inSet(F('tcp.dport'), { exact: [80, 443], ranges: [] }), [b.drop()]), b.accept()], 1],
    ['small list miss', (b) => [b.if(inSet(F('tcp.dport'), { exact: [80, 8080], ranges: [] }), [b.drop()]), b.accept()], 0],
    ['port range', (b) => [b.if(inSet(F('tcp.dport'), { exact: [], ranges: [[400, 500]] }), [b.drop()]), b.accept()], 1],
    ['cidr', (b) => [b.if(inSet(F('ip.saddr'), { exact: [], ranges: [[ip('10.0.0.0'), ip('10.255.255.255')]] }), [b.drop()]), b.accept()], 1],
    ['large set hit', (b) => [b.if(inSet(F('ip.saddr'), { exact: [...big, ip('10.0.0.5')], ranges: [] }), [b.drop()]), b.accept()], 1],
    ['large set miss', (b) => [b.if(inSet(F('ip.saddr'), { exact: big, ranges: [[1, 5], [9, 12], [20, 30], [40, 50]] }), [b.drop()]), b.accept()], 0],
    ['constant in set', (b) => [b.if(inSet(V(5), { exact: [], ranges: [[1, 9]] }), [b.drop()]), b.accept()], 1],
    ['not', (b) => [b.if(not(eq('ip.ttl', 64)), [b.drop()]), b.accept()], 0],
    ['and', (b) => [b.if(and(eq('ip.ttl', 64), eq('tcp.dport', 443)), [b.drop()]), b.accept()], 1],
    ['and false', (b) => [b.if(and(eq('ip.ttl', 64), eq('tcp.dport', 80)), [b.drop()]), b.accept()], 0],
    ['or', (b) => [b.if(or(eq('ip.ttl', 1), eq('tcp.dport', 443)), [b.drop()]), b.accept()], 1],
    ['or over one field becomes a set', (b) => [b.if(or(eq('tcp.dport', 1), or(eq('tcp.dport', 2), eq('tcp.dport', 443))), [b.drop()]), b.accept()], 1],
    // a or b and c  ==  a or (b and c)
    ['precedence tree', (b) => [b.if(or(eq('ip.ttl', 64), and(eq('ip.ttl', 1), eq('tcp.dport', 1))), [b.drop()]), b.accept()], 1],
    ['bare true', (b) => [b.if(bool(true), [b.drop()]), b.accept()], 1],
    ['bare false', (b) => [b.if(bool(false), [b.drop()]), b.accept()], 0],
  ];
  for (const [name, build, want] of cases) t.equal(run(single(build), tcpP), want, name);
  t.end();
});

t.test('actions, else, nesting and chain semantics', (t) => {
  let calls: Calls = [];
  // if / else
  t.equal(run(single((b) => [b.if(eq('ip.ttl', 1), [b.accept()], [b.drop()])]), tcpP), 1, 'else branch');
  // NAT: dnat calls the NAT module and accepts (ends the function)
  const nat = single((b) => [b.if(eq('tcp.dport', 443), [b.nat('dnat', ip('10.0.0.9'), 8443)]), b.nat('snat', null, 1)], 'tcp', 'nat');
  t.equal(run(nat, tcpP, calls), 0);
  t.same(calls, [`dnat ${ip('10.0.0.9')} 8443`], 'dnat called once, snat not reached');
  calls = [];
  t.equal(run(nat, udpP, calls), 0, 'TCP Nat skips UDP packets');
  t.same(calls, []);
  // Nat falling off its end accepts
  t.equal(run(single((b) => [b.if(eq('ip.ttl', 1), [b.nat('snat', 1, null)])], 'ip', 'nat'), tcpP), 0);
  // TCP filter skips UDP packets entirely (accept)
  t.equal(run(single((b) => [b.drop()], 'tcp'), udpP), 0);
  t.equal(run(single((b) => [b.drop()], 'tcp'), tcpP), 1);
  // Nested blocks run only for their protocol and fall through
  const nested = single((b) => [
    b.block('udp', [b.if(eq('udp.dport', 53), [b.drop()])]),
    b.block('tcp', [b.log(str('tcp '), fld('ip.saddr'), str('\\n'))]),
    b.block('ip', [b.if(eq('ip.ttl', 64), [b.block('icmp', [b.drop()])])]),
    b.accept(),
  ]);
  calls = [];
  t.equal(run(nested, udpP, calls), 1, 'udp block drops');
  t.equal(run(nested, tcpP, calls), 0, 'tcp falls through the blocks');
  t.same(calls, [`log 6 3 tcp 10.0.0.5`], 'log formatted, newline stripped');
  t.equal(run(nested, icmpP), 1, 'icmp block inside an if inside an ip block');
  // An inlined call (block with call name) behaves the same
  t.equal(run(single((b) => [b.block('ip', [b.if(eq('ip.ttl', 64), [b.drop()])], 'helper'), b.accept()]), tcpP), 1);
  // accept/drop inside nested blocks end the whole function
  t.equal(run(single((b) => [b.block('tcp', [b.block('ip', [b.accept()])]), b.drop()]), tcpP), 0);
  // syslog severity
  calls = [];
  run(single((b) => [b.syslog(2, str('x='), fld('ip.ttl')), b.accept()]), tcpP, calls);
  t.same(calls, ['syslog 2 0 x=64']);

  // Chains: accept passes on, first drop ends, empty chain accepts
  const b = new ModelBuilder();
  b.fn('pass', 'filter', 'ip', [b.log(str('pass')), b.accept()]);
  b.fn('block', 'filter', 'ip', [b.log(str('block')), b.drop()]);
  b.fn('never', 'filter', 'ip', [b.log(str('never')), b.accept()]);
  b.iface('eth0', 1, 24, { prerouting: ['pass', 'block', 'never'], input: ['pass', 'pass'], postrouting: [] });
  b.gateway(['pass', 'block']);
  calls = [];
  const rs = compileRuleset(b.model, opts(calls));
  t.equal(rs.ifaces[0]!.prerouting(tcpP), 1);
  t.same(calls.map((c) => c.split(' ').pop()), ['pass', 'block'], 'chain stopped at the drop');
  t.equal(rs.ifaces[0]!.input(tcpP), 0);
  t.equal(rs.ifaces[0]!.output(tcpP), 0, 'empty chain accepts');
  t.equal(rs.ifaces[0]!.postrouting(tcpP), 0);
  t.equal(rs.forward(tcpP), 1);
  t.end();
});

t.test('counters: packets and bytes per rule id', (t) => {
  const b = new ModelBuilder();
  const r1 = b.if(eq('tcp.dport', 443), [b.log(str('x'))]);
  const d = b.drop();
  const r2 = b.if(eq('ip.ttl', 64), [d]);
  const a = b.accept();
  b.fn('f', 'filter', 'ip', [r1, r2, a]);
  b.iface('eth0', 1, 24, { input: ['f'] });
  const rs = compileRuleset(b.model, opts([]));
  rs.ifaces[0]!.input(tcpP);
  rs.ifaces[0]!.input(tcpP);
  rs.ifaces[0]!.input(udpP);
  const P = rs.counters.packets, B = rs.counters.bytes;
  t.equal(P[r1.id], 2, 'if counted when its condition held');
  t.equal(B[r1.id], 120, 'bytes = IPv4 total length');
  t.equal(P[r2.id], 3);
  t.equal(P[d.id], 3, 'action counted when executed');
  t.equal(P[a.id], 0, 'never reached');
  t.equal(rs.ruleCount, b.model.rules.length);
  t.end();
});

t.test('hash dispatch keeps first-match order, else ladders and fall-through bodies', (t) => {
  const b = new ModelBuilder();
  const body: Stmt[] = [];
  for (let i = 0; i < 2000; i++) {
    body.push(b.if(and(eq('ip.saddr', ip('10.0.0.0') + (i % 700)), eq('tcp.dport', 443)),
      i % 3 === 0 ? [b.log(str(`r${i}`))] : [i % 2 ? b.drop() : b.accept()]));
  }
  body.push(b.accept());
  b.fn('f', 'filter', 'tcp', body);
  b.iface('eth0', 1, 24, { input: ['f'] });
  const calls: Calls = [];
  const rs = compileRuleset(b.model, opts(calls));
  t.equal(rs.stats.dispatchRuns, 1);
  t.equal(rs.stats.dispatchedRules, 2000);
  // saddr 10.0.0.3: rules 3 (log), 703 (i%3=1, odd -> drop) first terminating.
  const p = buildPacket(spec({ saddr: ip('10.0.0.3') }));
  t.equal(rs.ifaces[0]!.input(p), 1);
  t.same(calls.map((c) => c.split(' ').pop()), ['r3'], 'log of rule 3, then rule 703 drops');
  // saddr 10.0.0.0: rule 0 logs, rule 700 (even, i%3=1 -> accept)
  calls.length = 0;
  t.equal(rs.ifaces[0]!.input(buildPacket(spec({ saddr: ip('10.0.0.0') }))), 0);
  t.same(calls.map((c) => c.split(' ').pop()), ['r0']);
  t.equal(rs.ifaces[0]!.input(buildPacket(spec({ saddr: ip('10.0.0.3'), dport: 80 }))), 0, 'no key match: falls to accept');

  // else ladder: if (a) { drop } else { if (b) { drop } else { ... accept } }
  const b2 = new ModelBuilder();
  let tail: Stmt[] = [b2.accept()];
  for (let i = 999; i >= 0; i--) tail = [b2.if(eq('ip.saddr', ip('11.0.0.0') + i), [b2.drop()], tail)];
  b2.fn('g', 'filter', 'ip', tail);
  b2.iface('eth0', 1, 24, { input: ['g'] });
  const rs2 = compileRuleset(b2.model, opts([]));
  t.equal(rs2.stats.dispatchRuns, 1, 'else ladder flattened into one dispatch run');
  t.equal(rs2.ifaces[0]!.input(buildPacket(spec({ saddr: ip('11.0.0.0') + 999 }))), 1);
  t.equal(rs2.ifaces[0]!.input(buildPacket(spec({ saddr: ip('11.0.0.0') + 1000 }))), 0);
  t.end();
});

t.test('large rule sets that cannot be dispatched are split into small functions', (t) => {
  const b = new ModelBuilder();
  const body: Stmt[] = [];
  for (let i = 0; i < 5000; i++) body.push(b.if(and(cmp(F('ip.ttl'), '>', V(100 + i)), cmp(F('tcp.dport'), '<', V(i))), [b.drop()]));
  const last = b.if(cmp(F('ip.ttl'), '<', V(65)), [b.drop()]);
  body.push(last, b.accept());
  b.fn('f', 'filter', 'tcp', body);
  b.iface('eth0', 1, 24, { input: ['f'] });
  const rs = compileRuleset(b.model, opts([]));
  t.ok(rs.stats.helperFunctions > 3, `${rs.stats.helperFunctions} helper functions`);
  // ~1.1 bytes of bytecode per character at worst: V8 optimises functions below 60 KB of bytecode.
  t.ok(rs.stats.maxFunctionChars < 45000, `largest generated function ${rs.stats.maxFunctionChars} chars`);
  t.equal(rs.ifaces[0]!.input(tcpP), 1);
  t.equal(rs.counters.packets[last.id], 1);
  t.end();
});

t.test('trace mode reports the path', (t) => {
  const b = new ModelBuilder();
  const r1 = b.if(eq('ip.ttl', 1), [b.drop()]);
  const blk = b.block('udp', [b.drop()]);
  const d = b.drop();
  const r2 = b.if(eq('tcp.dport', 443), [d]);
  const tcpBlk = b.block('tcp', [r2]);
  b.fn('f', 'filter', 'ip', [r1, blk, tcpBlk, b.accept()]);
  b.fn('g', 'filter', 'ip', [b.accept()]);
  b.iface('eth0', 1, 24, { input: ['g', 'f'] });
  const tr = new TraceRecorder();
  const rs = compileRuleset(b.model, { ...opts([]), trace: tr });
  t.equal(rs.ifaces[0]!.input(tcpP), 1);
  const ev = tr.events.map((e) => `${e.kind} ${e.ruleId} ${e.detail}`);
  t.same(ev, [
    'function -1 g', `verdict ${b.model.rules.length - 1} accept`, 'function-end -1 g accept',
    // Blocks are guards on their rules, not rules: no events of their own.
    'function -1 f', `cond-false ${r1.id} `, `cond-true ${r2.id} `, `verdict ${d.id} drop`, 'function-end -1 f drop',
  ]);
  t.equal(rs.counters.packets[tcpBlk.id], 0, 'an entered block has no counter');
  t.end();
});

t.test('hooks are independent per Iface and unknown functions are reported', (t) => {
  const b = new ModelBuilder();
  b.fn('f', 'filter', 'ip', [b.drop()]);
  b.iface('a', 1, 24, { input: ['f'] });
  b.iface('b', 2, 24, {});
  const rs = compileRuleset(b.model, opts([]));
  t.equal(rs.ifaces.length, 2);
  t.equal(rs.ifaces[0]!.input(tcpP), 1);
  t.equal(rs.ifaces[1]!.input(tcpP), 0);
  b.model.ifaces[1]!.chains.output = ['nope'];
  t.throws(() => compileRuleset(b.model, opts([])), /unknown function 'nope'/);
  const hooks: Hook[] = ['prerouting', 'input', 'output', 'postrouting'];
  t.same(Object.keys(rs.ifaces[0]!).sort(), [...hooks].sort());
  t.end();
});

t.test('a plan is plain data: cloned with its buffers transferred (as to another thread), it compiles to the same chains', (t) => {
  const b = new ModelBuilder();
  const rules: Stmt[] = [];
  for (let i = 0; i < 40; i++) rules.push(b.if(and(inSet(F('ip.saddr'), { exact: [], ranges: [[ip('10.1.0.0') + 256 * i, ip('10.1.0.255') + 256 * i]] }), eq('tcp.dport', 80 + (i % 3))), [i % 2 ? b.accept() : b.drop()]));
  rules.push(b.if(inSet(F('ip.daddr'), { exact: Array.from({ length: 50 }, (_, i) => ip('192.168.0.1') + i), ranges: [] }), [b.log(str('x'))]));
  b.fn('f', 'filter', 'ip', [...rules, b.drop()]);
  b.iface('eth0', 1, 24, { input: ['f'] });
  const plan = planRuleset(b.model);
  const list = transferList(plan);
  t.ok(list.length > 5, `${list.length} buffers to transfer`);
  const moved = structuredClone(plan, { transfer: list });
  t.equal(list[0]!.byteLength, 0, 'the original buffers are detached (moved, not copied)');
  const calls: Calls = [];
  const rs = instantiateRuleset(moved, opts(calls));
  const ref = compileRuleset(b.model, opts([]));
  for (let i = 0; i < 40; i++) {
    const p = buildPacket(spec({ saddr: ip('10.1.0.7') + 256 * i, dport: 80 + (i % 3) }));
    t.equal(rs.ifaces[0]!.input(p), ref.ifaces[0]!.input(p), `packet ${i}`);
  }
  t.throws(() => instantiateRuleset(planRuleset(b.model), { ...opts([]), trace: new TraceRecorder() }), /without trace/);
  t.end();
});
