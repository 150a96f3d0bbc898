// End to end: `config: dhcp` against a real DHCP server (dnsmasq) in the uplink namespace, and
// masquerade from the leased address.
import t from 'tap';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, skipReason, waitFor } from '../../lab/netlab.js';
import { routerBetween } from './router-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const why = skipReason();
if (why) {
  t.plan(0, `end-to-end DHCP: ${why}`);
} else {
  t.test('DHCP lease on the uplink, masquerade from the leased address', async (t) => {
    const lab = new Lab(t, 'dh');
    const dir = lab.tmpdir('dhcp');
    const { router, hosts: [wan, lan], taps: [tap0, tap1] } = await routerBetween(lab, 'dh', join(HERE, 'fixtures', 'dhcp.nacl'));
    lab.attach(tap0, wan, '10.0.0.1/24');
    lab.attach(tap1, lan, '192.168.1.10/24');
    lab.exec(lan, 'ip', ['route', 'add', 'default', 'via', '192.168.1.1']);
    lab.spawn(wan, 'dnsmasq', ['--no-daemon', '--conf-file=/dev/null', '--port=0', `--interface=${tap0}`, '--bind-interfaces',
      '--dhcp-range=10.0.0.100,10.0.0.150,255.255.255.0,1h', '--dhcp-option=option:router,10.0.0.1',
      `--dhcp-leasefile=${join(dir, 'leases')}`, `--pid-file=${join(dir, 'pid')}`, '--user=root', '--log-dhcp']);
    lab.spawn(wan, 'socat', ['TCP-LISTEN:8000,fork,reuseaddr', 'SYSTEM:echo peer=$SOCAT_PEERADDR']);
    await lab.listening(wan, [8000]);

    await waitFor('DHCP lease', () => /DHCP lease/.test(router.out()), 20000).catch(() => {});
    const m = /"msg":"DHCP lease"/.test(router.out()) ? /"address":"(10\.0\.0\.\d+)"[^\n]*"msg":"DHCP lease"/.exec(router.out()) : null;
    t.ok(m, 'the router logged a lease');
    const leased = m?.[1] ?? '';
    t.match(leased, /^10\.0\.0\.(1[0-4]\d|150)$/, `address from the DHCP range (${leased})`);
    t.equal(lab.status(wan, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', leased]), 0, 'the router answers on its leased address');
    const out = lab.exec(lan, 'socat', ['-T', '3', '-', 'TCP:10.0.0.1:8000,connect-timeout=3'], { allowFail: true });
    t.match(out, new RegExp(`peer=${leased.replace(/\./g, '\\.')}\\b`), 'LAN traffic leaves masqueraded behind the leased address');
  });
}
