// End to end: masquerade and the layer-4 load balancer with real hosts and clients.
import t from 'tap';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, ROOT, sh, skipReason } from '../../lab/netlab.js';
import { routerBetween } from './router-process.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const why = skipReason();
if (why) {
  t.plan(0, `end-to-end NAT: ${why}`);
} else {
  t.test('masquerade: the LAN reaches the outside from the uplink address', async (t) => {
    const lab = new Lab(t, 'mq');
    const pcap = join(lab.tmpdir('mq'), 'uplink.pcap');
    const { router, hosts: [wan, lan], taps: [tap0, tap1] } = await routerBetween(lab, 'mq', join(HERE, 'fixtures', 'masquerade.nacl'), ['--pcap', `0=${pcap}`]);
    lab.attach(tap0, wan, '10.0.0.1/24'); // no route back to the LAN: only masquerade makes replies work
    lab.attach(tap1, lan, '192.168.1.10/24');
    lab.exec(lan, 'ip', ['route', 'add', 'default', 'via', '192.168.1.1']);
    lab.spawn(wan, 'socat', ['TCP-LISTEN:8000,fork,reuseaddr', 'SYSTEM:echo peer=$SOCAT_PEERADDR port=$SOCAT_PEERPORT']);
    const udp = lab.spawn(wan, 'socat', ['-u', 'UDP-RECVFROM:8001,fork', 'SYSTEM:echo from=$SOCAT_PEERADDR >&2']);
    await lab.listening(wan, [8000]);
    await lab.listening(wan, [8001], true);

    const ports = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const out = lab.exec(lan, 'socat', ['-T', '3', '-', 'TCP:10.0.0.1:8000,connect-timeout=3'], { allowFail: true });
      const m = /peer=(\S+) port=(\d+)/.exec(out);
      t.equal(m?.[1], '10.0.0.2', `connection ${i + 1} arrives from the uplink address (${out.trim()})`);
      if (m) ports.add(m[2]);
    }
    t.equal(ports.size, 5, 'each connection gets its own source port');
    t.equal(lab.status(lan, 'ping', ['-c', '2', '-i', '0.2', '-W', '2', '10.0.0.1']), 0, 'ping through masquerade');
    lab.exec(lan, 'sh', ['-c', 'echo hi | socat -u - UDP:10.0.0.1:8001']);
    await new Promise((r) => setTimeout(r, 500));
    t.match(udp.out(), /from=10\.0\.0\.2/, 'UDP through masquerade');
    const counters = JSON.parse(router.ctlCmd('counters')) as { nat: { masquerade: number } };
    t.ok(counters.nat.masquerade >= 7, `masquerade counter ${counters.nat.masquerade}`);
    await router.stop();
    // --pcap captured the uplink: every frame there is from or to the uplink address, and a real
    // decoder finds every checksum of ours right (offloaded frames excepted: the kernel fills those).
    const ips = sh('tshark', ['-r', pcap, '-Y', 'ip', '-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst'], { timeout: 60000 });
    const lines = ips.trim().split('\n').filter(Boolean);
    t.ok(lines.length >= 20, `${lines.length} IPv4 frames captured`);
    t.ok(lines.every((l) => /10\.0\.0\.2/.test(l) && !/192\.168/.test(l)), 'no LAN address leaks onto the uplink');
  });

  t.test('load balancer spreads connections round-robin over the pool', async (t) => {
    const lab = new Lab(t, 'lb');
    const { hosts: [clients, servers], taps: [tap0, tap1] } = await routerBetween(lab, 'lb', join(ROOT, 'examples', 'load-balancer.nacl'));
    lab.attach(tap0, clients, '10.0.0.1/24');
    lab.attach(tap1, servers, '10.0.1.10/24');
    lab.exec(servers, 'ip', ['addr', 'add', '10.0.1.11/24', 'dev', tap1]);
    lab.exec(servers, 'ip', ['addr', 'add', '10.0.1.12/24', 'dev', tap1]);
    for (const a of ['10.0.1.10', '10.0.1.11', '10.0.1.12']) {
      lab.spawn(servers, 'socat', [`TCP-LISTEN:8080,bind=${a},fork,reuseaddr`, `SYSTEM:echo node=${a} peer=$SOCAT_PEERADDR`]);
    }
    await lab.listening(servers, [8080]);
    const seen: Record<string, number> = {};
    const peers = new Set<string>();
    const outs: string[] = [];
    for (let i = 0; i < 30; i++) {
      const out = lab.exec(clients, 'socat', ['-T', '3', '-', 'TCP:10.0.0.43:80,connect-timeout=3'], { allowFail: true });
      outs.push(out.trim());
      const m = /node=(\S+) peer=(\S+)/.exec(out);
      if (m) { seen[m[1]] = (seen[m[1]] ?? 0) + 1; peers.add(m[2]); }
    }
    t.same(seen, { '10.0.1.10': 10, '10.0.1.11': 10, '10.0.1.12': 10 }, `even spread over 3 nodes (${outs.slice(0, 3).join(' | ')})`);
    t.same([...peers], ['10.0.1.1'], 'servers see the router inside address (full NAT)');
    // No Gateway: the router is not a general router, only the balancer crosses it.
    lab.exec(clients, 'ip', ['route', 'add', '10.0.1.0/24', 'via', '10.0.0.43']);
    t.not(lab.status(clients, 'nc', ['-z', '-w', '2', '10.0.1.10', '8080']), 0, 'direct transit to a pool node is not forwarded');
  });
}
