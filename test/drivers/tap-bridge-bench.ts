// Throughput of the JS L2 bridge (the driver tests' bridge(), no router logic) between two
// namespaces, over TAP or AF_PACKET/veth, with or without vnet_hdr: iperf3 TCP and UDP with
// 64-byte payloads. Not a test (not *.test.ts); run as root:
//   node --import=./node_modules/@tapjs/typescript/dist/esm/import.mjs \
//     test/drivers/tap-bridge-bench.ts [tap|packet] [vnet|novnet] [seconds]

import { TapLink } from '../../drivers/tap.js';
import { PacketLink } from '../../drivers/packet.js';
import type { Link } from '../../drivers/link.js';
import { addNs, bridge, inNs, kill, placeInNs, sh, shQuiet, spawnInNs, waitFor } from './tap-helpers.js';

const kind = process.argv[2] ?? 'tap';
const vnetHdr = (process.argv[3] ?? 'vnet') === 'vnet';
const secs = process.argv[4] ?? '5';
const pid = process.pid;
const nsA = `nrt-bench-a-${pid}`;
const nsB = `nrt-bench-b-${pid}`;
const devA = `bna${pid}`;
const devB = `bnb${pid}`;

function links(): [Link, Link] {
  if (kind === 'tap') {
    const a = new TapLink({ name: devA, vnetHdr });
    const b = new TapLink({ name: devB, vnetHdr });
    placeInNs(devA, nsA, '10.204.0.1/24');
    placeInNs(devB, nsB, '10.204.0.2/24');
    return [a, b];
  }
  for (const [dev, ns, cidr] of [[devA, nsA, '10.204.0.1/24'], [devB, nsB, '10.204.0.2/24']] as const) {
    sh('ip', 'link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}n`, 'netns', ns);
    shQuiet('sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`, `net.ipv4.conf.${dev}.forwarding=0`);
    sh('ip', 'link', 'set', dev, 'up');
    sh('ip', '-n', ns, 'addr', 'add', cidr, 'dev', `${dev}n`);
    if (!vnetHdr) sh('ip', 'netns', 'exec', ns, 'ethtool', '-K', `${dev}n`, 'tso', 'off', 'gso', 'off', 'tx', 'off');
    sh('ip', '-n', ns, 'link', 'set', `${dev}n`, 'up');
  }
  return [new PacketLink({ name: devA, vnetHdr }), new PacketLink({ name: devB, vnetHdr })];
}

async function main(): Promise<void> {
  addNs(nsA);
  addNs(nsB);
  let ab: [Link, Link] | undefined;
  let server: ReturnType<typeof spawnInNs> | undefined;
  try {
    ab = links();
    server = spawnInNs(nsB, 'iperf3', ['-s', '-B', '10.204.0.2', '-p', '5209']);
    const st = bridge(ab[0], ab[1]);
    await waitFor(async () => (await inNs(nsB, 'ss', ['-Hltn', 'sport = :5209'])).stdout.includes('5209'), 10000);
    await inNs(nsA, 'ping', ['-c', '1', '-W', '2', '10.204.0.2']);
    const tcp = await inNs(nsA, 'iperf3', ['-c', '10.204.0.2', '-p', '5209', '-t', secs, '-J'], 60000);
    if (tcp.code !== 0 || !tcp.stdout.includes('sum_received')) throw new Error(`iperf3 TCP failed: ${tcp.stdout}${tcp.stderr}`);
    const tj = JSON.parse(tcp.stdout) as { end: { sum_received: { bits_per_second: number } } };
    console.log(`${kind} vnetHdr=${vnetHdr} TCP: ${(tj.end.sum_received.bits_per_second / 1e9).toFixed(2)} Gbit/s ` +
      `(largest frame ${st.maxFrame} B)`);
    const fwd0 = ab[0].stats.rxPackets;
    const drop0 = ab[1].stats.txDropped;
    const t0 = Date.now();
    const udp = await inNs(nsA, 'iperf3', ['-c', '10.204.0.2', '-p', '5209', '-u', '-l', '64', '-b', '0', '-t', secs, '-J'], 60000);
    if (udp.code !== 0 || !udp.stdout.includes('lost_packets')) throw new Error(`iperf3 UDP failed: ${udp.stdout}${udp.stderr}`);
    const uj = JSON.parse(udp.stdout) as { end: { sum: { packets: number; lost_packets: number; seconds: number } } };
    const s = uj.end.sum;
    console.log(`${kind} vnetHdr=${vnetHdr} UDP 64 B: sent ${(s.packets / s.seconds / 1e3).toFixed(0)} kpps, ` +
      `received ${((s.packets - s.lost_packets) / s.seconds / 1e3).toFixed(0)} kpps (${(100 * s.lost_packets / s.packets).toFixed(1)}% lost); ` +
      `bridge forwarded ${((ab[0].stats.rxPackets - fwd0) / (Date.now() - t0)).toFixed(0)} kpps (tx dropped ${ab[1].stats.txDropped - drop0})`);
  } finally {
    await kill(server);
    ab?.[0].close();
    ab?.[1].close();
    shQuiet('ip', 'link', 'del', devA);
    shQuiet('ip', 'link', 'del', devB);
    shQuiet('ip', 'netns', 'del', nsA);
    shQuiet('ip', 'netns', 'del', nsB);
  }
}

void main();
