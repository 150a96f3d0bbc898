// End to end: how the router process runs. Started as its bin, it has the V8 flags of the
// bin's first line; it warms its JIT on its own rules before the links open (or not, with
// --no-warmup) and forwards in poll mode (--busy-poll) as it does without it.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, skipReason } from '../../lab/netlab.js';
import { nodeFlags } from '../../src/node-flags.js';
import { routerBetween } from './router-process.js';

const CONF = [
  'Iface a { index: 0, address: 10.61.1.1, netmask: 255.255.255.0 }',
  'Iface b { index: 1, address: 10.61.2.1, netmask: 255.255.255.0, masquerade: true }',
  'Gateway gw { forward: fw, a_net: { net: 10.61.1.0, netmask: 255.255.255.0, iface: a }, b_net: { net: 10.61.2.0, netmask: 255.255.255.0, iface: b } }',
  'Filter::IP fw { if (ip.saddr == 172.16.0.1) { drop } accept }',
].join('\n');

const why = skipReason();
if (why) {
  t.test('router process', { skip: why }, () => undefined);
} else {
  const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

  for (const mode of ['default', 'no-warmup', 'busy-poll'] as const) {
    t.test(`router process (${mode})`, async (t) => {
      const lab = new Lab(t, `rt${mode[0]}`);
      const conf = join(lab.tmpdir('rt'), 'r.nacl');
      writeFileSync(conf, CONF);
      const extra = mode === 'default' ? [] : [`--${mode}`];
      const { router, hosts: [h1, h2], taps: [tap0, tap1] } = await routerBetween(lab, 'r', conf, extra);
      const argv = cmdline(router.pid);
      t.ok(nodeFlags().length > 0, `the bin's first line names flags (${nodeFlags().join(' ')})`);
      for (const f of nodeFlags()) t.ok(argv.includes(f), `node runs with ${f}`);
      t.notMatch(router.out(), /without the V8 flags/, 'no warning about missing flags');
      if (mode !== 'no-warmup') t.match(router.out(), /warm-up done/, 'warm-up ran (debug log)');
      else t.notMatch(router.out(), /warm-up done/);
      lab.attach(tap0, h1, '10.61.1.10/24');
      lab.exec(h1, 'ip', ['route', 'add', 'default', 'via', '10.61.1.1']);
      lab.attach(tap1, h2, '10.61.2.10/24');
      lab.exec(h2, 'ip', ['route', 'add', 'default', 'via', '10.61.2.1']);
      t.equal(lab.status(h1, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.61.2.10']), 0, 'ping through the router');
      t.equal(lab.status(h1, 'ping', ['-c', '1', '-W', '2', '10.61.1.1']), 0, 'ping the router');
      const out = await router.stop();
      t.match(out, /stopped; counters/, 'SIGTERM reaches the router');
      t.notOk(lab.linkExists(tap0), 'links removed');
    });
  }
}
