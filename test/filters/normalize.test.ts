// Chain normalisation: protocol blocks become guards on flat rule lists, adjacent leftovers
// merge, else-ladders flatten, constants fold, ids and locations stay the source's; the user's
// rule count ignores blocks; and compiled block-per-rule chains reach the classifier / hash
// dispatch instead of linear code.

import t from 'tap';
import { loadConfig } from '../../src/config/index.js';
import type { Cond, Model, Stmt } from '../../src/config/model.js';
import { compileRuleset } from '../../filters/compile.js';
import { normalizeList, ruleIds, simplify } from '../../filters/normalize.js';
import { condText } from '../../src/control/show.js';
import { bool, cmp, F, V, and, or, not } from './model-builder.js';

const IFACE = 'Iface eth0 { index: 0, address: 10.0.0.1, netmask: 255.255.255.0 }\n';

/** Line 3 is the first line of the body. */
function model(body: string, sub = 'IP'): Model {
  const main = sub === 'IP' ? '' : 'Filter::IP main { f() accept }\n';
  const r = loadConfig(`${IFACE}Filter::${sub} f {\n${body}\n}\n${main}eth0.input: ${sub === 'IP' ? 'f' : 'main'}\n`, 'n.nacl');
  if (r.model === null) throw new Error(JSON.stringify(r.diagnostics));
  return r.model;
}

function shape(list: Stmt[]): string[] {
  return list.map((s) => {
    switch (s.kind) {
      case 'if': return `if ${condText(s.cond)}${s.else ? ' else' : ''} -> [${shape(s.then).join('; ')}]@${s.loc.line}`;
      case 'block': return `${s.subtype}{${shape(s.body).join('; ')}}`;
      default: return `${s.kind}@${s.loc.line}`;
    }
  });
}

t.test('protocol blocks become guards on their rules', async (t) => {
  const m = model(`  Filter::TCP {
    if (ip.saddr == 10.0.0.9 and tcp.dport == 22) { drop }
  }
  Filter::TCP {
    if (tcp.dport == 23) { drop }
    log("x")
  }
  Filter::TCP {
    accept
  }
  Filter::UDP { if (udp.dport == 53) { accept } }
  accept`);
  const f = m.functions.f!;
  t.same(shape(normalizeList(f.body, { proto: -1 })), [
    'if ip.protocol == 6 and ip.saddr == 10.0.0.9 and tcp.dport == 22 -> [drop@4]@4',
    'if ip.protocol == 6 and tcp.dport == 23 -> [drop@7]@7',
    'tcp{log@8; accept@11}',
    'if ip.protocol == 17 and udp.dport == 53 -> [accept@13]@13',
    'accept@14',
  ], 'ifs carry the guard first; a log and a bare accept stay in one merged guard block');
});

t.test('blocks the context decides, else-ladders and constants', async (t) => {
  const m = model(`  Filter::TCP { if (tcp.dport == 1) { drop } }
  Filter::IP { if (ip.ttl == 1) { drop } }
  if (ip.ttl == 2) { drop } else { if (ip.ttl == 3) { accept } else { log("z") } }
  if (true and ip.ttl == 4) { drop }
  drop`, 'TCP');
  t.same(shape(normalizeList(m.functions.f!.body, { proto: 6 })), [
    'if tcp.dport == 1 -> [drop@3]@3',
    'if ip.ttl == 1 -> [drop@4]@4',
    'if ip.ttl == 2 -> [drop@5]@5',
    'if ip.ttl == 3 -> [accept@5]@5',
    'log@5',
    'if ip.ttl == 4 -> [drop@6]@6',
    'drop@7',
  ], 'own-protocol and IP blocks spliced, ladder flattened, true folded away');
  const r = loadConfig(`${IFACE}Filter::IP g { Filter::UDP { if (udp.dport == 53) { drop } } }
Filter::TCP f { g() accept }
Filter::IP main { f() accept }
eth0.input: main
`, 'n.nacl');
  t.ok(r.model, 'valid');
  t.same(shape(normalizeList(r.model!.functions.f!.body, { proto: 6 })), ['accept@3'], 'a UDP block reached from a TCP function cannot run');
});

t.test('simplify folds constants and splices nested and/or', async (t) => {
  const a = cmp(F('ip.ttl'), '==', V(1)), b = cmp(F('ip.ttl'), '==', V(2));
  t.same(simplify(and(a, bool(true), b)), and(a, b));
  t.same(simplify(and(a, bool(false))).kind, 'const');
  t.same(simplify(or(a, bool(true))), { kind: 'const', value: true, loc: (simplify(or(a, bool(true))) as Extract<Cond, { kind: 'const' }>).loc });
  t.same(simplify(not(bool(false))).kind, 'const');
  t.same(simplify({ kind: 'and', terms: [a, { kind: 'and', terms: [b, a] }] }), { kind: 'and', terms: [a, b, a] });
});

t.test('the rules counters list: ifs and stand-alone actions, not blocks', async (t) => {
  const lines: string[] = [];
  for (let i = 0; i < 50; i++) lines.push(`  Filter::TCP {\n    if (ip.saddr == 10.1.0.${i + 1} and tcp.dport == ${1000 + i}) { drop }\n  }`);
  lines.push('  accept');
  const m = model(lines.join('\n'));
  t.equal(m.rules.length, 151, 'the Model has a statement (and a counter) for every block, if and action');
  t.equal(m.writtenRules, 51, 'the checker counts 50 rules and the final accept');
  t.equal(ruleIds(m).length, 51, 'counters list the same 51');
  const rs = compileRuleset(m, { nat: { dnat() {}, snat() {} }, log: { emit() {} } });
  t.equal(rs.stats.dispatchRuns + rs.stats.classifierRuns, 1, 'the 50 rules are one dispatched run, not 50 blocks of linear code');
});
