// End to end: the behaviours IncludeOS' gateway test checked, with real hosts and clients:
// pings between hosts and to both router addresses, TCP allowed by the forward chain, DNAT to
// another port, UDP DNAT, stateful TCP (mid-stream packets without a SYN dropped and counted),
// and iperf3 TCP and UDP through the router.
import t from 'tap';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync, writeFileSync } from 'node:fs';
import { Lab, skipReason, sleep, waitFor } from '../../lab/netlab.js';
import { routerBetween } from './router-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const why = skipReason();
if (why) {
  t.plan(0, `end-to-end gateway: ${why}`);
} else {
  t.test('gateway behaviours through TAP links', async (t) => {
    const lab = new Lab(t, 'gw');
    // A private copy of the configuration: the reload test edits it.
    const conf = join(lab.tmpdir('gw'), 'gateway.nacl');
    const original = readFileSync(join(HERE, 'fixtures', 'gateway.nacl'), 'utf8');
    writeFileSync(conf, original);
    const metricsPort = 19000 + (process.pid % 1000);
    const { router, hosts: [h1, h2], taps: [tap0, tap1] } = await routerBetween(lab, 'g', conf, ['--metrics', `127.0.0.1:${metricsPort}`]);
    lab.attach(tap0, h1, '10.0.1.10/24');
    lab.exec(h1, 'ip', ['route', 'add', 'default', 'via', '10.0.1.1']);
    lab.attach(tap1, h2, '10.0.2.10/24');
    lab.exec(h2, 'ip', ['route', 'add', 'default', 'via', '10.0.2.1']);

    lab.spawn(h2, 'socat', ['TCP-LISTEN:5000,fork,reuseaddr', 'SYSTEM:echo tcp5000 peer=$SOCAT_PEERADDR']);
    const udp = lab.spawn(h2, 'socat', ['-u', 'UDP-RECVFROM:4444,fork', 'STDOUT']);
    lab.spawn(h2, 'iperf3', ['-s', '-B', '10.0.2.10']);
    lab.spawn(h2, 'socat', ['TCP-LISTEN:5005,fork,reuseaddr', 'EXEC:cat']);
    await lab.listening(h2, [5000, 5005, 5201]);
    await lab.listening(h2, [4444], true);

    await t.test('pings', async (t) => {
      t.equal(lab.status(h1, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.0.2.10']), 0, 'host1 -> host2');
      t.equal(lab.status(h2, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.0.1.10']), 0, 'host2 -> host1');
      t.equal(lab.status(h1, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.0.1.1']), 0, 'host1 -> eth0');
      t.equal(lab.status(h2, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.0.2.1']), 0, 'host2 -> eth1');
    });

    await t.test('TCP allowed by the forward chain, others dropped', async (t) => {
      const out = lab.exec(h1, 'socat', ['-T', '3', '-', 'TCP:10.0.2.10:5000,connect-timeout=3'], { allowFail: true });
      t.match(out, /tcp5000 peer=10\.0\.1\.10/, 'host1 -> host2:5000');
      t.not(lab.status(h1, 'nc', ['-z', '-w', '2', '10.0.2.10', '5002']), 0, 'host1 -> host2:5002 dropped');
    });

    await t.test('DNAT to another port', async (t) => {
      const out = lab.exec(h1, 'socat', ['-T', '3', '-', 'TCP:10.0.1.1:5001,connect-timeout=3'], { allowFail: true });
      t.match(out, /tcp5000 peer=10\.0\.1\.10/, 'eth0:5001 reaches host2:5000, source kept');
    });

    await t.test('UDP DNAT', async (t) => {
      lab.exec(h1, 'sh', ['-c', 'echo udp-dnat-works | socat -u - UDP:10.0.1.1:3333']);
      await waitFor('udp datagram', () => /udp-dnat-works/.test(udp.out()), 5000).catch(() => {});
      t.match(udp.out(), /udp-dnat-works/, 'eth0:3333 reaches host2:4444');
    });

    await t.test('iperf3 TCP and UDP through the router', async (t) => {
      const tcp = JSON.parse(lab.exec(h1, 'iperf3', ['-c', '10.0.2.10', '-t', '2', '-J'], { timeout: 30000 }));
      const bps = tcp.end.sum_received.bits_per_second as number;
      t.ok(bps > 10e6, `TCP ${(bps / 1e9).toFixed(2)} Gbit/s`);
      const u = JSON.parse(lab.exec(h1, 'iperf3', ['-c', '10.0.2.10', '-u', '-b', '20M', '-t', '2', '-J'], { timeout: 30000 }));
      const lost = u.end.sum.lost_percent as number;
      t.ok(u.end.sum.packets > 0 && lost < 20, `UDP ${u.end.sum.packets} packets, ${lost.toFixed(2)}% lost`);
    });

    await t.test('ctl show prints live per-rule counters', async (t) => {
      const show = router.ctlCmd('show');
      t.match(show, /tcp\.dport in \{ 5000, 5005, 5201 \}/, 'the running ruleset');
      t.match(show, /gateway\.nacl:19/, 'rule locations');
      t.match(show, /packets [1-9]\d*/, 'non-zero packet counters');
    });

    await t.test('counters count the rules, not the protocol blocks around them', async (t) => {
      const c = JSON.parse(router.ctlCmd('counters')) as { rules: Array<{ rule: string; text: string; packets: number }> };
      const at = c.rules.map((r) => r.rule);
      t.same([...new Set(at)], at, `one counter per rule location (${at.join(', ')})`);
      t.notOk(c.rules.some((r) => /^Filter::/.test(r.text)), 'no block is a rule');
      t.ok(c.rules.some((r) => /gateway\.nacl:19$/.test(r.rule) && /tcp\.dport in services/.test(r.text) && r.packets > 0),
        'the TCP rule inside Filter::TCP counts under its own line');
      const show = router.ctlCmd('show');
      t.match(show, /\n {4}tcp \{ +# [^\n]*gateway\.nacl:19\n/, 'show: the block line carries no counter');
      const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const metricAt = [...body.matchAll(/nacl_rule_packets_total\{rule="\d+",at="([^"]+)"/g)].map((m) => m[1]).sort();
      t.same(metricAt, [...at].sort(), 'the metrics report the same rule locations as ctl counters');
    });

    await t.test('Prometheus metrics endpoint', async (t) => {
      const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      t.match(body, /# TYPE nacl_iface_rx_packets_total counter/);
      t.match(body, /nacl_iface_forwarded_total\{iface="eth0"\} [1-9]/, 'forwarded packets on eth0');
      t.match(body, /nacl_conntrack_entries \d+/);
      t.match(body, /nacl_rule_packets_total\{rule="\d+",at="[^"]*gateway\.nacl:\d+",function="my_fw"\} [1-9]/, 'per-rule counters with their location');
      t.match(body, /nacl_iface_drops_total\{iface="eth0",reason="chain_forward"\} [1-9]/, 'forward-chain drops by reason');
    });

    await t.test('reload swaps the rules and keeps established connections', async (t) => {
      const echo = lab.spawn(h1, 'socat', ['-', 'TCP:10.0.2.10:5005'], undefined, { stdin: true });
      echo.stdin!.write('before\n');
      await waitFor('echo before reload', () => /before/.test(echo.out()), 5000);
      // New rules: port 5005 is no longer a service.
      writeFileSync(conf, original.replace('services: [ 5000, 5005, 5201 ]', 'services: [ 5000, 5201 ]'));
      t.match(router.ctlCmd('reload'), /^reloaded: \d+ rules/m, 'ctl reload');
      echo.stdin!.write('after\n');
      await waitFor('echo after reload', () => /after/.test(echo.out()), 5000).catch(() => {});
      t.match(echo.out(), /after/, 'the established connection still works');
      t.not(lab.status(h1, 'nc', ['-z', '-w', '2', '10.0.2.10', '5005']), 0, 'a new connection to 5005 is now dropped');
      t.equal(lab.status(h1, 'nc', ['-z', '-w', '2', '10.0.2.10', '5000']), 0, 'port 5000 still open');
      echo.kill();
    });

    await t.test('stateful TCP: mid-stream packets without a SYN are dropped and counted', async (t) => {
      lab.status(h1, 'hping3', ['-A', '-p', '5000', '-c', '8', '-i', 'u20000', '10.0.2.10'], 20000);
      const out = await router.stop();
      const m = /"invalid":\s*(\d+)/.exec(out);
      t.ok(m && Number(m[1]) >= 8, `conntrack invalid counter ${m ? m[1] : 'missing'} >= 8`);
    });
  });
}
