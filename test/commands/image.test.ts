// `nacl-router image` and `boot`: what they refuse before building or booting anything.
// (Building and booting for real: test/image/guest.e2e.ts, npm run test:image.)
import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, REPO } from './cli.js';

const SEED = join(REPO, 'examples', 'seed.nacl');

function tmp(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'nacl-image-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('the command list names image and boot', async (t) => {
  const r = await cli(['--help']);
  t.match(r.stdout, /\n  image +build a bootable guest image/);
  t.match(r.stdout, /\n  boot +boot a guest image directory/);
  t.match((await cli(['image', '--help'])).stdout, /--format FORMAT/);
  t.match((await cli(['boot', '--help'])).stdout, /Ctrl-C stops the router/);
});

t.test('image: an invalid configuration gives located errors and builds nothing', async (t) => {
  const dir = tmp(t);
  const bad = join(dir, 'bad.nacl');
  writeFileSync(bad, 'Iface outside {\n  address: 10.0.0.300,\n  index: 0\n}\n');
  const r = await cli(['image', bad, '-o', join(dir, 'out')]);
  t.equal(r.status, 1);
  t.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:2:\\d+: error: .*\\n  address: 10\\.0\\.0\\.300,\\n +\\^`));
});

t.test('image: vm.json in DIR is checked first', async (t) => {
  const dir = tmp(t);
  writeFileSync(join(dir, 'vm.json'), '{\n  "memory": "lots"\n}\n');
  let r = await cli(['image', SEED, '-o', dir]);
  t.equal(r.status, 1);
  t.match(r.stderr, /vm\.json:2:13: error: 'memory' must be a whole number \(MiB\)\n  "memory": "lots"\n +\^~~~~~/);
  writeFileSync(join(dir, 'vm.json'), '{"net": [{"tap": "only0"}]}\n');
  r = await cli(['image', SEED, '-o', dir]);
  t.equal(r.status, 1);
  t.match(r.stderr, /the configuration uses Iface index 1 but vm\.json has 1 NIC/);
});

t.test('image: usage errors', async (t) => {
  t.equal((await cli(['image'])).status, 2);
  const r = await cli(['image', SEED, '--format', 'vdi']);
  t.equal(r.status, 2);
  t.match(r.stderr, /unknown disk format 'vdi' \(raw, qcow2 or vmdk\)/);
  t.equal((await cli(['image', SEED, '--bogus'])).status, 2);
  const missing = await cli(['image', join(REPO, 'no-such.nacl'), '-o', tmp(t)]);
  t.equal(missing.status, 2, 'an unreadable file is an I/O error');
  t.match(missing.stderr, /cannot read .*no-such\.nacl: ENOENT/);
});

t.test('boot: a directory without vm.json, or a vm.json without a configuration', async (t) => {
  const dir = tmp(t);
  let r = await cli(['boot', dir]);
  t.equal(r.status, 1);
  t.match(r.stderr, /vm\.json: no such file/);
  writeFileSync(join(dir, 'vm.json'), '{"net": [{"tap": "t0"}]}\n');
  r = await cli(['boot', dir]);
  t.equal(r.status, 1);
  t.match(r.stderr, /no "config": name the NaCl file/);
  t.equal((await cli(['boot'])).status, 2);
  t.equal((await cli(['boot', dir, '--kvm'])).status, 2);
});
