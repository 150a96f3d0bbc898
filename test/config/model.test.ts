// Semantics of the checked Model: numeric values, resolved words, sets, defaults, inlining,
// rule ids, shadowing, diagnostics and their formatting.

import t from 'tap';
import { formatDiagnostics, loadConfig } from '../../src/config/index.js';
import { CT_ESTABLISHED, CT_INVALID, CT_NEW, CT_RELATED, type Cond, type Model, type Stmt } from '../../src/config/model.js';

const IFACE = 'Iface eth0 { index: 0, address: 10.0.0.1, netmask: 255.255.255.0, input: f }\n';

function ok(text: string): Model {
  const r = loadConfig(text, 't.nacl');
  if (!r.model) throw new Error(formatDiagnostics(r.diagnostics, text));
  return r.model;
}

function errors(text: string): string[] {
  const r = loadConfig(text, 't.nacl');
  return r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
}

/** The condition of the first `if` of function f. */
function firstCond(m: Model, fn = 'f'): Cond {
  const s = m.functions[fn].body.find((x) => x.kind === 'if');
  if (!s || s.kind !== 'if') throw new Error('no if');
  return s.cond;
}

function condOf(expr: string, consts = ''): Cond {
  return firstCond(ok(`${IFACE}${consts}\nFilter::IP f { if (${expr}) { accept } drop }`));
}

t.test('addresses are uint32 host order; ifaces and routes', async (t) => {
  const m = ok(`${IFACE}Iface eth1 { index: "AA:BB:CC:DD:EE:FF", address: 192.168.1.1, netmask: 255.255.255.0 }
Gateway gw { r: { net: 192.168.1.77, netmask: 255.255.255.0, iface: eth1 }, d: { net: 0.0.0.0, netmask: 0.0.0.0, nexthop: 10.0.0.254, iface: eth0 } }
Filter::IP f { accept }`);
  t.equal(m.ifaces[0].address, 0x0a000001);
  t.equal(m.ifaces[0].netmask, 0xffffff00);
  t.same(m.ifaces[1].index, { mac: 'aa:bb:cc:dd:ee:ff' });
  t.match(m.gateway!.routes[0], { name: 'r', net: 0xc0a80100, netmask: 0xffffff00, prefix: 24, nexthop: 0, iface: 'eth1', cost: 1 });
  t.match(m.gateway!.routes[1], { name: 'd', net: 0, prefix: 0, nexthop: 0x0a0000fe });
  t.equal(m.gateway!.sendTimeExceeded, true, 'reference default');
  t.same(m.ifaces[0].chains, { prerouting: [], input: ['f'], output: [], postrouting: [] });
});

t.test('conntrack defaults and overrides', async (t) => {
  const m = ok('');
  t.same(m.conntrack.timeout, {
    unconfirmed: { tcp: 10, udp: 10, icmp: 10 },
    confirmed: { tcp: 30, udp: 10, icmp: 10 },
    established: { tcp: 300, udp: 10, icmp: 10 },
  });
  t.equal(m.conntrack.declared, false);
  const c = ok('Conntrack c { limit: 5, timeout: { confirmed: { udp: 99 } } }\nc.timeout.confirmed.icmp: 7').conntrack;
  t.match(c, { declared: true, limit: 5, statefulTcp: false });
  t.equal(c.timeout.confirmed.udp, 99);
  t.equal(c.timeout.confirmed.icmp, 7);
  t.equal(c.timeout.established.tcp, 300);
});

t.test('words resolve to numbers; user names shadow them', async (t) => {
  const words: Array<[string, number]> = [
    ['tcp', 6], ['udp', 17], ['icmp', 1], ['ip', 4], ['ssh', 22], ['dns', 53], ['http', 80], ['https', 443],
    ['fin', 1], ['syn', 2], ['rst', 4], ['psh', 8], ['ack', 16], ['urg', 32], ['ece', 64], ['cwr', 128], ['ns', 256],
    ['echo-reply', 0], ['destination-unreachable', 3], ['redirect', 5], ['echo-request', 8], ['time-exceeded', 11],
    ['parameter-problem', 12], ['timestamp-request', 13], ['timestamp-reply', 14],
    ['new', CT_NEW], ['established', CT_ESTABLISHED], ['related', CT_RELATED], ['invalid', CT_INVALID],
    ['true', 1], ['false', 0], ['HTTP', 80],
  ];
  for (const [w, n] of words) {
    t.match(condOf(`ip.ttl == ${w}`), { kind: 'cmp', op: '==', left: { kind: 'field', field: 'ip.ttl' }, right: { kind: 'const', value: n } }, w);
  }
  t.match(condOf('ip.ttl == http', 'http: 8080'), { right: { value: 8080 } }, 'shadowed');
});

