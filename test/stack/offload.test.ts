// virtio_net_hdr offloads through the stack: partial checksums completed in software towards
// links without vnet_hdr, GSO super-frames kept whole (metadata adjusted for a VLAN tag)
// towards links with it, and dropped and counted towards links without.
import t from 'tap';
import { memoryPair, pumpAll } from '../../drivers/memory.js';
import { Stack } from '../../stack/stack.js';
import { acceptAllHooks } from '../../stack/iface.js';
import { pseudoSum, sum16 } from '../../stack/wire/checksum.js';
import { emitEthernet, ETH_HEADER_LEN, ETHERTYPE_IPV4 } from '../../stack/wire/ethernet.js';
import { emitIpv4, IP_MIN_HEADER_LEN, PROTO_TCP } from '../../stack/wire/ipv4.js';
import { emitTcp, TCP_ACK, TCP_CSUM, TCP_MIN_HEADER_LEN, TCP_PSH, TcpView } from '../../stack/wire/tcp.js';
import { wr16 } from '../../stack/wire/view.js';
import { emitVnetHdr, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VirtioNetHdrView, VNET_HDR_LEN } from '../../stack/wire/virtio.js';
import { Host, ip, ipv4, ipValid, mac } from './hosts.js';

const RM = [mac('02:00:00:00:01:00'), mac('02:00:00:00:01:01'), mac('02:00:00:00:01:02')];
const AM = mac('02:00:00:00:0a:0a'), BM = mac('02:00:00:00:0b:0b'), CM = mac('02:00:00:00:0c:0c');

const L4 = ETH_HEADER_LEN + IP_MIN_HEADER_LEN;

/** A TCP segment with a partial checksum (pseudo-header sum only), as a TAP peer sends it. */
function partialTcp(src: number, dst: number, payload: number): Uint8Array {
  const f = new Uint8Array(L4 + TCP_MIN_HEADER_LEN + payload);
  emitEthernet(f, 0, RM[0], 0, AM, 0, ETHERTYPE_IPV4);
  for (let i = 0; i < payload; i++) f[L4 + TCP_MIN_HEADER_LEN + i] = i * 7;
  emitTcp(f, L4, src, dst, 40000, 80, 0, 0, TCP_PSH | TCP_ACK, 65535, payload);
  wr16(f, L4 + TCP_CSUM, pseudoSum(src, dst, PROTO_TCP, TCP_MIN_HEADER_LEN + payload));
  emitIpv4(f, ETH_HEADER_LEN, IP_MIN_HEADER_LEN + TCP_MIN_HEADER_LEN + payload, 1, 64, PROTO_TCP, src, dst);
  return f;
}

/** A virtio_net_hdr with NEEDS_CSUM. */
function vnetHdr(gsoType: number, gsoSize: number, csumStart: number, csumOffset: number, hdrLen: number): Uint8Array {
  const h = new Uint8Array(VNET_HDR_LEN);
  emitVnetHdr(h, 0, VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType, hdrLen, gsoSize, csumStart, csumOffset);
  return h;
}

