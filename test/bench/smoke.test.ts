// Smoke test of the benchmark harness: one very short point per available device (as root),
// so the harness cannot rot; plus the generated rulesets and the report renderer. Measured
// values are only checked for being present and plausible, never against targets.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iptablesRuleset, naclRuleset, nftRuleset, ruleAddr } from '../../bench/gen/rulesets.js';
import { runBench, type BenchResults } from '../../bench/harness.js';
import { NaclDut } from '../../bench/duts/nacl.js';
import { pairedRatio, targets, writeReport } from '../../bench/report.js';
import { SHAPES, shapeRules } from '../../bench/gen/shapes.js';
import { loadConfig } from '../../src/config/index.js';

t.test('rulesets', async (t) => {
  t.equal(ruleAddr(0), '172.16.0.1');
  t.equal(ruleAddr(255), '172.16.1.0');
  const nacl = naclRuleset({ rules: 3, nat: true });
  t.equal(nacl.match(/if \(ip\.saddr == 172\.16\.0\.\d\) \{ drop \}/g)?.length, 3);
  t.match(nacl, /masquerade: true/);
  t.match(nacl, /forward: bench_forward/);
  t.ok(nacl.indexOf('172.16.0.3') < nacl.lastIndexOf('accept'), 'the rules come before the accept');
  const ipt = iptablesRuleset(1000, false, 'r1');
  t.equal(ipt.match(/^-A FORWARD -s .* -j DROP$/gm)?.length, 1000);
  t.match(ipt, /-A FORWARD -j ACCEPT\nCOMMIT/);
  t.notMatch(ipt, /MASQUERADE/);
  t.match(iptablesRuleset(0, true, 'r1'), /-A POSTROUTING -o r1 -j MASQUERADE/);
  t.equal(nftRuleset(100, false, 'r1', false).match(/ip saddr 172\.16\.\S+ drop/g)?.length, 100);
  const set = nftRuleset(100, true, 'r1', true);
  t.equal(set.match(/172\.16\./g)?.length, 100);
  t.match(set, /ip saddr @blocked drop/);
  t.match(set, /oifname "r1" masquerade/);
  t.throws(() => naclRuleset({ rules: -1, nat: false }));
});

t.test('every rule shape is the same N rules for every device', async (t) => {
  for (const shape of SHAPES) {
    const n = 300;
    const r = shapeRules(shape, n, 'FORWARD');
    t.equal(r.iptables.length, n, `${shape}: ${n} iptables rules`);
    t.equal(r.nft.length, n, `${shape}: ${n} nft rules`);
    t.ok(r.nftSet !== null && r.nftSet.rules.length >= 1, `${shape}: as nft sets (${r.nftSet?.rules.length} lookups)`);
    const text = naclRuleset({ rules: n, nat: false, shape });
    const m = loadConfig(text, `${shape}.nacl`);
    t.ok(m.model, `${shape}: the NaCl file is valid`);
    if (m.model) t.equal(m.model.writtenRules, n + 1, `${shape}: ${n} rules and the final accept`);
  }
  t.match(naclRuleset({ rules: 2, nat: false, shape: 'udp-accept' }), /Filter::UDP \{\n {4}if \(ip\.saddr == 172\.16\.0\.1 and udp\.dport == 1000\) \{ accept \}\n {2}\}/);
  t.match(iptablesRuleset(2, false, 'r1', 'tcp-drop'), /-A FORWARD -p tcp -s 172\.16\.0\.2\/32 --dport 1001 -j DROP/);
  t.match(nftRuleset(2, false, 'r1', true, 'tcp-drop'), /ip saddr \. tcp dport @pairs drop/);
});

const root = process.getuid?.() === 0;

t.test('one short point per device', { skip: root ? false : 'needs root (namespaces, TAP devices)' }, async (t) => {
  const nacl = await new NaclDut().available();
  if (nacl) t.comment(`nacl-router device skipped: ${nacl}`);
  const log: string[] = [];
  const results: BenchResults = await runBench({
    mode: 'smoke', sched: 'nice', log: (l) => log.push(l), overrides: { shapes: ['acl'], shapeRules: [200] },
  });
  t.comment(log.join('\n'));
  const byDevice = new Map(results.devices.map((d) => [d.id, d]));
  t.equal(byDevice.get('nacl-router')?.available, nacl === null);
  for (const d of results.devices.filter((x) => x.available)) {
    const plain = results.points.find((p) => p.device === d.id && !p.nat && p.shape === undefined);
    t.ok(plain, `${d.id} measured`);
    if (!plain) continue;
    t.notOk(plain.error, `${d.id}: no error`);
    t.ok((plain.tcpGbps ?? 0) > 0, `${d.id}: TCP through the device`);
    t.ok((plain.flood?.received ?? 0) > 0, `${d.id}: UDP through the device`);
    t.ok((plain.latencyIdle?.replies ?? 0) > 0, `${d.id}: ping through the device`);
    if (d.supportsNat) {
      const nat = results.points.find((p) => p.device === d.id && p.nat);
      t.ok((nat?.conn?.delivered ?? 0) > 0, `${d.id}: new flows through source NAT`);
    }
  }
  t.same(pairedRatio(results, ['udp', 'iptables', 0], ['udp', 'iptables', 0])?.ratio, 1);
  for (const d of results.devices.filter((x) => x.available && x.usesRules)) {
    const sp = results.points.find((p) => p.device === d.id && p.shape === 'acl');
    t.ok(sp && !sp.error && (sp.flood?.received ?? 0) > 0, `${d.id}: traffic through 200 acl-shape rules${sp?.error ? ` (${sp.error})` : ''}`);
  }
  t.equal(targets(results).length, 9, 'T1-T8 and the shapes target T9');

  const dir = mkdtempSync(join(tmpdir(), 'nacl-bench-report-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const written = await writeReport(results, dir);
  const md = readFileSync(join(dir, 'benchmarks.md'), 'utf8');
  t.match(md, /\| \*\*T1\*\*/);
  t.match(md, /CPU accounting/);
  t.match(md, /## Rule shapes/);
  const svg = join(dir, 'benchmarks', 'udp-loss-free.svg');
  t.ok(existsSync(svg) && written.includes(svg), 'loss-free chart rendered');
  t.match(readFileSync(svg, 'utf8'), /^<svg/);
});
