// End to end: 802.1Q sub-interfaces over TAP links. The hosts tag their traffic with kernel
// VLAN devices on top of the TAP's kernel side; the router demultiplexes by tag, routes between
// tagged networks, filters, and tags on the way out (offloaded TCP included).
import t from 'tap';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { Lab, skipReason } from '../../lab/netlab.js';
import { routerBetween } from './router-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Kernels built without 802.1Q (CONFIG_VLAN_8021Q) cannot play the tagged hosts. */
function kernelVlan(): boolean {
  const probe = `nrvp${process.pid % 100000}`;
  const ok = spawnSync('ip', ['link', 'add', probe, 'type', 'veth', 'peer', 'name', `${probe}p`]).status === 0 &&
    spawnSync('ip', ['link', 'add', 'link', probe, 'name', `${probe}.5`, 'type', 'vlan', 'id', '5']).status === 0;
  spawnSync('ip', ['link', 'del', probe]);
  return ok;
}

const why = skipReason() ?? (kernelVlan() ? null : 'this kernel has no 802.1Q VLAN devices (CONFIG_VLAN_8021Q); VLAN forwarding is covered by test/stack/forward.test.ts');
if (why) {
  t.plan(0, `end-to-end VLAN: ${why}`);
} else {
  t.test('VLAN sub-interfaces', async (t) => {
    const lab = new Lab(t, 'vl');
    const { hosts: [h0, h1], taps: [tap0, tap1] } = await routerBetween(lab, 'vl', join(HERE, 'fixtures', 'vlan.nacl'));
    lab.attach(tap0, h0, '10.2.0.10/24');
    lab.attach(tap1, h1, null);
    const vlan = (ns: string, link: string, id: number, cidr: string) => {
      const name = `v${id}`;
      lab.exec(ns, 'ip', ['link', 'add', 'link', link, 'name', name, 'type', 'vlan', 'id', String(id)]);
      lab.exec(ns, 'ip', ['addr', 'add', cidr, 'dev', name]);
      lab.exec(ns, 'ip', ['link', 'set', name, 'up']);
    };
    vlan(h0, tap0, 10, '10.2.10.10/24');
    vlan(h0, tap0, 11, '10.2.11.10/24');
    vlan(h1, tap1, 20, '10.2.20.10/24');
    vlan(h1, tap1, 21, '10.2.21.10/24');
    lab.exec(h0, 'ip', ['route', 'add', '10.2.20.0/23', 'via', '10.2.10.1']);
    lab.exec(h1, 'ip', ['route', 'add', '10.2.10.0/24', 'via', '10.2.20.1']);
    lab.exec(h1, 'ip', ['route', 'add', '10.2.11.0/24', 'via', '10.2.21.1']);
    lab.spawn(h1, 'iperf3', ['-s', '-B', '10.2.20.10']);
    await lab.listening(h1, [5201]);

    t.equal(lab.status(h0, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.2.0.1']), 0, 'untagged Iface answers');
    t.equal(lab.status(h0, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.2.10.1']), 0, 'vlan 10 Iface answers');
    t.equal(lab.status(h1, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.2.21.1']), 0, 'vlan 21 Iface answers');
    t.equal(lab.status(h0, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '-I', '10.2.10.10', '10.2.20.10']), 0, 'vlan 10 -> vlan 20 routed and allowed');
    t.not(lab.status(h0, 'ping', ['-c', '1', '-W', '1', '-I', '10.2.11.10', '10.2.21.10']), 0, 'vlan 11 -> vlan 21 dropped by the forward chain');
    const tcp = JSON.parse(lab.exec(h0, 'iperf3', ['-c', '10.2.20.10', '-B', '10.2.10.10', '-t', '2', '-J'], { timeout: 30000 }));
    const bps = tcp.end.sum_received.bits_per_second as number;
    t.ok(bps > 10e6, `TCP across VLANs ${(bps / 1e9).toFixed(2)} Gbit/s`);
  });
}
