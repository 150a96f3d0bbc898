import t from 'tap';
import { inlineSetTest, normalizeSet, NumberSet } from '../../filters/sets.js';
import { rng } from './random.js';

const naive = (exact: number[], ranges: Array<[number, number]>, v: number): boolean =>
  exact.includes(v) || ranges.some(([a, b]) => v >= Math.min(a, b) && v <= Math.max(a, b));

t.test('normalizeSet merges, clamps and drops impossible members', (t) => {
  const n = normalizeSet({ exact: [5, 5, -1, 1.5, 2 ** 32, 12, 3], ranges: [[10, 20], [21, 25], [30, 28], [-5, 1], [2 ** 32 - 2, 2 ** 33]] });
  t.same(n.exact, [3, 5]);
  t.same(n.ranges, [[0, 1], [10, 25], [28, 30], [2 ** 32 - 2, 2 ** 32 - 1]]);
  t.end();
});

t.test('NumberSet agrees with a linear scan on random sets', (t) => {
  const r = rng(7);
  let checks = 0;
  for (let round = 0; round < 200; round++) {
    const span = [100, 10000, 2 ** 32 - 1][round % 3]!;
    const exact: number[] = [];
    const ranges: Array<[number, number]> = [];
    const ne = Math.floor(r() * 300), nr = Math.floor(r() * (round % 5 === 0 ? 3000 : 30));
    for (let i = 0; i < ne; i++) exact.push(Math.floor(r() * span));
    for (let i = 0; i < nr; i++) {
      const a = Math.floor(r() * span);
      ranges.push([a, a + Math.floor(r() * (span / 50))]);
    }
    const s = NumberSet.of(normalizeSet({ exact, ranges }));
    const probes = [0, span, 2 ** 32 - 1, ...exact.slice(0, 20), ...ranges.slice(0, 20).flatMap(([a, b]) => [a - 1, a, b, b + 1])];
    for (let i = 0; i < 200; i++) probes.push(Math.floor(r() * span));
    for (const v of probes) {
      if (v < 0 || v > 2 ** 32 - 1) continue;
      checks++;
      if (s.has(v) !== naive(exact, ranges, v)) {
        t.fail(`round ${round}: has(${v}) = ${s.has(v)}`);
        t.end();
        return;
      }
    }
  }
  t.pass(`${checks} membership checks agree`);
  t.end();
});

t.test('CIDR-like ranges and empty sets', (t) => {
  const s = NumberSet.of(normalizeSet({ exact: [], ranges: [[0x0a000000, 0x0affffff], [0xc0a80000, 0xc0a8ffff]] }));
  t.ok(s.has(0x0a010203));
  t.ok(s.has(0xc0a8ffff));
  t.notOk(s.has(0x0b000000));
  t.notOk(s.has(0));
  t.notOk(s.has(0xffffffff));
  const empty = NumberSet.of(normalizeSet({ exact: [], ranges: [] }));
  t.notOk(empty.has(0));
  t.notOk(empty.has(1));
  t.end();
});

t.test('inline tests for small sets only', (t) => {
  t.equal(inlineSetTest(normalizeSet({ exact: [1, 2], ranges: [[5, 9]] }), 'x'), '(x === 1 || x === 2 || (x >= 5 && x <= 9))');
  t.equal(inlineSetTest(normalizeSet({ exact: [], ranges: [] }), 'x'), 'false');
  t.equal(inlineSetTest(normalizeSet({ exact: [1, 2, 3, 4, 5, 6, 7], ranges: [] }), 'x'), null);
  t.end();
});
