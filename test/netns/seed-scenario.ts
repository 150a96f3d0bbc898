// The seed firewall's end-to-end scenario (examples/seed.nacl), shared by the tests that run
// the router on the host (seed.test.ts) and inside the guest image (test/image/).
// outside host: 10.0.0.1 (the upstream gateway) and 10.55.1.1 (the bastion host); inside host:
// 192.168.0.54 (port-forward target), .10 (allowed host), .5 (not allowed), .231 (syslog
// receiver). Real ping, curl, nmap, socat and a real syslog daemon.
import { join } from 'node:path';
import type { Test } from 'tap';
import { Lab, ROOT, seedHosts, waitFor } from '../../lab/netlab.js';

/** Puts the two links into the hosts and starts the inside servers: HTTP on 80 and 443,
 *  something on 22 and 8080 (to see filtering, not RST), the port-forward target on
 *  .54:5001 answering with the peer address it sees, and syslog. */
export async function seedScenario(lab: Lab, outsideLink: string, insideLink: string): Promise<{ outside: string; inside: string; syslog: { lines(): string[] } }> {
  const outside = lab.ns('nso');
  const inside = lab.ns('nsi');
  seedHosts(lab, outside, inside, outsideLink, insideLink);
  for (const port of ['80', '443', '22', '8080']) {
    lab.spawn(inside, 'python3', ['-m', 'http.server', port, '--bind', '0.0.0.0', '--directory', join(ROOT, 'examples')]);
  }
  lab.spawn(inside, 'socat', ['TCP-LISTEN:5001,bind=192.168.0.54,fork,reuseaddr', 'SYSTEM:echo peer=$SOCAT_PEERADDR']);
  const syslog = lab.syslogReceiver(inside, '192.168.0.231', 6514);
  await lab.listening(inside, [80, 443, 22, 8080, 5001]);
  await lab.listening(inside, [6514], true);
  return { outside, inside, syslog };
}

/** The seed firewall's checks, as subtests of t. */
export async function seedChecks(t: Test, lab: Lab, s: { outside: string; inside: string; syslog: { lines(): string[] } }): Promise<void> {
  const { outside, inside, syslog } = s;
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
    // -t: after its own end is closed (stdin is empty) socat waits this long for the reply.
    const out = lab.exec(outside, 'socat', ['-T', '5', '-t', '5', '-', 'TCP:10.0.0.2:5001,connect-timeout=5'], { allowFail: true });
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
}