t.test('sets: exact values, ranges, CIDRs, nested lists and objects', async (t) => {
  const c = condOf('ip.saddr in s', 's: [10.0.0.1, 10.0.0.0/30, 10.1.0.1 - 10.1.0.9, inner, obj]\ninner: [1, 2-3]\nobj: { a: 4, b: { c: 5 } }');
  t.match(c, { kind: 'in', set: { exact: [0x0a000001, 1, 4, 5], ranges: [[0x0a000000, 0x0a000003], [0x0a010001, 0x0a010009], [2, 3]] } });
  t.match(condOf('ip.saddr in 0.0.0.0/0'), { set: { ranges: [[0, 0xffffffff]] } });
  t.match(condOf('ip.saddr in 10.0.0.77/24'), { set: { ranges: [[0x0a000000, 0x0a0000ff]] } }, 'host bits masked');
});

t.test('conditions: precedence and n-ary and/or', async (t) => {
  t.match(condOf('ip.ttl == 1 or ip.ttl == 2 and not ip.ttl == 3'), {
    kind: 'or', terms: [{ kind: 'cmp' }, { kind: 'and', terms: [{ kind: 'cmp' }, { kind: 'not', c: { kind: 'cmp' } }] }],
  });
  t.match(condOf('ip.ttl == 1 and (ip.ttl == 2 and ip.ttl == 3) and (ip.ttl == 4 or ip.ttl == 5)'), {
    kind: 'and', terms: [{ kind: 'cmp' }, { kind: 'cmp' }, { kind: 'cmp' }, { kind: 'or', terms: [{ kind: 'cmp' }, { kind: 'cmp' }] }],
  }, 'a parenthesised chain of the same kind is spliced in');
  t.match(condOf('x', 'x: true'), { kind: 'const', value: true });
  t.match(condOf('ip.ttl'), { kind: 'cmp', op: '!=', right: { value: 0 } });
  const n = 4096;
  const c = condOf(Array.from({ length: n }, (_, i) => `ip.ttl == ${i}`).join(' or '));
  t.equal(c.kind === 'or' ? c.terms.length : 0, n, 'a long chain is one flat list');
});

t.test('calls are inlined as blocks with fresh rule ids', async (t) => {
  const m = ok(`${IFACE}Filter::IP f { g Filter::TCP { if (tcp.dport == 22) { g() } } drop }
Filter::IP g { if (ip.ttl < 2) { drop } }`);
  const body = m.functions.f.body;
  t.match(body[0], { kind: 'block', call: 'g', subtype: 'ip', body: [{ kind: 'if', then: [{ kind: 'drop' }] }] });
  t.match(body[1], { kind: 'block', call: null, subtype: 'tcp', body: [{ kind: 'if', then: [{ kind: 'block', call: 'g' }] }] });
  const ids: number[] = [];
  const walk = (ss: Stmt[]): void => {
    for (const s of ss) {
      ids.push(s.id);
      if (s.kind === 'if') { walk(s.then); if (s.else) walk(s.else); }
      if (s.kind === 'block') walk(s.body);
    }
  };
  for (const f of Object.values(m.functions)) walk(f.body);
  t.equal(new Set(ids).size, ids.length, 'rule ids are unique');
  t.equal(m.rules.length, ids.length, 'one RuleInfo per statement');
  for (const id of ids) t.equal(m.rules[id].id, id);
  const inlined = (body[0] as Stmt & { kind: 'block' }).body[0];
  t.match(m.rules[inlined.id], { fn: 'f', loc: { line: 3 }, text: 'if (ip.ttl < 2)' });
  t.match(m.rules[m.functions.g.body[0].id], { fn: 'g', loc: { line: 3 } });
});

