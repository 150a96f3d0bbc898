// End to end: the seed firewall (examples/seed.nacl) between two real hosts, once on TAP links
// and once over AF_PACKET on veth links.
// The hosts and checks are in seed-scenario.ts.
import t from 'tap';
import { join } from 'node:path';
import { Lab, ROOT, sh, skipReason } from '../../lab/netlab.js';
import { startRouter } from './router-process.js';
import { seedChecks, seedScenario } from './seed-scenario.js';

const why = skipReason();
if (why) {
  t.plan(0, `end-to-end seed firewall: ${why}`);
} else {
  for (const mode of ['tap', 'packet'] as const) t.test(`seed firewall through ${mode === 'tap' ? 'TAP links' : 'AF_PACKET on veth links'}`, async (t) => {
    const lab = new Lab(t, mode === 'tap' ? 'sd' : 'sp');
    // TAP: the router creates the devices and their kernel sides move into the hosts.
    // AF_PACKET: veth pairs; the router attaches to the root-namespace ends.
    const tap0 = lab.name(mode === 'tap' ? 'nro' : 'hvo');
    const tap1 = lab.name(mode === 'tap' ? 'nri' : 'hvi');
    let links: string[];
    if (mode === 'tap') {
      links = [`0=tap:${tap0}`, `1=tap:${tap1}`];
    } else {
      const r0 = lab.name('rvo'), r1 = lab.name('rvi');
      lab.veth(r0, tap0);
      lab.veth(r1, tap1);
      for (const r of [r0, r1]) {
        // The router owns these ends: the host kernel must not answer or send on them.
        sh('sysctl', ['-qw', `net.ipv6.conf.${r}.disable_ipv6=1`]);
        sh('ip', ['link', 'set', r, 'up']);
      }
      links = [`0=packet:${r0}`, `1=packet:${r1}`];
    }
    const router = await startRouter(lab, join(ROOT, 'examples', 'seed.nacl'), links, [tap0, tap1]);
    await seedChecks(t, lab, await seedScenario(lab, tap0, tap1));

    const out = await router.stop();
    t.match(out, /counters/, 'router prints counters when stopped');
  });
}
