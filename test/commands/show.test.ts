// `nacl-router show FILE [--json]`: readable layout with file:line per rule, JSON model.

import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, REPO } from './cli.js';
import { loadConfig } from '../../src/config/index.js';
import { modelJson, renderShow } from '../../src/control/show.js';

t.test('show prints interfaces, routes, conntrack and chains with file:line', async (t) => {
  const r = await cli(['show', 'examples/seed.nacl']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /outside: index 0 config static address 10\.0\.0\.2\/24 gateway 10\.0\.0\.1/);
  t.match(r.stdout, /default: 0\.0\.0\.0\/0 via 10\.0\.0\.1 dev outside cost 1/);
  t.match(r.stdout, /timeout established tcp 300s udp 10s icmp 10s/);
  t.match(r.stdout, /chain prerouting \(iface outside\) \{\n  nat ip mydnat \{ +# examples\/seed\.nacl:\d+/);
  t.match(r.stdout, /chain forward \(gateway myGateway\)/);
  t.match(r.stdout, /dnat to 192\.168\.0\.54 +# examples\/seed\.nacl:\d+/);
  t.match(r.stdout, /snat to 192\.168\.0\.1 +# examples\/seed\.nacl:\d+/);
  t.match(r.stdout, /if ip\.[sd]addr in \{ 192\.168\.0\.10-192\.168\.0\.200 \} and tcp\.dport in \{ 80, 443 \}/);
});

t.test('show --json prints the model', async (t) => {
  const r = await cli(['show', '--json', 'examples/seed.nacl']);
  t.equal(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout);
  t.equal(m.ifaces.length, 2);
  t.same(Object.keys(m), Object.keys(m).slice().sort(), 'stable (sorted) key order');
  t.same(m.gateway.forward, ['firewallchain']);
  const text = readFileSync(join(REPO, 'examples/seed.nacl'), 'utf8');
  t.equal(r.stdout, modelJson(loadConfig(text, 'examples/seed.nacl').model!));
});

t.test('show on an invalid file: exit 1 and diagnostics', async (t) => {
  const r = await cli(['show', 'test/fixtures/nacl/invalid/recursion.nacl']);
  t.equal(r.status, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /Recursive call: a -> b -> c -> a/);
  t.equal((await cli(['show'])).status, 2);
  t.equal((await cli(['show', '--yaml', 'x'])).status, 2);
});

t.test('renderShow prints per-rule counters when given', async (t) => {
  const text = readFileSync(join(REPO, 'examples/seed.nacl'), 'utf8');
  const m = loadConfig(text, 'seed.nacl').model!;
  const packets = new Float64Array(m.rules.length);
  const bytes = new Float64Array(m.rules.length);
  const drop = m.rules.find((r) => r.text === 'drop' && r.fn === 'firewallchain')!;
  packets[drop.id] = 7;
  bytes[drop.id] = 420;
  const out = renderShow(m, { packets, bytes });
  t.match(out, /\n {4}drop +packets 7 bytes 420 +# seed\.nacl:\d+\n/);
  t.match(out, /accept +packets 0 bytes 0 +#/);
});