t.test('nat actions', async (t) => {
  const m = ok(`${IFACE.replace('input: f', 'prerouting: n')}Nat::TCP n { dnat(10.0.0.9) dnat(8080) snat(10.0.0.1, 99) dnat(eth0.address, http) }`);
  t.match(m.functions.n.body, [
    { kind: 'dnat', addr: 0x0a000009, port: null },
    { kind: 'dnat', addr: null, port: 8080 },
    { kind: 'snat', addr: 0x0a000001, port: 99 },
    { kind: 'dnat', addr: 0x0a000001, port: 80 },
  ]);
});

t.test('log and syslog arguments', async (t) => {
  const m = ok(`${IFACE}Filter::IP f { log("a", ip.saddr) syslog(Warning, "b\\n", ct.state) accept }`);
  t.match(m.functions.f.body, [
    { kind: 'log', args: [{ kind: 'str', text: 'a' }, { kind: 'field', field: 'ip.saddr' }] },
    { kind: 'syslog', severity: 4, args: [{ kind: 'str', text: 'b\n' }, { kind: 'field', field: 'ct.state' }] },
    { kind: 'accept' },
  ]);
});

t.test('nesting keeps the parent namespaces', async (t) => {
  ok(`${IFACE}Filter::IP f { Filter::TCP { Filter::IP { if (tcp.dport == 1) { accept } } } drop }`);
  t.match(errors(`${IFACE}Filter::IP f { Filter::UDP { if (tcp.dport == 1) { accept } } drop }`),
    ['A function of subtype UDP cannot test on tcp properties']);
});

t.test('default verdict is a textual check on pushed Filters only', async (t) => {
  t.match(errors(`${IFACE}Filter::IP f { accept() }`), [/Missing default verdict/]);
  t.match(errors(`${IFACE}Filter::IP f { ACCEPT }`), [/Missing default verdict/]);
  t.match(errors(`${IFACE}Filter::IP f { if (ip.ttl > 1) { accept } else { drop } }`), [/Missing default verdict/]);
  t.same(errors(`${IFACE}Filter::IP f { accept }\nFilter::IP g { if (ip.ttl > 1) { accept } }`), [], 'unpushed filter needs none');
  t.same(errors(`${IFACE.replace('input', 'prerouting')}Nat::IP f { log("x") }`), [], 'Nat falls through');
});

t.test('many independent errors in one run, capped at 20', async (t) => {
  const text = Array.from({ length: 30 }, (_, i) => `c${i}: undefined_${i}\nf${i}: c${i}`).join('\n') +
    `\n${IFACE}Filter::IP f { if (ip.ttl in [${Array.from({ length: 30 }, (_, i) => `f${i}`).join(', ')}]) { drop } accept }`;
  const errs = errors(text);
  t.equal(errs.length, 20);
});

t.test('formatDiagnostics', async (t) => {
  const text = 'Iface eth0 {\n\tindex: 0,\n\tnetmsk: 255.255.255.0\n}\n';
  const r = loadConfig(text, 'x.nacl');
  t.equal(formatDiagnostics(r.diagnostics.filter((d) => d.severity === 'error'), text),
    "x.nacl:3:2: error: Invalid Iface member netmsk\n netmsk: 255.255.255.0\n ^~~~~~\n  hint: did you mean 'netmask'?\n");
  t.equal(formatDiagnostics([], text), '');
});

t.test('never throws on odd input', async (t) => {
  for (const text of ['\u0000', '{', '}', 'x:', 'Filter::IP f {', '"', 'x: "\\', 'x: ((((-1', '/*', 'Iface a b c d',
    'x: 99999999999999999999.1.1.1', 'Filter::IP f { if ((((((((((((((((((((ip.ttl)))))))))))))))))))) { drop } }',
    'Filter::IP f { ' + 'if (ip.ttl > 1) { '.repeat(2000) + 'drop' + ' }'.repeat(2000) + ' }']) {
    const r = loadConfig(text, 'odd.nacl');
    t.ok(r.model !== null || r.diagnostics.some((d) => d.severity === 'error'), JSON.stringify(text.slice(0, 30)));
  }
});
