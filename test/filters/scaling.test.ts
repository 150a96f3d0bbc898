import t from 'tap';
import { analyzeRule, DispatchTable, findRuns, hashKeys, MIN_RUN } from '../../filters/scaling.js';
import type { Stmt } from '../../src/config/model.js';
import { F, ModelBuilder, V, and, cmp, eq, inSet, or } from './model-builder.js';

const b = new ModelBuilder();

t.test('analyzeRule: keys, expansions and residuals', (t) => {
  const r1 = analyzeRule(b.if(and(eq('tcp.dport', 80), eq('ip.saddr', 7)), [b.drop()]))!;
  t.same(r1.sig, ['ip.saddr', 'tcp.dport'], 'fields sorted');
  t.same(r1.vals, [7, 80]);
  t.equal(r1.residual, null);
  const r2 = analyzeRule(b.if(and(cmp(V(7), '==', F('ip.saddr')), and(inSet(F('tcp.dport'), { exact: [80, 443, 80], ranges: [] }), cmp(F('ip.ttl'), '>', V(3)))), [b.drop()]))!;
  t.equal(r2.sig, r1.sig, 'signatures are interned');
  t.same(r2.vals, [7, 80, 7, 443], 'in over a small list expands to key tuples');
  t.equal(r2.residual?.kind, 'cmp', 'the ttl test stays as residual');
  const r3 = analyzeRule(b.if(and(eq('ip.saddr', 1), eq('ip.saddr', 2)), [b.drop()]))!;
  t.same(r3.vals, [1], 'second test of the same field is residual');
  t.ok(r3.residual);
  t.equal(analyzeRule(b.if(or(eq('ip.saddr', 1), eq('ip.ttl', 2)), [b.drop()])), null, 'or is not keyable');
  t.equal(analyzeRule(b.if(inSet(F('ip.saddr'), { exact: [], ranges: [[1, 9]] }), [b.drop()])), null, 'ranges are not keys');
  t.equal(analyzeRule(b.if(eq('ip.saddr', 1), [b.drop()], [b.accept()])), null, 'if with else');
  t.equal(analyzeRule(b.drop()), null);
  t.end();
});

t.test('findRuns: maximal runs of one signature, at least MIN_RUN long', (t) => {
  const list: Stmt[] = [];
  for (let i = 0; i < MIN_RUN - 1; i++) list.push(b.if(eq('ip.saddr', i), [b.drop()]));
  list.push(b.log());
  for (let i = 0; i < 10; i++) list.push(b.if(eq('ip.saddr', i), [b.drop()]));
  for (let i = 0; i < 5; i++) list.push(b.if(and(eq('ip.saddr', i), eq('tcp.dport', i)), [b.drop()]));
  list.push(b.accept());
  const runs = findRuns(list);
  t.same(runs.map((r) => [r.start, r.end, r.sig.join(',')]), [
    [MIN_RUN, MIN_RUN + 10, 'ip.saddr'], [MIN_RUN + 10, MIN_RUN + 15, 'ip.saddr,tcp.dport'],
  ]);
  t.end();
});

t.test('DispatchTable: every tuple finds its rules in source order', (t) => {
  const rules = [];
  for (let i = 0; i < 3000; i++) rules.push({ sig: ['ip.saddr' as const], vals: i % 2 ? [i % 1000] : [i % 1000, (i + 1) % 1000], residual: null });
  const d = new DispatchTable(1, rules);
  t.equal(d.entries, 1000);
  for (const key of [0, 1, 499, 999]) {
    let h = hashKeys([key], d.shift);
    let e = -1;
    while (d.slots[h] !== -1) {
      if (d.keys[0]![d.slots[h]!] === key) { e = d.slots[h]!; break; }
      h = (h + 1) & d.mask;
    }
    t.not(e, -1, `key ${key} present`);
    const got = Array.from(d.list.subarray(d.start[e]!, d.start[e + 1]!));
    const want = rules.map((r, i) => [r, i] as const).filter(([r]) => r.vals.includes(key)).map(([, i]) => i);
    t.same(got, want, `rules of key ${key} in order`);
  }
  t.end();
});
