// The hand-written fast path against the Peggy parser: whenever fastParse returns an AST it must
// be exactly Peggy's (nodes, key order, locations with line and column), and it must not give up
// on ordinary valid files. Differential over the fixtures, examples, the public corpus (when
// present), hand-picked corner cases and ~3 s of random mutations.

import t from 'tap';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from '../../grammar/parser.js';
import { fastParse } from '../../grammar/fast-parser.js';

const ROOT = join(import.meta.dirname, '..', '..');

function naclFiles(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) naclFiles(p, out);
    else if (p.endsWith('.nacl')) out.push(p);
  }
  return out;
}

function peggy(text: string): string | null {
  try {
    return JSON.stringify(parse(text));
  } catch {
    return null;
  }
}

/** null when both agree (or the fast path gave up), else a description of the difference. */
function disagreement(text: string): string | null {
  const fast = fastParse(text);
  if (fast === null) return null;
  const slow = peggy(text);
  if (slow === null) return 'fast path accepted text Peggy rejects';
  return JSON.stringify(fast) === slow ? null : 'ASTs differ';
}

const files = [
  ...naclFiles(join(ROOT, 'test/fixtures/nacl')),
  ...naclFiles(join(ROOT, 'examples')),
  ...naclFiles(join(ROOT, '..', 'shared', 'nacl-corpus')),
].sort();
const texts = files.map((f) => readFileSync(f, 'utf8'));

t.test('same AST as Peggy on every file; valid files take the fast path', async (t) => {
  let fastValid = 0;
  let valid = 0;
  for (let i = 0; i < files.length; i++) {
    const d = disagreement(texts[i]);
    if (d) t.fail(`${files[i]}: ${d}`);
    if (peggy(texts[i]) !== null) {
      valid++;
      if (fastParse(texts[i]) !== null) fastValid++;
      else t.fail(`${files[i]}: fast path gave up on a valid file`);
    }
  }
  t.ok(valid > 10, `${valid} valid files`);
  t.equal(fastValid, valid);
});

t.test('corner cases', async (t) => {
  const cases = [
    '', '# c\n// c\n/* c */', '42', 'a: 1 b: 2 Iface e { index: 0 }',
    'x: 10 . 0 /* c */ . 0 # x\n . 1', 'x: 10.0.0.0 / 24', 'x: 10.0.0.0/*c*//24', 'x: 1-2', 'x: 1 - (-2)', 'x: (-1.5)',
    'x: 010.1.2.300', 'x: 1.5', 'x: 99999999999999999999', 'x: "a b\\n: c, d/e"', 'x: [1, [2, 3], {a: 1}]',
    'x: true y: trueish z: false', 'a.b.c: 1', 'a . b : 1', 'Iface eth0 dhcp', 'Iface eth0 { index: 0, vlan: 3 }',
    'Filter::IP f { accept }', 'Filter :: IP { drop }', 'Filter::IP f { drop # end\n}',
    'Filter::IP f { if (ip.ttl < 5 and not ip.saddr in [1.2.3.4, 5.6.7.8] || (tcp.dport == 80 && !(x))) { log("a", ip.ttl) } else { drop } accept }',
    'Filter::IP f { if ((-5) == x) { accept } if (x IN y) { drop } if (a != b or c >= d or e <= f or g > h) { accept } drop }',
    'Filter::IP f { Filter::TCP { if (tcp.dport in 1-1024) { drop } } g log ( ) syslog(info, "x") accept }',
    'Nat::IP n { dnat(10.0.0.1, 80) snat(1.2.3.4) }', 'Filter::IP f {\r\n\tif\t(ip.frag-off)\r\n{ accept }\r\n}',
    // rejected by Peggy: the fast path must give up or agree
    'x: 1.2.3', 'x: 5/24', 'x: []', 'Filter::IP f { }', 'x: "a # b"', 'x: "\\t"', 'Filter::IP f { if (x) { accept } else if (y) { drop } }',
    'x: 1 }', 'if: 1', 'x: (- 10.0.0.1)', 'Filter::IP f { accept', 'x: /* open', 'x: 1abc', 'x: y.if',
    `x: ${'['.repeat(300)}1${']'.repeat(300)}`, `Filter::IP f { if (${'not '.repeat(300)}x) { accept } }`,
  ];
  for (const c of cases) {
    const d = disagreement(c);
    if (d) t.fail(`${JSON.stringify(c)}: ${d}`);
  }
  t.equal(fastParse(`x: ${'['.repeat(300)}1${']'.repeat(300)}`), null, 'deep nesting is left to Peggy');
  const ast = fastParse('Filter::IP f {\n  accept\n}');
  t.ok(ast);
  t.match(ast?.[0], { kind: 'function', body: [{ kind: 'action', loc: { line: 2, col: 3, offset: 17 } }] }, 'lazy line and column');
});

