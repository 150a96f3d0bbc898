// `nacl-router check`: exit status 0 valid / 1 invalid / 2 usage or I/O, diagnostics on stderr,
// `-` reads stdin, --help.

import t from 'tap';
import { cli } from './cli.js';

t.test('valid file: exit 0, summary on stdout, warnings on stderr', async (t) => {
  const r = await cli(['check', 'examples/seed.nacl']);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^examples\/seed\.nacl: valid \(2 interfaces, 3 functions, \d+ rules, 0 warnings\)/);
  t.equal(r.stderr, '');
  const w = await cli(['check', 'test/fixtures/nacl/valid/warnings.nacl']);
  t.equal(w.status, 0);
  t.match(w.stderr, /warnings\.nacl:15:5: warning: This statement can never run/);
});

t.test('rules are counted as written: an if with its verdict is one rule', async (t) => {
  const rules = Array.from({ length: 1000 }, (_, i) => `    if (ip.saddr == 10.1.${i >> 8}.${i & 255} and tcp.dport == ${i + 1}) { drop }`);
  const text = ['Iface e { index: 0, address: 10.0.0.1, netmask: 255.0.0.0, input: f }', 'Filter::IP f {', '  Filter::TCP {', ...rules, '  }',
    '  if (ip.ttl < 2) { log("low ttl") drop }', '  accept', '}', ''].join('\n');
  const r = await cli(['check', '-'], text);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /valid \(1 interfaces, 1 functions, 1002 rules, 0 warnings\)/, '1000 ifs + the ttl rule + accept');
});

t.test('several syntax errors in one run, each once', async (t) => {
  const r = await cli(['check', 'test/fixtures/nacl/invalid/syntax-multiple.nacl']);
  t.equal(r.status, 1);
  t.equal(r.stderr.split('\n').filter((l) => / error: syntax error/.test(l)).length, 4, r.stderr);
});

t.test('invalid file: exit 1, every error located on stderr', async (t) => {
  const r = await cli(['check', 'test/fixtures/nacl/invalid/iface.nacl']);
  t.equal(r.status, 1);
  t.equal(r.stdout, '');
  t.match(r.stderr, /iface\.nacl:3:64: error: Invalid Iface member netmsk\n.*\n {63}\^~~~~~\n  hint: did you mean 'netmask'\?/);
  t.match(r.stderr, /: invalid \(\d+ errors/);
  t.ok(r.stderr.split('\n').filter((l) => / error: /.test(l)).length > 10, 'all errors in one run');
});

t.test('stdin', async (t) => {
  const ok = await cli(['check', '-'], 'Iface e { index: 0, address: 10.0.0.1, netmask: 255.0.0.0 }\n');
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /<stdin>: valid/);
  const bad = await cli(['check', '-'], 'x: [1,\n');
  t.equal(bad.status, 1);
  t.match(bad.stderr, /^<stdin>:2:1: error: syntax error: expected/);
});

t.test('usage and I/O errors: exit 2', async (t) => {
  t.equal((await cli(['check'])).status, 2);
  t.equal((await cli(['check', 'a', 'b'])).status, 2);
  t.equal((await cli(['check', '--bogus', 'x'])).status, 2);
  const missing = await cli(['check', 'no/such/file.nacl']);
  t.equal(missing.status, 2);
  t.match(missing.stderr, /cannot read no\/such\/file\.nacl: ENOENT/);
  const help = await cli(['check', '--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /^usage: nacl-router check/);
});
