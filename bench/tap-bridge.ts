// Throughput of the JS L2 bridge (the driver tests' bridge(), no router logic) between two
// namespaces, over TAP or AF_PACKET/veth, with or without vnet_hdr: iperf3 TCP and UDP with
// 64-byte payloads. Run as root (npm run build:tools first):
//   node build/bench/tap-bridge.js [tap|packet] [vnet|novnet] [seconds]

import type { Link } from '../drivers/link.js';
import { PacketLink } from '../drivers/packet.js';
import { TapLink } from '../drivers/tap.js';
import { bridge } from '../lab/l2.js';
import { Lab, sh } from '../lab/netlab.js';

const kind = process.argv[2] ?? 'tap';
const vnetHdr = (process.argv[3] ?? 'vnet') === 'vnet';
const secs = process.argv[4] ?? '5';

function links(lab: Lab, nsA: string, nsB: string): [Link, Link] {
  const devA = lab.name('bna'), devB = lab.name('bnb');
  if (kind === 'tap') {
    const a = new TapLink({ name: devA, vnetHdr });
    const b = new TapLink({ name: devB, vnetHdr });
    lab.attach(devA, nsA, '10.204.0.1/24');
    lab.attach(devB, nsB, '10.204.0.2/24');
    return [a, b];
  }
  for (const [dev, ns, cidr] of [[devA, nsA, '10.204.0.1/24'], [devB, nsB, '10.204.0.2/24']] as const) {
    lab.veth(dev, `${dev}n`);
    sh('sysctl', ['-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`, `net.ipv4.conf.${dev}.forwarding=0`], { allowFail: true });
    sh('ip', ['link', 'set', dev, 'up']);
    sh('ip', ['link', 'set', `${dev}n`, 'netns', ns]);
    if (!vnetHdr) lab.exec(ns, 'ethtool', ['-K', `${dev}n`, 'tso', 'off', 'gso', 'off', 'tx', 'off']);
    lab.attach(`${dev}n`, ns, cidr);
  }
  return [new PacketLink({ name: devA, vnetHdr }), new PacketLink({ name: devB, vnetHdr })];
}

async function main(): Promise<void> {
  const lab = new Lab(null, 'bb');
  let ab: [Link, Link] | undefined;
  try {
    const nsA = lab.ns('a'), nsB = lab.ns('b');
    ab = links(lab, nsA, nsB);
    lab.spawn(nsB, 'iperf3', ['-s', '-B', '10.204.0.2', '-p', '5209']);
    const st = bridge(ab[0], ab[1]);
    await lab.listening(nsB, [5209]);
    await lab.run(nsA, 'ping', ['-c', '1', '-W', '2', '10.204.0.2']);
    const tcp = await lab.run(nsA, 'iperf3', ['-c', '10.204.0.2', '-p', '5209', '-t', secs, '-J'], { timeoutMs: 60000 });
    if (tcp.code !== 0 || !tcp.stdout.includes('sum_received')) throw new Error(`iperf3 TCP failed: ${tcp.stdout}${tcp.stderr}`);
    const tj = JSON.parse(tcp.stdout) as { end: { sum_received: { bits_per_second: number } } };
    console.log(`${kind} vnetHdr=${vnetHdr} TCP: ${(tj.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gbit/s ` +
      `(largest frame ${st.maxFrame} B)`);
    const fwd0 = ab[0].stats.rxPackets;
    const drop0 = ab[1].stats.txDropped;
    const t0 = Date.now();
    const udp = await lab.run(nsA, 'iperf3', ['-c', '10.204.0.2', '-p', '5209', '-u', '-l', '64', '-b', '0', '-t', secs, '-J'], { timeoutMs: 60000 });
    if (udp.code !== 0 || !udp.stdout.includes('lost_packets')) throw new Error(`iperf3 UDP failed: ${udp.stdout}${udp.stderr}`);
    const uj = JSON.parse(udp.stdout) as { end: { sum: { packets: number; lost_packets: number; seconds: number } } };
    const s = uj.end.sum;
    console.log(`${kind} vnetHdr=${vnetHdr} UDP 64 B: sent ${(s.packets / s.seconds / 1e3).toFixed(0)} kpps, ` +
      `received ${((s.packets - s.lost_packets) / s.seconds / 1e3).toFixed(0)} kpps (${(100 * s.lost_packets / s.packets).toFixed(1)}% lost); ` +
      `bridge forwarded ${((ab[0].stats.rxPackets - fwd0) / (Date.now() - t0)).toFixed(0)} kpps (tx dropped ${ab[1].stats.txDropped - drop0})`);
  } finally {
    ab?.[0].close();
    ab?.[1].close();
    await lab.cleanup();
  }
}

void main();