t.test('a generated rule file (shaped like the scale test) takes the fast path', async (t) => {
  const lines = ['Iface eth0 { index: 0, address: 10.0.0.1, netmask: 255.255.255.0, input: big }', 'ports: [80, 443, 8000 - 8100]', 'Filter::IP big {'];
  for (let i = 0; i < 2000; i++) {
    const a = `10.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`;
    lines.push(`  if (ip.saddr == ${a}) { drop }`, `  if (ip.daddr == ${a} or ip.ttl < ${i % 255}) { accept }`,
      `  if (ip.saddr in ${a}/30 and ip.protocol == tcp) { drop } else { log("x", ip.ttl) }`,
      `  if (ip.daddr in ${a} - 10.255.255.255 and not ct.state == established) { accept }`);
  }
  lines.push('  log("default")', '  drop', '}');
  const text = lines.join('\n');
  const fast = fastParse(text);
  t.ok(fast, 'not left to Peggy');
  t.equal(JSON.stringify(fast), peggy(text), 'same AST');
});

t.test('parses are independent: earlier ASTs keep their own lines after later parses', async (t) => {
  const a = fastParse('Filter::IP f {\n\n\n  accept\n}');
  const b = fastParse('x: 1\nFilter::IP g { drop }');
  const bad = fastParse('Filter::IP h { accept');
  t.equal(bad, null, 'a parse that gives up');
  const c = fastParse('y: 2');
  t.ok(a && b && c);
  t.match(a?.[0], { kind: 'function', body: [{ kind: 'action', loc: { line: 4, col: 3, offset: 19 } }] });
  t.match(b?.[1], { kind: 'function', loc: { line: 2, col: 1, offset: 5 }, body: [{ kind: 'action', loc: { line: 2, col: 16 } }] });
  t.equal(JSON.stringify(a), peggy('Filter::IP f {\n\n\n  accept\n}'));
  t.equal(JSON.stringify(b), peggy('x: 1\nFilter::IP g { drop }'));
  t.equal(Object.getPrototypeOf(a![0].loc), Object.getPrototypeOf(c![0].loc), 'one location class for all parses');
});

// Small deterministic PRNG so a failure can be replayed from its seed.
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 0x100000000;
  };
}

const TOKENS = ['{', '}', '[', ']', '(', ')', ':', '::', ',', '.', '-', '/', '"', '#', '//', '/*', '*/', '==', '!=', '<', '>=',
  ' in ', ' IN ', ' and ', ' or ', ' not ', '!', '&&', '||', 'if', 'else', 'accept', 'drop', '(-1)', '1.5', '10.0.0.1',
  '10.0.0.0/24', 'true', 'x', '\n', ' ', '\\n', '\t', '0'];

t.test('random mutations agree', async (t) => {
  const budget = Number(process.env.FUZZ_MS ?? 3000);
  const small = texts.filter((x) => x.length < 20000);
  const r = rng(Number(process.env.FUZZ_SEED ?? 20261129));
  const t0 = Date.now();
  let runs = 0;
  let accepted = 0;
  while (Date.now() - t0 < budget && small.length) {
    let s = small[Math.floor(r() * small.length)];
    const n = 1 + Math.floor(r() * 3);
    for (let i = 0; i < n; i++) {
      const at = Math.floor(r() * (s.length + 1));
      const op = Math.floor(r() * 3);
      if (op === 0) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 6));
      else if (op === 1) s = s.slice(0, at) + TOKENS[Math.floor(r() * TOKENS.length)] + s.slice(at);
      else {
        const from = Math.floor(r() * s.length);
        s = s.slice(0, at) + s.slice(from, from + Math.floor(r() * 60)) + s.slice(at);
      }
    }
    runs++;
    if (fastParse(s) !== null) accepted++;
    const d = disagreement(s);
    if (d) {
      t.fail(`${d}: ${JSON.stringify(s.slice(0, 2000))}`);
      break;
    }
  }
  t.ok(runs > 0, `${runs} mutated inputs, ${accepted} taken by the fast path`);
});
