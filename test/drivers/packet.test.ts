// PacketLink against the real kernel: two veth pairs, one end of each in its own namespace
// (same subnet), the other ends bridged in JS through AF_PACKET: ping and iperf3 TCP cross
// it, with PACKET_VNET_HDR (GSO super-frames and partial checksums pass as metadata) and
// without (then the namespace side must not hand us offloaded frames: TSO/GSO/tx-csum off).
// Plus the error path for a missing interface.

import t from 'tap';
import { VIRTIO_NET_HDR_GSO_TCPV4 } from '../../stack/wire/virtio.js';
import { PacketLink } from '../../drivers/packet.js';
import { Lab, sh } from '../../lab/netlab.js';
import { bridge } from '../../lab/l2.js';

const pid = process.pid;

t.test('missing interface -> exception with errno text', async (t) => {
  t.throws(() => new PacketLink({ name: `nx${pid}` }), {
    message: new RegExp(`^if_nametoindex\\(nx${pid}\\): No such device`), code: 'ENODEV',
  });
  t.throws(() => new PacketLink({ name: 'way-too-long-ifname' }), { message: /File name too long/ });
});

/** A veth pair: `root` stays in the root namespace (up, isolated), its peer goes into ns. */
function vethInto(lab: Lab, root: string, ns: string, cidr: string, offloads: boolean): void {
  const inner = `${root}n`;
  lab.veth(root, inner);
  sh('sysctl', ['-qw', `net.ipv6.conf.${root}.disable_ipv6=1`, `net.ipv4.conf.${root}.forwarding=0`], { allowFail: true });
  sh('ip', ['link', 'set', root, 'up']);
  lab.attach(inner, ns, cidr);
  if (!offloads) lab.exec(ns, 'ethtool', ['-K', inner, 'tso', 'off', 'gso', 'off', 'tx', 'off']);
}

for (const vnetHdr of [true, false]) {
  t.test(`JS bridge of two veths over AF_PACKET (vnetHdr ${vnetHdr})`, async (t) => {
    const tag = vnetHdr ? 'v' : 'p';
    const lab = new Lab(t, `pk${tag}`);
    const nsA = lab.ns('a'), nsB = lab.ns('b');
    const vA = lab.name('ka'), vB = lab.name('kb');
    vethInto(lab, vA, nsA, '10.203.0.1/24', vnetHdr);
    vethInto(lab, vB, nsB, '10.203.0.2/24', vnetHdr);
    const a = new PacketLink({ name: vA, vnetHdr });
    t.teardown(() => a.close());
    const b = new PacketLink({ name: vB, vnetHdr });
    t.teardown(() => b.close());
    t.equal(a.ifindex, Number(sh('cat', [`/sys/class/net/${vA}/ifindex`]).trim()), 'ifindex');
    t.equal(a.vnetHdr, vnetHdr);
    const st = bridge(a, b);

    const ping = await lab.run(nsA, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', '10.203.0.2']);
    t.equal(ping.code, 0, 'ping across the AF_PACKET bridge');
    t.match(ping.stdout, /3 received/);

    lab.spawn(nsB, 'iperf3', ['-s', '-1', '-B', '10.203.0.2', '-p', '5202']);
    await lab.listening(nsB, [5202]);
    st.maxFrame = 0;
    const ip = await lab.run(nsA, 'iperf3', ['-c', '10.203.0.2', '-p', '5202', '-t', '2', '-J'], { timeoutMs: 30000 });
    t.equal(ip.code, 0, 'iperf3 completed');
    const bps = (JSON.parse(ip.stdout) as { end: { sum_received: { bits_per_second: number } } })
      .end.sum_received.bits_per_second;
    t.ok(bps > 1e7, 'iperf3 moved data');
    t.comment(`iperf3 TCP across the AF_PACKET bridge, vnetHdr ${vnetHdr}: ${(bps / 1e9).toFixed(2)} Gbit/s; ` +
      `largest frame ${st.maxFrame} B; a ${JSON.stringify(a.stats)} b ${JSON.stringify(b.stats)}`);
    if (vnetHdr) t.ok(st.maxFrame > 1514, `GSO super-frames crossed as one unit (max ${st.maxFrame})`);
    if (vnetHdr) {
      t.equal(st.gsoType & 0x7f, VIRTIO_NET_HDR_GSO_TCPV4, 'its virtio header says TCPv4 GSO');
      t.ok(st.gsoSize > 500 && st.gsoSize <= 1460, `with the MSS as gso_size (${st.gsoSize})`);
    }
    else t.ok(st.maxFrame <= 1514, `no frame above 1514 (max ${st.maxFrame})`);
  });
}