t.test('offload metadata across vnet and plain links', async (t) => {
  const [r0, h0] = memoryPair('r0', RM[0], 'h0', AM, { vnetHdr: true });
  const [r1, h1] = memoryPair('r1', RM[1], 'h1', BM);
  const [r2, h2] = memoryPair('r2', RM[2], 'h2', CM, { vnetHdr: true });
  const stack = new Stack({
    ifaces: [
      { name: 'eth0', link: 0, mac: RM[0], address: ip('10.0.0.1'), netmask: ip('255.255.255.0'), vlan: null },
      { name: 'eth1', link: 1, mac: RM[1], address: ip('10.0.1.1'), netmask: ip('255.255.255.0'), vlan: null },
      { name: 'v5', link: 2, mac: RM[2], address: ip('10.0.5.1'), netmask: ip('255.255.255.0'), vlan: 5 },
    ],
    routes: [
      { net: ip('10.0.0.0'), prefix: 24, nexthop: 0, iface: 0 },
      { net: ip('10.0.1.0'), prefix: 24, nexthop: 0, iface: 1 },
      { net: ip('10.0.5.0'), prefix: 24, nexthop: 0, iface: 2 },
    ],
    sendTimeExceeded: true, hooks: acceptAllHooks(3), clock: () => 1000,
  }, [r0, r1, r2]);
  const a = new Host(h0, AM, ip('10.0.0.10'));
  const b = new Host(h1, BM, ip('10.0.1.20'));
  const c = new Host(h2, CM, ip('10.0.5.30'));
  c.vlan = 5;
  const pump = (): number => pumpAll([r0, r1, r2, h0, h1, h2]);
  stack.start(); pump();
  b.arpRequest(ip('10.0.1.1')); c.arpRequest(ip('10.0.5.1')); pump();
  for (const h of [a, b, c]) h.take();

  // Partial checksum -> plain link: completed in software.
  a.send(partialTcp(a.addr, b.addr, 100), vnetHdr(0, 0, L4, TCP_CSUM, 0));
  pump();
  let got = b.take();
  t.equal(got.length, 1);
  t.ok(ipValid(got[0]), 'full TCP checksum after forwarding to a link without offload');

  // GSO super-frame -> plain link: dropped and counted.
  const big = partialTcp(a.addr, b.addr, 4000);
  a.send(big, vnetHdr(VIRTIO_NET_HDR_GSO_TCPV4, 1448, L4, TCP_CSUM, L4 + TCP_MIN_HEADER_LEN));
  pump();
  t.equal(b.take().length, 0);
  t.equal(stack.snapshot().drops.gso_unsupported, 1);

  // GSO super-frame -> vnet link with a VLAN tag: one unit, metadata shifted by the tag.
  a.send(partialTcp(a.addr, c.addr, 4000), vnetHdr(VIRTIO_NET_HDR_GSO_TCPV4, 1448, L4, TCP_CSUM, L4 + TCP_MIN_HEADER_LEN));
  pump();
  got = c.take().filter((p) => p.ethertype === 0x0800);
  t.equal(got.length, 1, 'the 4 KB super-frame crossed as one frame');
  const p = got[0];
  t.equal(p.vlan, 5);
  t.equal(ipv4(p).totalLen, 4040); t.equal(ipv4(p).ttl, 63);
  const h = new VirtioNetHdrView().reset(p.vnet!, 0, VNET_HDR_LEN);
  t.ok(h.needsCsum, 'NEEDS_CSUM kept'); t.equal(h.gsoType, VIRTIO_NET_HDR_GSO_TCPV4, 'GSO TCPv4');
  t.equal(h.gsoSize, 1448, 'gso_size');
  t.equal(h.csumStart, L4 + 4, 'csum_start moved by the 4-byte tag');
  t.equal(h.csumOffset, TCP_CSUM);
  t.equal(h.hdrLen, L4 + 4 + TCP_MIN_HEADER_LEN, 'hdr_len = eth+vlan+ip+tcp');
  const l4 = p.l3 + IP_MIN_HEADER_LEN;
  const seg = new TcpView().reset(p.bytes, l4, 4020);
  t.equal(seg.csum, pseudoSum(a.addr, c.addr, PROTO_TCP, 4020), 'partial checksum still the pseudo-header sum');
  const f = p.bytes.slice();
  const done = new TcpView().reset(f, l4, 4020);
  done.csum = ~sum16(f, l4, 4020) & 0xffff;
  t.ok(done.checksumOk(a.addr, c.addr), 'completing it yields a valid segment');
  const s = stack.snapshot();
  t.equal(s.fate.rx, s.fate.forwarded + s.fate.delivered + s.fate.dropped + s.fate.queued);
});
