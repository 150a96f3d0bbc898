// End to end: the seed firewall (examples/seed.nacl) between two real hosts, once on TAP links
// and once over AF_PACKET on veth links.
// outside host (namespace): 10.0.0.1 (the upstream gateway) and 10.55.1.1 (the bastion host);
// inside host (namespace): 192.168.0.54 (port-forward target), .10 (allowed host), .5 (not allowed),
// .231 (syslog receiver). Real ping, curl, nmap, socat and a real syslog listener.
import t from 'tap';
import { join } from 'node:path';
import { Lab, ROOT, seedHosts, sh, skipReason, sleep, waitFor } from '../../src/netlab.js';
import { startRouter } from './router-process.js';

const why = skipReason();
if (why) {
  t.plan(0, `end-to-end seed firewall: ${why}`);
} else {
  for (const mode of ['tap', 'packet'] as const) t.test(`seed firewall through ${mode === 'tap' ? 'TAP links' : 'AF_PACKET on veth links'}`, async (t) => {
    const lab = new Lab(t, mode === 'tap' ? 'sd' : 'sp');
    const outside = lab.ns('nso');
    const inside = lab.ns('nsi');
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

    seedHosts(lab, outside, inside, tap0, tap1);

    // Servers inside: HTTP on 80 and 443, something on 22 and 8080 (to see filtering, not RST),
    // the port-forward target on .54:5001 answering with the peer address it sees, and syslog.
    for (const port of ['80', '443', '22', '8080']) {
      lab.spawn(inside, 'python3', ['-m', 'http.server', port, '--bind', '0.0.0.0', '--directory', join(ROOT, 'examples')]);
    }
    lab.spawn(inside, 'socat', ['TCP-LISTEN:5001,bind=192.168.0.54,fork,reuseaddr', 'SYSTEM:echo peer=$SOCAT_PEERADDR']);
    const syslog = lab.syslogReceiver(inside, '192.168.0.231', 6514);
    await lab.listening(inside, [80, 443, 22, 8080, 5001]);
    await lab.listening(inside, [6514], true);

    await t.test('router answers ping on both addresses', async (t) => {
      t.equal(lab.status(outside, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.0.0.2']), 0, 'outside -> 10.0.0.2');
      t.equal(lab.status(inside, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '192.168.0.1']), 0, 'inside -> 192.168.0.1');
    });

    await t.test('bastion host is accepted, replies pass as established', async (t) => {
      t.equal(lab.status(outside, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '-I', '10.55.1.1', '192.168.0.10']), 0, 'ping from bastion');
      t.not(lab.status(outside, 'ping', ['-c', '1', '-W', '1', '192.168.0.10']), 0, 'ping from 10.0.0.1 dropped');
    });

    await t.test('HTTP to an allowed host on 80 and 443', async (t) => {
      for (const port of [80, 443]) {
        const out = lab.exec(outside, 'curl', ['-s', '-m', '5', `http://192.168.0.10:${port}/`], { allowFail: true });
        t.match(out, /seed\.nacl/, `curl 192.168.0.10:${port} lists the served directory`);
      }
    });

    await t.test('other ports and hosts are dropped', async (t) => {
      t.not(lab.status(outside, 'curl', ['-s', '-m', '2', 'http://192.168.0.10:8080/']), 0, 'port 8080 dropped');
      t.not(lab.status(outside, 'curl', ['-s', '-m', '2', 'http://192.168.0.5:80/']), 0, 'host .5 (outside allowed_hosts) dropped');
    });

    await t.test('nmap sees exactly the allowed services', async (t) => {
      const out = lab.exec(outside, 'nmap', ['-Pn', '-n', '-sS', '--max-retries', '1', '--host-timeout', '30s', '-p', '22,80,443,8080', '-oG', '-', '192.168.0.10'], { timeout: 60000 });
      t.match(out, /80\/open\/tcp/, '80 open');
      t.match(out, /443\/open\/tcp/, '443 open');
      t.match(out, /22\/filtered\/tcp/, '22 filtered');
      t.match(out, /8080\/filtered\/tcp/, '8080 filtered');
    });

    await t.test('port forward outside:5001 -> 192.168.0.54:5001 with the inside address as source', async (t) => {
      const out = lab.exec(outside, 'socat', ['-T', '3', '-', 'TCP:10.0.0.2:5001,connect-timeout=3'], { allowFail: true });
      t.match(out, /peer=192\.168\.0\.1\b/, `target sees the router's inside address (${out.trim()})`);
    });

    await t.test('syslog messages reach a real syslog daemon', async (t) => {
      const all = () => syslog.lines().join('\n');
      await waitFor('syslog lines', () => /Dropping/.test(all()) && /Accepting/.test(all()), 8000).catch(() => {});
      const lines = syslog.lines();
      t.ok(lines.some((l) => /^info\|nacl-router\|syslog\|Accepting 10\.0\.0\.1 to 192\.168\.0\.10 port 80$/.test(l)), 'accepted connection, severity info, parsed by rsyslogd');
      t.ok(lines.some((l) => /^warning\|nacl-router\|syslog\|Dropping packet from 10\.0\.0\.1 to 192\.168\.0\.(10|5)$/.test(l)), 'dropped traffic, severity warning');
      t.ok(lines.every((l) => /^(info|warning)\|nacl-router\|/.test(l)), `every message parsed (${lines.length})`);
    });

    const out = await router.stop();
    t.match(out, /counters/, 'router prints counters when stopped');
  });
}
